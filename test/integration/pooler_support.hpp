// Shared fixture and helpers for the pooler integration tests (pooler_*_test.cpp).
//
// Every pooler test runs once per ev_backend x pipeline (io_uring/epoll x performance/session),
// each run against its own pgquay started in front of the binary's shared PostgreSQL (see
// harness/postgres_environment.hpp). A test that fails prints the tail of pgquay's log, and every
// test fails when pgquay's main process died under it or a sanitizer reported an error in any
// pgquay process. PGQUAY_TEST_SHOW_LOG=1 prints pgquay's log after passing tests too.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness/files.hpp"
#include "harness/pg_client.hpp"
#include "harness/pgquay_process.hpp"
#include "harness/postgres_server.hpp"
#include "pgquay/common/fd.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay::test {

// One cell of the test matrix; both names are pgquay.conf values.
struct PoolerMode {
  std::string_view ev_backend;  // io_uring, epoll
  std::string_view pipeline;    // performance, session
};

// Every combination, in the order the tests run.
std::vector<PoolerMode> all_pooler_modes();
// The transaction pipeline on each backend (its own tests: its semantics differ).
std::vector<PoolerMode> transaction_pooler_modes();
// "io_uring_session": the readable suffix GoogleTest puts after the test name.
std::string pooler_mode_name(const ::testing::TestParamInfo<PoolerMode>& info);
void PrintTo(const PoolerMode& mode, std::ostream* os);

// What a test changes in the pgquay it starts; the fixture adds ev_backend and pipeline.
struct PoolerSettings {
  std::string extra_conf;  // lines for the [pgquay] section (a key set here wins)
  std::string hba = "host all all all trust\n";
  std::string databases;         // pgquay_databases.conf; empty = not passed
  std::vector<std::string> env;  // "NAME=value" for pgquay's environment
  // Credentials (see PgquayOptions): users files passed with -u / -F / -A when non-empty, and the
  // master key written to pgquay's HOME.
  std::string users;
  std::string frontend_users;
  std::string admins;
  unsigned users_mode = 0600;
  std::string master_key;
};

// Parameterised over PoolerMode. Instantiate with INSTANTIATE_POOLER_TEST_SUITE(Fixture).
class PoolerTest : public ::testing::TestWithParam<PoolerMode> {
 protected:
  // Fails the test when pgquay died (unless the test said it stops pgquay itself) or a
  // sanitizer reported an error; prints pgquay's log when the test failed.
  void TearDown() override;

  // Starts this test's pgquay with the mode's ev_backend and pipeline. Fails with pgquay's
  // output when it does not listen. A second call replaces the first pgquay.
  [[nodiscard]] Result<void> start_pgquay(PoolerSettings settings = {});
  [[nodiscard]] PgquayProcess& pgquay() { return *pgquay_; }
  [[nodiscard]] const PgquayProcess& pgquay() const { return *pgquay_; }
  [[nodiscard]] bool has_pgquay() const { return pgquay_ != nullptr; }
  // The test stops pgquay (or expects it to exit): TearDown does not require it to run.
  void expect_pgquay_to_stop() { expect_running_ = false; }

  // "io_uring_session": for object names that must differ between the modes.
  [[nodiscard]] std::string mode_name() const;
  [[nodiscard]] std::string unix_socket_path() const;

