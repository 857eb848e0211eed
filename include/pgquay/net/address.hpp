// Socket addresses: resolution of configured hosts and the text forms used in log lines.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::net {

// Any socket address (IPv4, IPv6, Unix) by value; `length` is what the kernel reported or what
// bind/connect must be given. length == 0 means "no address" (family() is then AF_UNSPEC).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  [[nodiscard]] int family() const { return length == 0 ? AF_UNSPEC : storage.ss_family; }
};

// "127.0.0.1:5432", "[::1]:5432", "unix:/tmp/.s.PGSQL.5432" — for log lines. An unnamed Unix
// address (what an accepted Unix client's peer is) prints as "[local]", an abstract one as
// "unix:@name", an empty one as "[unknown]".
std::string to_string(const SocketAddress& address);

// Host part only, as PostgreSQL logs it: "127.0.0.1", "::1", "[local]" for any Unix socket,
// "[unknown]" for an empty address.
std::string host_string(const SocketAddress& address);

// Resolves a server with getaddrinfo. Blocking (DNS): call at start-up or reload only, never from
// an event-loop callback. A host starting with '/' is a Unix socket directory and yields the single
// address <dir>/.s.PGSQL.<port>. Otherwise returns every address (IPv4 and IPv6) in resolver order.
// Fails on an empty host, a port outside 0..65535, a resolver error or a too-long socket path.
[[nodiscard]] Result<std::vector<SocketAddress>> resolve(const std::string& host, int port);

// The peer of a connected socket (getpeername). For AF_UNIX peers the family is AF_UNIX (usually
// unnamed). Returns an empty address (length 0) when getpeername fails (e.g. peer already gone).
SocketAddress peer_address(int fd);

}  // namespace pgquay::net
