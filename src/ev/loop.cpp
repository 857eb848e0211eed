#include "pgquay/ev/loop.hpp"

#include <fcntl.h>
#include <signal.h>

#include <cerrno>

#include "backend.hpp"
#include "pgquay/common/check.hpp"
#include "pgquay/common/log.hpp"

namespace pgquay::ev {

struct Loop::Slot {
  uint32_t generation = 0;
  bool in_use = false;
  Op op;
  OpHandler* handler = nullptr;
  uint32_t tag = 0;
  std::shared_ptr<void> keep_alive;
};

namespace {

// Generations wrap within 31 bits: the top bit of a token is reserved for backends (io_uring marks
// the poll phase of a re-armed request with it).
uint32_t next_generation(uint32_t generation) {
  return (generation + 1) & 0x7fffffffU;
}

Result<std::unique_ptr<Backend>> make_backend(BackendKind kind) {
  switch (kind) {
    case BackendKind::io_uring:
      return make_uring_backend();
    case BackendKind::epoll:
      return make_epoll_backend();
    case BackendKind::kqueue:
      return make_kqueue_backend();
    case BackendKind::automatic:
      break;
  }
  return fail("event loop backend must be resolved before use");
}

}  // namespace

Result<std::unique_ptr<Loop>> Loop::create(BackendKind requested) {
  auto kind = select_backend(requested);
  if (!kind) return Unexpected(kind.error());
  auto backend = make_backend(*kind);
  if (!backend) return Unexpected(backend.error());
  return std::unique_ptr<Loop>(new Loop(*kind, std::move(*backend)));
}

Loop::Loop(BackendKind kind, std::unique_ptr<Backend> backend)
    : kind_(kind), backend_(std::move(backend)) {}

Loop::~Loop() {
  // The backend goes first: tearing down an io_uring ring cancels its requests, after which the
  // memory they pointed at (held by the slots) may be released.
  backend_.reset();
  slots_.clear();
}

OpId Loop::submit(const Op& op, OpHandler* handler, uint32_t tag,
                  std::shared_ptr<void> keep_alive) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& slot = slots_[index];
  PGQ_CHECK(!slot.in_use);
  slot.in_use = true;
  slot.op = op;
  slot.handler = handler;
  slot.tag = tag;
  slot.keep_alive = std::move(keep_alive);
  OpId id{index, slot.generation};
  backend_->submit(make_token(id), op);
  return id;
}

void Loop::cancel(OpId id) {
  if (!id.valid() || id.index >= slots_.size()) return;
  Slot& slot = slots_[id.index];
  if (!slot.in_use || slot.generation != id.generation) return;
  backend_->cancel(make_token(id), slot.op);
}

void Loop::abandon(OpId& id) {
  if (id.valid() && id.index < slots_.size()) {
    Slot& slot = slots_[id.index];
    if (slot.in_use && slot.generation == id.generation) {
      slot.handler = nullptr;
      backend_->cancel(make_token(id), slot.op);
    }
  }
  id.clear();
}

void Loop::prepare_socket(int fd) const {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return;
  int wanted = backend_->wants_blocking_sockets() ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (wanted != flags) fcntl(fd, F_SETFL, wanted);
}

void Loop::forget_fd(int fd) {
  backend_->forget_fd(fd);
}

std::vector<int> Loop::descriptors() const {
  return backend_->descriptors();
}

void Loop::dispatch(uint64_t token, int result) {
  OpId id = token_id(token);
  if (id.index >= slots_.size()) return;
  Slot& slot = slots_[id.index];
  if (!slot.in_use || slot.generation != id.generation) return;  // from before a fork
  OpHandler* handler = slot.handler;
  uint32_t tag = slot.tag;
  // Free the slot before calling back so the handler can submit its next operation into it. The
  // keep-alive is moved out and released after the callback: the handler may still read the
  // buffer it names (a receive's bytes).
  std::shared_ptr<void> keep_alive = std::move(slot.keep_alive);
  slot.in_use = false;
  slot.handler = nullptr;
  slot.generation = next_generation(slot.generation);
  free_slots_.push_back(id.index);
  if (handler) handler->on_op_complete(tag, result);
}

Result<void> Loop::run() {
  stop_ = false;
  std::vector<Completion> batch;
  batch.reserve(64);
  while (!stop_) {
    batch.clear();
    auto waited = backend_->wait(batch);
    if (!waited) return waited;
    // Every completion taken from the kernel is dispatched, even after break_loop(): dropping one
    // would lose an accepted client or received bytes.
    for (const Completion& c : batch) dispatch(c.token, c.result);
  }
  return {};
}

Result<void> Loop::fork_child() {
  backend_->abandon_after_fork();
  auto fresh =
      kind_ == BackendKind::io_uring ? make_uring_backend(kChildRingEntries) : make_backend(kind_);
  if (!fresh && kind_ == BackendKind::io_uring) {
    // Out of locked memory for rings (RLIMIT_MEMLOCK, see backend.hpp): this child serves its
    // client on epoll rather than not at all, and says so.
    auto epoll = make_epoll_backend();
    if (epoll) {
      PGQ_WARN(
          "io_uring is not available in this process (%s); using epoll "
          "(raise LimitMEMLOCK / ulimit -l for more io_uring workers)",
          fresh.error().message.c_str());
      kind_ = BackendKind::epoll;
      fell_back_ = true;
      fresh = std::move(epoll);
    }
  }
  if (!fresh) return Unexpected(fresh.error());
  backend_ = std::move(*fresh);
  free_slots_.clear();
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    slot.in_use = false;
    slot.handler = nullptr;
    slot.keep_alive.reset();
    slot.generation = next_generation(slot.generation);
    free_slots_.push_back(i);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  stop_ = false;
  ++fork_epoch_;
  return {};
}

}  // namespace pgquay::ev
