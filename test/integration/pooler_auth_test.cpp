// pgquay-side authentication against the harness PostgreSQL (trust_user, md5_user/md5_pass,
// scram_user/scram_pass): SCRAM-SHA-256, md5 and password verified by pgquay with right and wrong
// passwords; unknown users with allow_unknown_users on (pass-through) and off (same failure as a
// wrong password); pooled SCRAM connections reused across clients; pgquay logging in to
// PostgreSQL with scram-sha-256 and md5 from the users file; the transaction pipeline opening
// connections without a client; reject rules; the authentication timeout with half a SCRAM
// exchange; and startup errors for a users file with loose permissions or a wrong master key.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/postgres_environment.hpp"
#include "pgquay/security/master_key.hpp"
#include "pgquay/security/users_file.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMasterKey = "pgquay-test-master-key-0123456789";
constexpr std::string_view kDb = PostgresServer::kDatabase;

// A users file encrypted with `key_text`, as pgquay-admin would write it.
std::string users_file(const std::vector<std::pair<std::string, std::string>>& entries,
                       std::string_view key_text = kMasterKey) {
  security::MasterKey key(std::string(key_text), security::KeySource::pgquay, "");
  security::UsersFile file;
  for (const auto& [user, password] : entries) {
    auto added = file.add(user, password, key);
    EXPECT_TRUE(added) << added.error().message;
  }
  return file.text();
}

// What pgquay knows by default: the harness roles' real passwords.
std::string default_users() {
  return users_file(
      {{"scram_user", "scram_pass"}, {"md5_user", "md5_pass"}, {"trust_user", "trust_pass"}});
}

std::string expected_failure(std::string_view user) {
  return "password authentication failed for user \"" + std::string(user) + "\"";
}

class AuthTest : public PoolerTest {
 protected:
  [[nodiscard]] Result<void> start_auth(std::string hba, std::string extra = {},
                                        std::string users = default_users()) {
    PoolerSettings settings;
    settings.hba = std::move(hba);
    settings.extra_conf = std::move(extra);
    settings.users = std::move(users);
    settings.master_key = std::string(kMasterKey);
    return start_pgquay(std::move(settings));
  }

  // Connects and expects pgquay's generic failure, after the fixed delay.
  void expect_auth_failure(std::string_view user, std::string_view password) {
    const auto started = Clock::now();
    auto conn = connect_pooled(user, password);
    const auto elapsed = Clock::now() - started;
    ASSERT_FALSE(conn) << user << " connected with password '" << password << "'";
    EXPECT_EQ(conn.error().sqlstate, "28P01") << describe(conn.error());
    EXPECT_NE(conn.error().message.find(expected_failure(user)), std::string::npos)
        << conn.error().message;
    EXPECT_GE(elapsed, 400ms) << "a failure must come after the fixed delay";
  }

  void expect_connects_as(std::string_view user, std::string_view password) {
    auto conn = connect_pooled(user, password);
    ASSERT_TRUE(conn) << user << ": " << describe(conn.error());
    EXPECT_EQ(scalar_or_error(conn->get(), "select current_user"), user);
  }

  [[nodiscard]] PgConnPtr monitor() const {
    auto conn = connect(postgres().conninfo("postgres"));
    EXPECT_TRUE(conn) << describe(conn.error());
    return conn ? std::move(*conn) : nullptr;
  }

  [[nodiscard]] bool log_contains(std::string_view text) const {
    return pgquay().log_text().find(text) != std::string::npos;
  }
};

TEST_P(AuthTest, ScramAtPgquay) {
  auto started = start_auth("host all all all scram-sha-256\n");
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("scram_user", "scram_pass");
  // PostgreSQL wants md5 for md5_user: pgquay answers it with the users file's password.
  expect_connects_as("md5_user", "md5_pass");
  expect_auth_failure("scram_user", "wrong");
  expect_auth_failure("md5_user", "scram_pass");
  EXPECT_TRUE(
      wait_until([&] { return log_contains("authentication failed: user=scram_user"); }, 5s))
      << pgquay().log_text();
}

TEST_P(AuthTest, Md5AtPgquay) {
  auto started = start_auth("host all all all md5\n");
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("md5_user", "md5_pass");
  // PostgreSQL wants SCRAM for scram_user: pgquay logs in with SCRAM while the client used md5.
  expect_connects_as("scram_user", "scram_pass");
  expect_auth_failure("md5_user", "wrong");
}

