#include "pgquay/management/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pgquay/common/fd.hpp"

namespace pgquay::management {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on `fd` until `deadline`; false on timeout or a poll error.
Result<void> wait_for(int fd, short events, Clock::time_point deadline, const std::string& path) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(path + ": no answer from pgquay (timed out)");
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return fail_errno(path + ": poll");
  }
}

}  // namespace

Result<Response> call(const std::string& path, const Json& request,
                      std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return fail(path + ": socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EAGAIN && errno != EINPROGRESS)
      return fail_errno("could not connect to pgquay at " + path);
    if (auto ok = wait_for(fd.get(), POLLOUT, deadline, path); !ok) return Unexpected(ok.error());
    int error = 0;
    socklen_t len = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return fail_errno("could not connect to pgquay at " + path, error);
  }

  std::string out = encode_frame(request);
  for (size_t sent = 0; sent < out.size();) {
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto ok = wait_for(fd.get(), POLLOUT, deadline, path); !ok) return Unexpected(ok.error());
    } else {
      return fail_errno(path + ": could not send the request");
    }
  }

  std::string in;
  char buf[16 * 1024];
  for (;;) {
    auto frame = take_frame(in, kMaxResponseSize);
    if (!frame) return fail(path + ": bad reply: " + frame.error().message);
    if (*frame) {
      auto document = parse_document((*frame)->body);
      if (!document) return fail(path + ": bad reply: " + document.error().message);
      auto response = parse_response(*document);
      if (!response) return fail(path + ": bad reply: " + response.error().message);
      return response;
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return fail(path + ": pgquay closed the connection without a complete reply");
    } else if (errno == EAGAIN || errno == EINTR) {
      if (auto ok = wait_for(fd.get(), POLLIN, deadline, path); !ok) return Unexpected(ok.error());
    } else {
      return fail_errno(path + ": could not read the reply");
    }
  }
}

}  // namespace pgquay::management
