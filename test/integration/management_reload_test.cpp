// Reload that never takes the pooler down: live pgquay.conf keys proved by behaviour after
// `conf reload` / SIGHUP, restart-only keys reported while pgquay keeps serving on the old
// values, a broken file changing nothing, pgbench across 10 reloads with zero failures, and
// `conf set` of a live and a restart-only key.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"
#include "management_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class ReloadTest : public ManagementTest {
 protected:
  // Rewrites pgquay.conf as started plus `lines` at the end of [pgquay] (a key set twice: the
  // last line wins, so these lines go after the fixture's own, before the [primary] server).
  [[nodiscard]] bool set_in_file(const std::string& lines) {
    if (original_.empty()) {
      auto conf = read_file(config_path());
      if (!conf) return false;
      original_ = *conf;
    }
    std::string changed = original_;
    auto server = changed.find("\n[primary]");
    if (server == std::string::npos) return false;
    changed.insert(server, "\n" + lines);
    return write_file(config_path(), changed).has_value();
  }
  [[nodiscard]] std::string value_of(const std::string& key) const {
    // -s and -p: the file may be broken, or name another port, on purpose.
    auto got = cli(
        {"-s", pgquay().socket_dir(), "-p", std::to_string(pgquay().port()), "conf", "get", key});
    return got && got->exited_ok() ? got->output : "error";
  }
  // The pgbench tables at scale 1, made directly in PostgreSQL unless they are there already.
  void ensure_pgbench_tables() {
    auto conn = connect(postgres().conninfo(kUser));
    ASSERT_TRUE(conn) << describe(conn.error());
    auto count = exec_scalar(conn->get(),
                             "select case when to_regclass('pgbench_accounts') is null then 0 "
                             "else (select count(*) from pgbench_accounts) end");
    if (count && *count == "100000") return;
    auto init = run_program(
        {pg_program("pgbench"), "-h", postgres().host(), "-p", std::to_string(postgres().port()),
         "-U", std::string(kUser), "-i", "-s", "1", "-q", std::string(kDatabase)},
        120s);
    ASSERT_TRUE(init) << init.error().message;
    ASSERT_TRUE(init->exited_ok()) << init->describe();
  }
  // pgbench -S through pgquay while 10 reloads (SIGHUP and `conf reload` alternately) flip a live
  // key: no transaction fails and every one is processed.
  void pgbench_across_reloads();

  std::string original_;
};

void ReloadTest::pgbench_across_reloads() {
  ensure_pgbench_tables();
  constexpr int kClients = 8;
  constexpr int kTransactions = 4000;
  std::atomic<bool> finished{false};
  std::optional<Result<ProgramRun>> run;
  std::thread bench([&] {
    run = run_program(
        {pg_program("pgbench"), "-h", pgquay().host(), "-p", std::to_string(pgquay().port()), "-U",
         std::string(kUser), "-n", "-S", "-c", std::to_string(kClients), "-j", "2", "-t",
         std::to_string(kTransactions), std::string(kDatabase)},
        300s);
    finished = true;
  });
  // Wait until pgbench's clients are in: the reloads must land in the middle of the run.
  bool started = wait_until(
      [&] {
        auto status = cli_json({"status"});
        return finished || (status && (*status)["clients"]["active"].get<int>() >= kClients);
      },
      30s);
  int reloads = 0;
  bool failed = false;
  for (int i = 0; i < 10 && !failed; ++i) {
    if (!set_in_file(i % 2 == 0 ? "blocking_timeout = 31\nlog_connections = on\n"
                                : "blocking_timeout = 30\nlog_connections = off\n")) {
      failed = true;
      break;
    }
    if (i % 2 == 0) {
      failed = ::kill(pgquay().pid(), SIGHUP) != 0;
      // SIGHUP has no answer: wait for its effect before the next change.
      failed = failed || !wait_until([&] { return value_of("blocking_timeout") == "31s\n"; }, 10s);
    } else {
      auto reloaded = cli({"conf", "reload"});
      failed = !reloaded || !reloaded->exited_ok();
    }
    if (!failed) ++reloads;
  }
  bool ran_through = !finished;
  bench.join();
  EXPECT_TRUE(started) << "pgbench's clients never all connected";
  EXPECT_EQ(reloads, 10);
  EXPECT_TRUE(ran_through) << "pgbench finished before the 10 reloads: make the run longer";
  ASSERT_TRUE(run.has_value());
  expect_clean_run(*run, kClients * kTransactions);
  auto metrics = scrape();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->value("pgquay_reloads_total"), 10);
  EXPECT_EQ(metrics->value("pgquay_reload_failures_total"), 0);
}

INSTANTIATE_POOLER_TEST_SUITE(ReloadTest);

class TransactionReloadTest : public ReloadTest {};
INSTANTIATE_TRANSACTION_TEST_SUITE(TransactionReloadTest);

// ---- live keys --------------------------------------------------------------------------------

