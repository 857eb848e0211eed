// Cancel requests through pgquay: a client's own cancel stops its running query with 57014;
// a cancel with a wrong key, or with the key of a client that already left the pooled backend,
// stops nothing; a client that vanishes in the middle of a query does not poison the pool.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class CancelTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(CancelTest);

// A cancel that reaches PostgreSQL before the query starts is ignored: wait until `backend`
// runs `query`.
bool wait_running(const std::string& backend, std::string_view query) {
  std::string literal;
  for (char c : query) literal += c == '\'' ? std::string("''") : std::string(1, c);
  const std::string running = "select count(*) from pg_stat_activity where pid = " + backend +
                              " and state = 'active' and query = '" + literal + "'";
  return wait_until(
      [&] {
        auto n = postgres().query_scalar(running);
        return n && *n == "1";
      },
      10s);
}

// Waits for the single result of the query running on `conn` and drains the rest.
DbResult<PgResultPtr> finish_query(PGconn* conn, std::chrono::milliseconds timeout) {
  auto result = next_result(conn, timeout);
  if (!result) return result;
  while (true) {
    auto rest = next_result(conn, timeout);
    if (!rest) return std::unexpected(rest.error());
    if (!*rest) break;
  }
  return result;
}

TEST_P(CancelTest, CancelRequestStopsARunningQuery) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  for (const std::string& conninfo :
       {pooled_conninfo("trust_user"), socket_conninfo("trust_user")}) {
    SCOPED_TRACE(conninfo);
    auto client = connect(conninfo);
    ASSERT_TRUE(client) << describe(client.error());
    PGconn* conn = client->get();
    const std::string backend = scalar_or_error(conn, "select pg_backend_pid()");
    ASSERT_EQ(PQsendQuery(conn, "select pg_sleep(30)"), 1) << PQerrorMessage(conn);
    ASSERT_TRUE(wait_running(backend, "select pg_sleep(30)"))
        << "the query never started on backend " << backend;
    const auto sent = Clock::now();
    std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(conn), &PQfreeCancel);
    ASSERT_TRUE(cancel);
    char errbuf[256] = {};
    ASSERT_EQ(PQcancel(cancel.get(), errbuf, sizeof(errbuf)), 1) << errbuf;
    auto result = finish_query(conn, 15s);
    ASSERT_TRUE(result && *result) << (result ? "no result" : describe(result.error()));
    EXPECT_EQ(PQresultStatus(result->get()), PGRES_FATAL_ERROR);
    EXPECT_EQ(result_sqlstate(result->get()), "57014") << PQresultErrorMessage(result->get());
    EXPECT_LT(Clock::now() - sent, 10s);
    // The session survives its cancelled query.
    EXPECT_EQ(scalar_or_error(conn, "select 'still here'"), "still here");
  }
}

TEST_P(CancelTest, CancelWithAWrongKeyStopsNothing) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  PGconn* conn = client->get();
  const std::string backend = scalar_or_error(conn, "select pg_backend_pid()");
  constexpr std::string_view kQuery = "select 'slept' from pg_sleep(1.5)";
  ASSERT_EQ(PQsendQuery(conn, std::string(kQuery).c_str()), 1) << PQerrorMessage(conn);
  ASSERT_TRUE(wait_running(backend, kQuery));
  // The process id pgquay announced, with secrets that are (almost surely) not its key; pgquay
  // closes a cancel connection once it has dealt with it.
  const auto announced = static_cast<std::uint32_t>(PQbackendPID(conn));
  for (std::uint32_t secret : {0U, 1U, 0xffffffffU}) {
    auto reply = send_raw(pgquay().port(),
                          be32(16) + be16(1234) + be16(5678) + be32(announced) + be32(secret), 10s);
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_TRUE(reply->closed);
    EXPECT_TRUE(reply->bytes.empty());
  }
  auto result = finish_query(conn, 15s);
  ASSERT_TRUE(result && *result) << (result ? "no result" : describe(result.error()));
  EXPECT_EQ(PQresultStatus(result->get()), PGRES_TUPLES_OK)
      << "a cancel with a wrong key stopped the query: " << PQresultErrorMessage(result->get());
}

TEST_P(CancelTest, CancelKeyOfAClientThatLeftDoesNotStopTheNextClientsQuery) {
  // One slot: the second client gets the first one's backend.
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string first_backend;
  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> stale(nullptr, &PQfreeCancel);
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    first_backend = scalar_or_error(first->get(), "select pg_backend_pid()");
    stale.reset(PQgetCancel(first->get()));
    ASSERT_TRUE(stale);
  }
  auto second = connect_pooled("trust_user");
  ASSERT_TRUE(second) << describe(second.error());
  PGconn* conn = second->get();
  ASSERT_EQ(scalar_or_error(conn, "select pg_backend_pid()"), first_backend)
      << "not reused: a stale key has nothing to hit";
  constexpr std::string_view kQuery = "select 'slept' from pg_sleep(1.5)";
  ASSERT_EQ(PQsendQuery(conn, std::string(kQuery).c_str()), 1) << PQerrorMessage(conn);
  ASSERT_TRUE(wait_running(first_backend, kQuery));
  char errbuf[256] = {};
  (void)PQcancel(stale.get(), errbuf, sizeof(errbuf));  // sent or refused: either is fine
  auto result = finish_query(conn, 15s);
  ASSERT_TRUE(result && *result) << (result ? "no result" : describe(result.error()));
  EXPECT_EQ(PQresultStatus(result->get()), PGRES_TUPLES_OK)
      << "the first client's cancel key stopped the second client's query: "
      << PQresultErrorMessage(result->get());
  // The second client's own key still works.
  ASSERT_EQ(PQsendQuery(conn, "select pg_sleep(30)"), 1);
  ASSERT_TRUE(wait_running(first_backend, "select pg_sleep(30)"));
  std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> own(PQgetCancel(conn), &PQfreeCancel);
  ASSERT_EQ(PQcancel(own.get(), errbuf, sizeof(errbuf)), 1) << errbuf;
  auto cancelled = finish_query(conn, 15s);
  ASSERT_TRUE(cancelled && *cancelled) << (cancelled ? "no result" : describe(cancelled.error()));
  EXPECT_EQ(result_sqlstate(cancelled->get()), "57014");
}

TEST_P(CancelTest, ClientThatVanishesMidQueryDoesNotPoisonThePool) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 15\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto vanishing = connect_pooled("trust_user");
  ASSERT_TRUE(vanishing) << describe(vanishing.error());
  const std::string backend = scalar_or_error(vanishing->get(), "select pg_backend_pid()");
  ASSERT_EQ(PQsendQuery(vanishing->get(), "select pg_sleep(5)"), 1);
  ASSERT_TRUE(wait_running(backend, "select pg_sleep(5)"));
  // Gone without a Terminate, in the middle of its query.
  ASSERT_EQ(::shutdown(PQsocket(vanishing->get()), SHUT_RDWR), 0);

  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  const auto begin = Clock::now();
  EXPECT_EQ(scalar_or_error(next->get(), "select 'served'"), "served");
  EXPECT_LT(Clock::now() - begin, 2s) << "the next client's query waited for the vanished one's";
  EXPECT_EQ(PQtransactionStatus(next->get()), PQTRANS_IDLE);
}

}  // namespace
}  // namespace pgquay::test
