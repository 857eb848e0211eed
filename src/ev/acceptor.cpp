#include <cerrno>

#include "pgquay/common/log.hpp"
#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {

namespace {
constexpr std::chrono::milliseconds kDescriptorBackoff{100};
}

struct Acceptor::Backoff {
  explicit Backoff(Loop& loop, Acceptor& owner) : timer(loop, [&owner] { owner.resume(); }) {}
  Timer timer;
};

Acceptor::Acceptor(Loop& loop, int listen_fd, Callback on_client)
    : loop_(loop),
      fd_(listen_fd),
      on_client_(std::move(on_client)),
      alive_(std::make_shared<bool>(true)) {
  loop_.prepare_socket(fd_);
  arm();
}

Acceptor::~Acceptor() {
  *alive_ = false;
  loop_.abandon(op_);
  loop_.forget_fd(fd_);
}

void Acceptor::pause() {
  active_ = false;
  loop_.abandon(op_);
}

void Acceptor::resume() {
  active_ = true;
  arm();
}

void Acceptor::arm() {
  if (loop_.fork_epoch() != epoch_) return;  // inherited by a forked child: inert
  if (!active_ || op_.valid()) return;
  op_ = loop_.submit(Op{OpKind::accept, fd_, nullptr, 0, nullptr, 0}, this, 0, nullptr);
}

void Acceptor::on_op_complete(uint32_t, int result) {
  op_.clear();
  if (result >= 0) {
    auto guard = alive_;
    // The callback may destroy this acceptor (and with it on_client_): run it from a local.
    Callback callback = std::move(on_client_);
    callback(Fd(result));
    if (!*guard) return;
    on_client_ = std::move(callback);
    arm();
    return;
  }
  switch (-result) {
    case ECANCELED:
      return;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      PGQ_WARN("accept: %s; pausing new connections for %lld ms", std::strerror(-result),
               static_cast<long long>(kDescriptorBackoff.count()));
      if (!backoff_) backoff_ = std::make_unique<Backoff>(loop_, *this);
      active_ = false;
      backoff_->timer.start(kDescriptorBackoff);
      return;
    default:
      // ECONNABORTED, EINTR, EPROTO...: that client is gone; keep accepting the others.
      arm();
  }
}

}  // namespace pgquay::ev
