// The main process's side of the pool: decides which worker gets which slot, keeps a copy of
// every pooled server socket, queues clients in FIFO order when the pool is exhausted and
// cleans up after workers that die. Runs only in the main loop; workers talk to it through their
// control channel (pool/control.hpp).
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>
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

  // ---- management ----
  struct WaiterInfo {
    pid_t pid;
    std::string user;
    std::string database;
    int64_t waited_us;
  };
  [[nodiscard]] std::vector<WaiterInfo> waiter_info() const;

  enum class FlushMode { idle, gracefully, all };
  struct FlushOutcome {
    int closed = 0;          // idle connections closed now
    int marked = 0;          // in-use connections that close when their client releases them
    int sessions_ended = 0;  // workers told to end their client's session (FlushMode::all)
  };
  // Closes idle pooled connections of `database` ("" or "*": every database) now; gracefully
  // and all also mark in-use ones to be closed instead of pooled when released; all also ends
  // the sessions using them (the worker sends its client FATAL 57P01).
  FlushOutcome flush(FlushMode mode, std::string_view database);
  // True when the slot at `index` will be closed when released (a graceful flush).
  [[nodiscard]] bool flush_pending(size_t index) const { return close_on_release_[index]; }

  // ---- slot maintenance (pool_maintenance.cpp) ----
  struct MaintenanceOutcome {
    int idle_closed = 0;     // free longer than idle_timeout
    int aged_closed = 0;     // older than max_connection_age
    int invalid_closed = 0;  // background validation found the backend gone
  };
  // One maintenance pass over the free connections at time `now_ms` (the timer calls it; public
  // for tests and management). Never blocks: validation only peeks at main's copy of the socket.
  MaintenanceOutcome maintain(int64_t now_ms);

  // A disabled database refuses new clients (DenyReason::disabled); sessions already running
  // go on. "" or "*" means every database. Clients queued for a database being disabled are
  // refused at once.
  void disable(std::string_view database);
  void enable(std::string_view database);
  [[nodiscard]] bool is_disabled(std::string_view database) const;
  // "*" when every database is disabled (then `enabled_exceptions` lists those enabled since).
  [[nodiscard]] std::vector<std::string> disabled() const;
  [[nodiscard]] std::vector<std::string> enabled_exceptions() const;

  // Server connections (any slot state but not_init) for (database, user), and the limit the
  // databases file sets for them (max_connections when none).
  [[nodiscard]] int connections_for(std::string_view database, std::string_view user) const;
  [[nodiscard]] int limit_for(std::string_view database, std::string_view user) const;

 private:
  struct Waiter {
    pid_t pid;
    int control_fd;
    pool::ControlMessage request;
    int64_t deadline_ms;  // 0 = no limit
    int64_t queued_us;    // when it asked, for the wait-time histogram
  };
  enum class Grant { none, pooled, create };

  Grant try_grant(const Waiter& waiter);
  void serve_waiters();
  void arm_deadline_timer();
  void on_deadline();
  void deny(const Waiter& waiter, pool::DenyReason reason);
  void close_slot(int index);
  // A connection of the request's pool parked in a worker (transaction pipeline), taken back;
  // -1 when there is none.
  int reclaim_parked(const pool::ControlMessage& req);
  // Publishes the queue's length (clients_waiting, connection_demand).
  void publish_waiting();
  void deny_waiters_for(std::string_view database, pool::DenyReason reason);
  // Arms maintenance_timer_ for the next pass; the period follows the configuration as it is
  // at each pass, so a reload takes effect without anyone telling the pool.
  void schedule_maintenance();
  void on_maintenance();
  // True when a connection created at `created_ms` is past max_connection_age at `now_ms`.
  [[nodiscard]] bool too_old(int64_t created_ms, int64_t now_ms) const;

  ev::Loop& loop_;
  worker::Context& context_;
  std::vector<Fd> server_fds_;  // main's copy of each slot's server socket
  std::deque<Waiter> waiters_;
  ev::Timer deadline_timer_;
  int64_t armed_deadline_ms_ = 0;       // the waiter deadline deadline_timer_ fires for (0: none)
  std::vector<bool> close_on_release_;  // per slot: a graceful flush is pending
  ev::Timer maintenance_timer_;
  int64_t last_validation_ms_ = 0;  // when background validation last ran
  bool all_disabled_ = false;
  std::set<std::string, std::less<>> disabled_;            // when !all_disabled_
  std::set<std::string, std::less<>> enabled_exceptions_;  // when all_disabled_
};

}  // namespace pgquay::server
