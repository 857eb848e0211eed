#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "pgquay/common/check.hpp"
#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {

namespace {
timespec to_timespec(std::chrono::milliseconds ms) {
  return timespec{static_cast<time_t>(ms.count() / 1000),
                  static_cast<long>((ms.count() % 1000) * 1000000)};
}
}  // namespace

Timer::Timer(Loop& loop, Callback callback)
    : loop_(loop),
      fd_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      callback_(std::move(callback)),
      alive_(std::make_shared<bool>(true)) {
  PGQ_CHECK(fd_.valid());
}

Timer::~Timer() {
  *alive_ = false;
  loop_.abandon(op_);
  loop_.forget_fd(fd_.get());
}

void Timer::start(std::chrono::milliseconds first, std::chrono::milliseconds interval) {
  if (first.count() <= 0) first = std::chrono::milliseconds{1};  // zero would disarm the timerfd
  itimerspec spec{to_timespec(interval), to_timespec(first)};
  timerfd_settime(fd_.get(), 0, &spec, nullptr);
  periodic_ = interval.count() > 0;
  active_ = true;
  arm();
}

void Timer::stop() {
  // Not running (never started, stopped, or a one-shot that fired): the timerfd is disarmed and
  // nothing waits on it, so no system call is needed.
  if (!active_ && !op_.valid()) return;
  active_ = false;
  itimerspec off{};
  timerfd_settime(fd_.get(), 0, &off, nullptr);
  loop_.abandon(op_);
}

void Timer::arm() {
  if (loop_.fork_epoch() != epoch_) return;  // inherited by a forked child: inert
  if (op_.valid()) return;
  op_ = loop_.submit(Op{OpKind::poll_in, fd_.get(), nullptr, 0, nullptr, 0}, this, 0, nullptr);
}

void Timer::on_op_complete(uint32_t, int result) {
  op_.clear();
  if (result == -ECANCELED || !active_) return;
  uint64_t expirations = 0;
  if (::read(fd_.get(), &expirations, sizeof(expirations)) != sizeof(expirations)) {
    arm();  // woken early (or raced with a restart): wait again
    return;
  }
  if (!periodic_) active_ = false;
  auto guard = alive_;
  // The callback may destroy this timer (and with it callback_): run it from a local.
  Callback callback = std::move(callback_);
  callback();
  if (!*guard) return;
  callback_ = std::move(callback);
  if (active_) arm();
}

}  // namespace pgquay::ev
