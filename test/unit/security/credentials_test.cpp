#include "pgquay/security/credentials.hpp"

#include <gtest/gtest.h>

#include "pgquay/security/master_key.hpp"
#include "pgquay/security/scram_exchange.hpp"
#include "pgquay/security/users_file.hpp"
#include "temp_dir.hpp"

namespace pgquay::security {
namespace {

using test::TempDir;
using test::write_file;

constexpr std::string_view kKey = "credentials-test-key";

Bytes secret(std::uint8_t fill = 7) {
  return Bytes(32, fill);
}

std::string users_text(std::initializer_list<std::pair<const char*, const char*>> entries) {
  MasterKey key(std::string(kKey), KeySource::pgquay, "");
  UsersFile file;
  for (auto [user, password] : entries) EXPECT_TRUE(file.add(user, password, key));
  return file.text();
}

// Runs a whole SCRAM exchange of a client knowing `password` against `verifier`.
bool scram_succeeds(const scram::Verifier& verifier, const std::string& password) {
  auto server = scram::ServerExchange::create(verifier);
  auto client = scram::ClientExchange::create(password);
  if (!server || !client) return false;
  auto first = server->handle_client_first(client->mechanism(), client->client_first());
  if (!first) return false;
  auto final_message = client->handle_server_first(*first);
  if (!final_message) return false;
  auto server_final = server->handle_client_final(*final_message);
  return server_final && client->handle_server_final(*server_final).has_value();
}

TEST(Credentials, FrontendPasswordWinsForClients) {
  auto c = Credentials::from_maps({{"a", "users-a"}, {"b", "users-b"}}, {{"a", "front-a"}},
                                  {{"admin", "x"}}, secret());
  ASSERT_NE(c.server_password("a"), nullptr);
  EXPECT_EQ(*c.server_password("a"), "users-a");
  EXPECT_EQ(*c.client_password("a"), "front-a");
  EXPECT_EQ(*c.client_password("b"), "users-b");
  EXPECT_EQ(c.client_password("nobody"), nullptr);
  EXPECT_EQ(c.server_password("admin"), nullptr);
  EXPECT_EQ(c.admins().size(), 1U);
  ASSERT_NE(c.client_verifier("a"), nullptr);
  EXPECT_TRUE(scram_succeeds(*c.client_verifier("a"), "front-a"));
  EXPECT_FALSE(scram_succeeds(*c.client_verifier("a"), "users-a"));
  EXPECT_TRUE(scram_succeeds(*c.client_verifier("b"), "users-b"));
  EXPECT_EQ(c.client_verifier("nobody"), nullptr);
}

TEST(Credentials, KnownAndUnknownSaltsLookAlike) {
  auto c = Credentials::from_maps({{"a", "pw"}}, {}, {}, secret());
  // The known user's salt is the one the mock verifier would show for it: stable, per user.
  EXPECT_EQ(c.client_verifier("a")->salt, c.unknown_verifier("a").salt);
  EXPECT_EQ(c.client_verifier("a")->salt.size(), scram::kSaltSize);
  EXPECT_NE(c.unknown_verifier("x").salt, c.unknown_verifier("y").salt);
  EXPECT_FALSE(scram_succeeds(c.unknown_verifier("x"), ""));
  EXPECT_FALSE(scram_succeeds(c.unknown_verifier("x"), "pw"));
  // A reload with the same secret keeps the salts.
  auto again = Credentials::from_maps({{"a", "new"}}, {}, {}, c.secret());
  EXPECT_EQ(again.client_verifier("a")->salt, c.client_verifier("a")->salt);
}

TEST(Credentials, AssignmentReplacesEverything) {
  auto c = Credentials::from_maps({{"a", "old"}}, {{"f", "old"}}, {}, secret(1));
  c = Credentials::from_maps({{"b", "new"}}, {}, {}, secret(2));
  EXPECT_EQ(c.server_password("a"), nullptr);
  EXPECT_EQ(c.client_password("f"), nullptr);
  EXPECT_EQ(*c.server_password("b"), "new");
  EXPECT_EQ(c.secret(), secret(2));
  EXPECT_TRUE(scram_succeeds(*c.client_verifier("b"), "new"));
}

TEST(Credentials, LoadsFilesWithTheMasterKey) {
  TempDir home;
  ASSERT_TRUE(create_master_key(home.path(), kKey));
  write_file(home.file("users.conf"), users_text({{"a", "pa"}}));
  write_file(home.file("front.conf"), users_text({{"a", "fa"}}));
  write_file(home.file("admins.conf"), users_text({{"admin", "ad"}}));
  auto c = Credentials::load(
      {home.file("users.conf"), home.file("front.conf"), home.file("admins.conf")}, home.path(),
      secret());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c->server_password("a"), "pa");
  EXPECT_EQ(*c->client_password("a"), "fa");
  EXPECT_EQ(c->admins().size(), 1U);
}

TEST(Credentials, NoFilesNeedNoMasterKey) {
  TempDir home;
  auto c = Credentials::load({}, home.path(), secret());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->user_count(), 0U);
}

TEST(Credentials, ErrorsNameTheFile) {
  TempDir home;
  auto no_key = Credentials::load({home.file("users.conf"), "", ""}, home.path(), secret());
  ASSERT_FALSE(no_key);
  EXPECT_NE(no_key.error().message.find("master.key"), std::string::npos);

  ASSERT_TRUE(create_master_key(home.path(), kKey));
  write_file(home.file("loose.conf"), users_text({{"a", "pa"}}), 0644);
  auto loose = Credentials::load({home.file("loose.conf"), "", ""}, home.path(), secret());
  ASSERT_FALSE(loose);
  EXPECT_NE(loose.error().message.find("loose.conf"), std::string::npos) << loose.error().message;

  write_file(home.file("bad.conf"), "# comment\nuser-without-colon\n");
  auto bad = Credentials::load({"", home.file("bad.conf"), ""}, home.path(), secret());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("bad.conf:2"), std::string::npos) << bad.error().message;

  auto missing = Credentials::load({"", "", home.file("none.conf")}, home.path(), secret());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("none.conf"), std::string::npos);
}

}  // namespace
}  // namespace pgquay::security
