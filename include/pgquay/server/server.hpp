// The main process: listens, forks a worker per client, serves the workers' control channels
// (PoolManager), reaps them, and handles signals. Never runs a client's protocol, never blocks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/management/endpoint.hpp"
#include "pgquay/management/protocol.hpp"
#include "pgquay/server/pool_manager.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::server {

// The management socket (<unix_socket_dir>/.s.pgquay.<port>.admin, see doc/CLI.md) and the
// metrics endpoint (`metrics = PORT`) are served on the same loop; their commands live in
// commands.cpp, status.cpp and metrics.cpp.
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
    uint64_t generation = 0;       // generation_ when it was forked
    int64_t idle_since_ms = 0;     // waitpid() returned it: its pid may belong to someone else now
    int64_t serving_since_us = 0;  // when it was handed its current client
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
  void drain_control(WorkerEntry& entry, bool at_most_one = false);
  void reap_children();
  void stop_accepting();
  void shutdown_immediately(const char* why);
  void shutdown_gracefully();
  // Leaves a graceful shutdown: listens again and forks workers again.
  [[nodiscard]] Result<void> cancel_shutdown();
  // ---- reload (reload.cpp) ----
  // SIGHUP and `conf reload`: re-reads pgquay.conf, pgquay_hba.conf, pgquay_databases.conf and
  // the users files; applies the files and every changed pgquay.conf key that may change live,
  // keeps the running value of restart-only keys and reports them (log and result). A file with
  // an error changes nothing. The report is the `conf reload` result.
  [[nodiscard]] Result<management::Json> reload();
  // `conf set KEY VALUE`: validates and applies one live key in memory (the file is not
  // written); a restart-only or unknown key is refused.
  [[nodiscard]] Result<management::Json> set_key(const std::string& key, const std::string& value);
  // Makes `next` the running configuration: the log level at once, the worker cache resized,
  // the cached idle workers (forked with the old values) replaced.
  void apply_config(config::Config next);
  // A client session ended (its worker went idle or exited while serving).
  void session_ended(WorkerEntry& entry);

  // ---- management (commands.cpp, status.cpp, metrics.cpp) ----
  [[nodiscard]] Result<void> open_management();
  [[nodiscard]] std::optional<management::Reply> on_admin_input(std::string_view input);
  // Runs one command. `then` is set for actions that must wait until the reply is sent.
  [[nodiscard]] Result<management::Json> run_command(const management::Request& request,
                                                     std::function<void()>& then);
  [[nodiscard]] management::Json status(bool details) const;
  [[nodiscard]] Result<management::Json> configuration(const std::optional<std::string>& key) const;
  [[nodiscard]] std::optional<management::Reply> on_metrics_input(std::string_view input) const;
  [[nodiscard]] std::string metrics_text() const;

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
  // The cache: longest idle at the front, handed out from the back.
  std::deque<pid_t> idle_workers_;
  int cache_target_ = 0;  // prefork_workers, resolved
  // Counts applied reloads and `conf set`s: a worker forked before the latest one is not cached
  // again when its session ends.
  uint64_t generation_ = 0;
  std::unique_ptr<ev::Timer> refill_timer_;
  std::unique_ptr<ev::Timer> trim_timer_;
  std::optional<worker::WorkerStart>* worker_start_ = nullptr;
  bool is_child_ = false;
  bool graceful_ = false;
  int64_t started_ms_ = 0;
  std::string admin_socket_path_;
  std::unique_ptr<management::Endpoint> admin_;
  std::vector<std::unique_ptr<management::Endpoint>> metrics_;  // one per listening address
};

}  // namespace pgquay::server
