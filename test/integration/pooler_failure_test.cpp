// Things that die: a worker killed in the middle of a transaction gives back its slot and its
// locks; a server connection that PostgreSQL terminates, in use or idle in the pool, is never
// handed to a client again.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <csignal>
#include <optional>
#include <string>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class FailureTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(FailureTest);

constexpr std::string_view kDb = PostgresServer::kDatabase;

// True once PostgreSQL no longer lists `backend`.
bool backend_gone(const std::string& backend) {
  auto n = postgres().query_scalar("select count(*) from pg_stat_activity where pid = " + backend);
  return n && *n == "0";
}

TEST_P(FailureTest, KilledWorkerReleasesItsLocksAndItsSlot) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 10\n"});
  ASSERT_TRUE(started) << started.error().message;
  const std::string table = "locked_rows_" + mode_name();
  {
    auto direct = connect(postgres().conninfo("trust_user"));
    ASSERT_TRUE(direct) << describe(direct.error());
    for (const std::string& sql :
         {std::string("set client_min_messages = warning"), "drop table if exists " + table,
          "create table " + table + " (id int primary key, v int)",
          "insert into " + table + " values (1, 0)"})
      ASSERT_TRUE(exec(direct->get(), sql)) << sql;
  }
  auto victim = connect_pooled("trust_user");
  ASSERT_TRUE(victim) << describe(victim.error());
  const std::string backend = scalar_or_error(victim->get(), "select pg_backend_pid()");
  ASSERT_TRUE(exec(victim->get(), "begin"));
  ASSERT_TRUE(exec(victim->get(), "select v from " + table + " where id = 1 for update"));

  Result<pid_t> worker = fail("not searched");
  ASSERT_TRUE(wait_until(
      [&] {
        worker = worker_serving(pgquay().pid(), pgquay().port(), victim->get());
        return worker.has_value();
      },
      5s))
      << worker.error().message;
  ASSERT_NE(*worker, pgquay().pid());
  ASSERT_EQ(::kill(*worker, SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return !process_alive(*worker); }, 10s));
  EXPECT_FALSE(exec(victim->get(), "select 1")) << "the killed worker's client still works";

  // Another client (through the only slot) can lock the row soon after.
  std::string last_error;
  auto lock_row = [&] {
    auto other = connect_pooled("trust_user", "", kDb, "", 15s);
    if (!other) {
      last_error = "connect: " + describe(other.error());
      return false;
    }
    if (!exec(other->get(), "begin")) return false;
    auto locked = exec(other->get(), "select v from " + table + " where id = 1 for update nowait");
    if (!locked) last_error = "lock: " + describe(locked.error());
    return locked.has_value() && exec(other->get(), "commit").has_value();
  };
  EXPECT_TRUE(wait_until(lock_row, 30s)) << last_error;
  auto stuck =
      postgres().query_scalar("select count(*) from pg_stat_activity where pid = " + backend +
                              " and state like 'idle in transaction%'");
  ASSERT_TRUE(stuck) << stuck.error().message;
  EXPECT_EQ(*stuck, "0") << "the killed client's transaction is still open";
  EXPECT_TRUE(pgquay().running());
}

TEST_P(FailureTest, TerminatedBackendEndsItsClientOnly) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 10\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto victim = connect_pooled("trust_user");
  ASSERT_TRUE(victim) << describe(victim.error());
  const std::string backend = scalar_or_error(victim->get(), "select pg_backend_pid()");
  auto terminated = postgres().query_scalar("select pg_terminate_backend(" + backend + ")");
  ASSERT_TRUE(terminated) << terminated.error().message;
  ASSERT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s));
  // The client learns why: PostgreSQL's FATAL 57P01 (or at least a broken connection).
  auto after = exec(victim->get(), "select 1");
  ASSERT_FALSE(after) << "a query on a terminated backend succeeded";
  if (!after.error().sqlstate.empty()) {
    EXPECT_EQ(after.error().sqlstate, "57P01");
  }
  victim->reset();

  auto next = connect_pooled("trust_user");
  ASSERT_TRUE(next) << describe(next.error());
  EXPECT_EQ(scalar_or_error(next->get(), "select 'fresh backend'"), "fresh backend");
  EXPECT_NE(scalar_or_error(next->get(), "select pg_backend_pid()"), backend);
}

TEST_P(FailureTest, PooledConnectionTerminatedWhileIdleIsNotHandedOut) {
  // What a PostgreSQL restart, idle_session_timeout or an administrator's pg_terminate_backend()
  // does to the idle connections in the pool.
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 10\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::string backend;
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    backend = scalar_or_error(first->get(), "select pg_backend_pid()");
  }
  // Pooled again once reset: idle, its last statement pgquay's reset.
  ASSERT_TRUE(wait_until(
      [&] {
        auto idle =
            postgres().query_scalar("select count(*) from pg_stat_activity where pid = " + backend +
                                    " and state = 'idle' and query ilike 'discard all%'");
        return idle && *idle == "1";
      },
      10s))
      << "the first client's connection was not reset and pooled";
  auto terminated = postgres().query_scalar("select pg_terminate_backend(" + backend + ")");
  ASSERT_TRUE(terminated) << terminated.error().message;
  ASSERT_TRUE(wait_until([&] { return backend_gone(backend); }, 10s));

  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    auto next = connect_pooled("trust_user");
    ASSERT_TRUE(next) << describe(next.error());
    EXPECT_EQ(scalar_or_error(next->get(), "select 'served'"), "served")
        << "the client got the dead pooled connection";
  }
}

// A client that gives up while queued for a connection must not leave its request behind: when
// the connection frees up, it must not go to whichever client the same worker serves next (here
// a different user who would otherwise inherit trust_user's logged-in session).
TEST_P(FailureTest, AClientThatGaveUpWaitingLeavesNoRequestBehind) {
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 20\n",
                               .hba = "host all trust_user all trust\nhost all all all all\n"});
  ASSERT_TRUE(started) << started.error().message;
  std::optional<PgConnPtr> holder;
  {
    auto first = connect_pooled("trust_user");
    ASSERT_TRUE(first) << describe(first.error());
    holder = std::move(*first);
  }
  // Queued behind the holder; the client gives up after 1 s.
  auto impatient = connect_pooled("trust_user", {}, kDb, {}, 1s);
  ASSERT_FALSE(impatient) << "the pool of one was supposed to be busy";
  holder.reset();  // the connection is released and pooled

  auto other = connect_pooled("md5_user", "md5_pass");
  ASSERT_TRUE(other) << describe(other.error());
  EXPECT_EQ(scalar_or_error(other->get(), "select current_user"), "md5_user");
  other->reset();
  auto again = connect_pooled("trust_user");
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(scalar_or_error(again->get(), "select current_user"), "trust_user");
}

}  // namespace
}  // namespace pgquay::test
