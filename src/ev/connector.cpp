#include <cerrno>
#include <cstring>

#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {

// The address must outlive an io_uring connect request, so it lives in the keep-alive.
struct Connector::Target {
  sockaddr_storage addr;
  socklen_t len;
};

Connector::Connector(Loop& loop, int fd, const sockaddr* addr, socklen_t len, Callback callback)
    : loop_(loop), fd_(fd), callback_(std::move(callback)) {
  auto target = std::make_shared<Target>();
  std::memcpy(&target->addr, addr, len);
  target->len = len;
  loop_.prepare_socket(fd);
  Op op{OpKind::connect, fd, nullptr, 0, reinterpret_cast<const sockaddr*>(&target->addr), len};
  op_ = loop_.submit(op, this, 0, target);
}

Connector::~Connector() {
  if (op_.valid()) {
    loop_.abandon(op_);
    loop_.forget_fd(fd_);
  }
}

void Connector::on_op_complete(uint32_t, int result) {
  op_.clear();
  // Before the callback (which may start a Stream on this fd): the connect's registration must
  // not outlive it, whether the socket lives on or its owner closes it.
  loop_.forget_fd(fd_);
  if (result == -ECANCELED) return;
  // The callback may destroy this connector: run it from a local.
  Callback callback = std::move(callback_);
  callback(result < 0 ? -result : 0);
}

}  // namespace pgquay::ev
