// A throwaway PostgreSQL 15 server for integration tests.
//
// start() runs initdb into a fresh temporary directory, starts the postmaster on a free loopback
// port (127.0.0.1 plus a Unix socket in that directory) and creates the test roles:
//   postgres    superuser, trust
//   trust_user  trust
//   md5_user    password 'md5_pass', stored as MD5, md5 authentication
//   scram_user  password 'scram_pass', stored as SCRAM-SHA-256, scram-sha-256 authentication
// and the database `pgquay_test` (owned by trust_user; every role may connect and create objects
// in its public schema). Roles that tests create themselves authenticate with scram-sha-256.
// As root, every PostgreSQL program runs as the `postgres` system user, which owns the directory.
// The destructor stops the server (immediate shutdown) and removes the directory; if the test
// process dies first, the postmaster gets SIGQUIT from the kernel (parent-death signal).
#pragma once

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

struct PostgresOptions {
  int max_connections = 200;
  // Extra postgresql.conf lines, e.g. "log_connections = on"; they override the defaults.
  std::vector<std::string> settings;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
};

class PostgresServer {
  // Only start() constructs a server; the constructor is public for std::make_unique alone.
  struct Key {
    explicit Key() = default;
  };

 public:
  static constexpr std::string_view kDatabase = "pgquay_test";

  // Fails with the reason and the tail of the relevant log when the server cannot be started.
  [[nodiscard]] static Result<std::unique_ptr<PostgresServer>> start(PostgresOptions options = {});

  PostgresServer(Key key, TempDir dir, std::optional<RunAs> run_as);
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string host() const { return "127.0.0.1"; }
  // Holds the Unix socket .s.PGSQL.<port>; usable as a libpq host.
  [[nodiscard]] const std::string& socket_dir() const { return dir_.path(); }
  [[nodiscard]] const std::string& data_dir() const { return data_dir_; }
  [[nodiscard]] const std::string& log_path() const { return log_path_; }
  [[nodiscard]] std::string log_tail(std::size_t lines = 40) const;

  // libpq conninfo for TCP on 127.0.0.1:port(); an empty password is left out.
  [[nodiscard]] std::string conninfo(std::string_view user, std::string_view password = {},
                                     std::string_view dbname = kDatabase) const;

  // First column of the first row of `sql` ("" for NULL), run as postgres in database `postgres`
  // on a fresh connection that is closed afterwards. That connection is itself in
  // pg_stat_activity while the query runs: filter it out with `pid <> pg_backend_pid()`.
  [[nodiscard]] Result<std::string> query_scalar(std::string_view sql) const;

 private:
  [[nodiscard]] Result<void> init_cluster(const PostgresOptions& options);
  [[nodiscard]] Result<void> start_postmaster(const PostgresOptions& options);
  [[nodiscard]] Result<void> wait_ready(std::chrono::milliseconds timeout);
  [[nodiscard]] Result<void> create_roles();
  [[nodiscard]] std::string program(std::string_view name) const;

  TempDir dir_;  // declared first: removed only after the postmaster is gone
  std::optional<RunAs> run_as_;
  std::string bin_dir_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  std::optional<ChildProcess> postmaster_;
};

}  // namespace pgquay::test
