// pgquay-cli and the management socket against a running pgquay and a real PostgreSQL: every
// command in text and JSON, status that follows clients, flush, enable/disable, reload, graceful
// and immediate shutdown, and malformed requests. The metrics endpoint: management_metrics_test.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
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

INSTANTIATE_POOLER_TEST_SUITE(ManagementTest);

// ---- every command ----------------------------------------------------------------------------

TEST_P(ManagementTest, EveryCommandAnswersInTextAndJson) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  const std::vector<std::vector<std::string>> commands = {
      {"ping"},
      {"status"},
      {"status", "details"},
      {"conf", "ls"},
      {"conf", "get"},
      {"conf", "get", "max_connections"},
      {"conf", "reload"},
      {"conf", "set", "log_connections", "off"},
      {"flush", "idle"},
      {"flush", "gracefully", std::string(kDatabase)},
      {"flush", "all", "*"},
      {"flush"},
      {"disable", "nosuchdb"},
      {"enable", "nosuchdb"},
      {"disable"},
      {"enable"},
      {"clear", "prometheus"},
  };
  for (const auto& command : commands) {
    std::string name;
    for (const auto& word : command) name += word + " ";
    auto text = cli(command);
    ASSERT_TRUE(text) << name << text.error().message;
    EXPECT_TRUE(text->exited_ok()) << name << text->describe();
    EXPECT_FALSE(text->output.empty()) << name;
    auto json = cli_json(command);
    EXPECT_TRUE(json) << name << json.error().message;
  }
  // Values the text and JSON forms must carry.
  auto ping = cli({"ping"});
  ASSERT_TRUE(ping);
  EXPECT_NE(ping->output.find("running (pid " + std::to_string(pgquay().pid()) + ")"),
            std::string::npos)
      << ping->output;
  auto port = cli({"conf", "get", "port"});
  ASSERT_TRUE(port);
  EXPECT_EQ(port->output, std::to_string(pgquay().port()) + "\n");
  auto ls = cli_json({"conf", "ls"});
  ASSERT_TRUE(ls) << ls.error().message;
  bool found_metrics = false;
  for (const auto& entry : (*ls)["values"]) {
    if (entry["key"] == "metrics") {
      EXPECT_EQ(entry["value"], std::to_string(metrics_port_));
      found_metrics = true;
    }
  }
  EXPECT_TRUE(found_metrics);
  auto status = cli_json({"status"});
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ((*status)["state"], "running");
  EXPECT_EQ((*status)["pid"], pgquay().pid());
  EXPECT_EQ((*status)["servers"][0]["name"], "primary");
  EXPECT_GT((*status)["connections"]["max"].get<int>(), 0);
  EXPECT_TRUE((*status)["workers"].contains("cache"));

  // The -s/-p form finds the same socket.
  const char* binary = std::getenv("PGQUAY_CLI_BIN");
  auto direct = run_program(
      {binary, "-s", pgquay().socket_dir(), "-p", std::to_string(pgquay().port()), "ping"}, 30s);
  ASSERT_TRUE(direct);
  EXPECT_TRUE(direct->exited_ok()) << direct->describe();
}

TEST_P(ManagementTest, ErrorsAndUnreachablePgquayHaveTheirExitStatus) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto unknown_key = cli({"conf", "get", "no_such_key"});
  ASSERT_TRUE(unknown_key);
  EXPECT_TRUE(WIFEXITED(unknown_key->status) && WEXITSTATUS(unknown_key->status) == 1)
      << unknown_key->describe();
  EXPECT_NE(unknown_key->output.find("unknown configuration key \"no_such_key\""),
            std::string::npos)
      << unknown_key->output;
  auto bad_mode = cli({"-F", "json", "shutdown", "cancel"});  // no shutdown in progress
  ASSERT_TRUE(bad_mode);
  EXPECT_TRUE(WIFEXITED(bad_mode->status) && WEXITSTATUS(bad_mode->status) == 1)
      << bad_mode->describe();
  EXPECT_NE(bad_mode->output.find("\"status\": \"error\""), std::string::npos) << bad_mode->output;

  const char* binary = std::getenv("PGQUAY_CLI_BIN");
  auto unreachable = run_program({binary, "-s", "/nonexistent-dir", "-p", "5", "ping"}, 30s);
  ASSERT_TRUE(unreachable);
  EXPECT_TRUE(WIFEXITED(unreachable->status) && WEXITSTATUS(unreachable->status) == 2)
      << unreachable->describe();
  EXPECT_NE(unreachable->output.find("/nonexistent-dir/.s.pgquay.5.admin"), std::string::npos)
      << unreachable->output;
  auto usage = cli({"frobnicate"});
  ASSERT_TRUE(usage);
  EXPECT_TRUE(WIFEXITED(usage->status) && WEXITSTATUS(usage->status) == 2) << usage->describe();
}

