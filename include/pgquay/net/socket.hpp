// Listening and connecting sockets. Every descriptor created here is close-on-exec and
// non-blocking; callers drive them from the event loop.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay::net {

// Listens on TCP. `hosts` is pgagroal's `host` value, a comma-separated list (blanks around items
// ignored) of:
//   "*"            0.0.0.0 and :: (the IPv6 socket with IPV6_V6ONLY so both can share the port);
//                  the IPv6 one is skipped with a warning when the kernel has no IPv6;
//   a name/number  every address it resolves to (blocking resolution: start-up/reload only).
// Each socket has SO_REUSEADDR and listens with `backlog`. With port 0 the kernel picks the port
// for the first socket and every other socket reuses that port. Duplicate addresses are bound
// once. Any failure closes what was opened and names the address:
// "could not listen on 127.0.0.1:2345: Address already in use".
[[nodiscard]] Result<std::vector<Fd>> listen_tcp(const std::string& hosts, int port, int backlog);

// A Unix listening socket and its file, which the owner unlinks at shutdown (the fd does not).
struct UnixListener {
  Fd fd;
  std::string path;
};

// Listens on <dir>/.s.PGSQL.<port> with mode 0777 like PostgreSQL. A stale socket file left by a
// crashed process (connect() to it fails with ECONNREFUSED) is removed and replaced; a live one is
// the error "could not listen on unix:<path>: the socket is in use by another process". A path
// that exists but is not a socket is never removed.
[[nodiscard]] Result<UnixListener> listen_unix(const std::string& dir, int port, int backlog);
// The same for any socket file `path`, created with permissions `mode` (the management socket:
// 0600, only pgquay's own user and root may use it).
[[nodiscard]] Result<UnixListener> listen_unix_at(std::string path, int backlog, mode_t mode);

// <dir>/.s.PGSQL.<port>, PostgreSQL's socket file name.
std::string unix_socket_path(const std::string& dir, int port);

// A new non-blocking, close-on-exec stream socket of `family` (AF_INET, AF_INET6, AF_UNIX).
[[nodiscard]] Result<Fd> stream_socket(int family);

// TCP_NODELAY / SO_KEEPALIVE on a TCP socket; no-op for AF_UNIX. A failure is logged, not returned:
// the connection works without them.
void set_nodelay(int fd, bool on);
void set_keepalive(int fd, bool on);

// A connected SOCK_SEQPACKET socketpair, close-on-exec, non-blocking: the control channel between
// the main process and a worker (message boundaries are kept and descriptors travel with them;
// see fd_passing.hpp).
[[nodiscard]] Result<std::pair<Fd, Fd>> seqpacket_pair();

}  // namespace pgquay::net
