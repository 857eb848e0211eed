#include "pgquay/net/fd_passing.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "pgquay/common/check.hpp"

namespace pgquay::net {

namespace {

// Room for a few descriptors: we only ever send one, but a confused or hostile peer may attach
// more, and those must be closed rather than leaked. Any beyond this are dropped by the kernel.
constexpr size_t kMaxFds = 8;

}  // namespace

int send_message(int sock, const void* data, size_t len, int fd) {
  PGQ_CHECK(data != nullptr && len > 0 && len <= INT_MAX);
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  while (true) {
    const ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno != EINTR) return -errno;
  }
}

int receive_message(int sock, void* buf, size_t len, Fd* fd) {
  PGQ_CHECK(buf != nullptr && len > 0 && len <= INT_MAX);
  if (fd != nullptr) fd->reset();
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  while (true) {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno != EINTR) return -errno;
  }

  // Take ownership of every received descriptor first, so each is closed on any path below.
  Fd first;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      Fd owned(received);
      if (!first) first = std::move(owned);
    }
  }
  if ((msg.msg_flags & MSG_TRUNC) != 0) return -EMSGSIZE;
  if (fd != nullptr) *fd = std::move(first);
  return static_cast<int>(n);
}

}  // namespace pgquay::net
