// Starting and stopping pgquay: it refuses to start (non-zero exit, a message naming the problem)
// when its port is taken or a file cannot be read or holds a bad value, and SIGTERM stops it
// cleanly: exit status 0, Unix socket removed, workers and server connections gone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/child_process.hpp"
#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class LifecycleTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(LifecycleTest);

std::string mode_lines(const PoolerMode& mode) {
  return "ev_backend = " + std::string(mode.ev_backend) +
         "\npipeline = " + std::string(mode.pipeline) + "\n";
}

bool exited_with_failure(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) != 0;
}

// Runs pgquay with `args` (as the `postgres` user when the test runs as root, like
// PgquayProcess) and waits for it to exit, which it should do at once.
Result<ProgramRun> run_pgquay_until_exit(const TempDir& dir, std::vector<std::string> args) {
  const char* binary = std::getenv("PGQUAY_BIN");
  if (binary == nullptr || *binary == '\0') return fail("PGQUAY_BIN is not set");
  auto run_as = unprivileged_user_if_root();
  if (!run_as) return Unexpected(run_as.error());
  SpawnOptions spawn;
  spawn.argv = {binary};
  spawn.argv.insert(spawn.argv.end(), args.begin(), args.end());
  spawn.output_path = dir.file("pgquay.out");
  spawn.run_as = *run_as;
  spawn.env = {"HOME=" + dir.path()};
  spawn.parent_death_signal = SIGKILL;
  auto child = ChildProcess::spawn(spawn);
  if (!child) return Unexpected(child.error());
  auto status = child->wait(15s);
  if (!status) {
    child->stop(SIGTERM, 5s);
    return fail("pgquay did not exit: it started despite the problem; output:\n" +
                tail_file(spawn.output_path, 20));
  }
  std::string output = read_file(spawn.output_path).value_or("");
  // With log_type = file the message may have gone to the log instead.
  if (auto log = read_file(dir.file("pgquay.log")); log) output += *log;
  return ProgramRun{*status, output};
}

// A directory the pgquay user owns, holding a valid configuration for `port`.
struct ConfigDir {
  TempDir dir;
  std::string conf;
  std::string hba;
};

Result<ConfigDir> valid_config(const PoolerMode& mode) {
  auto port = free_port();
  if (!port) return Unexpected(port.error());
  TempDir::remove_abandoned("pgquay-conf-");
  auto dir = TempDir::create("pgquay-conf-");
  if (!dir) return Unexpected(dir.error());
  auto run_as = unprivileged_user_if_root();
  if (!run_as) return Unexpected(run_as.error());
  if (*run_as) {
    if (auto owned = dir->chown_to((*run_as)->uid, (*run_as)->gid); !owned)
      return Unexpected(owned.error());
  }
  std::string conf = basic_pgquay_conf(*port, postgres(), mode_lines(mode));
  for (auto pos = conf.find("@DIR@"); pos != std::string::npos; pos = conf.find("@DIR@"))
    conf.replace(pos, 5, dir->path());
  ConfigDir config{std::move(*dir), "", ""};
  config.conf = config.dir.file("pgquay.conf");
  config.hba = config.dir.file("pgquay_hba.conf");
  if (auto r = write_file(config.conf, conf); !r) return Unexpected(r.error());
  if (auto r = write_file(config.hba, "host all all all trust\n"); !r) return Unexpected(r.error());
  if (*run_as) {
    for (const auto& path : {config.conf, config.hba}) {
      if (::chown(path.c_str(), (*run_as)->uid, (*run_as)->gid) != 0)
        return fail_errno("chown " + path);
    }
  }
  return config;
}

// ---- refusals ---------------------------------------------------------------------------------

TEST_P(LifecycleTest, RefusesToStartWhenThePortIsTaken) {
  auto port = free_port();
  ASSERT_TRUE(port) << port.error().message;
  Fd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(taken);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(*port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(taken.get(), 16), 0);

  PgquayOptions options;
  options.port = *port;
  options.conf = basic_pgquay_conf(*port, postgres(), mode_lines(GetParam()));
  options.hba = "host all all all trust\n";
  // Our own listener answers start()'s readiness probe, so start() may return before pgquay
  // notices the port is taken; either way it must exit with an error.
  auto started = PgquayProcess::start(std::move(options));
  if (!started) {
    EXPECT_NE(started.error().message.find("exited with status"), std::string::npos)
        << started.error().message;
    EXPECT_EQ(started.error().message.find("exited with status 0"), std::string::npos)
        << started.error().message;
    EXPECT_NE(started.error().message.find(std::to_string(*port)), std::string::npos)
        << started.error().message;
    return;
  }
  PgquayProcess& pgquay = **started;
  ASSERT_TRUE(wait_until([&] { return !pgquay.running(); }, 15s))
      << "pgquay keeps running although 127.0.0.1:" << *port << " is taken:\n"
      << tail_lines(pgquay.log_text(), 30);
  const int status = pgquay.stop();
  const std::string log = pgquay.log_text();
  EXPECT_TRUE(exited_with_failure(status)) << describe_wait_status(status) << "\n" << log;
  EXPECT_NE(log.find(std::to_string(*port)), std::string::npos) << "no mention of the port:\n"
                                                                << log;
  EXPECT_NE(log.find("in use"), std::string::npos) << "no mention of the cause:\n" << log;
}