// ---- status -----------------------------------------------------------------------------------

TEST_P(ManagementTest, StatusFollowsAClient) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto before = cli_json({"status"});
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ((*before)["connections"]["active"], 0);

  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  auto backend = exec_scalar(client->get(), "select pg_backend_pid()");
  ASSERT_TRUE(backend);
  auto worker = worker_serving(pgquay().pid(), pgquay().port(), client->get());
  ASSERT_TRUE(worker) << worker.error().message;

  auto details = cli_json({"status", "details"});
  ASSERT_TRUE(details) << details.error().message;
  EXPECT_EQ((*details)["connections"]["active"], 1);
  EXPECT_GE((*details)["clients"]["active"].get<int>(), 1);
  bool found = false;
  for (const auto& slot : (*details)["slots"]) {
    if (slot["backend_pid"] != std::stoi(*backend)) continue;
    found = true;
    EXPECT_EQ(slot["state"], "in-use");
    EXPECT_EQ(slot["user"], kUser);
    EXPECT_EQ(slot["database"], kDatabase);
    EXPECT_EQ(slot["worker_pid"], *worker);
    EXPECT_EQ(slot["server"], "primary");
    EXPECT_GE(slot["age_seconds"].get<double>(), 0.0);
  }
  EXPECT_TRUE(found) << "no slot with backend " << *backend << ": " << details->dump();
  auto text = cli({"status", "details"});
  ASSERT_TRUE(text);
  EXPECT_NE(text->output.find("in-use"), std::string::npos) << text->output;
  EXPECT_NE(text->output.find(*backend), std::string::npos) << text->output;

  client->reset();
  EXPECT_TRUE(wait_until(
      [&] {
        return pool_use() == std::pair{0, 1};
      },
      10s))
      << "the released connection is not idle in status: " << pool_use().first << " active";
}

// ---- flush ------------------------------------------------------------------------------------

TEST_P(ManagementTest, FlushIdleClosesPooledConnections) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  for (int i = 0; i < 2; ++i) {
    auto client = connect_pooled(kUser);
    ASSERT_TRUE(client) << describe(client.error());
    ASSERT_TRUE(exec(client->get(), "select 1"));
  }
  ASSERT_TRUE(wait_until([&] { return pool_use().second >= 1; }, 10s));
  ASSERT_NE(backends_of(kUser), "0");
  auto flushed = cli_json({"flush", "idle"});
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_GE((*flushed)["closed"].get<int>(), 1);
  EXPECT_TRUE(wait_until([] { return backends_of(kUser) == "0"; }, 10s))
      << "server connections still open: " << backends_of(kUser);
  EXPECT_EQ(pool_use(), (std::pair{0, 0}));
  // The pool still works.
  auto again = connect_pooled(kUser);
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(scalar_or_error(again->get(), "select 2"), "2");
}

TEST_P(ManagementTest, FlushGracefullyClosesAConnectionWhenItIsReleased) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "select 1"));
  auto flushed = cli_json({"flush", "gracefully", std::string(kDatabase)});
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ((*flushed)["marked"], 1);
  auto details = cli_json({"status", "details"});
  ASSERT_TRUE(details);
  EXPECT_EQ((*details)["slots"][0]["flush_pending"], true) << details->dump();
  // The session goes on undisturbed; when it ends, its connection is closed, not pooled.
  EXPECT_EQ(scalar_or_error(client->get(), "select 3"), "3");
  client->reset();
  EXPECT_TRUE(wait_until([] { return backends_of(kUser) == "0"; }, 10s))
      << "the flushed connection was pooled again: " << backends_of(kUser);
}

TEST_P(ManagementTest, FlushAllEndsActiveSessions) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "begin"));
  auto flushed = cli_json({"flush", "all"});
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ((*flushed)["sessions_ended"], 1);
  EXPECT_TRUE(wait_until([] { return backends_of(kUser) == "0"; }, 10s))
      << "the session's server connection is still open";
  EXPECT_FALSE(exec(client->get(), "select 1")) << "the session survived flush all";
}

