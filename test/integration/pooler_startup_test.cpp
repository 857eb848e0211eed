// The start of a client connection: malformed startup packets are refused without disturbing
// other clients, pgquay_hba.conf rejects with 28000, and password users authenticate against
// PostgreSQL through pgquay (wrong passwords get 28P01, also after a right one was pooled).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class StartupTest : public PoolerTest {};
INSTANTIATE_POOLER_TEST_SUITE(StartupTest);

constexpr std::string_view kDb = PostgresServer::kDatabase;

std::string select_one(const DbResult<PgConnPtr>& conn) {
  if (!conn) return "connect failed: " + describe(conn.error());
  auto value = exec_scalar(conn->get(), "select 1");
  return value ? *value : "select failed: " + describe(value.error());
}

// A protocol 3.0 startup packet: length, version, then name/value pairs and a final NUL.
std::string startup_packet(std::uint16_t major, std::uint16_t minor, std::string_view body) {
  std::string packet = be16(major) + be16(minor) + std::string(body);
  return be32(static_cast<std::uint32_t>(packet.size() + 4)) + packet;
}

struct Malformed {
  std::string name;
  std::string bytes;
};

std::vector<Malformed> malformed_startups() {
  using namespace std::string_literals;
  std::vector<Malformed> cases;
  cases.push_back({"length 3", be32(3)});
  cases.push_back({"length 1 GB", be32(1U << 30) + be16(3) + be16(0) + "user\0trust_user\0\0"s});
  cases.push_back({"protocol 1.0", startup_packet(1, 0, "user\0trust_user\0\0"s)});
  cases.push_back({"protocol 4.0", startup_packet(4, 0, "user\0trust_user\0\0"s)});
  cases.push_back({"no user", startup_packet(3, 0, "database\0pgquay_test\0\0"s)});
  cases.push_back({"HTTP request", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"});
  std::mt19937 random(20240601);  // fixed seed: the same garbage every run
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage += static_cast<char>(random() & 0xff);
  cases.push_back({"random garbage", garbage});
  // 200 bytes announced and sent, but the parameter list never ends with its NUL terminator.
  std::string unterminated = be16(3) + be16(0) + "user\0trust_user\0database\0"s;
  unterminated += std::string(200 - 4 - unterminated.size(), 'x');
  cases.push_back({"200 bytes without terminator", be32(200) + unterminated});
  // Clients that stop sending: closed after authentication_timeout.
  cases.push_back({"truncated packet", be32(100) + be16(3) + be16(0) + "user\0"s});
  cases.push_back({"nothing at all", ""});
  // A cancel request for a session that does not exist: nothing to cancel, nothing to answer.
  cases.push_back(
      {"bogus cancel request", be32(16) + be16(1234) + be16(5678) + be32(4242) + be32(0xdeadbeef)});
  return cases;
}

TEST_P(StartupTest, MalformedStartupPacketsAreRefusedWithoutHarm) {
  // A short authentication_timeout bounds the wait for a packet that announces more bytes than
  // it sends.
  auto started = start_pgquay({.extra_conf = "authentication_timeout = 2s\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto bystander = connect_pooled("trust_user");
  ASSERT_TRUE(bystander) << describe(bystander.error());

  for (const Malformed& bad : malformed_startups()) {
    SCOPED_TRACE(bad.name);
    auto reply = send_raw(pgquay().port(), bad.bytes, 15s);
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_TRUE(reply->closed) << "pgquay kept the connection open; received "
                               << reply->bytes.size() << " bytes";
    if (!reply->bytes.empty()) {
      EXPECT_EQ(reply->bytes.front(), 'E')
          << "answer starts with 0x" << std::hex
          << static_cast<int>(static_cast<unsigned char>(reply->bytes.front()));
    }
    EXPECT_EQ(select_one(bystander), "1") << "the connected client broke";
    ASSERT_TRUE(pgquay().running()) << "pgquay's main process died";
  }
  // New clients are still served, by libpq and by psql.
  EXPECT_EQ(select_one(connect_pooled("trust_user")), "1");
  auto psql = run_program({pg_program("psql"), "-X", "-At", "-h", pgquay().host(), "-p",
                           std::to_string(pgquay().port()), "-U", "trust_user", "-d",
                           std::string(kDb), "-c", "select 'psql ok'"},
                          60s);
  ASSERT_TRUE(psql) << psql.error().message;
  EXPECT_TRUE(psql->exited_ok()) << psql->describe();
  EXPECT_EQ(psql->output, "psql ok\n");
}

TEST_P(StartupTest, ProtocolErrorsAnswerWithAnErrorResponse) {
  // Answers PostgreSQL itself gives: a client must learn why it was refused.
  using namespace std::string_literals;
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  for (const Malformed& bad :
       {Malformed{"protocol 1.0", startup_packet(1, 0, "user\0trust_user\0\0"s)},
        Malformed{"protocol 4.0", startup_packet(4, 0, "user\0trust_user\0\0"s)},
        Malformed{"no user", startup_packet(3, 0, "database\0pgquay_test\0\0"s)}}) {
    SCOPED_TRACE(bad.name);
    auto reply = send_raw(pgquay().port(), bad.bytes, 10s);
    ASSERT_TRUE(reply) << reply.error().message;
    ASSERT_FALSE(reply->bytes.empty()) << "closed without an ErrorResponse";
    EXPECT_EQ(reply->bytes.front(), 'E');
  }
}

// ---- pgquay_hba.conf --------------------------------------------------------------------------

TEST_P(StartupTest, HbaRejectRuleRefusesWith28000) {
  auto started = start_pgquay({.hba = "host all trust_user all reject\nhost all all all trust\n"});
  ASSERT_TRUE(started) << started.error().message;
  for (const std::string& conninfo :
       {pooled_conninfo("trust_user"), socket_conninfo("trust_user")}) {
    auto refused = connect(conninfo);
    ASSERT_FALSE(refused) << conninfo << ": admitted despite a reject rule";
    EXPECT_EQ(refused.error().sqlstate, "28000") << describe(refused.error());
  }
  EXPECT_EQ(select_one(connect_pooled("postgres")), "1") << "the trust rule below was not used";
}

TEST_P(StartupTest, ClientMatchingNoHbaRuleIsRefusedWith28000) {
  auto started =
      start_pgquay({.hba = "host postgres all all trust\nhost all postgres all trust\n"});
  ASSERT_TRUE(started) << started.error().message;
  auto refused = connect_pooled("trust_user");
  ASSERT_FALSE(refused) << "admitted without a matching rule";
  EXPECT_EQ(refused.error().sqlstate, "28000") << describe(refused.error());
  EXPECT_EQ(select_one(connect_pooled("trust_user", "", "postgres")), "1");
  EXPECT_EQ(select_one(connect_pooled("postgres")), "1");
}

// ---- PostgreSQL's own refusals ---------------------------------------------------------------

TEST_P(StartupTest, PostgresLoginErrorsReachTheClientAndFreeTheSlot) {
  // One slot: a failed login that kept it would lock everyone out.
  auto started = start_pgquay({.extra_conf = "max_connections = 1\nblocking_timeout = 5\n"});
  ASSERT_TRUE(started) << started.error().message;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto no_database = connect_pooled("trust_user", "", "no_such_database");
    ASSERT_FALSE(no_database);
    EXPECT_EQ(no_database.error().sqlstate, "3D000") << describe(no_database.error());
    // PostgreSQL asks an unknown role for a password (the harness's pg_hba.conf says
    // scram-sha-256) and does not tell it apart from a wrong password.
    auto no_role = connect_pooled("no_such_role", "some-password");
    ASSERT_FALSE(no_role);
    EXPECT_EQ(no_role.error().sqlstate, "28P01") << describe(no_role.error());
    EXPECT_EQ(select_one(connect_pooled("trust_user")), "1");
  }
}

// ---- password authentication ------------------------------------------------------------------

struct PasswordUser {
  std::string_view user;
  std::string_view password;
};
constexpr PasswordUser kPasswordUsers[] = {{"md5_user", "md5_pass"}, {"scram_user", "scram_pass"}};

// Right passwords work over TCP and the Unix socket, wrong ones get 28P01, missing ones fail.
void expect_password_checks(const PoolerTest& test, std::string_view hba_name) {
  for (const PasswordUser& account : kPasswordUsers) {
    SCOPED_TRACE(std::string(account.user) + " with hba " + std::string(hba_name));
    // Twice each: the second round runs while the first connection may sit in the pool.
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(select_one(connect(test.pooled_conninfo(account.user, account.password))), "1");
      EXPECT_EQ(select_one(connect(test.socket_conninfo(account.user, account.password))), "1");
      auto wrong = connect(test.pooled_conninfo(account.user, "wrong-password"));
      ASSERT_FALSE(wrong) << "a wrong password was accepted (round " << round << ")";
      EXPECT_EQ(wrong.error().sqlstate, "28P01") << describe(wrong.error());
      auto none = connect(test.pooled_conninfo(account.user));
      EXPECT_FALSE(none) << "no password was accepted (round " << round << ")";
    }
  }
}

TEST_P(StartupTest, PasswordUsersAuthenticateWithHbaMethodAll) {
  auto started = start_pgquay({.hba = pass_through_hba()});
  ASSERT_TRUE(started) << started.error().message;
  expect_password_checks(*this, "all");
  EXPECT_EQ(select_one(connect_pooled("trust_user")), "1");
}

TEST_P(StartupTest, PasswordUsersAuthenticateWithTheirOwnHbaMethods) {
  auto started = start_pgquay({.hba = "host all md5_user all md5\n"
                                      "host all scram_user all scram-sha-256\n"
                                      "host all all all trust\n"});
  ASSERT_TRUE(started) << started.error().message;
  expect_password_checks(*this, "md5/scram-sha-256");
}

TEST_P(StartupTest, PooledPasswordSessionIsNotGivenToAWrongPassword) {
  // A small pool, so the connection the right password opened is likely the one handed out next.
  auto started = start_pgquay(
      {.extra_conf = "max_connections = 2\nblocking_timeout = 5\n", .hba = pass_through_hba()});
  ASSERT_TRUE(started) << started.error().message;
  for (const PasswordUser& account : kPasswordUsers) {
    SCOPED_TRACE(account.user);
    EXPECT_EQ(select_one(connect_pooled(account.user, account.password)), "1");
    auto wrong = connect_pooled(account.user, "wrong-password");
    ASSERT_FALSE(wrong) << "the pooled session was handed to a wrong password";
    EXPECT_EQ(wrong.error().sqlstate, "28P01") << describe(wrong.error());
    EXPECT_EQ(select_one(connect_pooled(account.user, account.password)), "1");
  }
}

}  // namespace
}  // namespace pgquay::test