TEST_P(LifecycleTest, RefusesToStartWithoutItsConfigurationFile) {
  auto config = valid_config(GetParam());
  ASSERT_TRUE(config) << config.error().message;
  const std::string missing = config->dir.file("no-such-pgquay.conf");
  auto run = run_pgquay_until_exit(config->dir, {"-c", missing, "-a", config->hba});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(exited_with_failure(run->status)) << run->describe();
  EXPECT_NE(run->output.find(missing), std::string::npos) << "no mention of the file:\n"
                                                          << run->output;
}

TEST_P(LifecycleTest, RefusesToStartWithAnUnreadableConfigurationFile) {
  auto config = valid_config(GetParam());
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(::chmod(config->conf.c_str(), 0), 0);
  auto run = run_pgquay_until_exit(config->dir, {"-c", config->conf, "-a", config->hba});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(exited_with_failure(run->status)) << run->describe();
  EXPECT_NE(run->output.find(config->conf), std::string::npos) << "no mention of the file:\n"
                                                               << run->output;
}

TEST_P(LifecycleTest, RefusesToStartWithoutItsHbaFile) {
  auto config = valid_config(GetParam());
  ASSERT_TRUE(config) << config.error().message;
  const std::string missing = config->dir.file("no-such-hba.conf");
  auto run = run_pgquay_until_exit(config->dir, {"-c", config->conf, "-a", missing});
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(exited_with_failure(run->status)) << run->describe();
  EXPECT_NE(run->output.find(missing), std::string::npos) << "no mention of the file:\n"
                                                          << run->output;
}

TEST_P(LifecycleTest, RefusesToStartWithAnInvalidValue) {
  auto port = free_port();
  ASSERT_TRUE(port) << port.error().message;
  PgquayOptions options;
  options.port = *port;
  options.conf =
      basic_pgquay_conf(*port, postgres(), mode_lines(GetParam()) + "max_connections = abc\n");
  options.hba = "host all all all trust\n";
  options.ready_timeout = 15s;
  auto started = PgquayProcess::start(std::move(options));
  ASSERT_FALSE(started) << "pgquay started with max_connections = abc";
  const std::string& message = started.error().message;
  EXPECT_NE(message.find("exited with status"), std::string::npos) << message;
  EXPECT_EQ(message.find("exited with status 0"), std::string::npos) << message;
  EXPECT_NE(message.find("max_connections"), std::string::npos) << message;
}

// ---- SIGTERM ----------------------------------------------------------------------------------

std::string trust_user_backends() {
  return postgres()
      .query_scalar(
          "select count(*) from pg_stat_activity where usename = 'trust_user' and pid <> "
          "pg_backend_pid()")
      .value_or("?");
}

TEST_P(LifecycleTest, SigtermStopsCleanly) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  const std::string socket = unix_socket_path();
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(socket); }, 5s))
      << socket << " never appeared";
  for (const std::string& conninfo :
       {pooled_conninfo("trust_user"), socket_conninfo("trust_user")}) {
    auto conn = connect(conninfo);
    ASSERT_TRUE(conn) << describe(conn.error());
    ASSERT_TRUE(exec(conn->get(), "select 1"));
  }
  const std::vector<pid_t> children = child_processes(pgquay().pid());
  const int port = pgquay().port();

  expect_pgquay_to_stop();
  const auto begin = std::chrono::steady_clock::now();
  const int status = pgquay().stop(15s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM: " << describe_wait_status(status);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  EXPECT_FALSE(std::filesystem::exists(socket)) << socket << " left behind";
  EXPECT_FALSE(port_accepts("127.0.0.1", port));
  EXPECT_TRUE(wait_until(
      [&] {
        for (pid_t child : children)
          if (process_alive(child)) return false;
        return true;
      },
      10s))
      << "workers outlived the main process";
  EXPECT_TRUE(wait_until([] { return trust_user_backends() == "0"; }, 10s))
      << "pooled server connections left open: " << trust_user_backends();
}

TEST_P(LifecycleTest, SigtermStopsWithAClientConnected) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  auto client = connect_pooled("trust_user");
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "select 1"));
  const std::vector<pid_t> children = child_processes(pgquay().pid());

  expect_pgquay_to_stop();
  const int status = pgquay().stop(15s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM: " << describe_wait_status(status);
  EXPECT_TRUE(wait_until(
      [&] {
        for (pid_t child : children)
          if (process_alive(child)) return false;
        return true;
      },
      10s))
      << "the connected client's worker outlived the main process";
  EXPECT_FALSE(exec(client->get(), "select 1")) << "the client is still served after shutdown";
}

}  // namespace
}  // namespace pgquay::test