// ---- enable / disable -------------------------------------------------------------------------

TEST_P(ManagementTest, DisabledDatabaseRefusesNewClientsOnly) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto existing = connect_pooled(kUser);
  ASSERT_TRUE(existing) << describe(existing.error());
  ASSERT_TRUE(exec(existing->get(), "select 1"));

  auto disabled = cli({"disable", std::string(kDatabase)});
  ASSERT_TRUE(disabled);
  ASSERT_TRUE(disabled->exited_ok()) << disabled->describe();
  auto refused = connect_pooled(kUser);
  ASSERT_FALSE(refused) << "a disabled database accepted a client";
  EXPECT_EQ(refused.error().sqlstate, "55000") << describe(refused.error());
  EXPECT_NE(refused.error().message.find("not currently accepting connections"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(scalar_or_error(existing->get(), "select 4"), "4") << "the running session suffered";
  auto status = cli_json({"status"});
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["disabled"], Json::array({kDatabase}));
  auto metrics = scrape();
  ASSERT_TRUE(metrics) << metrics.error().message;
  EXPECT_EQ(metrics->value("pgquay_database_disabled{database=\"pgquay_test\"}"), 1);
  EXPECT_GE(metrics->value("pgquay_clients_refused_total"), 1);

  auto enabled = cli({"enable", std::string(kDatabase)});
  ASSERT_TRUE(enabled);
  ASSERT_TRUE(enabled->exited_ok()) << enabled->describe();
  auto welcome = connect_pooled(kUser);
  ASSERT_TRUE(welcome) << describe(welcome.error());
  EXPECT_EQ(scalar_or_error(welcome->get(), "select 5"), "5");

  // `disable` without a database disables all of them.
  ASSERT_TRUE(cli_json({"disable"}));
  auto all = connect_pooled(kUser);
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().sqlstate, "55000");
  ASSERT_TRUE(cli_json({"enable", "*"}));
  EXPECT_TRUE(connect_pooled(kUser));
}

TEST_P(ManagementTest, AliasesNameTheirDatabaseAndStatusShowsLimits) {
  PoolerSettings settings;
  settings.databases = std::string(kDatabase) + "=appdb all 5\n";
  if (auto started = start(settings); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser, {}, "appdb");
  ASSERT_TRUE(client) << describe(client.error());
  auto status = cli_json({"status"});
  ASSERT_TRUE(status) << status.error().message;
  ASSERT_EQ((*status)["limits"].size(), 1u) << status->dump();
  EXPECT_EQ((*status)["limits"][0]["database"], kDatabase);
  EXPECT_EQ((*status)["limits"][0]["aliases"], Json::array({"appdb"}));
  EXPECT_EQ((*status)["limits"][0]["max_size"], 5);
  EXPECT_EQ((*status)["limits"][0]["connections"], 1);
  auto text = cli({"status"});
  ASSERT_TRUE(text);
  EXPECT_NE(text->output.find("CONNECTIONS"), std::string::npos) << text->output;

  ASSERT_TRUE(cli_json({"disable", "appdb"}));
  auto refused = connect_pooled(kUser);  // the real name is disabled too
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().sqlstate, "55000") << describe(refused.error());
  ASSERT_TRUE(cli_json({"enable", "appdb"}));
  EXPECT_TRUE(connect_pooled(kUser));
}

