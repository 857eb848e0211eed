#include <cerrno>

#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {

ReadableWatcher::ReadableWatcher(Loop& loop, int fd, Callback callback)
    : loop_(loop), fd_(fd), callback_(std::move(callback)), alive_(std::make_shared<bool>(true)) {
  arm();
}

ReadableWatcher::~ReadableWatcher() {
  *alive_ = false;
  loop_.abandon(op_);
  loop_.forget_fd(fd_);
}

void ReadableWatcher::stop() {
  active_ = false;
  loop_.abandon(op_);
}

void ReadableWatcher::arm() {
  if (loop_.fork_epoch() != epoch_) return;  // inherited by a forked child: inert
  if (!active_ || op_.valid()) return;
  op_ = loop_.submit(Op{OpKind::poll_in, fd_, nullptr, 0, nullptr, 0}, this, 0, nullptr);
}

void ReadableWatcher::on_op_complete(uint32_t, int result) {
  op_.clear();
  if (result == -ECANCELED) return;
  auto guard = alive_;
  // The callback may destroy this watcher (and with it callback_): run it from a local.
  Callback callback = std::move(callback_);
  callback();
  if (!*guard) return;
  callback_ = std::move(callback);
  arm();
}

}  // namespace pgquay::ev
