// The event loop: one per process, single-threaded, driven by one backend (io_uring, epoll or
// kqueue). The loop is completion based: watchers submit operations (receive, send, accept,
// connect, wait-until-readable) and are called back when they complete. The io_uring backend runs
// them as io_uring requests; the epoll and kqueue backends perform them when the fd is ready.
//
// Contract for watcher code (Stream, Acceptor, Timer, ...):
//  - every submitted operation completes exactly once through OpHandler::on_op_complete, unless
//    the handler abandons it (then the loop drops the completion);
//  - memory an operation points at must stay valid until it completes: pass an owner of that
//    memory as `keep_alive`; the loop holds it until the kernel is done, even if the watcher is
//    gone;
//  - watchers must be destroyed before their loop;
//  - callbacks may start, stop or destroy any watcher, including the one being called.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "pgquay/common/result.hpp"
#include "pgquay/ev/backend_kind.hpp"

namespace pgquay::ev {

class Backend;

enum class OpKind : uint8_t {
  recv,      // receive into data[0, len): result = bytes (0 = EOF) or -errno
  send,      // send data[0, len): result = bytes sent (maybe fewer) or -errno
  accept,    // accept on a listening socket: result = new fd (close-on-exec) or -errno
  connect,   // connect a non-connected socket to addr: result = 0 or -errno
  poll_in,   // wait until readable (or error/hang-up): result = 0 or -errno
  poll_out,  // wait until writable: result = 0 or -errno
};

struct Op {
  OpKind kind = OpKind::poll_in;
  int fd = -1;
  char* data = nullptr;  // recv/send buffer
  size_t len = 0;
  const sockaddr* addr = nullptr;  // connect target
  socklen_t addr_len = 0;
};

// Identifies one submitted operation: a table index plus a generation, so a late completion of a
// recycled slot is recognised and dropped.
struct OpId {
  uint32_t index = UINT32_MAX;
  uint32_t generation = 0;
  [[nodiscard]] bool valid() const { return index != UINT32_MAX; }
  void clear() { index = UINT32_MAX; }
};

class OpHandler {
 public:
  virtual void on_op_complete(uint32_t tag, int result) = 0;
  virtual ~OpHandler() = default;
};

class Loop {
 public:
  // `kind` is resolved with select_backend().
  static Result<std::unique_ptr<Loop>> create(BackendKind kind);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until break_loop(). Sleeps in the kernel until an operation completes; nothing polls.
  [[nodiscard]] Result<void> run();
  // Makes run() return after the current batch of completions has been dispatched.
  void break_loop() { stop_ = true; }
  [[nodiscard]] bool stopping() const { return stop_; }

  // The fork hook: the first thing a child process calls. Drops the parent's backend without
  // touching its kernel objects (no EPOLL_CTL_DEL on the shared epoll set, no io_uring_queue_exit
  // on the parent's ring), builds a fresh backend of the same kind, forgets every pending operation
  // (watchers inherited from the parent become inert: destroying them is safe and closes their
  // fds) and unblocks all signals.
  [[nodiscard]] Result<void> fork_child();

  // Counts fork_child() calls. A watcher remembers it at construction and never re-arms after it
  // changed: in a child, the parent's watchers must not start new kernel operations (an accept
  // re-armed in a worker would steal the parent's next client).
  [[nodiscard]] uint32_t fork_epoch() const { return fork_epoch_; }

  // Descriptors the loop's backend holds (a forked worker keeps them when it sweeps the rest).
  [[nodiscard]] std::vector<int> descriptors() const;

  [[nodiscard]] BackendKind kind() const { return kind_; }
  // fork_child() could not give this process an io_uring ring and used epoll instead.
  [[nodiscard]] bool fell_back_to_epoll() const { return fell_back_; }
  [[nodiscard]] const char* backend_name() const { return backend_kind_name(kind_); }

  // ---- for watcher implementations ----
  OpId submit(const Op& op, OpHandler* handler, uint32_t tag, std::shared_ptr<void> keep_alive);
  // Asks the kernel to stop `id`; the handler still receives its completion (-ECANCELED, or the
  // real result if the operation won the race).
  void cancel(OpId id);
  // Cancels `id` and detaches its handler: the completion is dropped when it arrives.
  void abandon(OpId& id);
  // Puts `fd` in the blocking mode the backend wants for sockets it drives (io_uring: blocking,
  // so the kernel parks the request instead of returning EAGAIN; epoll/kqueue: non-blocking).
  void prepare_socket(int fd) const;
  // Must be called before closing an fd that ran operations on this loop.
  void forget_fd(int fd);

 private:
  struct Slot;
  explicit Loop(BackendKind kind, std::unique_ptr<Backend> backend);
  void dispatch(uint64_t token, int result);

  BackendKind kind_;
  bool fell_back_ = false;
  std::unique_ptr<Backend> backend_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  bool stop_ = false;
  uint32_t fork_epoch_ = 0;
};

}  // namespace pgquay::ev
