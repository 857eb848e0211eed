// io_uring backend: receives, sends, accepts and connects are io_uring requests; the kernel parks
// them until they can complete, so the loop makes one io_uring_enter per iteration for everything
// it submits and reaps. user_data is the loop's token (table index + generation), never a pointer.
#include "pgquay_build_config.h"

#if PGQUAY_HAVE_IO_URING

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "pgquay/common/check.hpp"

namespace pgquay::ev {
namespace {

// Completions of our own cancel requests carry this user_data and are ignored.
constexpr uint64_t kCancelToken = ~uint64_t{0};
// A request re-armed after -EAGAIN first waits with a poll carrying this bit in its user_data.
constexpr uint64_t kPollPhaseBit = uint64_t{1} << 63;

class UringBackend final : public Backend {
 public:
  UringBackend() = default;
  ~UringBackend() override {
    if (initialized_) io_uring_queue_exit(&ring_);
  }

  Result<void> init(unsigned ring_entries) {
    io_uring_params params{};
    // SUBMIT_ALL: one bad request does not stop the rest of a batch; COOP_TASKRUN: we are single
    // threaded, so the kernel need not interrupt us to run completion work.
    params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    int r = io_uring_queue_init_params(ring_entries, &ring_, &params);
    if (r == -EINVAL) {  // kernels before 5.19 reject the flags
      params = io_uring_params{};
      r = io_uring_queue_init_params(ring_entries, &ring_, &params);
    }
    if (r < 0) return fail_errno("io_uring_queue_init", -r);
    initialized_ = true;
    // A forked child must not share our ring memory: it builds its own ring in the fork hook.
    io_uring_ring_dontfork(&ring_);
    return {};
  }

  void submit(uint64_t token, const Op& op) override {
    uint32_t index = static_cast<uint32_t>(token);
    if (index >= ops_.size()) ops_.resize(index + 64);
    ops_[index] = InFlight{true, token, op};
    prepare(token, op);
  }

  void cancel(uint64_t token, const Op&) override {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, token, 0);
    io_uring_sqe_set_data64(sqe, kCancelToken);
    // The request may be in its poll phase after an EAGAIN.
    io_uring_sqe* sqe2 = get_sqe();
    io_uring_prep_cancel64(sqe2, token | kPollPhaseBit, 0);
    io_uring_sqe_set_data64(sqe2, kCancelToken);
  }

  void forget_fd(int) override {}
  bool wants_blocking_sockets() const override { return true; }
  std::vector<int> descriptors() const override {
    if (!initialized_) return {};
    std::vector<int> fds{ring_.ring_fd};
    if (ring_.enter_ring_fd >= 0 && ring_.enter_ring_fd != ring_.ring_fd)
      fds.push_back(ring_.enter_ring_fd);
    return fds;
  }

  Result<void> wait(std::vector<Completion>& out) override {
    for (;;) {
      int r = io_uring_submit_and_wait(&ring_, 1);
      if (r >= 0 || r == -ETIME) break;
      if (r == -EINTR) continue;
      if (r == -EAGAIN || r == -EBUSY) {
        // Completion queue is full: reap what is there first.
        break;
      }
      return fail_errno("io_uring_submit_and_wait", -r);
    }
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      handle_cqe(cqe->user_data, cqe->res, out);
    }
    io_uring_cq_advance(&ring_, seen);
    return {};
  }

  void abandon_after_fork() override {
    // The ring's memory was not inherited (io_uring_ring_dontfork) and the ring belongs to the
    // parent: close our descriptors of it and forget it, without io_uring_queue_exit's munmap.
    if (initialized_) {
      ::close(ring_.ring_fd);
      if (ring_.enter_ring_fd >= 0 && ring_.enter_ring_fd != ring_.ring_fd)
        ::close(ring_.enter_ring_fd);
    }
    initialized_ = false;
    ops_.clear();
  }

 private:
  void handle_cqe(uint64_t data, int res, std::vector<Completion>& out) {
    if (data == kCancelToken) return;
    uint64_t token = data & ~kPollPhaseBit;
    uint32_t index = static_cast<uint32_t>(token);
    if (index >= ops_.size() || !ops_[index].active || ops_[index].token != token) return;
    InFlight& entry = ops_[index];
    const Op& op = entry.op;
    if (data & kPollPhaseBit) {
      // The fd is ready (or the poll failed): issue the real request again.
      if (res < 0) {
        entry.active = false;
        out.push_back({token, res});
      } else {
        prepare(token, op);
      }
      return;
    }
    bool is_poll = op.kind == OpKind::poll_in || op.kind == OpKind::poll_out;
    if (res == -EAGAIN && !is_poll) {
      // A non-blocking fd makes io_uring give up instead of waiting: wait with a poll, retry.
      io_uring_sqe* sqe = get_sqe();
      unsigned mask = op.kind == OpKind::send || op.kind == OpKind::connect ? POLLOUT : POLLIN;
      io_uring_prep_poll_add(sqe, op.fd, mask);
      io_uring_sqe_set_data64(sqe, token | kPollPhaseBit);
      return;
    }
    if (is_poll && res > 0) res = 0;
    entry.active = false;
    out.push_back({token, res});
  }

  void prepare(uint64_t token, const Op& op) {
    io_uring_sqe* sqe = get_sqe();
    switch (op.kind) {
      case OpKind::recv:
        io_uring_prep_recv(sqe, op.fd, op.data, op.len, 0);
        break;
      case OpKind::send:
        io_uring_prep_send(sqe, op.fd, op.data, op.len, MSG_NOSIGNAL);
        break;
      case OpKind::accept:
        io_uring_prep_accept(sqe, op.fd, nullptr, nullptr, SOCK_CLOEXEC);
        break;
      case OpKind::connect:
        io_uring_prep_connect(sqe, op.fd, op.addr, op.addr_len);
        break;
      case OpKind::poll_in:
        io_uring_prep_poll_add(sqe, op.fd, POLLIN);
        break;
      case OpKind::poll_out:
        io_uring_prep_poll_add(sqe, op.fd, POLLOUT);
        break;
    }
    io_uring_sqe_set_data64(sqe, token);
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {
      // Submission queue full: hand the batch to the kernel now and take a fresh entry.
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  io_uring ring_{};
  bool initialized_ = false;
  // What each in-flight request was (indexed like the loop's table), to re-issue it after EAGAIN.
  struct InFlight {
    bool active = false;
    uint64_t token = 0;
    Op op;
  };
  std::vector<InFlight> ops_;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_uring_backend(unsigned ring_entries) {
  auto backend = std::make_unique<UringBackend>();
  auto ok = backend->init(ring_entries);
  if (!ok) return Unexpected(ok.error());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace pgquay::ev

#else

#include "backend.hpp"
namespace pgquay::ev {
Result<std::unique_ptr<Backend>> make_uring_backend(unsigned) {
  return fail("io_uring is not compiled into this build");
}
}  // namespace pgquay::ev

#endif
