// The small watchers: accept (main flavour I/O watcher), timers, signals, readiness of an fd the
// caller reads itself, and an asynchronous connect. Destroying a watcher stops it.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/loop.hpp"

namespace pgquay::ev {

// Accepts clients on a listening socket until the kernel has none left, then waits. When the
// process runs out of descriptors (EMFILE/ENFILE) it stops accepting for a moment instead of
// spinning; the pending clients stay in the kernel's backlog.
class Acceptor final : private OpHandler {
 public:
  using Callback = std::function<void(Fd client)>;
  // Does not own `listen_fd`.
  Acceptor(Loop& loop, int listen_fd, Callback on_client);
  ~Acceptor();
  void pause();
  void resume();

 private:
  struct Backoff;
  void on_op_complete(uint32_t tag, int result) override;
  void arm();
  Loop& loop_;
  int fd_;
  Callback on_client_;
  OpId op_;
  bool active_ = true;
  std::unique_ptr<Backoff> backoff_;
  std::shared_ptr<bool> alive_;
  uint32_t epoch_ = loop_.fork_epoch();
};

// A timerfd-based timer: one-shot or periodic with a millisecond interval.
class Timer final : private OpHandler {
 public:
  using Callback = std::function<void()>;
  Timer(Loop& loop, Callback callback);
  ~Timer();
  // Fires after `first`, then every `interval` (zero = once).
  void start(std::chrono::milliseconds first,
             std::chrono::milliseconds interval = std::chrono::milliseconds{0});
  void stop();
  [[nodiscard]] bool active() const { return active_; }

 private:
  void on_op_complete(uint32_t tag, int result) override;
  void arm();
  Loop& loop_;
  Fd fd_;
  Callback callback_;
  OpId op_;
  bool active_ = false;
  bool periodic_ = false;
  std::shared_ptr<bool> alive_;
  uint32_t epoch_ = loop_.fork_epoch();
};

// Delivers signals as loop events (signalfd): the signals are blocked while the watcher exists and
// the callback runs in the loop, never in a signal handler.
class SignalWatcher final : private OpHandler {
 public:
  using Callback = std::function<void(int signo)>;
  SignalWatcher(Loop& loop, std::initializer_list<int> signals, Callback callback);
  ~SignalWatcher();
  [[nodiscard]] bool ok() const { return fd_.valid(); }

 private:
  void on_op_complete(uint32_t tag, int result) override;
  void arm();
  Loop& loop_;
  Fd fd_;
  std::vector<int> signals_;
  Callback callback_;
  OpId op_;
  std::shared_ptr<bool> alive_;
  uint32_t epoch_ = loop_.fork_epoch();
};

// Calls back whenever a non-owned fd is readable, for sockets the caller reads itself (e.g. the
// control socket that carries descriptors with SCM_RIGHTS).
class ReadableWatcher final : private OpHandler {
 public:
  using Callback = std::function<void()>;
  ReadableWatcher(Loop& loop, int fd, Callback callback);
  ~ReadableWatcher();
  void stop();

 private:
  void on_op_complete(uint32_t tag, int result) override;
  void arm();
  Loop& loop_;
  int fd_;
  Callback callback_;
  OpId op_;
  bool active_ = true;
  std::shared_ptr<bool> alive_;
  uint32_t epoch_ = loop_.fork_epoch();
};

// Connects a socket asynchronously; the callback gets 0 or an errno value.
class Connector final : private OpHandler {
 public:
  using Callback = std::function<void(int error)>;
  Connector(Loop& loop, int fd, const sockaddr* addr, socklen_t len, Callback callback);
  ~Connector();

 private:
  struct Target;
  void on_op_complete(uint32_t tag, int result) override;
  Loop& loop_;
  int fd_;
  Callback callback_;
  OpId op_;
};

}  // namespace pgquay::ev
