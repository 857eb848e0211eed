// The main process: listens, forks a worker per client, serves the workers' control channels
// (PoolManager), reaps them, and handles signals. Never runs a client's protocol, never blocks.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/server/pool_manager.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::server {

class Server {
 public:
  Server(ev::Loop& loop, worker::Context& context);
  // In the main process: removes the pid file and the Unix socket. In a forked worker: only
  // closes this process's copies of the descriptors.
  ~Server();

  // Writes the pid file, opens the listeners, installs the signal watchers.
  [[nodiscard]] Result<void> start();
  // Runs the main loop until shutdown. Returns with `worker` set in a freshly forked worker.
  [[nodiscard]] Result<void> run(std::optional<worker::WorkerStart>& worker);

 private:
  struct WorkerEntry {
    pid_t pid = 0;
    Fd control;
    std::unique_ptr<ev::ReadableWatcher> watcher;
    bool idle = false;     // in the cache of workers waiting for a client
    bool serving = false;  // counted in clients_active
    bool told_to_exit = false;
    bool reaped = false;
    int64_t idle_since_ms = 0;  // waitpid() returned it: its pid may belong to someone else now
  };

  [[nodiscard]] Result<void> check_descriptor_limit() const;
  [[nodiscard]] Result<void> write_pidfile();
  [[nodiscard]] Result<void> open_listeners();
  void on_client(Fd client, bool unix_socket);
  // Hands `client` to a cached idle worker; false when none could take it.
  bool hand_to_idle_worker(Fd& client);
  // Forks a worker, for `client` or (without one) for the cache. The one place that forks.
  void spawn_worker(std::optional<worker::ClientHandoff> client);
  void schedule_refill();
  void refill_cache();
  void on_worker_idle(WorkerEntry& entry);
  void trim_cache();
  void tell_worker_to_exit(WorkerEntry& entry);
  void on_signal(int signo);
  void drain_control(WorkerEntry& entry);
  void reap_children();
  void stop_accepting();
  void shutdown_immediately(const char* why);
  void shutdown_gracefully();
  void reload();

  ev::Loop& loop_;
  worker::Context& context_;
  std::unique_ptr<PoolManager> pool_;
  std::vector<Fd> tcp_listeners_;
  Fd unix_listener_;
  std::string unix_socket_path_;
  std::string pidfile_path_;
  std::vector<std::unique_ptr<ev::Acceptor>> acceptors_;
  std::unique_ptr<ev::SignalWatcher> signals_;
  std::map<pid_t, WorkerEntry> workers_;
  std::deque<pid_t> idle_workers_;  // the cache: longest idle at the front, handed out from the back
  int cache_target_ = 0;            // prefork_workers, resolved
  std::unique_ptr<ev::Timer> refill_timer_;
  std::unique_ptr<ev::Timer> trim_timer_;
  std::optional<worker::WorkerStart>* worker_start_ = nullptr;
  bool is_child_ = false;
  bool graceful_ = false;
};

}  // namespace pgquay::server