TEST_P(ReloadTest, LoweredBlockingTimeoutRefusesAWaitingClientAfterReload) {
  PoolerSettings settings;
  settings.databases = std::string(kDatabase) + " " + std::string(kUser) + " 1\n";
  settings.extra_conf = "blocking_timeout = 30\n";
  if (auto started = start(settings); !started) FAIL() << started.error().message;
  ASSERT_TRUE(set_in_file("blocking_timeout = 1\n"));
  auto reloaded = cli({"conf", "reload"});
  ASSERT_TRUE(reloaded);
  ASSERT_TRUE(reloaded->exited_ok()) << reloaded->describe();
  EXPECT_NE(reloaded->output.find("applied: blocking_timeout changed from '30s' to '1s'"),
            std::string::npos)
      << reloaded->output;
  EXPECT_EQ(reloaded->output.find("restart required"), std::string::npos) << reloaded->output;
  EXPECT_EQ(value_of("blocking_timeout"), "1s\n");

  // The pool's only connection is taken: the next client waits ~1 s, not 30 s.
  auto holder = connect_pooled(kUser);
  ASSERT_TRUE(holder) << describe(holder.error());
  ASSERT_TRUE(exec(holder->get(), "select 1"));
  auto begin = std::chrono::steady_clock::now();
  auto waiter = connect_pooled(kUser, {}, kDatabase, {}, 30s);
  auto waited = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(waiter) << "the waiting client got a connection";
  EXPECT_EQ(waiter.error().sqlstate, "53300") << describe(waiter.error());
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 10s);
  EXPECT_EQ(scalar_or_error(holder->get(), "select 9"), "9");
}

TEST_P(ReloadTest, LogLevelChangesInMainAtOnce) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  // A failing command logs at debug level in the main process.
  auto unknown = cli({"conf", "get", "no_such_key_before"});
  ASSERT_TRUE(unknown);
  ASSERT_TRUE(set_in_file("log_level = debug\n"));
  auto reloaded = cli_json({"conf", "reload"});
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  ASSERT_EQ((*reloaded)["changed"].size(), 1u) << reloaded->dump();
  EXPECT_EQ((*reloaded)["changed"][0]["key"], "log_level");
  EXPECT_EQ((*reloaded)["changed"][0]["new"], "debug");
  auto again = cli({"conf", "get", "no_such_key_after"});
  ASSERT_TRUE(again);
  // A new client is served by a worker forked with the new level.
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  EXPECT_EQ(scalar_or_error(client->get(), "select 1"), "1");
  ASSERT_TRUE(wait_until(
      [&] { return pgquay().log_text().find("no_such_key_after") != std::string::npos; }, 10s))
      << "no debug line after the reload";
  std::string log = pgquay().log_text();
  EXPECT_EQ(log.find("no_such_key_before"), std::string::npos) << "debug logged before the reload";
  EXPECT_NE(log.find("reload: log_level changed from 'info' to 'debug'"), std::string::npos);
}

TEST_P(ReloadTest, AWorkerBusyDuringAReloadIsNotReusedWithTheOldValues) {
  PoolerSettings settings;
  settings.extra_conf = "log_connections = off\nprefork_workers = 1\n";
  if (auto started = start(settings); !started) FAIL() << started.error().message;
  std::optional<DbResult<PgConnPtr>> busy =
      connect_pooled(kUser, {}, kDatabase, "application_name=busy_before_reload");
  ASSERT_TRUE(*busy) << describe(busy->error());
  ASSERT_TRUE(set_in_file("log_connections = on\n"));
  auto reloaded = cli({"conf", "reload"});
  ASSERT_TRUE(reloaded);
  ASSERT_TRUE(reloaded->exited_ok()) << reloaded->describe();
  // Its session ends: the worker was forked with log_connections = off and must not serve the
  // next client (the cache hands out the most recently idle worker first).
  busy.reset();
  for (int i = 0; i < 3; ++i) {
    auto client = connect_pooled(kUser);
    ASSERT_TRUE(client) << describe(client.error());
    EXPECT_EQ(scalar_or_error(client->get(), "select 1"), "1");
  }
  ASSERT_TRUE(wait_until(
      [&] {
        std::string log = pgquay().log_text();
        size_t count = 0;
        for (size_t at = log.find("connection authorized"); at != std::string::npos;
             at = log.find("connection authorized", at + 1)) {
          ++count;
        }
        return count == 3;
      },
      10s))
      << "a client after the reload was served without log_connections";
}

// ---- restart-only keys ------------------------------------------------------------------------