TEST_P(ManagementTest, WaitingClientsAreShownAndRefusedWhenTheirDatabaseIsDisabled) {
  PoolerSettings settings;
  settings.databases = std::string(kDatabase) + " " + std::string(kUser) + " 1\n";
  settings.extra_conf = "blocking_timeout = 60\n";
  if (auto started = start(settings); !started) FAIL() << started.error().message;
  auto holder = connect_pooled(kUser);
  ASSERT_TRUE(holder) << describe(holder.error());
  ASSERT_TRUE(exec(holder->get(), "select 1"));

  // The pool's only connection is taken: a second client waits for it.
  std::optional<DbResult<PgConnPtr>> waiter;
  std::thread thread([&] { waiter = connect_pooled(kUser, {}, kDatabase, {}, 30s); });
  bool waiting = wait_until(
      [&] {
        auto status = cli_json({"status", "details"});
        return status && (*status)["waiting_clients"].size() == 1;
      },
      10s);
  if (waiting) {
    auto status = cli_json({"status", "details"});
    ASSERT_TRUE(status);
    const Json& client = (*status)["waiting_clients"][0];
    EXPECT_EQ(client["user"], kUser);
    EXPECT_EQ(client["database"], kDatabase);
    EXPECT_GT(client["worker_pid"].get<int>(), 0);
    EXPECT_EQ((*status)["clients"]["waiting"], 1);
    auto metrics = scrape();
    ASSERT_TRUE(metrics);
    EXPECT_EQ(metrics->value("pgquay_pool_clients_waiting" + kPoolKey + "}"), 1);
    EXPECT_EQ(metrics->value("pgquay_pool_connections_max" + kPoolKey + "}"), 1);
    EXPECT_EQ(metrics->value("pgquay_clients_waiting"), 1);
    auto text = cli({"status", "details"});
    ASSERT_TRUE(text);
    EXPECT_NE(text->output.find("waiting clients:"), std::string::npos);
    // Disabling the database refuses the waiting client at once.
    ASSERT_TRUE(cli_json({"disable", std::string(kDatabase)}));
  }
  thread.join();
  ASSERT_TRUE(waiting) << "the second client never showed as waiting";
  ASSERT_TRUE(waiter.has_value());
  ASSERT_FALSE(*waiter) << "the waiting client got a connection";
  EXPECT_EQ(waiter->error().sqlstate, "55000") << describe(waiter->error());
  EXPECT_EQ(scalar_or_error(holder->get(), "select 9"), "9");
}

// ---- reload -----------------------------------------------------------------------------------

TEST_P(ManagementTest, ConfReloadReportsRestartKeysAndRefusesBrokenFiles) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto conf = read_file(config_path());
  ASSERT_TRUE(conf);
  std::string changed = *conf;
  ASSERT_NE(changed.find("[pgquay]\n"), std::string::npos);
  changed.replace(changed.find("[pgquay]\n"), 9, "[pgquay]\nbacklog = 77\n");
  ASSERT_TRUE(write_file(config_path(), changed));
  auto reloaded = cli({"conf", "reload"});
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(reloaded->exited_ok()) << reloaded->describe();
  EXPECT_NE(reloaded->output.find("restart required: backlog"), std::string::npos)
      << reloaded->output;

  ASSERT_TRUE(write_file(pgquay().dir() + "/pgquay_hba.conf", "host all all all nonsense\n"));
  auto broken = cli({"conf", "reload"});
  ASSERT_TRUE(broken);
  EXPECT_TRUE(WIFEXITED(broken->status) && WEXITSTATUS(broken->status) == 1) << broken->describe();
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << "a broken hba file changed the rules: " << describe(client.error());
  auto metrics = scrape();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->value("pgquay_reloads_total"), 1);
  EXPECT_EQ(metrics->value("pgquay_reload_failures_total"), 1);
}

// ---- shutdown ---------------------------------------------------------------------------------

TEST_P(ManagementTest, GracefulShutdownWaitsForATransactionAndRefusesNewClients) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "begin"));
  ASSERT_TRUE(exec(client->get(), "select 1"));

  auto shutdown = cli({"shutdown", "gracefully"});
  ASSERT_TRUE(shutdown);
  ASSERT_TRUE(shutdown->exited_ok()) << shutdown->describe();
  expect_pgquay_to_stop();
  // New clients are refused while the running one is served.
  EXPECT_TRUE(wait_until([&] { return !port_accepts("127.0.0.1", pgquay().port()); }, 10s));
  EXPECT_FALSE(connect_pooled(kUser, {}, kDatabase, {}, 5s)) << "a new client was accepted";
  auto status = cli_json({"status"});
  ASSERT_TRUE(status) << "the management socket closed early: " << status.error().message;
  EXPECT_EQ((*status)["state"], "graceful shutdown");
  EXPECT_TRUE(pgquay().running());
  EXPECT_EQ(scalar_or_error(client->get(), "select 6"), "6");
  EXPECT_TRUE(exec(client->get(), "commit"));
  EXPECT_TRUE(pgquay().running()) << "pgquay left while a session was open";

  client->reset();
  EXPECT_TRUE(wait_until([&] { return !pgquay().running(); }, 15s))
      << "pgquay did not exit after the last client left";
  const int exit_status = pgquay().stop();
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
      << describe_wait_status(exit_status);
  EXPECT_FALSE(std::filesystem::exists(admin_socket())) << "management socket left behind";
}

