#include "harness/postgres_server.hpp"

#include <csignal>
#include <cstdlib>
#include <thread>

#include "harness/pg_client.hpp"
#include "harness/ports.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Debian's PostgreSQL 15; PGQUAY_TEST_PG_BINDIR points elsewhere (another distribution's layout).
std::string postgres_bin_dir() {
  const char* env = std::getenv("PGQUAY_TEST_PG_BINDIR");
  return (env != nullptr && *env != '\0') ? env : "/usr/lib/postgresql/15/bin";
}

// A port taken between free_port() and the postmaster's bind() makes it exit at once; a few
// attempts on fresh ports make that race harmless.
constexpr int kStartAttempts = 4;

std::string hba_conf() {
  return "# Written by the pgquay test harness.\n"
         "# TYPE  DATABASE  USER        ADDRESS       METHOD\n"
         "local   all       postgres                  trust\n"
         "host    all       postgres    127.0.0.1/32  trust\n"
         "local   all       trust_user                trust\n"
         "host    all       trust_user  127.0.0.1/32  trust\n"
         "local   all       md5_user                  md5\n"
         "host    all       md5_user    127.0.0.1/32  md5\n"
         "local   all       scram_user                scram-sha-256\n"
         "host    all       scram_user  127.0.0.1/32  scram-sha-256\n"
         "local   all       all                       scram-sha-256\n"
         "host    all       all         127.0.0.1/32  scram-sha-256\n";
}

std::string postgresql_conf(const PostgresOptions& options, const std::string& socket_dir) {
  std::string conf =
      "\n# Added by the pgquay test harness: a fast, disposable server.\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = '" +
      socket_dir +
      "'\n"
      "max_connections = " +
      std::to_string(options.max_connections) +
      "\n"
      "password_encryption = 'scram-sha-256'\n"
      "fsync = off\n"
      "synchronous_commit = off\n"
      "full_page_writes = off\n"
      "shared_buffers = 32MB\n"
      "ssl = off\n"
      "logging_collector = off\n"
      "log_line_prefix = '%m [%p] %q%u@%d '\n";
  for (const auto& line : options.settings) conf += line + "\n";
  return conf;
}

}  // namespace

PostgresServer::PostgresServer(Key /*key*/, TempDir dir, std::optional<RunAs> run_as)
    : dir_(std::move(dir)),
      run_as_(std::move(run_as)),
      bin_dir_(postgres_bin_dir()),
      data_dir_(dir_.file("data")),
      log_path_(dir_.file("postgres.log")) {}

PostgresServer::~PostgresServer() {
  // Immediate shutdown: the directory is deleted next, so nothing needs to reach the disk.
  if (postmaster_) postmaster_->stop(SIGQUIT, 10s);
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::start(PostgresOptions options) {
  auto run_as = unprivileged_user_if_root();
  if (!run_as) return Unexpected(run_as.error());
  TempDir::remove_abandoned("pgquay-pg-");
  auto dir = TempDir::create("pgquay-pg-");
  if (!dir) return Unexpected(dir.error());
  if (*run_as) {
    if (auto owned = dir->chown_to((*run_as)->uid, (*run_as)->gid); !owned)
      return Unexpected(owned.error());
  }
  auto server = std::make_unique<PostgresServer>(Key{}, std::move(*dir), *run_as);
  if (auto r = server->init_cluster(options); !r) return Unexpected(r.error());
  if (auto r = server->start_postmaster(options); !r) return Unexpected(r.error());
  if (auto r = server->create_roles(); !r) return Unexpected(r.error());
  return server;
}

std::string PostgresServer::program(std::string_view name) const {
  return bin_dir_ + "/" + std::string(name);
}

Result<void> PostgresServer::init_cluster(const PostgresOptions& options) {
  SpawnOptions initdb;
  initdb.argv = {
      program("initdb"), "-D", data_dir_, "-U",          "postgres",  "-A",
      "trust",           "-E", "UTF8",    "--no-locale", "--no-sync", "--no-instructions"};
  initdb.output_path = dir_.file("initdb.log");
  initdb.run_as = run_as_;
  initdb.parent_death_signal = SIGKILL;
  if (auto r = run_to_completion(initdb, 120s); !r)
    return fail("initdb failed: " + r.error().message);
  if (auto r = append_file(data_dir_ + "/postgresql.conf", postgresql_conf(options, dir_.path()));
      !r)
    return r;
  return write_file(data_dir_ + "/pg_hba.conf", hba_conf());
}

Result<void> PostgresServer::start_postmaster(const PostgresOptions& options) {
  std::string last_failure;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    auto port = free_port();
    if (!port) return Unexpected(port.error());
    port_ = *port;
    SpawnOptions postgres;
    postgres.argv = {program("postgres"), "-D", data_dir_, "-p", std::to_string(port_)};
    postgres.output_path = log_path_;
    postgres.run_as = run_as_;
    // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends down too.
    postgres.parent_death_signal = SIGQUIT;
    auto child = ChildProcess::spawn(postgres);
    if (!child) return Unexpected(child.error());
    postmaster_.emplace(std::move(*child));
    auto ready = wait_ready(options.start_timeout);
    if (ready) return {};
    last_failure = ready.error().message;
    postmaster_.reset();  // kills a postmaster that is still starting
  }
  return fail("PostgreSQL did not start after " + std::to_string(kStartAttempts) +
              " attempts: " + last_failure + "; tail of " + log_path_ + ":\n" + log_tail());
}