TEST_P(ReloadTest, RestartKeyIsReportedAndPgquayKeepsServingOnTheOldPort) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto new_port = free_port();
  ASSERT_TRUE(new_port) << new_port.error().message;
  const std::string old_port = std::to_string(pgquay().port());
  ASSERT_TRUE(set_in_file("port = " + std::to_string(*new_port) + "\nblocking_timeout = 12\n"));
  // pgquay-cli would look for the socket of the file's new port: name the running one.
  auto reloaded = cli({"-p", old_port, "conf", "reload"});
  ASSERT_TRUE(reloaded);
  ASSERT_TRUE(reloaded->exited_ok()) << reloaded->describe();
  EXPECT_NE(reloaded->output.find("restart required: port changed from '" + old_port + "' to '" +
                                  std::to_string(*new_port) + "'"),
            std::string::npos)
      << reloaded->output;
  EXPECT_NE(reloaded->output.find("applied: blocking_timeout"), std::string::npos)
      << reloaded->output;
  auto json = cli_json({"-p", old_port, "conf", "reload"});
  ASSERT_TRUE(json) << json.error().message;
  ASSERT_EQ((*json)["restart_required"].size(), 1u) << json->dump();
  EXPECT_EQ((*json)["restart_required"][0]["key"], "port");
  EXPECT_TRUE((*json)["changed"].empty()) << "blocking_timeout was applied by the first reload";

  auto port = cli({"-p", old_port, "conf", "get", "port"});
  ASSERT_TRUE(port);
  EXPECT_EQ(port->output, old_port + "\n");
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  EXPECT_EQ(scalar_or_error(client->get(), "select 2"), "2");
  EXPECT_NE(pgquay().log_text().find("restart required for port"), std::string::npos);
}

// ---- broken files -----------------------------------------------------------------------------

TEST_P(ReloadTest, BrokenFileChangesNothing) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  std::string before = value_of("blocking_timeout");
  // A bad value in pgquay.conf: refused, with the accepted values named.
  ASSERT_TRUE(set_in_file("blocking_timeout = 5\nlog_level = chatty\n"));
  // pgquay-cli -c cannot read the broken file to find the socket: name it.
  auto broken =
      cli({"-s", pgquay().socket_dir(), "-p", std::to_string(pgquay().port()), "conf", "reload"});
  ASSERT_TRUE(broken);
  EXPECT_TRUE(WIFEXITED(broken->status) && WEXITSTATUS(broken->status) == 1) << broken->describe();
  EXPECT_NE(broken->output.find("log_level"), std::string::npos) << broken->output;
  EXPECT_EQ(value_of("blocking_timeout"), before);
  // A good pgquay.conf with a bad hba file: the live key is not applied either.
  ASSERT_TRUE(set_in_file("blocking_timeout = 5\n"));
  ASSERT_TRUE(write_file(pgquay().dir() + "/pgquay_hba.conf", "host all all all nonsense\n"));
  auto bad_hba = cli({"conf", "reload"});
  ASSERT_TRUE(bad_hba);
  EXPECT_TRUE(WIFEXITED(bad_hba->status) && WEXITSTATUS(bad_hba->status) == 1)
      << bad_hba->describe();
  EXPECT_EQ(value_of("blocking_timeout"), before);
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  auto metrics = scrape();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->value("pgquay_reloads_total"), 0);
  EXPECT_EQ(metrics->value("pgquay_reload_failures_total"), 2);
}

// ---- pgbench across reloads -------------------------------------------------------------------

TEST_P(ReloadTest, PgbenchAcrossTenReloadsHasNoFailures) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  pgbench_across_reloads();
}

TEST_P(TransactionReloadTest, PgbenchAcrossTenReloadsHasNoFailures) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  pgbench_across_reloads();
}

// ---- conf set ---------------------------------------------------------------------------------

TEST_P(ReloadTest, ConfSetAppliesALiveKeyAndRefusesARestartKey) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto set = cli({"conf", "set", "blocking_timeout", "2"});
  ASSERT_TRUE(set);
  ASSERT_TRUE(set->exited_ok()) << set->describe();
  EXPECT_NE(set->output.find("blocking_timeout changed from"), std::string::npos) << set->output;
  EXPECT_NE(set->output.find("in memory only"), std::string::npos) << set->output;
  EXPECT_EQ(value_of("blocking_timeout"), "2s\n");
  auto json = cli_json({"conf", "set", "log_level", "debug"});
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ((*json)["key"], "log_level");
  EXPECT_EQ((*json)["new"], "debug");
  EXPECT_EQ((*json)["persistent"], false);
  EXPECT_EQ(value_of("log_level"), "debug\n");

  auto expect_refused = [&](std::vector<std::string> args, const std::string& says) {
    auto refused = cli(args);
    ASSERT_TRUE(refused);
    EXPECT_TRUE(WIFEXITED(refused->status) && WEXITSTATUS(refused->status) == 1)
        << refused->describe();
    EXPECT_NE(refused->output.find(says), std::string::npos) << refused->output;
  };
  expect_refused({"conf", "set", "port", "1234"}, "restart");
  expect_refused({"conf", "set", "max_connections", "7"}, "restart");
  expect_refused({"conf", "set", "log_level", "chatty"}, "expected");
  expect_refused({"conf", "set", "blocking_timeout", "soon"}, "expected");
  expect_refused({"conf", "set", "no_such_key", "1"}, "unknown");
  EXPECT_EQ(value_of("port"), std::to_string(pgquay().port()) + "\n");
  EXPECT_EQ(value_of("blocking_timeout"), "2s\n");

  // A reload goes back to the file's value.
  ASSERT_TRUE(cli_json({"conf", "reload"}));
  EXPECT_NE(value_of("blocking_timeout"), "2s\n");
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
}

}  // namespace
}  // namespace pgquay::test
