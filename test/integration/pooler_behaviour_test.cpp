// Pooling as a DBA sees it: server connections are reused and reset between clients, never
// shared across users or databases, each client's startup parameters are applied and reported,
// a full pool makes clients wait and then fail with 53300, and protocol traffic (notifications,
// libpq pipelines, large messages) passes unchanged.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <csignal>
#include <cstdlib>
#include <string>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class PoolBehaviourTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(PoolBehaviourTest);

constexpr std::string_view kDb = PostgresServer::kDatabase;

// Sets an environment variable for libpq in this (single-threaded) test process.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// ---- reuse and reset --------------------------------------------------------------------------

TEST_P(PoolBehaviourTest, ReusesTheServerConnectionOfADisconnectedClient) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string first_pid;
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    first_pid = scalar_or_error(first->get(), "select pg_backend_pid()");
  }
  for (int i = 0; i < 3; ++i) {
    auto next = connect_pooled("trust_user");
    ASSERT_TRUE(next) << "client " << i << ": " << describe(next.error());
    EXPECT_EQ(scalar_or_error(next->get(), "select pg_backend_pid()"), first_pid)
        << "client " << i << " got another backend";
  }
  // Polled: backends of an earlier test's pgquay may still be on their way out.
  std::string backends;
  EXPECT_TRUE(wait_until(
      [&] {
        backends = postgres()
                       .query_scalar(
                           "select count(*) from pg_stat_activity where usename = 'trust_user' "
                           "and datname = 'pgquay_test' and pid <> pg_backend_pid()")
                       .value_or("?");
        return backends == "1";
      },
      10s))
      << "pgquay keeps " << backends << " server connections instead of one reused one";
}

TEST_P(PoolBehaviourTest, ResetsSessionStateBeforeTheNextClient) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto default_work_mem = postgres().query_scalar("show work_mem");
  ASSERT_TRUE(default_work_mem) << default_work_mem.error().message;
  std::string first_pid;
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    first_pid = scalar_or_error(first->get(), "select pg_backend_pid()");
    for (std::string_view sql :
         {"create temp table reset_tmp (i int)", "insert into reset_tmp values (1)",
          "set work_mem = '7777kB'", "prepare reset_stmt as select 1",
          "select pg_advisory_lock(4242)", "listen reset_channel"}) {
      auto done = exec(first->get(), sql);
      ASSERT_TRUE(done) << sql << ": " << describe(done.error());
    }
  }
  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  PGconn* conn = next->get();
  ASSERT_EQ(scalar_or_error(conn, "select pg_backend_pid()"), first_pid)
      << "the connection was not reused, so its reset cannot be checked";
  EXPECT_EQ(scalar_or_error(conn, "select count(*) from pg_class where relname = 'reset_tmp'"), "0")
      << "temp table survived";
  EXPECT_EQ(scalar_or_error(conn, "show work_mem"), *default_work_mem) << "SET survived";
  EXPECT_EQ(scalar_or_error(conn, "select count(*) from pg_prepared_statements"), "0");
  EXPECT_EQ(scalar_or_error(conn, "select count(*) from pg_locks where locktype = 'advisory'"), "0")
      << "session advisory lock survived";
  EXPECT_EQ(scalar_or_error(conn, "select count(*) from pg_listening_channels()"), "0");
  // The name is free again: a leftover prepared statement would make this fail with 42P05.
  EXPECT_TRUE(exec(conn, "prepare reset_stmt as select 2"));
}

