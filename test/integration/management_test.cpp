// pgquay-cli and the management socket against a running pgquay and a real PostgreSQL: every
// command in text and JSON, status that follows clients, flush, enable/disable, graceful and
// immediate shutdown, malformed requests, and the Prometheus endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr std::string_view kUser = "trust_user";
constexpr std::string_view kDatabase = PostgresServer::kDatabase;

// ---- helpers ----------------------------------------------------------------------------------

// Connects to a stream socket, sends `bytes`, reads until the peer closes (or 10 s).
Result<std::string> exchange(const sockaddr* address, socklen_t length, std::string_view bytes) {
  Fd fd(::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), address, length) != 0) return fail_errno("connect");
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail_errno("send");
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd.get(), SHUT_WR);  // the request is complete (pgquay must still answer)
  std::string reply;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) return reply;
    if (n < 0) return fail_errno("recv (after " + std::to_string(reply.size()) + " bytes)");
    reply.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> http_exchange(int port, std::string_view request) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return exchange(reinterpret_cast<sockaddr*>(&addr), sizeof(addr), request);
}

int http_status(const std::string& response) {
  if (!response.starts_with("HTTP/1.1 ")) return -1;
  return std::atoi(response.c_str() + 9);
}

std::string http_body(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// A scrape: "name{labels}" -> value, and the families announced by TYPE lines.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  double value(const std::string& key) const {
    auto it = samples.find(key);
    return it == samples.end() ? -1 : it->second;
  }
};

Scrape parse_exposition(const std::string& text) {
  Scrape scrape;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# TYPE ")) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      scrape.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    scrape.samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return scrape;
}

std::string frame(std::string_view json) {
  return be32(static_cast<uint32_t>(json.size())) + std::string(json);
}

// The JSON document of a management reply frame.
Result<Json> unframe(const std::string& reply) {
  if (reply.size() < 4) return fail("short reply (" + std::to_string(reply.size()) + " bytes)");
  uint32_t length = (static_cast<uint32_t>(static_cast<unsigned char>(reply[0])) << 24) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(reply[1])) << 16) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(reply[2])) << 8) |
                    static_cast<uint32_t>(static_cast<unsigned char>(reply[3]));
  if (reply.size() != 4 + length) return fail("reply length does not match its header");
  Json document = Json::parse(reply.substr(4), nullptr, false);
  if (document.is_discarded()) return fail("reply is not JSON: " + reply.substr(4));
  return document;
}

std::string backends_of(std::string_view user) {
  return postgres()
      .query_scalar("select count(*) from pg_stat_activity where usename = '" + std::string(user) +
                    "' and pid <> pg_backend_pid()")
      .value_or("?");
}

class ManagementTest : public PoolerTest {
 protected:
  // Starts pgquay with the metrics endpoint on a free port.
  [[nodiscard]] Result<void> start(PoolerSettings settings = {}) {
    // free_port() can race with another process taking the port before pgquay binds it.
    Error last;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto port = free_port();
      if (!port) return Unexpected(port.error());
      metrics_port_ = *port;
      PoolerSettings with_metrics = settings;
      with_metrics.extra_conf += "metrics = " + std::to_string(metrics_port_) + "\n";
      auto started = start_pgquay(std::move(with_metrics));
      if (started) return {};
      last = started.error();
      if (last.message.find("in use") == std::string::npos) break;
    }
    return Unexpected(last);
  }

  std::string config_path() const { return pgquay().dir() + "/pgquay.conf"; }
  std::string admin_socket() const {
    return pgquay().socket_dir() + "/.s.pgquay." + std::to_string(pgquay().port()) + ".admin";
  }

  // pgquay-cli -c <pgquay.conf> ARGS...
  Result<ProgramRun> cli(std::vector<std::string> args) const {
    const char* binary = std::getenv("PGQUAY_CLI_BIN");
    if (binary == nullptr || *binary == '\0') return fail("PGQUAY_CLI_BIN is not set");
    std::vector<std::string> argv{binary, "-c", config_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, 30s);
  }

  // pgquay-cli -F json ARGS...: the response document, when the command succeeded.
  Result<Json> cli_json(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-F", "json"});
    auto run = cli(args);
    if (!run) return Unexpected(run.error());
    if (!run->exited_ok()) return fail("pgquay-cli failed: " + run->describe());
    Json document = Json::parse(run->output, nullptr, false);
    if (document.is_discarded()) return fail("pgquay-cli printed no JSON: " + run->output);
    if (document.value("status", "") != "ok") return fail("not ok: " + run->output);
    return document["result"];
  }

  Result<std::string> raw_admin(std::string_view bytes) const {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = admin_socket();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return exchange(reinterpret_cast<sockaddr*>(&addr), sizeof(addr), bytes);
  }

  Result<Scrape> scrape() const {
    auto response = http_exchange(metrics_port_, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    if (!response) return Unexpected(response.error());
    if (http_status(*response) != 200) return fail("HTTP " + response->substr(0, 40));
    return parse_exposition(http_body(*response));
  }

  // A pool's connections as `status details` sees them: {active, idle}.
  std::pair<int, int> pool_use() const {
    auto status = cli_json({"status", "details"});
    if (!status) return {-1, -1};
    for (const auto& pool : (*status)["pools"]) {
      if (pool["user"] == kUser && pool["database"] == kDatabase)
        return {pool["active"].get<int>(), pool["idle"].get<int>()};
    }
    return {0, 0};
  }

  int metrics_port_ = 0;
};
INSTANTIATE_POOLER_TEST_SUITE(ManagementTest);

