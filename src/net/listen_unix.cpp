#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "pgquay/common/log.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/net/socket.hpp"
#include "unix_address.hpp"

namespace pgquay::net {

namespace {

enum class Occupant { live, stale, gone };

// Who holds the socket file that made bind() fail with EADDRINUSE. A non-blocking probe: a live
// server with a full backlog answers EAGAIN instead of making us wait.
Result<Occupant> probe(const SocketAddress& address, const std::string& where) {
  auto fd = stream_socket(AF_UNIX);
  if (!fd) return Unexpected(std::move(fd.error()));
  if (connect(fd->get(), address.get(), address.length) == 0) return Occupant::live;
  switch (errno) {
    case EAGAIN:
    case EINPROGRESS:
      return Occupant::live;
    case ECONNREFUSED:
      return Occupant::stale;
    case ENOENT:
      return Occupant::gone;
    default:
      return fail_errno(where + ": could not check the existing socket file");
  }
}

// Removes a stale file, but only a socket: linux also refuses connect() on a regular file with
// ECONNREFUSED, and a misconfigured path must never cost someone a file.
Result<void> remove_stale(const std::string& path, const std::string& where) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(where + ": lstat");
  }
  if (!S_ISSOCK(st.st_mode)) return fail(where + ": the file exists and is not a socket");
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail_errno(where + ": could not remove the stale socket file");
  }
  PGQ_INFO("removed stale socket file %s", path.c_str());
  return {};
}

}  // namespace

Result<UnixListener> listen_unix(const std::string& dir, int port, int backlog) {
  return listen_unix_at(unix_socket_path(dir, port), backlog, 0777);
}

Result<UnixListener> listen_unix_at(std::string path, int backlog, mode_t mode) {
  auto address = detail::unix_address(path);
  if (!address) return Unexpected(std::move(address.error()));
  const auto where = "could not listen on " + to_string(*address);

  auto fd = stream_socket(AF_UNIX);
  if (!fd) return Unexpected(std::move(fd.error()));
  // Two rounds: the first may find a stale file, which is removed before the second.
  for (int attempt = 0;; ++attempt) {
    if (bind(fd->get(), address->get(), address->length) == 0) break;
    if (errno != EADDRINUSE || attempt > 0) return fail_errno(where);
    auto occupant = probe(*address, where);
    if (!occupant) return Unexpected(std::move(occupant.error()));
    if (*occupant == Occupant::live) {
      return fail(where + ": the socket is in use by another process");
    }
    if (*occupant == Occupant::stale) {
      auto removed = remove_stale(path, where);
      if (!removed) return Unexpected(std::move(removed.error()));
    }
  }
  // bind() created the file through the umask; the caller decides (the client socket: 0777 like
  // PostgreSQL's default unix_socket_permissions, access control is left to hba).
  if (chmod(path.c_str(), mode) != 0) {
    auto error = fail_errno(where + ": chmod");
    unlink(path.c_str());
    return error;
  }
  if (listen(fd->get(), backlog) != 0) {
    auto error = fail_errno(where);
    unlink(path.c_str());
    return error;
  }
  return UnixListener{std::move(*fd), std::move(path)};
}

}  // namespace pgquay::net