TEST_P(ManagementTest, CancelledGracefulShutdownAcceptsClientsAgain) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(cli_json({"shutdown"}));  // gracefully by default
  EXPECT_TRUE(wait_until([&] { return !port_accepts("127.0.0.1", pgquay().port()); }, 10s));
  auto cancel = cli({"shutdown", "cancel"});
  ASSERT_TRUE(cancel);
  EXPECT_TRUE(cancel->exited_ok()) << cancel->describe();
  auto welcome = connect_pooled(kUser);
  ASSERT_TRUE(welcome) << describe(welcome.error());
  EXPECT_EQ(scalar_or_error(welcome->get(), "select 7"), "7");
  client->reset();
  auto status = cli_json({"status"});
  ASSERT_TRUE(status);
  EXPECT_EQ((*status)["state"], "running");
}

TEST_P(ManagementTest, ImmediateShutdownEndsSessions) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "begin"));
  auto shutdown = cli({"shutdown", "immediate"});
  ASSERT_TRUE(shutdown);
  EXPECT_TRUE(shutdown->exited_ok()) << shutdown->describe();
  expect_pgquay_to_stop();
  EXPECT_TRUE(wait_until([&] { return !pgquay().running(); }, 15s));
  EXPECT_FALSE(exec(client->get(), "select 1"));
  EXPECT_TRUE(wait_until([] { return backends_of(kUser) == "0"; }, 10s));
  EXPECT_FALSE(std::filesystem::exists(admin_socket()));
}

// ---- malformed requests -----------------------------------------------------------------------

TEST_P(ManagementTest, MalformedRequestsGetAnErrorAndPgquayKeepsServing) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  struct Case {
    std::string bytes;
    std::string error;
  };
  const std::vector<Case> cases = {
      {frame("{not json"), "malformed JSON"},
      {frame("[1,2]"), "not a JSON object"},
      {frame(R"({"version":9,"command":"ping"})"), "unsupported management protocol version"},
      {frame(R"({"version":1})"), "no \"command\""},
      {frame(R"({"version":1,"command":"launch"})"), "unknown command \"launch\""},
      {frame(R"({"version":1,"command":"flush","args":{"mode":"sideways"}})"), "unknown mode"},
      {be32(0x7fffffff), "exceeds the limit"},
      {std::string(70 * 1024, 'x'), "exceeds the limit"},
  };
  for (const auto& c : cases) {
    auto reply = raw_admin(c.bytes);
    ASSERT_TRUE(reply) << c.error << ": " << reply.error().message;
    auto document = unframe(*reply);
    ASSERT_TRUE(document) << c.error << ": " << document.error().message;
    EXPECT_EQ((*document)["status"], "error") << document->dump();
    EXPECT_NE((*document)["error"].get<std::string>().find(c.error), std::string::npos)
        << document->dump();
  }
  // A well-formed raw request works, and so do clients.
  auto ping = raw_admin(frame(R"({"version":1,"command":"ping"})"));
  ASSERT_TRUE(ping);
  auto document = unframe(*ping);
  ASSERT_TRUE(document) << document.error().message;
  EXPECT_EQ((*document)["status"], "ok");
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  EXPECT_EQ(scalar_or_error(client->get(), "select 8"), "8");
}

TEST_P(ManagementTest, SlowManagementClientsDoNotBlockThePooler) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  // Connections that never finish their request: silent, half a header, half a body, and an
  // unfinished HTTP request head.
  auto open_admin = [&](std::string_view bytes) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = admin_socket();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Fd();
    if (!bytes.empty()) ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    return fd;
  };
  std::vector<Fd> stalled;
  stalled.push_back(open_admin(""));
  stalled.push_back(open_admin(be16(0)));
  stalled.push_back(open_admin(frame(R"({"version":1,"command":"ping"})").substr(0, 12)));
  for (const Fd& fd : stalled) ASSERT_TRUE(fd.valid());
  Fd http(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(metrics_port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(http.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::send(http.get(), "GET /metr", 9, MSG_NOSIGNAL);

  // Everything else goes on.
  auto ping = cli({"ping"});
  ASSERT_TRUE(ping);
  EXPECT_TRUE(ping->exited_ok()) << ping->describe();
  EXPECT_TRUE(scrape()) << "the metrics endpoint is blocked";
  auto client = connect_pooled(kUser, {}, kDatabase, {}, 10s);
  ASSERT_TRUE(client) << describe(client.error());
  EXPECT_EQ(scalar_or_error(client->get(), "select 10"), "10");
}

}  // namespace
}  // namespace pgquay::test
