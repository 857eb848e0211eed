// Limits and timeouts: idle_timeout, max_connection_age and background validation (the main
// process's slot maintenance), idle_transaction_timeout and disconnect_client (the worker).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class TimeoutsTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(TimeoutsTest);
class TransactionTimeoutsTest : public PoolerTest {};
INSTANTIATE_TRANSACTION_TEST_SUITE(TransactionTimeoutsTest);

bool backend_gone(const std::string& backend) {
  auto n = postgres().query_scalar("select count(*) from pg_stat_activity where pid = " + backend);
  return n && *n == "0";
}

// The backend is idle after pgquay's reset: its connection went back to the pool clean.
bool backend_pooled(const std::string& backend) {
  auto n = postgres().query_scalar("select count(*) from pg_stat_activity where pid = " + backend +
                                   " and state = 'idle' and query ilike 'discard all%'");
  return n && *n == "1";
}

// The SQLSTATE of the ErrorResponse pgquay sends `conn` while it is idle, read straight from the
// socket up to the end of stream ("" when the connection was not closed within `timeout`, or
// without an ErrorResponse). Not with a query: a query sent to the closed socket draws a reset,
// which discards the FATAL still unread; and libpq drops the FATAL when end of stream comes with
// it.
std::string fatal_while_idle(PGconn* conn, std::chrono::milliseconds timeout) {
  const int fd = PQsocket(conn);
  std::string bytes;
  bool closed = wait_until(
      [&] {
        char buffer[4096];
        while (true) {
          ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
          if (n > 0) {
            bytes.append(buffer, static_cast<size_t>(n));
            continue;
          }
          return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        }
      },
      timeout);
  if (!closed || bytes.size() < 5 || bytes[0] != 'E') return "";
  // Fields after the type byte and length: a code byte and a NUL-terminated value each.
  for (size_t at = 5; at < bytes.size() && bytes[at] != '\0';) {
    char code = bytes[at++];
    size_t nul = bytes.find('\0', at);
    if (nul == std::string::npos) break;
    if (code == 'C') return bytes.substr(at, nul - at);
    at = nul + 1;
  }
  return "";
}

// A connection used once and released: its backend pid.
std::string use_once(PoolerTest& test, PGconn* conn) {
  (void)test;
  return scalar_or_error(conn, "select pg_backend_pid()");
}

TEST_P(TimeoutsTest, IdleConnectionClosedAfterIdleTimeout) {
  auto started = start_pgquay({.extra_conf = "idle_timeout = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string backend;
  {
    auto client = connect_pooled("trust_user");
    ASSERT_TRUE(client) << describe(client.error());
    backend = use_once(*this, client->get());
  }
  EXPECT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s))
      << "the idle pooled connection was not closed";
  // The pool still serves clients, on a fresh connection.
  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  EXPECT_NE(scalar_or_error(next->get(), "select pg_backend_pid()"), backend);
}

TEST_P(TimeoutsTest, MaxConnectionAgeClosesFreeConnections) {
  auto started = start_pgquay({.extra_conf = "max_connection_age = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string backend;
  {
    auto client = connect_pooled("trust_user");
    ASSERT_TRUE(client) << describe(client.error());
    backend = use_once(*this, client->get());
  }
  EXPECT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s))
      << "the connection outlived max_connection_age in the pool";
}

TEST_P(TimeoutsTest, MaxConnectionAgeClosesOnRelease) {
  auto started = start_pgquay({.extra_conf = "max_connection_age = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string backend;
  {
    auto client = connect_pooled("trust_user");
    ASSERT_TRUE(client) << describe(client.error());
    backend = use_once(*this, client->get());
    // In use for longer than max_connection_age: it is left alone while the client has it.
    ASSERT_TRUE(exec(client->get(), "select pg_sleep(1.3)"));
    EXPECT_EQ(scalar_or_error(client->get(), "select pg_backend_pid()"), backend);
  }
  EXPECT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s))
      << "an old connection was pooled again on release";
}

