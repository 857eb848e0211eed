#include "pgquay/security/master_key.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "temp_dir.hpp"

namespace pgquay::security {
namespace {

using test::mode_of;
using test::read_file;
using test::TempDir;
using test::write_file;

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(MasterKey, CreateWritesBase64KeyPrivately) {
  TempDir home;
  auto path = create_master_key(home.path(), "a master key of mine");
  ASSERT_TRUE(path) << path.error().message;
  EXPECT_EQ(*path, home.path() + "/.pgquay/master.key");
  EXPECT_EQ(mode_of(home.path() + "/.pgquay"), 0700u);
  EXPECT_EQ(mode_of(*path), 0600u);
  EXPECT_EQ(read_file(*path), base64_encode(as_bytes("a master key of mine")));

  auto key = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->text(), "a master key of mine");
  EXPECT_EQ(key->source(), KeySource::pgquay);
  EXPECT_EQ(key->path(), *path);
  EXPECT_EQ(key->users_file_key(),
            pbkdf2_sha256(as_bytes("a master key of mine"), as_bytes(kUsersFileKdfSalt),
                          kUsersFileKdfIterations));
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(home.path() + "/.pgquay")) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(MasterKey, CreateRefusesExistingShortAndLooseDirectory) {
  TempDir home;
  ASSERT_TRUE(create_master_key(home.path(), "first key!"));
  auto again = create_master_key(home.path(), "second key");
  ASSERT_FALSE(again);
  EXPECT_TRUE(contains(again.error().message, "already exists")) << again.error().message;
  auto key = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->text(), "first key!");

  TempDir other;
  auto short_key = create_master_key(other.path(), "1234567");
  ASSERT_FALSE(short_key);
  EXPECT_TRUE(contains(short_key.error().message, "at least 8"));
  EXPECT_FALSE(create_master_key(other.path(), "line\nbreak"));

  ASSERT_EQ(::mkdir((other.path() + "/.pgquay").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((other.path() + "/.pgquay").c_str(), 0755), 0);
  auto loose = create_master_key(other.path(), "long enough key");
  ASSERT_FALSE(loose);
  EXPECT_TRUE(contains(loose.error().message, other.path() + "/.pgquay has mode 0755"))
      << loose.error().message;
}

TEST(MasterKey, RefusesLoosePermissions) {
  TempDir home;
  ASSERT_TRUE(create_master_key(home.path(), "a master key of mine"));
  std::string file = home.path() + "/.pgquay/master.key";
  std::string dir = home.path() + "/.pgquay";

  for (mode_t mode : {0644, 0640, 0604, 0660, 0700}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    auto key = read_master_key(home.path(), KeySource::pgquay);
    if (mode == 0700) {
      EXPECT_TRUE(key) << "owner-only modes are accepted";
      continue;
    }
    ASSERT_FALSE(key) << std::oct << mode;
    EXPECT_TRUE(contains(key.error().message, file)) << key.error().message;
    EXPECT_TRUE(contains(key.error().message, "chmod 600")) << key.error().message;
  }
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0750), 0);
  auto key = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_FALSE(key);
  EXPECT_TRUE(contains(key.error().message, dir + " has mode 0750")) << key.error().message;
  EXPECT_TRUE(contains(key.error().message, "chmod 700")) << key.error().message;
}

TEST(MasterKey, RefusesSymlinkAndBadContent) {
  TempDir home;
  ASSERT_TRUE(create_master_key(home.path(), "a master key of mine"));
  std::string file = home.path() + "/.pgquay/master.key";
  std::string elsewhere = home.file("elsewhere.key");
  write_file(elsewhere, base64_encode(as_bytes("another key")));
  ASSERT_EQ(::unlink(file.c_str()), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), file.c_str()), 0);
  auto link = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_FALSE(link);
  EXPECT_TRUE(contains(link.error().message, "symbolic link")) << link.error().message;

  ASSERT_EQ(::unlink(file.c_str()), 0);
  write_file(file, "not base64!");
  auto bad = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error().message, file)) << bad.error().message;
  EXPECT_TRUE(contains(bad.error().message, "not base64")) << bad.error().message;

  write_file(file, "");
  EXPECT_FALSE(read_master_key(home.path(), KeySource::pgquay));
  // A trailing newline (an editor's) is fine.
  write_file(file, base64_encode(as_bytes("edited key")) + "\n");
  auto edited = read_master_key(home.path(), KeySource::pgquay);
  ASSERT_TRUE(edited) << edited.error().message;
  EXPECT_EQ(edited->text(), "edited key");
}

TEST(MasterKey, FindPrefersOursThenPgagroal) {
  TempDir home;
  auto none = find_master_key(home.path());
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error().message, home.path() + "/.pgquay/master.key"));
  EXPECT_TRUE(contains(none.error().message, home.path() + "/.pgagroal/master.key"));
  EXPECT_TRUE(contains(none.error().message, "pgquay-admin master-key"));

  // pgagroal-admin writes the base64 key without a newline.
  ASSERT_EQ(::mkdir((home.path() + "/.pgagroal").c_str(), 0700), 0);
  write_file(home.path() + "/.pgagroal/master.key", "cGdhZ3JvYWwtbWFzdGVyLWtleS0xMjM=");
  auto pgagroal = find_master_key(home.path());
  ASSERT_TRUE(pgagroal) << pgagroal.error().message;
  EXPECT_EQ(pgagroal->source(), KeySource::pgagroal);
  EXPECT_EQ(pgagroal->text(), "pgagroal-master-key-123");

  ASSERT_TRUE(create_master_key(home.path(), "ours, not theirs"));
  auto ours = find_master_key(home.path());
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->source(), KeySource::pgquay);
  EXPECT_EQ(ours->text(), "ours, not theirs");

  // A broken key of ours is reported, not silently replaced by pgagroal's.
  ASSERT_EQ(::chmod((home.path() + "/.pgquay/master.key").c_str(), 0644), 0);
  auto broken = find_master_key(home.path());
  ASSERT_FALSE(broken);
  EXPECT_TRUE(contains(broken.error().message, ".pgquay/master.key"));
}

TEST(MasterKey, HomeDirectoryFromEnvironment) {
  const char* saved = std::getenv("HOME");
  std::string saved_value = saved != nullptr ? saved : "";
  ::setenv("HOME", "/some/where", 1);
  auto home = home_directory();
  ASSERT_TRUE(home);
  EXPECT_EQ(*home, "/some/where");
  ::unsetenv("HOME");
  auto from_passwd = home_directory();  // the password database's entry for this uid
  EXPECT_TRUE(from_passwd) << from_passwd.error().message;
  if (saved != nullptr) ::setenv("HOME", saved_value.c_str(), 1);
}

TEST(MasterKey, MoveWipesTheSource) {
  MasterKey a("secret key text", KeySource::pgquay, "");
  MasterKey b(std::move(a));
  EXPECT_EQ(b.text(), "secret key text");
  EXPECT_TRUE(a.text().empty());  // NOLINT(bugprone-use-after-move): checking the wipe
  EXPECT_EQ(a.users_file_key(), Sha256{});
}

}  // namespace
}  // namespace pgquay::security