TEST_P(AuthTest, PasswordAtPgquay) {
  auto started = start_auth("host all all all password\n");
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("scram_user", "scram_pass");
  expect_connects_as("trust_user", "trust_pass");
  expect_auth_failure("scram_user", "scram_pas");
  expect_auth_failure("trust_user", "scram_pass");
}

TEST_P(AuthTest, AllMeansScramForKnownUsers) {
  auto started = start_auth("host all all all all\n");
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("md5_user", "md5_pass");
  expect_auth_failure("md5_user", "nope");
}

TEST_P(AuthTest, UnknownUsersRefusedLikeWrongPasswords) {
  auto started =
      start_auth("host all all all scram-sha-256\nhost all all all md5\n",
                 "allow_unknown_users = off\n", users_file({{"scram_user", "scram_pass"}}));
  ASSERT_TRUE(started) << started.error().message;
  // Known to PostgreSQL but not to pgquay, and known to neither: both fail like a wrong password.
  expect_auth_failure("md5_user", "md5_pass");
  expect_auth_failure("ghost_user", "whatever");
  expect_auth_failure("scram_user", "wrong");
  expect_connects_as("scram_user", "scram_pass");
}

TEST_P(AuthTest, UnknownUsersMd5RefusedLikeWrongPasswords) {
  auto started = start_auth("host all all all md5\n", "allow_unknown_users = off\n",
                            users_file({{"md5_user", "md5_pass"}}));
  ASSERT_TRUE(started) << started.error().message;
  expect_auth_failure("ghost_user", "whatever");
  expect_auth_failure("md5_user", "wrong");
  expect_connects_as("md5_user", "md5_pass");
}

TEST_P(AuthTest, UnknownUsersPassThroughWhenAllowed) {
  auto started = start_auth("host all all all md5\n", "allow_unknown_users = on\n",
                            users_file({{"scram_user", "scram_pass"}}));
  ASSERT_TRUE(started) << started.error().message;
  // md5_user is not in the users file: PostgreSQL authenticates the client on a fresh connection.
  expect_connects_as("md5_user", "md5_pass");
  auto refused = connect_pooled("md5_user", "wrong");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().sqlstate, "28P01") << describe(refused.error());
  EXPECT_TRUE(
      wait_until([&] { return log_contains("PostgreSQL refused the client's password"); }, 5s))
      << pgquay().log_text();
}

TEST_P(AuthTest, PooledScramConnectionReusedAcrossClients) {
  auto started = start_auth("host all all all scram-sha-256\n", "max_connections = 1\n");
  ASSERT_TRUE(started) << started.error().message;
  int first_pid = 0;
  {
    auto conn = connect_pooled("scram_user", "scram_pass");
    ASSERT_TRUE(conn) << describe(conn.error());
    first_pid = PQbackendPID(conn->get());
    EXPECT_EQ(scalar_or_error(conn->get(), "select pg_backend_pid()"), std::to_string(first_pid));
  }
  // One connection only: the second client waits for it and gets the same backend.
  auto conn = connect_pooled("scram_user", "scram_pass");
  ASSERT_TRUE(conn) << describe(conn.error());
  EXPECT_EQ(PQbackendPID(conn->get()), first_pid);
  EXPECT_EQ(scalar_or_error(conn->get(), "select pg_backend_pid()"), std::to_string(first_pid));
  auto watch = monitor();
  ASSERT_TRUE(watch);
  EXPECT_EQ(scalar_or_error(watch.get(),
                            "select count(*) from pg_stat_activity where usename = 'scram_user'"),
            "1");
}

TEST_P(AuthTest, PgquayLogsInWithTheUsersFile) {
  // pgquay trusts the client; PostgreSQL wants scram-sha-256 and md5 and gets them from pgquay.
  auto started = start_auth("host all all all trust\n");
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("scram_user", "");
  expect_connects_as("md5_user", "");
}

TEST_P(AuthTest, PostgresRefusingPgquaysPasswordReachesTheClient) {
  auto started = start_auth("host all all all trust\n", {},
                            users_file({{"scram_user", "stale"}, {"md5_user", "stale"}}));
  ASSERT_TRUE(started) << started.error().message;
  for (auto user : {"scram_user", "md5_user"}) {
    auto conn = connect_pooled(user, "");
    ASSERT_FALSE(conn) << user;
    EXPECT_EQ(conn.error().sqlstate, "28P01") << describe(conn.error());
  }
}