TEST_P(TimeoutsTest, BackgroundValidationClosesTerminatedConnections) {
  auto started = start_pgquay({.extra_conf = "validation = background\nbackground_interval = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string backend;
  {
    auto client = connect_pooled("trust_user");
    ASSERT_TRUE(client) << describe(client.error());
    backend = use_once(*this, client->get());
  }
  ASSERT_TRUE(wait_until([&] { return backend_pooled(backend); }, 10s));
  auto terminated = postgres().query_scalar("select pg_terminate_backend(" + backend + ")");
  ASSERT_TRUE(terminated) << terminated.error().message;
  EXPECT_TRUE(wait_until(
      [&] { return pgquay().log_text().find("validation found it gone") != std::string::npos; },
      10s))
      << "background validation did not close the dead connection";
  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  EXPECT_EQ(scalar_or_error(next->get(), "select 'served'"), "served");
}

// A client idle in a transaction holding a row lock: it gets FATAL 25P03 and the lock is freed.
void check_idle_transaction_timeout(PoolerTest& test, PGconn* client, const std::string& table) {
  (void)test;
  {
    auto direct = connect(postgres().conninfo("trust_user"));
    ASSERT_TRUE(direct) << describe(direct.error());
    for (const std::string& sql :
         {std::string("set client_min_messages = warning"), "drop table if exists " + table,
          "create table " + table + " (id int primary key, v int)",
          "insert into " + table + " values (1, 0)"})
      ASSERT_TRUE(exec(direct->get(), sql)) << sql;
  }
  const std::string backend = scalar_or_error(client, "select pg_backend_pid()");
  ASSERT_TRUE(exec(client, "begin"));
  ASSERT_TRUE(exec(client, "select v from " + table + " where id = 1 for update"));

  auto direct = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(direct) << describe(direct.error());
  // At once, the row is locked.
  EXPECT_FALSE(exec(direct->get(), "select v from " + table + " where id = 1 for update nowait"));
  std::string last_error;
  EXPECT_TRUE(wait_until(
      [&] {
        auto locked =
            exec(direct->get(), "select v from " + table + " where id = 1 for update nowait");
        if (!locked) last_error = describe(locked.error());
        return locked.has_value();
      },
      10s))
      << "the idle transaction's lock was not released: " << last_error;
  EXPECT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s));
  EXPECT_EQ(fatal_while_idle(client, 10s), "25P03");
}

TEST_P(TimeoutsTest, IdleTransactionTimeoutEndsTheClient) {
  auto started = start_pgquay({.extra_conf = "idle_transaction_timeout = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  check_idle_transaction_timeout(*this, client->get(), "idle_tx_" + mode_name());
  // A client idle outside a transaction is left alone.
  auto other = connect_pooled("trust_user");
  ASSERT_TRUE(other) << describe(other.error());
  auto backend = scalar_or_error(other->get(), "select pg_backend_pid()");
  ASSERT_TRUE(exec(other->get(), "select pg_sleep(1.5)"));
  EXPECT_EQ(scalar_or_error(other->get(), "select pg_backend_pid()"), backend);
}

TEST_P(TransactionTimeoutsTest, IdleTransactionTimeoutEndsTheClient) {
  auto started = start_pgquay({.extra_conf = "idle_transaction_timeout = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  check_idle_transaction_timeout(*this, client->get(), "idle_tx_" + mode_name());
}

TEST_P(TimeoutsTest, DisconnectClientEndsIdleClients) {
  if (GetParam().pipeline == "performance")
    GTEST_SKIP() << "disconnect_client needs the session pipeline";
  auto started = start_pgquay({.extra_conf = "disconnect_client = 1\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  const std::string backend = scalar_or_error(client->get(), "select pg_backend_pid()");
  // Released clean: reset and pooled, not closed.
  EXPECT_TRUE(wait_until([&] { return backend_pooled(backend); }, 10s))
      << "the idle client's connection was not released to the pool";
  EXPECT_EQ(fatal_while_idle(client->get(), 10s), "57P05");
}

TEST_P(TimeoutsTest, DisconnectClientForceEndsBusyClients) {
  if (GetParam().pipeline == "performance")
    GTEST_SKIP() << "disconnect_client needs the session pipeline";
  auto started =
      start_pgquay({.extra_conf = "disconnect_client = 1\ndisconnect_client_force = on\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  const std::string backend = scalar_or_error(client->get(), "select pg_backend_pid()");
  // Busy for longer than disconnect_client: forced out in the middle of the query, and the
  // connection (its state unknown) is closed rather than pooled.
  ASSERT_EQ(PQsendQuery(client->get(), "select pg_sleep(3)"), 1);
  auto result = next_result(client->get(), 10s);
  ASSERT_TRUE(result) << describe(result.error());
  ASSERT_NE(result->get(), nullptr);
  EXPECT_EQ(result_sqlstate(result->get()), "57P05");
  EXPECT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s))
      << "the busy client's connection was pooled";
}

}  // namespace
}  // namespace pgquay::test
