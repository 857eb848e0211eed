#include "pgquay/net/address.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "pgquay/net/socket.hpp"
#include "unix_address.hpp"

namespace pgquay::net {

namespace {

// Numeric host and port of an IP address; getnameinfo (not inet_ntop) so that an IPv6 link-local
// address keeps its "%scope", as PostgreSQL prints it.
bool numeric_host_port(const SocketAddress& address, std::string& host, std::string& port) {
  char host_buf[NI_MAXHOST];
  char port_buf[NI_MAXSERV];
  if (getnameinfo(address.get(), address.length, host_buf, sizeof(host_buf), port_buf,
                  sizeof(port_buf), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  host = host_buf;
  port = port_buf;
  return true;
}

std::string unix_path_string(const SocketAddress& address) {
  const auto* un = reinterpret_cast<const sockaddr_un*>(&address.storage);
  const size_t offset = offsetof(sockaddr_un, sun_path);
  // An accepted client's peer is unnamed: only the family is filled in.
  if (address.length <= offset) return "[local]";
  const size_t size = address.length - offset;
  if (un->sun_path[0] == '\0') {
    // Linux abstract namespace: the name is every byte after the leading NUL.
    return "unix:@" + std::string(un->sun_path + 1, size - 1);
  }
  return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, size));
}

}  // namespace

std::string to_string(const SocketAddress& address) {
  switch (address.family()) {
    case AF_UNSPEC:
      return "[unknown]";
    case AF_UNIX:
      return unix_path_string(address);
    case AF_INET:
    case AF_INET6: {
      std::string host;
      std::string port;
      if (!numeric_host_port(address, host, port)) return "[unknown]";
      return address.family() == AF_INET6 ? "[" + host + "]:" + port : host + ":" + port;
    }
    default:
      return "[address family " + std::to_string(address.family()) + "]";
  }
}

std::string host_string(const SocketAddress& address) {
  switch (address.family()) {
    case AF_UNIX:
      return "[local]";
    case AF_INET:
    case AF_INET6: {
      std::string host;
      std::string port;
      if (numeric_host_port(address, host, port)) return host;
      return "[unknown]";
    }
    default:
      return "[unknown]";
  }
}

namespace detail {

Result<SocketAddress> unix_address(const std::string& path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  if (path.empty() || path.size() >= sizeof(un->sun_path)) {
    return fail("Unix socket path \"" + path + "\" is too long (maximum " +
                std::to_string(sizeof(un->sun_path) - 1) + " bytes)");
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return address;
}

}  // namespace detail

Result<std::vector<SocketAddress>> resolve(const std::string& host, int port) {
  if (host.empty()) return fail("could not resolve an empty host name");
  if (port < 0 || port > 65535) {
    return fail("invalid port " + std::to_string(port) + " for host \"" + host + "\"");
  }
  if (host.front() == '/') {
    auto address = detail::unix_address(unix_socket_path(host, port));
    if (!address) return Unexpected(std::move(address.error()));
    return std::vector<SocketAddress>{*address};
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // No AI_ADDRCONFIG: glibc ignores loopback interfaces for it, which would hide ::1 for
  // "localhost" on a host whose only IPv6 address is the loopback one.
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc == EAI_SYSTEM) return fail_errno("could not resolve host \"" + host + "\"");
  if (rc != 0) {
    return fail("could not resolve host \"" + host + "\": " + gai_strerror(rc));
  }

  std::vector<SocketAddress> addresses;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress address;
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    addresses.push_back(address);
  }
  freeaddrinfo(list);
  if (addresses.empty()) return fail("host \"" + host + "\" has no IPv4 or IPv6 address");
  return addresses;
}

SocketAddress peer_address(int fd) {
  SocketAddress address;
  address.length = sizeof(address.storage);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0) {
    return SocketAddress{};
  }
  return address;
}

}  // namespace pgquay::net