TEST_P(AuthTest, FrontendUsersFile) {
  PoolerSettings settings;
  settings.hba = "host all all all scram-sha-256\n";
  settings.users = default_users();
  settings.frontend_users = users_file({{"scram_user", "front_pass"}});
  settings.admins = users_file({{"admin", "admin_pass"}});
  settings.master_key = std::string(kMasterKey);
  auto started = start_pgquay(std::move(settings));
  ASSERT_TRUE(started) << started.error().message;
  expect_connects_as("scram_user", "front_pass");
  expect_auth_failure("scram_user", "scram_pass");
  // Users without a frontend entry use the users file's password.
  expect_connects_as("md5_user", "md5_pass");
}

TEST_P(AuthTest, RejectRule) {
  auto started = start_auth("host all scram_user all reject\nhost all all all scram-sha-256\n");
  ASSERT_TRUE(started) << started.error().message;
  auto conn = connect_pooled("scram_user", "scram_pass");
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().sqlstate, "28000") << describe(conn.error());
  expect_connects_as("md5_user", "md5_pass");
}

TEST_P(AuthTest, HalfAScramExchangeTimesOut) {
  auto started = start_auth("host all all all scram-sha-256\n", "authentication_timeout = 1s\n");
  ASSERT_TRUE(started) << started.error().message;
  std::string body = be32(196608) + "user" + std::string(1, '\0') + "scram_user" +
                     std::string(1, '\0') + "database" + std::string(1, '\0') + std::string(kDb) +
                     std::string(2, '\0');
  std::string startup = be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
  const std::string first = "n,,n=,r=abcdefghijklmnopqrstuvwx";
  std::string sasl = "SCRAM-SHA-256" + std::string(1, '\0') +
                     be32(static_cast<std::uint32_t>(first.size())) + first;
  std::string initial = "p" + be32(static_cast<std::uint32_t>(sasl.size() + 4)) + sasl;
  const auto t0 = Clock::now();
  auto reply = send_raw(pgquay().port(), startup + initial, 10s);
  const auto elapsed = Clock::now() - t0;
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_TRUE(reply->closed) << "pgquay kept the connection open";
  EXPECT_LT(elapsed, 4s);
  EXPECT_GE(elapsed, 900ms);
  // AuthenticationSASL, AuthenticationSASLContinue, then the FATAL.
  ASSERT_GE(reply->bytes.size(), 9U);
  EXPECT_EQ(reply->bytes[0], 'R');
  EXPECT_NE(reply->bytes.find("SCRAM-SHA-256"), std::string::npos);
  EXPECT_NE(reply->bytes.find("r=abcdefghijklmnopqrstuvwx"), std::string::npos);
  EXPECT_NE(reply->bytes.find("canceling authentication due to timeout"), std::string::npos)
      << reply->bytes;
}

TEST_P(AuthTest, OversizedPasswordMessageIsRefused) {
  auto started = start_auth("host all all all scram-sha-256\n");
  ASSERT_TRUE(started) << started.error().message;
  std::string body = be32(196608) + "user" + std::string(1, '\0') + "scram_user" +
                     std::string(1, '\0') + std::string(2, '\0');
  std::string startup = be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
  // Only the header of a 1 MB password message: pgquay must refuse it without waiting for it.
  auto reply = send_raw(pgquay().port(), startup + "p" + be32(1U << 20), 5s);
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_TRUE(reply->closed);
  EXPECT_NE(reply->bytes.find("08P01"), std::string::npos) << reply->bytes;
}

TEST_P(AuthTest, ReloadRereadsTheUsersFile) {
  auto started = start_auth("host all all all scram-sha-256\n");
  ASSERT_TRUE(started) << started.error().message;
  const std::string path = pgquay().dir() + "/pgquay_users.conf";
  // A broken file on reload changes nothing.
  ASSERT_TRUE(write_file(path, "scram_user:not-base64!\n"));
  ::kill(pgquay().pid(), SIGHUP);
  // The error names the file and line (the rest of the wording belongs to the reload code).
  ASSERT_TRUE(wait_until([&] { return log_contains("pgquay_users.conf:1: "); }, 10s))
      << pgquay().log_text();
  expect_connects_as("scram_user", "scram_pass");
  ASSERT_TRUE(write_file(path, users_file({{"scram_user", "scram_pass"}, {"md5_user", "new"}})));
  ::kill(pgquay().pid(), SIGHUP);
  ASSERT_TRUE(wait_until([&] { return log_contains("credentials reloaded"); }, 10s))
      << pgquay().log_text();
  expect_auth_failure("md5_user", "md5_pass");
}

