#include "pgquay/net/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "pgquay/common/log.hpp"

namespace pgquay::net {

namespace {

const char* family_name(int family) {
  switch (family) {
    case AF_INET:
      return "IPv4";
    case AF_INET6:
      return "IPv6";
    case AF_UNIX:
      return "Unix";
    default:
      return "unknown-family";
  }
}

// Both options only mean something on TCP; asking the socket keeps callers from tracking it.
bool is_tcp(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return false;
  return storage.ss_family == AF_INET || storage.ss_family == AF_INET6;
}

void set_option(int fd, int level, int name, bool on, const char* what) {
  const int value = on ? 1 : 0;
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    PGQ_WARN("could not set %s on socket %d: %s", what, fd, std::strerror(errno));
  }
}

}  // namespace

std::string unix_socket_path(const std::string& dir, int port) {
  std::string path = dir;
  // "/tmp/" and "/tmp" name the same directory; do not log "/tmp//.s.PGSQL.5432".
  if (path.empty() || path.back() != '/') path += '/';
  return path + ".s.PGSQL." + std::to_string(port);
}

Result<Fd> stream_socket(int family) {
  Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno(std::string("could not create ") + family_name(family) + " socket");
  return fd;
}

void set_nodelay(int fd, bool on) {
  if (is_tcp(fd)) set_option(fd, IPPROTO_TCP, TCP_NODELAY, on, "TCP_NODELAY");
}

void set_keepalive(int fd, bool on) {
  if (is_tcp(fd)) set_option(fd, SOL_SOCKET, SO_KEEPALIVE, on, "SO_KEEPALIVE");
}

Result<std::pair<Fd, Fd>> seqpacket_pair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    return fail_errno("could not create a seqpacket socket pair");
  }
  return std::pair<Fd, Fd>(Fd(sv[0]), Fd(sv[1]));
}

}  // namespace pgquay::net
