#include "harness/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "pgquay/common/fd.hpp"

namespace pgquay::test {
namespace {

Result<sockaddr_in> loopback(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return fail("not an IPv4 address: " + host);
  return addr;
}

}  // namespace

Result<std::vector<int>> free_ports(std::size_t count) {
  std::vector<Fd> held;
  std::vector<int> ports;
  for (std::size_t i = 0; i < count; ++i) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno("socket");
    auto addr = loopback("127.0.0.1", 0);
    if (!addr) return Unexpected(addr.error());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0)
      return fail_errno("bind 127.0.0.1:0");
    socklen_t len = sizeof(*addr);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&*addr), &len) != 0)
      return fail_errno("getsockname");
    ports.push_back(ntohs(addr->sin_port));
    held.push_back(std::move(fd));
  }
  return ports;
}

Result<int> free_port() {
  auto ports = free_ports(1);
  if (!ports) return Unexpected(ports.error());
  return ports->front();
}

bool port_accepts(const std::string& host, int port, std::chrono::milliseconds timeout) {
  auto addr = loopback(host, port);
  if (!addr) return false;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return false;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd pfd{fd.get(), POLLOUT, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return false;
  int err = 0;
  socklen_t len = sizeof(err);
  return ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

}  // namespace pgquay::test
