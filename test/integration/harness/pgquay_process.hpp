// The pgquay binary under test, started with configuration files written into a temp directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/child_process.hpp"
#include "harness/files.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay::test {

class PostgresServer;

struct PgquayOptions {
  // The TCP port pgquay.conf makes pgquay listen on (pick one with free_port()); start() waits
  // until 127.0.0.1:port accepts connections.
  int port = 0;
  // File contents. Every "@DIR@" is replaced by the process's directory (use it for
  // unix_socket_dir and log_path). An empty `databases` or `users` is neither written nor passed.
  std::string conf;
  std::string hba;
  std::string databases;
  std::string users;
  // Passed with -F / -A when non-empty. The users files (users, frontend_users, admins) are
  // written with `users_mode` and owned by the user pgquay runs as.
  std::string frontend_users;
  std::string admins;
  unsigned users_mode = 0600;
  // When non-empty, written to <HOME>/.pgquay/master.key (base64, 0600 in a 0700 directory, as
  // `pgquay-admin master-key` does) for the process's own HOME directory.
  std::string master_key;
  std::vector<std::string> extra_args;
  // "NAME=value" environment entries. HOME is the process's directory unless set here, so
  // nothing the test runs reads or writes the real user's ~/.pgquay (master key, users files).
  std::vector<std::string> env;
  // The executable; empty means $PGQUAY_BIN (set by test/integration/meson.build).
  std::string binary;
  // As root, run pgquay as the `postgres` system user (a pooler, like pgagroal, may refuse root).
  bool drop_root = true;
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(30);
};

// pgagroal-style pgquay.conf: listen on 127.0.0.1:port and unix_socket_dir @DIR@, log to
// @DIR@/pgquay.log, one [primary] server = `postgres`. `extra` lines go into the [pgquay] section.
std::string basic_pgquay_conf(int port, const PostgresServer& postgres,
                              std::string_view extra = {});
// An hba that admits everyone with the server's own authentication method.
std::string pass_through_hba();

class PgquayProcess {
  struct Key {
    explicit Key() = default;
  };

 public:
  // Writes the files, starts `pgquay -c pgquay.conf -a pgquay_hba.conf [-l ...] [-u ...]` in the
  // foreground and waits for its port. Fails with pgquay's log when it exits or never listens.
  [[nodiscard]] static Result<std::unique_ptr<PgquayProcess>> start(PgquayOptions options);

  PgquayProcess(Key key, TempDir dir, int port);
  PgquayProcess(const PgquayProcess&) = delete;
  PgquayProcess& operator=(const PgquayProcess&) = delete;
  ~PgquayProcess();  // stop()

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string host() const { return "127.0.0.1"; }
  // The temp directory: configuration files, output, and (per "@DIR@") the Unix socket.
  [[nodiscard]] const std::string& dir() const { return dir_.path(); }
  [[nodiscard]] const std::string& socket_dir() const { return dir_.path(); }
  [[nodiscard]] pid_t pid() const { return child_ ? child_->pid() : -1; }
  // pgquay's stdout/stderr followed by @DIR@/pgquay.log when the configuration writes one.
  [[nodiscard]] std::string log_text() const;
  bool running() { return child_ && child_->running(); }
  // SIGTERM, then SIGKILL after `grace`. Returns the wait status (0 when it was not running).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  [[nodiscard]] Result<void> wait_ready(std::chrono::milliseconds timeout);

  TempDir dir_;  // declared first: removed only after the process is gone
  int port_ = 0;
  std::optional<ChildProcess> child_;
};

}  // namespace pgquay::test
