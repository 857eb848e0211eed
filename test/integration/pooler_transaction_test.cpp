// The transaction pipeline: many clients over few server connections. pgbench with hundreds of
// clients and every query protocol, prepared statements that follow their client from connection
// to connection, per-client settings, cancels, clients killed inside a transaction, pool
// exhaustion, FIFO fairness and the refused LISTEN. Each test runs on io_uring and on epoll.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class TransactionTest : public PoolerTest {
 protected:
  // pgquay with `connections` server connections (and the test's extra lines).
  [[nodiscard]] Result<void> start_with(int connections, std::string extra = {},
                                        std::string hba = "host all all all trust\n") {
    PoolerSettings settings;
    settings.hba = std::move(hba);
    settings.extra_conf = "max_connections = " + std::to_string(connections) + "\n" + extra;
    // Hundreds of sanitizer-instrumented workers: a small quarantine keeps each one small.
    const char* inherited = std::getenv("ASAN_OPTIONS");
    settings.env.push_back(std::string("ASAN_OPTIONS=") + (inherited ? inherited : "") +
                           ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64");
    return start_pgquay(std::move(settings));
  }

  [[nodiscard]] PgConnPtr client(std::string_view extra = {}) const {
    auto conn = connect_pooled("trust_user", {}, PostgresServer::kDatabase, extra);
    EXPECT_TRUE(conn) << describe(conn.error());
    return conn ? std::move(*conn) : nullptr;
  }

  [[nodiscard]] PgConnPtr direct() const {
    auto conn = connect(postgres().conninfo("trust_user"));
    EXPECT_TRUE(conn) << describe(conn.error());
    return conn ? std::move(*conn) : nullptr;
  }

  // Server connections pgquay holds open (its backends carry no application_name of their own).
  [[nodiscard]] int pgquay_backends(PGconn* monitor) const {
    auto count = exec_scalar(monitor,
                             "select count(*) from pg_stat_activity where backend_type = 'client "
                             "backend' and usename = 'trust_user' and pid <> pg_backend_pid()");
    return count ? std::atoi(count->c_str()) : -1;
  }

  void ensure_pgbench_tables() {
    auto conn = direct();
    ASSERT_TRUE(conn);
    auto accounts = exec_scalar(conn.get(),
                                "select case when to_regclass('pgbench_accounts') is null then 0 "
                                "else (select count(*) from pgbench_accounts) end");
    if (accounts && *accounts == "100000") return;
    auto init = run_program(
        {pg_program("pgbench"), "-h", postgres().host(), "-p", std::to_string(postgres().port()),
         "-U", "trust_user", "-i", "-s", "1", "-q", std::string(PostgresServer::kDatabase)},
        240s);
    ASSERT_TRUE(init) << init.error().message;
    ASSERT_TRUE(init->exited_ok()) << init->describe();
  }

  [[nodiscard]] Result<ProgramRun> pgbench(std::vector<std::string> args) const {
    std::vector<std::string> argv = {pg_program("pgbench"),           "-h", pgquay().host(), "-p",
                                     std::to_string(pgquay().port()), "-U", "trust_user",    "-n"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.emplace_back(PostgresServer::kDatabase);
    return run_program(argv, 300s);
  }
};
INSTANTIATE_TRANSACTION_TEST_SUITE(TransactionTest);

// 500 pgbench clients over 10 server connections, select-only and TPC-B, with the simple,
// extended and prepared protocols; PostgreSQL never sees more than 10 connections from pgquay.
TEST_P(TransactionTest, FiveHundredClientsShareTenConnections) {
  ensure_pgbench_tables();
  ASSERT_TRUE(start_with(10));
  std::atomic<bool> running{true};
  std::atomic<int> most{0};
  std::thread watcher([&] {
    auto conn = direct();
    while (running.load()) {
      int now = conn ? pgquay_backends(conn.get()) : -1;
      most.store(std::max(most.load(), now));
      std::this_thread::sleep_for(50ms);
    }
  });
  constexpr int kClients = 500;
  for (const char* mode : {"simple", "extended", "prepared"}) {
    SCOPED_TRACE(mode);
    expect_clean_run(
        pgbench({"-S", "-M", mode, "-c", std::to_string(kClients), "-j", "2", "-t", "4"}),
        kClients * 4);
    expect_clean_run(pgbench({"-M", mode, "-c", std::to_string(kClients), "-j", "2", "-t", "1"}),
                     kClients);
  }
  running = false;
  watcher.join();
  EXPECT_GT(most.load(), 0);
  EXPECT_LE(most.load(), 10) << "pgquay opened more server connections than max_connections";
  std::printf("[          ] most server connections seen during the runs: %d\n", most.load());
}

// A statement prepared once is executed on whichever connection the client's next transaction
// gets, and two clients may use the same statement name for different statements.
TEST_P(TransactionTest, PreparedStatementsFollowTheirClient) {
  ASSERT_TRUE(start_with(2));
  auto a = client();
  auto b = client();
  ASSERT_TRUE(a && b);
  PgResultPtr prepared_a(PQprepare(a.get(), "s1", "select pg_backend_pid()", 0, nullptr));
  ASSERT_EQ(PQresultStatus(prepared_a.get()), PGRES_COMMAND_OK) << PQerrorMessage(a.get());
  PgResultPtr prepared_b(PQprepare(b.get(), "s1", "select 'b:' || $1::text", 1, nullptr));
  ASSERT_EQ(PQresultStatus(prepared_b.get()), PGRES_COMMAND_OK) << PQerrorMessage(b.get());

  // b holds one connection inside a transaction: a's statement must run on the other one.
  ASSERT_TRUE(exec(b.get(), "begin"));
  auto b_pid = exec_scalar(b.get(), "select pg_backend_pid()");
  ASSERT_TRUE(b_pid);
  for (int round = 0; round < 3; ++round) {
    PgResultPtr run(PQexecPrepared(a.get(), "s1", 0, nullptr, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(run.get()), PGRES_TUPLES_OK) << PQerrorMessage(a.get());
    EXPECT_NE(std::string(PQgetvalue(run.get(), 0, 0)), *b_pid);
  }
  const char* value = "x";
  PgResultPtr run_b(PQexecPrepared(b.get(), "s1", 1, &value, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(run_b.get()), PGRES_TUPLES_OK) << PQerrorMessage(b.get());
  EXPECT_STREQ(PQgetvalue(run_b.get(), 0, 0), "b:x");
  ASSERT_TRUE(exec(b.get(), "commit"));

  // Described on a connection that never saw it.
  PgResultPtr described(PQdescribePrepared(b.get(), "s1"));
  ASSERT_EQ(PQresultStatus(described.get()), PGRES_COMMAND_OK) << PQerrorMessage(b.get());
  EXPECT_EQ(PQnparams(described.get()), 1);

  // A statement the client never prepared: PostgreSQL's own error, and the session goes on.
  PgResultPtr missing(PQexecPrepared(a.get(), "nope", 0, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(result_sqlstate(missing.get()), "26000") << PQerrorMessage(a.get());
  EXPECT_EQ(scalar_or_error(a.get(), "select 42"), "42");
  // A statement that does not prepare: the error at Parse, nothing left behind.
  PgResultPtr bad(PQprepare(a.get(), "bad", "selec 1", 0, nullptr));
  EXPECT_EQ(result_sqlstate(bad.get()), "42601");
  PgResultPtr still_missing(PQexecPrepared(a.get(), "bad", 0, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(result_sqlstate(still_missing.get()), "26000");
  // DEALLOCATE ALL forgets the client's statements, as PostgreSQL would.
  ASSERT_TRUE(exec(a.get(), "deallocate all"));
  PgResultPtr gone(PQexecPrepared(a.get(), "s1", 0, nullptr, nullptr, nullptr, 0));
  EXPECT_EQ(result_sqlstate(gone.get()), "26000");
}

// Each client keeps its own startup settings and the reported parameters it changed, whichever
// connection serves it.
TEST_P(TransactionTest, EachClientKeepsItsOwnSettings) {
  auto setup = direct();
  ASSERT_TRUE(setup);
  ASSERT_TRUE(exec(setup.get(), "create schema if not exists tx_schema_" + mode_name()));
  ASSERT_TRUE(start_with(1));
  std::string schema = "tx_schema_" + mode_name();
  auto a = client("application_name=app_a options='-c search_path=" + schema +
                  " -c statement_timeout=1234'");
  auto b = client("application_name=app_b");
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(scalar_or_error(a.get(), "show search_path"), schema);
    EXPECT_EQ(scalar_or_error(a.get(), "show statement_timeout"), "1234ms");
    EXPECT_EQ(scalar_or_error(a.get(), "show application_name"), "app_a");
    EXPECT_EQ(scalar_or_error(b.get(), "show search_path"), "\"$user\", public");
    EXPECT_EQ(scalar_or_error(b.get(), "show statement_timeout"), "0");
    EXPECT_EQ(scalar_or_error(b.get(), "show application_name"), "app_b");
  }
  // A reported setting the client changes follows it; the other client is untouched.
  ASSERT_TRUE(exec(a.get(), "set application_name = 'app_a2'"));
  EXPECT_EQ(parameter(a.get(), "application_name"), "app_a2");
  EXPECT_EQ(scalar_or_error(b.get(), "show application_name"), "app_b");
  EXPECT_EQ(scalar_or_error(a.get(), "show application_name"), "app_a2");
  EXPECT_EQ(parameter(b.get(), "application_name"), "app_b");
}

// A cancel reaches the backend running the client's current transaction, not its login's.
TEST_P(TransactionTest, CancelReachesTheBackendOfTheCurrentTransaction) {
  ASSERT_TRUE(start_with(3));
  auto other = client();
  auto a = client();
  ASSERT_TRUE(other && a);
  // `other` holds a connection, so a's query runs on a connection its login did not use.
  ASSERT_TRUE(exec(other.get(), "begin"));
  ASSERT_TRUE(exec_scalar(other.get(), "select 1"));
  ASSERT_EQ(PQsendQuery(a.get(), "select pg_sleep(60)"), 1);
  auto monitor = direct();
  ASSERT_TRUE(monitor);
  ASSERT_TRUE(wait_until(
      [&] {
        auto n = exec_scalar(monitor.get(),
                             "select count(*) from pg_stat_activity where query = 'select "
                             "pg_sleep(60)' and state = 'active'");
        return n && *n == "1";
      },
      20s));
  PGcancel* cancel = PQgetCancel(a.get());
  char message[256];
  ASSERT_EQ(PQcancel(cancel, message, sizeof(message)), 1) << message;
  PQfreeCancel(cancel);
  auto result = next_result(a.get(), 20s);
  ASSERT_TRUE(result) << describe(result.error());
  EXPECT_EQ(result_sqlstate(result->get()), "57014");
  while (auto rest = next_result(a.get(), 5s)) {
    if (!*rest) break;
  }
  EXPECT_EQ(scalar_or_error(a.get(), "select 'after'"), "after");
  ASSERT_TRUE(exec(other.get(), "commit"));
}

// A client that vanishes inside a transaction leaves no lock behind: the transaction is rolled
// back before the connection serves anyone else.
TEST_P(TransactionTest, ClientKilledInsideATransactionLeavesNoLock) {
  auto setup = direct();
  ASSERT_TRUE(setup);
  std::string table = "tx_lock_" + mode_name();
  ASSERT_TRUE(exec(setup.get(), "create table if not exists " + table + " (id int)"));
  ASSERT_TRUE(start_with(1));
  auto a = client();
  ASSERT_TRUE(a);
  ASSERT_TRUE(exec(a.get(), "begin"));
  ASSERT_TRUE(exec(a.get(), "lock table " + table + " in access exclusive mode"));
  // Gone without a Terminate, as when its process is killed.
  ::shutdown(PQsocket(a.get()), SHUT_RDWR);
  auto b = client();
  ASSERT_TRUE(b);
  ASSERT_TRUE(exec(b.get(), "begin"));
  EXPECT_EQ(scalar_or_error(b.get(), "lock table " + table +
                                         " in access exclusive mode nowait; "
                                         "select 'locked'"),
            "locked");
  ASSERT_TRUE(exec(b.get(), "rollback"));
  auto locks = exec_scalar(setup.get(),
                           "select count(*) from pg_locks l join pg_class c on "
                           "c.oid = l.relation where c.relname = '" +
                               table + "'");
  ASSERT_TRUE(locks);
  EXPECT_EQ(*locks, "0");
}

// With every connection inside someone's transaction, a new transaction waits blocking_timeout
// and then gets 53300; the holder is not disturbed.
TEST_P(TransactionTest, PoolExhaustionEndsWith53300AfterBlockingTimeout) {
  ASSERT_TRUE(start_with(1, "blocking_timeout = 1\n"));
  auto holder = client();
  auto waiter = client();
  ASSERT_TRUE(holder && waiter);
  ASSERT_TRUE(exec(holder.get(), "begin"));
  ASSERT_TRUE(exec_scalar(holder.get(), "select 1"));
  auto started = std::chrono::steady_clock::now();
  auto refused = exec_scalar(waiter.get(), "select 1");
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(refused);
  // The FATAL ends the connection; libpq's result reports the lost connection (as it does for a
  // FATAL from PostgreSQL itself during a query) and the connection's message has the FATAL.
  std::string message = PQerrorMessage(waiter.get());
  EXPECT_NE(message.find("FATAL:  53300: sorry, too many clients already"), std::string::npos)
      << message;
  EXPECT_NE(message.find("blocking_timeout"), std::string::npos) << message;
  EXPECT_EQ(PQstatus(waiter.get()), CONNECTION_BAD);
  EXPECT_GE(waited, 900ms);
  EXPECT_EQ(scalar_or_error(holder.get(), "select 'still here'"), "still here");
  ASSERT_TRUE(exec(holder.get(), "commit"));
}

// Thirty clients loop over short transactions through three connections: every client gets
// its turns, and no single wait is longer than FIFO order allows (with a generous margin for a
// loaded machine; the figure is printed).
TEST_P(TransactionTest, WaitingClientsAreServedInTurn) {
  ASSERT_TRUE(start_with(3));
  constexpr int kClients = 30;
  constexpr int kRounds = 10;
  std::vector<PgConnPtr> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(client());
  std::vector<std::chrono::steady_clock::duration> longest(kClients);
  std::vector<int> done(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      if (!clients[i]) return;
      for (int round = 0; round < kRounds; ++round) {
        auto started = std::chrono::steady_clock::now();
        auto result = exec_scalar(clients[i].get(), "select pg_sleep(0.01)");
        longest[i] = std::max(longest[i], std::chrono::steady_clock::now() - started);
        if (result) ++done[i];
      }
    });
  }
  for (auto& t : threads) t.join();
  auto worst = *std::max_element(longest.begin(), longest.end());
  auto worst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(worst).count();
  std::printf(
      "[          ] longest single transaction with 30 clients over 3 connections: %lld ms\n",
      static_cast<long long>(worst_ms));
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(done[i], kRounds) << "client " << i;
  // In FIFO order a transaction waits for at most the 27 ahead of it (about 0.1 s of sleeping).
  EXPECT_LT(worst_ms, 5000);
}

// LISTEN would register on a connection other clients use next: refused with 0A000, in place,
// and the client goes on.
TEST_P(TransactionTest, ListenIsRefusedClearly) {
  ASSERT_TRUE(start_with(2));
  auto a = client();
  ASSERT_TRUE(a);
  auto listen = exec(a.get(), "  LISTEN some_channel");
  ASSERT_FALSE(listen);
  EXPECT_EQ(listen.error().sqlstate, "0A000");
  EXPECT_NE(listen.error().message.find("LISTEN is not supported"), std::string::npos)
      << listen.error().message;
  EXPECT_EQ(scalar_or_error(a.get(), "select 'ok'"), "ok");
  // Inside a transaction block it fails the block, as any error would.
  ASSERT_TRUE(exec(a.get(), "begin"));
  EXPECT_FALSE(exec(a.get(), "listen x"));
  EXPECT_EQ(PQtransactionStatus(a.get()), PQTRANS_INERROR);
  ASSERT_TRUE(exec(a.get(), "rollback"));
  EXPECT_TRUE(exec(a.get(), "unlisten *"));
}

// A client PostgreSQL authenticated (scram, relayed through pgquay) runs many transactions over
// the pooled connection its login opened; a wrong password never gets that far.
TEST_P(TransactionTest, PasswordClientsRunTransactions) {
  ASSERT_TRUE(start_with(4, {}, "host all scram_user all scram-sha-256\nhost all all all trust\n"));
  auto conn = connect_pooled("scram_user", "scram_pass");
  ASSERT_TRUE(conn) << describe(conn.error());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(scalar_or_error(conn->get(), "select " + std::to_string(i)), std::to_string(i));
  auto wrong = connect_pooled("scram_user", "wrong");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().sqlstate, "28P01");
}

}  // namespace
}  // namespace pgquay::test

namespace pgquay::test {
namespace {

// Between transactions a client's worker keeps its connection while nobody else needs one; the
// moment another client asks, main takes it back, and the first client's next transaction waits
// its turn like any other. With a single connection both clients keep working, without waiting
// for blocking_timeout.
TEST_P(TransactionTest, AConnectionKeptBetweenTransactionsServesAnotherClientAtOnce) {
  ASSERT_TRUE(start_with(1, "blocking_timeout = 5\n"));
  auto a = client();
  auto b = client();
  ASSERT_TRUE(a && b);
  for (int round = 0; round < 5; ++round) {
    auto a_pid = exec_scalar(a.get(), "select pg_backend_pid()");
    ASSERT_TRUE(a_pid) << describe(a_pid.error());
    auto started = std::chrono::steady_clock::now();
    auto b_pid = exec_scalar(b.get(), "select pg_backend_pid()");
    ASSERT_TRUE(b_pid) << describe(b_pid.error());
    EXPECT_EQ(*a_pid, *b_pid);  // the one connection, reclaimed from a's worker
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  }
  // Both go on, and leaving releases whatever each one kept.
  EXPECT_EQ(scalar_or_error(a.get(), "select 'a'"), "a");
  a.reset();
  EXPECT_EQ(scalar_or_error(b.get(), "select 'b'"), "b");
  b.reset();
  auto c = client();
  ASSERT_TRUE(c);
  EXPECT_EQ(scalar_or_error(c.get(), "select 'c'"), "c");
}

}  // namespace
}  // namespace pgquay::test