TEST_P(PoolBehaviourTest, RollsBackTheTransactionOfAClientThatLeftInsideIt) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  const std::string table = "abandoned_" + mode_name();
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    for (const std::string& sql :
         {std::string("set client_min_messages = warning"), "drop table if exists " + table,
          "create table " + table + " (id int)", std::string("begin"),
          "insert into " + table + " values (1)"}) {
      auto done = exec(first->get(), sql);
      ASSERT_TRUE(done) << sql << ": " << describe(done.error());
    }
    ASSERT_EQ(PQtransactionStatus(first->get()), PQTRANS_INTRANS);
  }  // leaves without COMMIT
  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  EXPECT_EQ(PQtransactionStatus(next->get()), PQTRANS_IDLE);
  EXPECT_EQ(scalar_or_error(next->get(), "select count(*) from " + table), "0")
      << "the abandoned insert is visible";
  // The next client runs in autocommit, not inside the leftover transaction.
  ASSERT_TRUE(exec(next->get(), "insert into " + table + " values (2)"));
  // Committed: visible to a direct connection (query_scalar() runs in database postgres).
  auto direct = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(direct) << describe(direct.error());
  EXPECT_EQ(scalar_or_error(direct->get(), "select array_agg(id)::text from " + table), "{2}");
}

TEST_P(PoolBehaviourTest, ConnectionsAreNeverSharedAcrossUsersOrDatabases) {
  auto started = start_pgquay({.extra_conf = "max_connections = 4\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  struct Client {
    std::string_view user;
    std::string_view dbname;
  };
  for (const Client& client :
       {Client{"trust_user", kDb}, Client{"postgres", kDb}, Client{"trust_user", "postgres"},
        Client{"postgres", "postgres"}, Client{"trust_user", kDb}}) {
    auto conn = connect_pooled(client.user, "", client.dbname);
    ASSERT_TRUE(conn) << client.user << "@" << client.dbname << ": " << describe(conn.error());
    EXPECT_EQ(scalar_or_error(conn->get(),
                              "select session_user || ' ' || current_user || ' ' || "
                              "current_database()"),
              std::string(client.user) + " " + std::string(client.user) + " " +
                  std::string(client.dbname));
  }
}

TEST_P(PoolBehaviourTest, AFullPoolOfIdleConnectionsServesAnotherUser) {
  // One slot, held idle by trust_user: a postgres client must not wait for a connection that
  // nobody uses.
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 5\n"});
  ASSERT_TRUE(started) << started.error().message;
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    ASSERT_EQ(scalar_or_error(first->get(), "select 1"), "1");
  }
  auto other = connect_pooled("postgres");
  ASSERT_TRUE(other) << describe(other.error());
  EXPECT_EQ(scalar_or_error(other->get(), "select current_user"), "postgres");
}

// ---- startup parameters -----------------------------------------------------------------------

TEST_P(PoolBehaviourTest, AppliesAndReportsEachClientsStartupParameters) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string first_pid;
  {
    // libpq sends PGDATESTYLE as the DateStyle startup parameter.
    ScopedEnv datestyle("PGDATESTYLE", "SQL, DMY");
    auto first = connect_pooled("trust_user", "", kDb,
                                "application_name=pgquay_first client_encoding=LATIN1 "
                                "options='-c search_path=first_schema,public -c work_mem=5MB'");
    ASSERT_TRUE(first) << describe(first.error());
    PGconn* conn = first->get();
    first_pid = scalar_or_error(conn, "select pg_backend_pid()");
    EXPECT_EQ(parameter(conn, "application_name"), "pgquay_first");
    EXPECT_EQ(parameter(conn, "client_encoding"), "LATIN1");
    EXPECT_EQ(parameter(conn, "DateStyle"), "SQL, DMY");
    EXPECT_EQ(scalar_or_error(conn, "show application_name"), "pgquay_first");
    EXPECT_EQ(scalar_or_error(conn, "show client_encoding"), "LATIN1");
    EXPECT_EQ(scalar_or_error(conn, "show datestyle"), "SQL, DMY");
    EXPECT_EQ(scalar_or_error(conn, "show search_path"), "first_schema,public");
    EXPECT_EQ(scalar_or_error(conn, "show work_mem"), "5MB");
    EXPECT_EQ(scalar_or_error(conn, "select to_char(date '2024-03-01', 'DD/MM/YYYY')"),
              "01/03/2024");
    // A SET of a reported parameter is relayed as ParameterStatus.
    ASSERT_TRUE(exec(conn, "set application_name = 'renamed'"));
    EXPECT_EQ(parameter(conn, "application_name"), "renamed");
  }
  // The second client gets the same backend with its own parameters, exactly what PostgreSQL
  // gives the same conninfo directly.
  const std::string second = "application_name=pgquay_second";
  auto pooled = connect_pooled("trust_user", "", kDb, second);
  ASSERT_TRUE(pooled) << describe(pooled.error());
  auto direct = connect(postgres().conninfo("trust_user") + " " + second);
  ASSERT_TRUE(direct) << describe(direct.error());
  PGconn* conn = pooled->get();
  EXPECT_EQ(scalar_or_error(conn, "select pg_backend_pid()"), first_pid)
      << "not reused: the re-application of parameters was not exercised";
  for (const char* name : {"application_name", "client_encoding", "DateStyle", "TimeZone"})
    EXPECT_EQ(parameter(conn, name), parameter(direct->get(), name)) << name;
  for (std::string_view sql : {"show application_name", "show client_encoding", "show datestyle",
                               "show search_path", "show work_mem"})
    EXPECT_EQ(scalar_or_error(conn, sql), scalar_or_error(direct->get(), sql)) << sql;
}

