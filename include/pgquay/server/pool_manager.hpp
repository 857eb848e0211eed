// The main process's side of the pool: decides which worker gets which slot, keeps a copy of
// every pooled server socket, queues clients in FIFO order when the pool is exhausted and
// cleans up after workers that die. Runs only in the main loop; workers talk to it through their
// control channel (pool/control.hpp).
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/pool/control.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::server {

class PoolManager {
 public:
  PoolManager(ev::Loop& loop, worker::Context& context);
  ~PoolManager();

  // A message from worker `pid` over `control_fd`, with the socket it carried (if any).
  void on_message(pid_t pid, int control_fd, const pool::ControlMessage& message, Fd attached);
  // Worker `pid` is gone (its control channel has been drained): whatever it held is closed,
  // never pooled — it may have died in the middle of a transaction.
  void worker_gone(pid_t pid);
  // Worker `pid` no longer waits for anything (it went idle): drop any request it left queued.
  void forget_waiter(pid_t pid);
  // Closes every pooled server connection (shutdown) and refuses waiting clients.
  void close_all();

  [[nodiscard]] size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter {
    pid_t pid;
    int control_fd;
    pool::ControlMessage request;
    int64_t deadline_ms;  // 0 = no limit
  };
  enum class Grant { none, pooled, create };

  Grant try_grant(const Waiter& waiter);
  void serve_waiters();
  void arm_deadline_timer();
  void on_deadline();
  void deny(const Waiter& waiter, pool::DenyReason reason);
  void close_slot(int index);
  int connections_for(std::string_view database, std::string_view user) const;
  int limit_for(std::string_view database, std::string_view user) const;

  ev::Loop& loop_;
  worker::Context& context_;
  std::vector<Fd> server_fds_;  // main's copy of each slot's server socket
  std::deque<Waiter> waiters_;
  ev::Timer deadline_timer_;
};

}  // namespace pgquay::server
