// epoll backend: performs each operation when its fd is ready. Level-triggered; an fd stays
// registered while it has operations, so a relay that re-arms its receive after every completion
// costs no epoll_ctl. Sends (and accepts) are tried at once and only wait for readiness on EAGAIN.
#include "pgquay_build_config.h"

#if PGQUAY_HAVE_EPOLL

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "backend.hpp"
#include "pgquay/common/check.hpp"
#include "pgquay/common/fd.hpp"

namespace pgquay::ev {
namespace {

bool is_input(OpKind kind) {
  return kind == OpKind::recv || kind == OpKind::accept || kind == OpKind::poll_in;
}

// Runs the syscall of `op`; returns -EAGAIN when the fd is not ready yet.
int perform(const Op& op) {
  for (;;) {
    ssize_t r = 0;
    switch (op.kind) {
      case OpKind::recv:
        r = ::recv(op.fd, op.data, op.len, 0);
        break;
      case OpKind::send:
        r = ::send(op.fd, op.data, op.len, MSG_NOSIGNAL);
        break;
      case OpKind::accept:
        r = ::accept4(op.fd, nullptr, nullptr, SOCK_CLOEXEC);
        break;
      case OpKind::connect: {
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
        return -err;
      }
      case OpKind::poll_in:
      case OpKind::poll_out:
        return 0;
    }
    if (r >= 0) return static_cast<int>(r);
    if (errno == EINTR) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

class EpollBackend final : public Backend {
 public:
  explicit EpollBackend(Fd epfd) : epfd_(std::move(epfd)) {}

  void submit(uint64_t token, const Op& op) override {
    if (op.kind == OpKind::send || op.kind == OpKind::accept) {
      int r = perform(op);
      if (r != -EAGAIN) return complete_now(token, r);
    } else if (op.kind == OpKind::connect) {
      int r = ::connect(op.fd, op.addr, op.addr_len);
      if (r == 0) return complete_now(token, 0);
      if (errno != EINPROGRESS && errno != EINTR) return complete_now(token, -errno);
    }
    FdState& st = state(op.fd);
    Pending& slot = is_input(op.kind) ? st.in : st.out;
    PGQ_CHECK(!slot.active);  // one input-side and one output-side operation per fd
    slot = Pending{true, token, op};
    reconcile(op.fd, st);
  }

  void cancel(uint64_t token, const Op& op) override {
    if (op.fd < 0 || static_cast<size_t>(op.fd) >= fds_.size()) return;
    FdState& st = fds_[op.fd];
    for (Pending* p : {&st.in, &st.out}) {
      if (p->active && p->token == token) {
        p->active = false;
        complete_now(token, -ECANCELED);
        dirty_.push_back(op.fd);
      }
    }
  }

  void forget_fd(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= fds_.size()) return;
    FdState& st = fds_[fd];
    if (st.registered) epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    st = FdState{};
  }

  bool wants_blocking_sockets() const override { return false; }
  std::vector<int> descriptors() const override { return {epfd_.get()}; }

  Result<void> wait(std::vector<Completion>& out) override {
    for (int fd : dirty_) {
      if (static_cast<size_t>(fd) < fds_.size()) reconcile(fd, fds_[fd]);
    }
    dirty_.clear();
    // Completions that happened inside submit() are delivered first; an occasional zero-timeout
    // poll keeps a stream of them from starving fds that became ready meanwhile.
    if (!ready_.empty()) {
      out.insert(out.end(), ready_.begin(), ready_.end());
      ready_.clear();
      if (++ready_streak_ < 16) return {};
    }
    ready_streak_ = 0;
    int timeout = out.empty() ? -1 : 0;
    epoll_event events[128];
    int n = epoll_wait(epfd_.get(), events, 128, timeout);
    if (n < 0) {
      if (errno == EINTR) return {};
      return fail_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (static_cast<size_t>(fd) >= fds_.size()) continue;
      FdState& st = fds_[fd];
      uint32_t ev = events[i].events;
      bool broken = ev & (EPOLLERR | EPOLLHUP);
      if (st.in.active && (ev & (EPOLLIN | EPOLLRDHUP) || broken)) run_ready(st.in, out);
      if (st.out.active && (ev & EPOLLOUT || broken)) run_ready(st.out, out);
      dirty_.push_back(fd);
    }
    return {};
  }

  void abandon_after_fork() override {
    // The epoll set is shared with the parent: close our descriptor of it, never EPOLL_CTL_DEL.
    epfd_.reset();
    fds_.clear();
    ready_.clear();
    dirty_.clear();
  }

 private:
  struct Pending {
    bool active = false;
    uint64_t token = 0;
    Op op;
  };
  struct FdState {
    Pending in, out;
    bool registered = false;
    uint32_t events = 0;
  };

  FdState& state(int fd) {
    PGQ_CHECK(fd >= 0);
    if (static_cast<size_t>(fd) >= fds_.size()) fds_.resize(static_cast<size_t>(fd) + 64);
    return fds_[fd];
  }

  void run_ready(Pending& p, std::vector<Completion>& out) {
    int r = perform(p.op);
    if (r == -EAGAIN) return;  // spurious wake-up: stay armed
    p.active = false;
    out.push_back({p.token, r});
  }

  void complete_now(uint64_t token, int result) { ready_.push_back({token, result}); }

  // Brings the kernel's interest set in line with the pending operations of `fd`. An fd with no
  // operation stays registered with no events (cheaper than DEL + ADD for a relay that pauses).
  void reconcile(int fd, FdState& st) {
    uint32_t want = 0;
    if (st.in.active) want |= EPOLLIN | EPOLLRDHUP;
    if (st.out.active) want |= EPOLLOUT;
    if (st.registered && want == st.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    if (!st.registered) {
      if (want == 0) return;
      if (epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return fail_pending(st, -errno);
      st.registered = true;
    } else if (epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
      // ENOENT: the fd number was closed and reused without forget_fd; register it afresh.
      if (errno != ENOENT || epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
        return fail_pending(st, -errno);
    }
    st.events = want;
  }

  void fail_pending(FdState& st, int err) {
    for (Pending* p : {&st.in, &st.out}) {
      if (p->active) {
        p->active = false;
        complete_now(p->token, err);
      }
    }
  }

  Fd epfd_;
  std::vector<FdState> fds_;
  std::vector<Completion> ready_;
  std::vector<int> dirty_;
  int ready_streak_ = 0;
};

}  // namespace

Result<std::unique_ptr<Backend>> make_epoll_backend() {
  Fd epfd(epoll_create1(EPOLL_CLOEXEC));
  if (!epfd) return fail_errno("epoll_create1");
  return std::make_unique<EpollBackend>(std::move(epfd));
}

}  // namespace pgquay::ev

#else

#include "backend.hpp"
namespace pgquay::ev {
Result<std::unique_ptr<Backend>> make_epoll_backend() {
  return fail("epoll exists only on Linux");
}
}  // namespace pgquay::ev

#endif