TEST_P(PoolBehaviourTest, ReportsTheServersParametersLikePostgres) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto pooled = connect_pooled("trust_user");
  ASSERT_TRUE(pooled) << describe(pooled.error());
  auto direct = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(direct) << describe(direct.error());
  EXPECT_EQ(PQserverVersion(pooled->get()), PQserverVersion(direct->get()));
  EXPECT_EQ(PQprotocolVersion(pooled->get()), 3);
  // BackendKeyData carries the real backend's pid, as without a pooler (NOTIFY messages and
  // pg_stat_activity name that pid); only the secret is pgquay's own.
  EXPECT_EQ(std::to_string(PQbackendPID(pooled->get())),
            scalar_or_error(pooled->get(), "select pg_backend_pid()"));
  for (const char* name : {"server_version", "server_encoding", "client_encoding", "DateStyle",
                           "IntervalStyle", "TimeZone", "integer_datetimes",
                           "standard_conforming_strings", "is_superuser", "session_authorization",
                           "application_name", "default_transaction_read_only", "in_hot_standby"})
    EXPECT_EQ(parameter(pooled->get(), name), parameter(direct->get(), name)) << name;
}

// ---- a full pool ------------------------------------------------------------------------------

TEST_P(PoolBehaviourTest, ClientFailsWith53300WhenThePoolStaysFull) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto holder = connect_pooled("trust_user");
  ASSERT_TRUE(holder) << describe(holder.error());
  ASSERT_EQ(scalar_or_error(holder->get(), "select 1"), "1");

  const auto begin = Clock::now();
  auto waiter = connect_pooled("trust_user", "", kDb, "", 20s);
  const auto waited = Clock::now() - begin;
  ASSERT_FALSE(waiter) << "a second client got a connection from a pool of one";
  EXPECT_EQ(waiter.error().sqlstate, "53300") << describe(waiter.error());
  EXPECT_GE(waited, 900ms) << "the client did not wait for blocking_timeout";
  EXPECT_LT(waited, 10s) << "the client waited far longer than blocking_timeout = 1";

  EXPECT_EQ(scalar_or_error(holder->get(), "select 'holder unaffected'"), "holder unaffected");
  holder->reset();
  auto after = connect_pooled("trust_user");
  ASSERT_TRUE(after) << "the slot was not freed when its client left: " << describe(after.error());
  EXPECT_EQ(scalar_or_error(after->get(), "select 1"), "1");
}

// A libpq connection driven step by step, so a test can act while the client waits for its
// server connection (after its startup packet is sent, before it gets AuthenticationOk).
class SteppedConnect {
 public:
  explicit SteppedConnect(const std::string& conninfo)
      : conn_(PQconnectStart((conninfo + " sslmode=disable").c_str())) {}
  [[nodiscard]] PGconn* get() const { return conn_.get(); }
  [[nodiscard]] bool failed() const { return !conn_ || state_ == PGRES_POLLING_FAILED; }
  [[nodiscard]] bool connected() const { return state_ == PGRES_POLLING_OK; }
  [[nodiscard]] std::string error() const { return conn_ ? PQerrorMessage(conn_.get()) : "oom"; }

