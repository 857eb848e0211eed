// pgbench through pgquay: initialisation (COPY, DDL, VACUUM), then select-only and TPC-B runs
// with the simple, extended and prepared query protocols, and with a new connection per
// transaction (-C), also with more clients than the pool has connections. Every run must
// complete every transaction without a failure.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class PgbenchTest : public PoolerTest {
 protected:
  [[nodiscard]] Result<ProgramRun> pgbench(const std::string& host, int port,
                                           std::vector<std::string> args) const {
    std::vector<std::string> argv = {pg_program("pgbench"), "-h", host,        "-p",
                                     std::to_string(port),  "-U", "trust_user"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back(PostgresServer::kDatabase);
    return run_program(argv, 240s);
  }
  [[nodiscard]] Result<ProgramRun> pgbench_pooled(std::vector<std::string> args) const {
    return pgbench(pgquay().host(), pgquay().port(), std::move(args));
  }

  // The pgbench tables at scale 1, made directly in PostgreSQL unless they are there already:
  // the runs must not depend on the initialisation test having run first.
  void ensure_pgbench_tables() {
    auto direct = connect(postgres().conninfo("trust_user"));
    ASSERT_TRUE(direct) << describe(direct.error());
    auto accounts = exec_scalar(direct->get(),
                                "select case when to_regclass('pgbench_accounts') is null then 0 "
                                "else (select count(*) from pgbench_accounts) end");
    if (accounts && *accounts == "100000") return;
    auto init = pgbench(postgres().host(), postgres().port(), {"-i", "-s", "1", "-q"});
    ASSERT_TRUE(init) << init.error().message;
    ASSERT_TRUE(init->exited_ok()) << init->describe();
  }
};
INSTANTIATE_POOLER_TEST_SUITE(PgbenchTest);

TEST_P(PgbenchTest, InitialisesThroughThePooler) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto init = pgbench_pooled({"-i", "-s", "1", "-q"});
  ASSERT_TRUE(init) << init.error().message;
  ASSERT_TRUE(init->exited_ok()) << init->describe();
  EXPECT_NE(init->output.find("done in"), std::string::npos) << init->output;
  auto direct = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(direct) << describe(direct.error());
  for (auto [table, rows] :
       {std::pair{"pgbench_accounts", "100000"}, std::pair{"pgbench_branches", "1"},
        std::pair{"pgbench_tellers", "10"}, std::pair{"pgbench_history", "0"}}) {
    auto count = exec_scalar(direct->get(), std::string("select count(*) from ") + table);
    ASSERT_TRUE(count) << table << ": " << describe(count.error());
    EXPECT_EQ(*count, rows) << table;
  }
}

TEST_P(PgbenchTest, SelectOnlyWithEachQueryProtocol) {
  ensure_pgbench_tables();
  auto started = start_pgquay({.extra_conf = "max_connections = 20\n"});
  ASSERT_TRUE(started) << started.error().message;
  for (std::string protocol : {"simple", "extended", "prepared"}) {
    SCOPED_TRACE("-M " + protocol);
    expect_clean_run(
        pgbench_pooled({"-n", "-S", "-M", protocol, "-c", "8", "-j", "2", "-t", "200"}), 8 * 200);
  }
}

TEST_P(PgbenchTest, TpcbWithEachQueryProtocol) {
  ensure_pgbench_tables();
  auto started = start_pgquay({.extra_conf = "max_connections = 20\n"});
  ASSERT_TRUE(started) << started.error().message;
  for (std::string protocol : {"simple", "extended", "prepared"}) {
    SCOPED_TRACE("-M " + protocol);
    expect_clean_run(pgbench_pooled({"-n", "-M", protocol, "-c", "8", "-j", "2", "-t", "100"}),
                     8 * 100);
  }
}

TEST_P(PgbenchTest, NewConnectionPerTransaction) {
  ensure_pgbench_tables();
  auto started = start_pgquay({.extra_conf = "max_connections = 20\n"});
  ASSERT_TRUE(started) << started.error().message;
  // -M prepared with -C: every pooled connection a client gets must have been reset, or
  // pgbench's PREPARE fails with 42P05 (the statement already exists).
  for (std::string protocol : {"simple", "prepared"}) {
    SCOPED_TRACE("-C -M " + protocol);
    expect_clean_run(pgbench_pooled({"-n", "-C", "-M", protocol, "-c", "4", "-j", "4", "-t", "25"}),
                     4 * 25);
    expect_clean_run(
        pgbench_pooled({"-n", "-C", "-S", "-M", protocol, "-c", "4", "-j", "4", "-t", "50"}),
        4 * 50);
  }
}

TEST_P(PgbenchTest, MoreClientsThanPooledConnections) {
  ensure_pgbench_tables();
  // Eight clients share four server connections: with -C each waits for a free one. One thread
  // per client (-j 8): pgbench connects synchronously, so a thread blocked in connect() for one
  // client would stall its other clients, which hold the very connections it waits for.
  auto started = start_pgquay({.extra_conf = "max_connections = 4\nblocking_timeout = 30\n"});
  ASSERT_TRUE(started) << started.error().message;
  expect_clean_run(pgbench_pooled({"-n", "-C", "-S", "-c", "8", "-j", "8", "-t", "50"}), 8 * 50);
  // Polled: backends of an earlier test's pgquay may still be on their way out.
  std::string backends;
  EXPECT_TRUE(wait_until(
      [&] {
        backends = postgres()
                       .query_scalar(
                           "select count(*) from pg_stat_activity where usename = 'trust_user' "
                           "and pid <> pg_backend_pid()")
                       .value_or("?");
        return backends != "?" && std::stoi(backends) <= 4;
      },
      10s))
      << "pgquay keeps " << backends << " server connections with max_connections = 4";
}

}  // namespace
}  // namespace pgquay::test