TEST_P(AuthTest, UsersFileWithLoosePermissionsIsAStartupError) {
  PoolerSettings settings;
  settings.users = default_users();
  settings.users_mode = 0644;
  settings.master_key = std::string(kMasterKey);
  auto started = start_pgquay(std::move(settings));
  ASSERT_FALSE(started) << "pgquay started with a users file readable by others";
  EXPECT_NE(started.error().message.find("pgquay_users.conf"), std::string::npos)
      << started.error().message;
  EXPECT_NE(started.error().message.find("0644"), std::string::npos) << started.error().message;
}

TEST_P(AuthTest, WrongMasterKeyIsAStartupError) {
  PoolerSettings settings;
  settings.users = users_file({{"scram_user", "scram_pass"}}, "another-master-key-42");
  settings.master_key = std::string(kMasterKey);
  auto started = start_pgquay(std::move(settings));
  ASSERT_FALSE(started) << "pgquay started with users encrypted under another key";
  EXPECT_NE(started.error().message.find("pgquay_users.conf:1"), std::string::npos)
      << started.error().message;
}

TEST_P(AuthTest, MissingMasterKeyIsAStartupError) {
  PoolerSettings settings;
  settings.users = default_users();
  auto started = start_pgquay(std::move(settings));
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("master.key"), std::string::npos)
      << started.error().message;
}

INSTANTIATE_POOLER_TEST_SUITE(AuthTest);

// The transaction pipeline opens server connections for later transactions without the client:
// with the users file pgquay logs in itself.
class AuthTransactionTest : public AuthTest {};

TEST_P(AuthTransactionTest, NewConnectionsWithoutTheClient) {
  constexpr int kClients = 4;
  auto started = start_auth("host all all all scram-sha-256\n",
                            "max_connections = " + std::to_string(kClients + 2) + "\n");
  ASSERT_TRUE(started) << started.error().message;
  std::vector<PgConnPtr> clients;
  for (int i = 0; i < kClients; ++i) {
    auto conn = connect_pooled("scram_user", "scram_pass");
    ASSERT_TRUE(conn) << describe(conn.error());
    clients.push_back(std::move(*conn));
  }
  for (int round = 0; round < 5; ++round) {
    // Every client inside a transaction at once: each needs its own connection, and after the
    // first logins (which reuse one pooled connection) pgquay must open the others alone.
    for (auto& c : clients) ASSERT_TRUE(exec(c.get(), "begin")) << round;
    for (auto& c : clients) {
      EXPECT_EQ(scalar_or_error(c.get(), "select current_user"), "scram_user");
    }
    for (auto& c : clients) ASSERT_TRUE(exec(c.get(), "commit"));
  }
  auto watch = monitor();
  ASSERT_TRUE(watch);
  EXPECT_EQ(scalar_or_error(watch.get(), "select count(*) >= " + std::to_string(kClients) +
                                             " from pg_stat_activity where usename = 'scram_user'"),
            "t");
}

TEST_P(AuthTransactionTest, NoPasswordForALaterConnectionIs08004) {
  // pgquay trusts the clients but has no password for md5_user: the first client's login is
  // relayed to it; a later connection opened for a transaction cannot be.
  auto started = start_auth("host all all all trust\n", "max_connections = 4\n",
                            users_file({{"scram_user", "scram_pass"}}));
  ASSERT_TRUE(started) << started.error().message;
  auto a = connect_pooled("md5_user", "md5_pass");
  ASSERT_TRUE(a) << describe(a.error());
  auto watch = monitor();
  ASSERT_TRUE(watch);
  const std::string count_sql = "select count(*) from pg_stat_activity where usename = 'md5_user'";
  auto b = connect_pooled("md5_user", "md5_pass");
  ASSERT_TRUE(b) << describe(b.error());
  if (scalar_or_error(watch.get(), count_sql) != "1")
    GTEST_SKIP() << "the second login did not reuse the first one's connection";
  ASSERT_TRUE(exec(a->get(), "begin"));
  // The first result is pgquay's FATAL (PQexec would report the closed connection after it).
  ASSERT_EQ(PQsendQuery(b->get(), "select 1"), 1);
  auto refused = next_result(b->get(), 20s);
  ASSERT_TRUE(refused) << describe(refused.error());
  ASSERT_TRUE(*refused);
  EXPECT_EQ(result_sqlstate(refused->get()), "08004");
  const char* primary = PQresultErrorField(refused->get(), PG_DIAG_MESSAGE_PRIMARY);
  EXPECT_NE(
      std::string(primary ? primary : "").find("pgquay cannot open another server connection"),
      std::string::npos)
      << PQresultErrorMessage(refused->get());
}

INSTANTIATE_TRANSACTION_TEST_SUITE(AuthTransactionTest);

}  // namespace
}  // namespace pgquay::test