  // Advances until the startup packet is sent and libpq waits for the answer.
  void until_waiting(std::chrono::milliseconds timeout) {
    advance(timeout, [this] { return PQstatus(conn_.get()) == CONNECTION_AWAITING_RESPONSE; });
  }
  // Advances for `duration` or until the connection succeeds or fails.
  void for_duration(std::chrono::milliseconds duration) {
    advance(duration, [] { return false; });
  }

 private:
  template <typename Done>
  void advance(std::chrono::milliseconds timeout, Done done) {
    const auto deadline = Clock::now() + timeout;
    while (!failed() && !connected() && !done()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return;
      pollfd pfd{PQsocket(conn_.get()),
                 static_cast<short>(state_ == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) > 0) state_ = PQconnectPoll(conn_.get());
    }
  }

  PgConnPtr conn_;
  PostgresPollingStatusType state_ = PGRES_POLLING_WRITING;
};

TEST_P(PoolBehaviourTest, WaitingClientGetsTheConnectionWhenItIsReleased) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto holder = connect_pooled("trust_user");
  ASSERT_TRUE(holder) << describe(holder.error());
  const std::string holder_pid = scalar_or_error(holder->get(), "select pg_backend_pid()");

  // The second client is queued while the first one still holds the only connection.
  SteppedConnect waiter(pooled_conninfo("trust_user"));
  waiter.until_waiting(10s);
  ASSERT_FALSE(waiter.failed()) << waiter.error();
  ASSERT_FALSE(waiter.connected()) << "the second client got a connection from a pool of one";

  holder->reset();  // Terminate: the connection goes back to the pool
  waiter.for_duration(20s);
  ASSERT_TRUE(waiter.connected()) << waiter.error();
  EXPECT_EQ(scalar_or_error(waiter.get(), "select pg_backend_pid()"), holder_pid);
}

TEST_P(PoolBehaviourTest, WaitForAConnectionIsBoundedByBlockingTimeoutAlone) {
  // A client waiting for a busy pool has finished authenticating its startup: its wait is what
  // blocking_timeout (15 s) bounds, not authentication_timeout (1 s).
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"
                                             "authentication_timeout = 1s\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto holder = connect_pooled("trust_user");
  ASSERT_TRUE(holder) << describe(holder.error());
  ASSERT_EQ(scalar_or_error(holder->get(), "select 1"), "1");

  SteppedConnect waiter(pooled_conninfo("trust_user"));
  waiter.until_waiting(10s);
  // The holder keeps its connection for 3 s: the waiter must still be waiting then.
  waiter.for_duration(3s);
  ASSERT_FALSE(waiter.failed()) << "gave up before blocking_timeout: " << waiter.error();
  ASSERT_FALSE(waiter.connected()) << "the second client got a connection from a pool of one";

  holder->reset();
  waiter.for_duration(20s);
  ASSERT_TRUE(waiter.connected()) << waiter.error();
  EXPECT_EQ(scalar_or_error(waiter.get(), "select 1"), "1");
}

// ---- protocol traffic -------------------------------------------------------------------------

TEST_P(PoolBehaviourTest, NotificationsReachTheListeningClient) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto listener = connect_pooled("trust_user");
  ASSERT_TRUE(listener) << describe(listener.error());
  auto notifier = connect_pooled("trust_user");
  ASSERT_TRUE(notifier) << describe(notifier.error());
  ASSERT_TRUE(exec(listener->get(), "listen pgquay_channel"));
  ASSERT_TRUE(exec(notifier->get(), "notify pgquay_channel, 'hello through pgquay'"));

  std::string payload;
  EXPECT_TRUE(wait_until(
      [&] {
        PQconsumeInput(listener->get());
        PGnotify* notify = PQnotifies(listener->get());
        if (notify == nullptr) return false;
        payload = std::string(notify->relname) + ": " + notify->extra;
        PQfreemem(notify);
        return true;
      },
      10s));
  EXPECT_EQ(payload, "pgquay_channel: hello through pgquay");
}