const std::string kPoolKey = "{database=\"pgquay_test\",user=\"trust_user\"";

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
  changed.replace(changed.find("[pgquay]\n"), 9, "[pgquay]\nblocking_timeout = 7\n");
  ASSERT_TRUE(write_file(config_path(), changed));
  auto reloaded = cli({"conf", "reload"});
  ASSERT_TRUE(reloaded);
  EXPECT_TRUE(reloaded->exited_ok()) << reloaded->describe();
  EXPECT_NE(reloaded->output.find("restart required: blocking_timeout"), std::string::npos)
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

// ---- metrics ----------------------------------------------------------------------------------

TEST_P(ManagementTest, MetricsAreScrapedAndCountersMove) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto first = scrape();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->value("pgquay_state"), 1);
  EXPECT_GT(first->value("pgquay_connections_max"), 0);
  EXPECT_EQ(first->types["pgquay_sessions_total"], "counter");
  EXPECT_EQ(first->types["pgquay_client_wait_seconds"], "histogram");
  EXPECT_EQ(first->types["pgquay_pool_connections"], "gauge");
  // Every sample belongs to an announced family.
  for (const auto& [key, value] : first->samples) {
    std::string name = key.substr(0, key.find('{'));
    bool announced = first->types.contains(name);
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix))
        announced = announced || first->types.contains(name.substr(0, name.size() - suffix.size()));
    }
    EXPECT_TRUE(announced) << key;
  }
  const double sessions = first->value("pgquay_sessions_total");
  const double waits = first->value("pgquay_client_wait_seconds_count");

  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "select 1"));
  auto during = scrape();
  ASSERT_TRUE(during);
  EXPECT_EQ(during->value("pgquay_sessions_total"), sessions + 1);
  EXPECT_EQ(during->value("pgquay_client_wait_seconds_count"), waits + 1);
  EXPECT_EQ(during->value("pgquay_pool_connections" + kPoolKey + ",state=\"active\"}"), 1);
  EXPECT_GE(during->value("pgquay_clients_active"), 1);
  EXPECT_GE(during->value("pgquay_server_connections{state=\"in-use\"}"), 1);

  client->reset();
  EXPECT_TRUE(wait_until(
      [&] {
        auto after = scrape();
        return after &&
               after->value("pgquay_pool_connections" + kPoolKey + ",state=\"idle\"}") == 1 &&
               after->value("pgquay_session_seconds_count") >= 1;
      },
      10s));

  ASSERT_TRUE(cli_json({"clear", "prometheus"}));
  auto cleared = scrape();
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->value("pgquay_sessions_total"), 0);
  EXPECT_EQ(cleared->value("pgquay_client_wait_seconds_count"), 0);
  EXPECT_EQ(cleared->value("pgquay_pool_connections" + kPoolKey + ",state=\"idle\"}"), 1)
      << "clear prometheus must not touch gauges";
}

TEST_P(ManagementTest, MetricsEndpointSpeaksHttp) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto index = http_exchange(metrics_port_, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(http_status(*index), 200);
  EXPECT_NE(index->find("/metrics"), std::string::npos);
  auto missing = http_exchange(metrics_port_, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(missing);
  EXPECT_EQ(http_status(*missing), 404);
  auto post = http_exchange(metrics_port_, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(post);
  EXPECT_EQ(http_status(*post), 405);
  auto garbage = http_exchange(metrics_port_, "hello\r\n\r\n");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(http_status(*garbage), 400);
  auto huge =
      http_exchange(metrics_port_, "GET /metrics HTTP/1.1\r\nX: " + std::string(16 * 1024, 'a'));
  ASSERT_TRUE(huge) << huge.error().message;
  EXPECT_EQ(http_status(*huge), 431);
  auto metrics = http_exchange(metrics_port_, "GET /metrics HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics->find("Connection: close"), std::string::npos);
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
}

}  // namespace
}  // namespace pgquay::test
