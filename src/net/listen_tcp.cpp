#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "pgquay/common/log.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/net/socket.hpp"

namespace pgquay::net {

namespace {

SocketAddress any_address(int family, int port) {
  SocketAddress address;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    in->sin_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    address.length = sizeof(sockaddr_in6);
  }
  return address;
}

void set_port(SocketAddress& address, int port) {
  const auto net_port = htons(static_cast<uint16_t>(port));
  if (address.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = net_port;
  } else if (address.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = net_port;
  }
}

int bound_port(int fd) {
  SocketAddress address;
  address.length = sizeof(address.storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0) {
    return 0;
  }
  if (address.family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
  }
  if (address.family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
  }
  return 0;
}

bool same_address(const SocketAddress& a, const SocketAddress& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

// What the `host` setting names, in order, without duplicates (binding one twice would fail).
Result<std::vector<SocketAddress>> candidates(const std::string& hosts, int port) {
  std::vector<SocketAddress> out;
  auto add = [&out](const SocketAddress& address) {
    for (const auto& known : out) {
      if (same_address(known, address)) return;
    }
    out.push_back(address);
  };
  std::string_view rest = hosts;
  while (true) {
    const auto comma = rest.find(',');
    const std::string item = trim(rest.substr(0, comma));
    if (item == "*") {
      add(any_address(AF_INET, port));
      add(any_address(AF_INET6, port));
    } else if (!item.empty()) {
      if (item.front() == '/') return fail("host \"" + item + "\" is not a TCP address");
      auto resolved = resolve(item, port);
      if (!resolved) return Unexpected(std::move(resolved.error()));
      for (const auto& address : *resolved) add(address);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.empty()) return fail("no address to listen on in host \"" + hosts + "\"");
  return out;
}

Result<Fd> listen_on(const SocketAddress& address, int backlog) {
  const auto where = "could not listen on " + to_string(address);
  auto fd = stream_socket(address.family());
  if (!fd) return fail_errno(where, fd.error().code);
  const int one = 1;
  // A restarted pooler must bind at once, not wait for the old connections' TIME_WAIT.
  if (setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail_errno(where + ": SO_REUSEADDR");
  }
  // Without V6ONLY, "::" would also take the IPv4 port and the 0.0.0.0 socket could not bind.
  if (address.family() == AF_INET6 &&
      setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
    return fail_errno(where + ": IPV6_V6ONLY");
  }
  if (bind(fd->get(), address.get(), address.length) != 0) return fail_errno(where);
  if (listen(fd->get(), backlog) != 0) return fail_errno(where);
  return fd;
}

}  // namespace

Result<std::vector<Fd>> listen_tcp(const std::string& hosts, int port, int backlog) {
  auto wanted = candidates(hosts, port);
  if (!wanted) return Unexpected(std::move(wanted.error()));
  std::vector<Fd> fds;
  int chosen_port = port;
  for (auto& address : *wanted) {
    // With port 0 every socket shares the port the kernel gave the first one: clients of "*"
    // must reach the same port over IPv4 and IPv6.
    if (chosen_port != 0) set_port(address, chosen_port);
    auto fd = listen_on(address, backlog);
    if (!fd) {
      // No IPv6 in the kernel (or on the interface) must not stop an IPv4 service.
      const int code = fd.error().code;
      if (code == EAFNOSUPPORT || (code == EADDRNOTAVAIL && address.family() == AF_INET6)) {
        PGQ_WARN("%s; skipped", fd.error().message.c_str());
        continue;
      }
      return Unexpected(std::move(fd.error()));
    }
    if (chosen_port == 0) chosen_port = bound_port(fd->get());
    fds.push_back(std::move(*fd));
  }
  if (fds.empty()) return fail("could not listen on any address of host \"" + hosts + "\"");
  return fds;
}

}  // namespace pgquay::net