TEST_P(PoolBehaviourTest, LibpqPipelineModeKeepsResultsInOrder) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  PGconn* conn = client->get();
  ASSERT_EQ(PQenterPipelineMode(conn), 1);
  constexpr int kQueries = 300;
  constexpr int kFailing = 150;  // fails; the rest of its batch is skipped until the Sync
  for (int i = 0; i < kQueries; ++i) {
    if (i == kFailing) {
      ASSERT_EQ(PQsendQueryParams(conn, "select 1 / 0", 0, nullptr, nullptr, nullptr, nullptr, 0),
                1);
    } else {
      const std::string value = std::to_string(i);
      const char* params[] = {value.c_str()};
      ASSERT_EQ(
          PQsendQueryParams(conn, "select $1::int * 2", 1, nullptr, params, nullptr, nullptr, 0), 1)
          << PQerrorMessage(conn);
    }
    if (i == kFailing - 1 || i == kQueries - 1) {
      ASSERT_EQ(PQpipelineSync(conn), 1);
    }
  }
  ASSERT_EQ(PQflush(conn), 0);
  for (int i = 0; i < kQueries; ++i) {
    auto result = next_result(conn, 10s);
    ASSERT_TRUE(result && *result) << "query " << i;
    const ExecStatusType status = PQresultStatus(result->get());
    if (i < kFailing) {
      ASSERT_EQ(status, PGRES_TUPLES_OK) << "query " << i;
      EXPECT_EQ(PQgetvalue(result->get(), 0, 0), std::to_string(2 * i));
    } else if (i == kFailing) {
      EXPECT_EQ(result_sqlstate(result->get()), "22012");
    } else {
      ASSERT_EQ(status, PGRES_PIPELINE_ABORTED) << "query " << i;
    }
    auto end = next_result(conn, 10s);  // each query's results end with a null result
    ASSERT_TRUE(end && !*end) << "query " << i;
    if (i == kFailing - 1 || i == kQueries - 1) {
      auto sync = next_result(conn, 10s);
      ASSERT_TRUE(sync && *sync);
      EXPECT_EQ(PQresultStatus(sync->get()), PGRES_PIPELINE_SYNC);
    }
  }
  ASSERT_EQ(PQexitPipelineMode(conn), 1) << PQerrorMessage(conn);
  EXPECT_EQ(scalar_or_error(conn, "select 'after pipeline'"), "after pipeline");
}

TEST_P(PoolBehaviourTest, LargeMessagesArriveWhole) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  PGconn* conn = client->get();
  // 8 MB of query text: one client message far larger than any socket buffer.
  const std::string literal(8 << 20, 'q');
  EXPECT_EQ(scalar_or_error(conn, "select length('" + literal + "')"), std::to_string(8 << 20));
  // 100 MB of result: 100 rows of 1 MB.
  auto result = exec(conn, "select repeat('x', 1024 * 1024) from generate_series(1, 100)");
  ASSERT_TRUE(result) << describe(result.error());
  ASSERT_EQ(PQntuples(result->get()), 100);
  long long total = 0;
  bool all_x = true;
  for (int row = 0; row < 100; ++row) {
    total += PQgetlength(result->get(), row, 0);
    const std::string_view value(PQgetvalue(result->get(), row, 0),
                                 static_cast<std::size_t>(PQgetlength(result->get(), row, 0)));
    all_x = all_x && value.find_first_not_of('x') == std::string_view::npos;
  }
  EXPECT_EQ(total, 100LL * 1024 * 1024);
  EXPECT_TRUE(all_x);
  EXPECT_EQ(scalar_or_error(conn, "select 'after'"), "after");
}

}  // namespace
}  // namespace pgquay::test