Result<void> PostgresServer::wait_ready(std::chrono::milliseconds timeout) {
  // Ping through the Unix socket in our private directory: it only appears after the TCP listen
  // socket was bound, and no other server can answer there (a TCP ping could reach a server that
  // won the race for the port).
  const std::string ping = make_conninfo(dir_.path(), port_, "postgres", "", "postgres");
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!postmaster_->running())
      return fail("postmaster on port " + std::to_string(port_) + " " +
                  describe_wait_status(postmaster_->wait_status().value_or(0)));
    if (PQping(ping.c_str()) == PQPING_OK) return {};
    std::this_thread::sleep_for(50ms);
  }
  return fail("postmaster on port " + std::to_string(port_) + " not ready after " +
              std::to_string(timeout.count()) + " ms");
}

Result<void> PostgresServer::create_roles() {
  auto run = [this](std::string_view dbname,
                    std::initializer_list<std::string_view> statements) -> Result<void> {
    auto conn = connect(make_conninfo(dir_.path(), port_, "postgres", "", dbname), 30s);
    if (!conn) return fail("connect as postgres: " + conn.error().message);
    for (auto sql : statements) {
      if (auto r = exec(conn->get(), sql); !r)
        return fail(std::string(sql) + ": " + r.error().sqlstate + " " + r.error().message);
    }
    return {};
  };
  auto created = run("postgres", {
                                     "CREATE ROLE trust_user LOGIN",
                                     "SET password_encryption = 'md5'",
                                     "CREATE ROLE md5_user LOGIN PASSWORD 'md5_pass'",
                                     "SET password_encryption = 'scram-sha-256'",
                                     "CREATE ROLE scram_user LOGIN PASSWORD 'scram_pass'",
                                     "CREATE DATABASE pgquay_test OWNER trust_user",
                                 });
  if (!created) return fail("creating test roles: " + created.error().message);
  auto granted = run(kDatabase, {"GRANT ALL ON SCHEMA public TO PUBLIC"});
  if (!granted) return fail("granting schema rights: " + granted.error().message);
  return {};
}

std::string PostgresServer::log_tail(std::size_t lines) const {
  return tail_file(log_path_, lines);
}

std::string PostgresServer::conninfo(std::string_view user, std::string_view password,
                                     std::string_view dbname) const {
  return make_conninfo(host(), port_, user, password, dbname);
}

Result<std::string> PostgresServer::query_scalar(std::string_view sql) const {
  auto conn = connect(conninfo("postgres", "", "postgres"), 30s);
  if (!conn) return fail("query_scalar: connect as postgres: " + conn.error().message);
  auto value = exec_scalar(conn->get(), sql);
  if (!value)
    return fail("query_scalar: " + std::string(sql) + ": " + value.error().sqlstate + " " +
                value.error().message);
  return *value;
}

}  // namespace pgquay::test
