// The main process: listens, forks a worker per client, serves the workers' control channels
// (PoolManager), reaps them, and handles signals. Never runs a client's protocol, never blocks.
#pragma once

#include <sys/types.h>

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
  // Runs the main loop until shutdown. Returns with `handoff` set in a freshly forked worker.
  [[nodiscard]] Result<void> run(std::optional<worker::ClientHandoff>& handoff);

 private:
  struct WorkerEntry {
    pid_t pid = 0;
    Fd control;
    std::unique_ptr<ev::ReadableWatcher> watcher;
  };

  [[nodiscard]] Result<void> check_descriptor_limit() const;
  [[nodiscard]] Result<void> write_pidfile();
  [[nodiscard]] Result<void> open_listeners();
  void on_client(Fd client, bool unix_socket);
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
  std::optional<worker::ClientHandoff>* handoff_ = nullptr;
  bool is_child_ = false;
  bool graceful_ = false;
};

}  // namespace pgquay::server
