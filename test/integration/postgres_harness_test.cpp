// Proves the integration harness: the shared PostgreSQL accepts each test role with its own
// authentication method, reports SQLSTATEs, and answers query_scalar().
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <string>

#include "harness/files.hpp"
#include "harness/pg_client.hpp"
#include "harness/pgquay_process.hpp"
#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"

namespace pgquay::test {
namespace {

std::string select_one(const std::string& conninfo) {
  auto conn = connect(conninfo);
  if (!conn) return "connect failed: " + conn.error().sqlstate + " " + conn.error().message;
  auto value = exec_scalar(conn->get(), "select 1");
  if (!value) return "select failed: " + value.error().sqlstate + " " + value.error().message;
  return *value;
}

TEST(PostgresHarness, TrustUserConnectsWithoutPassword) {
  EXPECT_EQ(select_one(postgres().conninfo("trust_user")), "1");
}

TEST(PostgresHarness, TrustUserConnectsThroughUnixSocket) {
  EXPECT_EQ(select_one(make_conninfo(postgres().socket_dir(), postgres().port(), "trust_user", "",
                                     PostgresServer::kDatabase)),
            "1");
}

TEST(PostgresHarness, Md5UserConnectsWithRightPassword) {
  EXPECT_EQ(select_one(postgres().conninfo("md5_user", "md5_pass")), "1");
  auto stored = postgres().query_scalar(
      "select left(rolpassword, 3) from pg_authid where rolname = 'md5_user'");
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(*stored, "md5");
}

TEST(PostgresHarness, Md5UserWithWrongPasswordGetsInvalidPassword) {
  auto conn = connect(postgres().conninfo("md5_user", "wrong"));
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().sqlstate, "28P01") << conn.error().message;
}

TEST(PostgresHarness, ScramUserConnectsWithRightPassword) {
  EXPECT_EQ(select_one(postgres().conninfo("scram_user", "scram_pass")), "1");
  auto stored = postgres().query_scalar(
      "select left(rolpassword, 14) from pg_authid where rolname = 'scram_user'");
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(*stored, "SCRAM-SHA-256$");
}

TEST(PostgresHarness, ScramUserWithWrongPasswordGetsInvalidPassword) {
  auto conn = connect(postgres().conninfo("scram_user", "wrong"));
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().sqlstate, "28P01") << conn.error().message;
}

TEST(PostgresHarness, ExecReportsSqlstate) {
  auto conn = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(conn) << conn.error().message;
  auto result = exec(conn->get(), "select * from no_such_table");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().sqlstate, "42P01") << result.error().message;
}

TEST(PostgresHarness, QueryScalarSeesPgStatActivity) {
  auto conn = connect(postgres().conninfo("trust_user"));
  ASSERT_TRUE(conn) << conn.error().message;
  auto count = postgres().query_scalar(
      "select count(*) from pg_stat_activity where usename = 'trust_user' and datname = "
      "'pgquay_test' and pid <> pg_backend_pid()");
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(*count, "1");
}

TEST(PostgresHarness, FreePortsAreDistinct) {
  auto ports = free_ports(8);
  ASSERT_TRUE(ports) << ports.error().message;
  std::sort(ports->begin(), ports->end());
  EXPECT_EQ(std::adjacent_find(ports->begin(), ports->end()), ports->end());
}

TEST(PgquayHarness, ReportsABinaryThatExitsBeforeListening) {
  auto port = free_port();
  ASSERT_TRUE(port) << port.error().message;
  PgquayOptions options;
  options.binary = "/bin/false";
  options.port = *port;
  options.conf = basic_pgquay_conf(*port, postgres());
  options.hba = pass_through_hba();
  auto process = PgquayProcess::start(options);
  ASSERT_FALSE(process);
  EXPECT_NE(process.error().message.find("exited with status 1"), std::string::npos)
      << process.error().message;
}

// A stand-in for pgquay: reads the port from pgquay.conf (-c), reports its arguments and HOME,
// and listens until SIGTERM.
constexpr std::string_view kFakePgquay = R"(#!/usr/bin/python3
import os, re, socket, sys
conf = open(sys.argv[sys.argv.index("-c") + 1]).read()
port = int(re.search(r"^port = (\d+)$", conf, re.M).group(1))
print("args:", " ".join(sys.argv[1:]), "HOME=" + os.environ["HOME"], flush=True)
listener = socket.create_server(("127.0.0.1", port))
while True:
    listener.accept()[0].close()
)";

TEST(PgquayHarness, StartsWaitsForThePortAndStops) {
  auto bin_dir = TempDir::create("pgquay-fake-");
  ASSERT_TRUE(bin_dir) << bin_dir.error().message;
  const std::string fake = bin_dir->file("pgquay");
  ASSERT_TRUE(write_file(fake, kFakePgquay));
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
  auto port = free_port();
  ASSERT_TRUE(port) << port.error().message;

  PgquayOptions options;
  options.binary = fake;
  options.drop_root = false;  // the fake lives in a directory only this user can enter
  options.port = *port;
  options.conf = basic_pgquay_conf(*port, postgres());
  options.hba = pass_through_hba();
  options.databases = "all all 10\n";
  auto process = PgquayProcess::start(options);
  ASSERT_TRUE(process) << process.error().message;
  PgquayProcess& pgquay = **process;

  EXPECT_TRUE(port_accepts(pgquay.host(), pgquay.port()));
  EXPECT_TRUE(pgquay.running());
  const std::string log = pgquay.log_text();
  EXPECT_NE(log.find("-c " + pgquay.dir() + "/pgquay.conf -a " + pgquay.dir() +
                     "/pgquay_hba.conf -l " + pgquay.dir() + "/pgquay_databases.conf"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("HOME=" + pgquay.dir()), std::string::npos) << log;
  auto conf = read_file(pgquay.dir() + "/pgquay.conf");
  ASSERT_TRUE(conf) << conf.error().message;
  EXPECT_NE(conf->find("unix_socket_dir = " + pgquay.dir() + "\n"), std::string::npos) << *conf;

  const int status = pgquay.stop();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << describe_wait_status(status);
  EXPECT_FALSE(pgquay.running());
}

}  // namespace
}  // namespace pgquay::test