 public:
  // libpq conninfo for pgquay over TCP / over its Unix socket; `extra` is appended verbatim
  // (e.g. "application_name=x").
  [[nodiscard]] std::string pooled_conninfo(std::string_view user, std::string_view password = {},
                                            std::string_view dbname = PostgresServer::kDatabase,
                                            std::string_view extra = {}) const;
  [[nodiscard]] std::string socket_conninfo(std::string_view user, std::string_view password = {},
                                            std::string_view dbname = PostgresServer::kDatabase,
                                            std::string_view extra = {}) const;
  // connect() to pgquay over TCP.
  [[nodiscard]] DbResult<PgConnPtr> connect_pooled(
      std::string_view user, std::string_view password = {},
      std::string_view dbname = PostgresServer::kDatabase, std::string_view extra = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  std::unique_ptr<PgquayProcess> pgquay_;
  bool expect_running_ = true;
};

#define INSTANTIATE_TRANSACTION_TEST_SUITE(fixture)                                         \
  INSTANTIATE_TEST_SUITE_P(Modes, fixture,                                                  \
                           ::testing::ValuesIn(::pgquay::test::transaction_pooler_modes()), \
                           ::pgquay::test::pooler_mode_name)

#define INSTANTIATE_POOLER_TEST_SUITE(fixture)                                      \
  INSTANTIATE_TEST_SUITE_P(Modes, fixture,                                          \
                           ::testing::ValuesIn(::pgquay::test::all_pooler_modes()), \
                           ::pgquay::test::pooler_mode_name)

// ---- waiting ----------------------------------------------------------------------------------

// Polls `condition` every 20 ms until it holds (true) or `timeout` passed (false). Tests never
// sleep for a fixed time to "let something happen"; they poll for the thing itself.
template <typename Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---- external programs ------------------------------------------------------------------------

// Path of a PostgreSQL program (psql, pgbench) of the server the harness runs.
std::string pg_program(std::string_view name);
// 'text' quoted for /bin/sh.
std::string shell_quote(std::string_view text);

struct ProgramRun {
  int status = 0;      // raw wait status
  std::string output;  // stdout and stderr, interleaved as written
  [[nodiscard]] bool exited_ok() const;
  [[nodiscard]] std::string describe() const;  // status and the output's tail, for messages
};

// Runs argv[0] to completion (stdin is /dev/null). Fails only when it could not be started or
// did not finish within `timeout` (it is killed then); a non-zero exit is reported in `status`.
[[nodiscard]] Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                                             std::chrono::milliseconds timeout,
                                             std::vector<std::string> env = {});

// Checks a pgbench run's report: status 0, every transaction processed, none failed.
void expect_clean_run(const Result<ProgramRun>& run, int expected_transactions);

// ---- processes --------------------------------------------------------------------------------

// Live (not zombie) processes whose parent is `parent`.
std::vector<pid_t> child_processes(pid_t parent);
// False once `pid` has exited (also when it is a zombie nobody reaped yet).
bool process_alive(pid_t pid);
// The child of `pgquay_main` that holds pgquay's end of `client`'s TCP connection: the worker
// serving that client (found through the socket's inode in /proc/net/tcp and /proc/<pid>/fd).
[[nodiscard]] Result<pid_t> worker_serving(pid_t pgquay_main, int pgquay_port, PGconn* client);

// ---- raw protocol -----------------------------------------------------------------------------

// What came back after sending raw bytes to a server.
struct RawReply {
  std::string bytes;    // everything received until EOF or the deadline
  bool closed = false;  // the server closed (EOF or reset) before the deadline
};
// Connects to 127.0.0.1:port, sends `bytes`, and reads until the peer closes or `timeout`.
[[nodiscard]] Result<RawReply> send_raw(int port, std::string_view bytes,
                                        std::chrono::milliseconds timeout);
// Big-endian int32 / int16, for building protocol messages.
std::string be32(std::uint32_t value);
std::string be16(std::uint16_t value);

// "28000 message" for assertion messages.
std::string describe(const DbError& error);

// ---- libpq ------------------------------------------------------------------------------------

// exec_scalar()'s value, or "error: <sqlstate> <message>" (so EXPECT_EQ shows the failure).
std::string scalar_or_error(PGconn* conn, std::string_view sql);
// PQparameterStatus(), or "(not reported)".
std::string parameter(PGconn* conn, const char* name);
// The next result of an asynchronous query, waiting at most `timeout`, so a pooler that stops
// relaying fails the test instead of hanging it. A null result means "no more results"; an
// error means the deadline passed or the connection broke.
[[nodiscard]] DbResult<PgResultPtr> next_result(PGconn* conn, std::chrono::milliseconds timeout);
// The SQLSTATE of an error result ("" for none).
std::string result_sqlstate(const PGresult* result);

}  // namespace pgquay::test
