#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {

SignalWatcher::SignalWatcher(Loop& loop, std::initializer_list<int> signals, Callback callback)
    : loop_(loop),
      signals_(signals),
      callback_(std::move(callback)),
      alive_(std::make_shared<bool>(true)) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals_) sigaddset(&set, s);
  // Blocked signals stay pending for the signalfd instead of running a handler.
  sigprocmask(SIG_BLOCK, &set, nullptr);
  fd_ = Fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (fd_) arm();
}

SignalWatcher::~SignalWatcher() {
  *alive_ = false;
  loop_.abandon(op_);
  if (fd_) loop_.forget_fd(fd_.get());
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals_) sigaddset(&set, s);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

void SignalWatcher::arm() {
  if (loop_.fork_epoch() != epoch_) return;  // inherited by a forked child: inert
  op_ = loop_.submit(Op{OpKind::poll_in, fd_.get(), nullptr, 0, nullptr, 0}, this, 0, nullptr);
}

void SignalWatcher::on_op_complete(uint32_t, int result) {
  op_.clear();
  if (result == -ECANCELED) return;
  auto guard = alive_;
  signalfd_siginfo info;
  // The callback may destroy this watcher (and with it callback_): run it from a local.
  Callback callback = std::move(callback_);
  while (::read(fd_.get(), &info, sizeof(info)) == sizeof(info)) {
    callback(static_cast<int>(info.ssi_signo));
    if (!*guard) return;
  }
  callback_ = std::move(callback);
  arm();
}

}  // namespace pgquay::ev
