#include "pgquay/security/users_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>

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

// Fixture made with the OpenSSL command line, independently of our code:
//   printf 'secretpassword' |
//       openssl enc -aes-256-cbc -md sha1 -nosalt -pass pass:pgagroal-master-key-123 -base64 -A
constexpr std::string_view kPgagroalKey = "pgagroal-master-key-123";
constexpr std::string_view kPgagroalAlice = "TRiNRbg093oXKbMEUtDU3A==";  // "secretpassword"
constexpr std::string_view kPgagroalBob = "0JR2Ccl/388x0pUd/DxhRw==";    // "another one!"

class UsersFileTest : public ::testing::Test {
 protected:
  // Key derivation is deliberately slow; make each key once.
  static void SetUpTestSuite() {
    key_a_ = std::make_unique<MasterKey>("key A for the tests", KeySource::pgquay, "");
    key_b_ = std::make_unique<MasterKey>("key B for the tests", KeySource::pgquay, "");
    pgagroal_ = std::make_unique<MasterKey>(std::string(kPgagroalKey), KeySource::pgagroal, "");
  }
  static void TearDownTestSuite() {
    key_a_.reset();
    key_b_.reset();
    pgagroal_.reset();
  }
  static inline std::unique_ptr<MasterKey> key_a_;
  static inline std::unique_ptr<MasterKey> key_b_;
  static inline std::unique_ptr<MasterKey> pgagroal_;
  TempDir dir_;
};

TEST_F(UsersFileTest, CipherRoundTripWithFreshIvs) {
  auto one = encrypt_password("alice", "s3cret", *key_a_);
  auto two = encrypt_password("alice", "s3cret", *key_a_);
  ASSERT_TRUE(one && two);
  EXPECT_TRUE(one->starts_with(kEntryPrefix));
  EXPECT_NE(*one, *two);  // a fresh IV per encryption
  auto plain = decrypt_password("alice", *one, *key_a_);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->password, "s3cret");
  EXPECT_EQ(plain->format, EntryFormat::pgquay_gcm);
}

TEST_F(UsersFileTest, CipherDetectsWrongKeyTamperingAndSwappedUsers) {
  auto field = encrypt_password("alice", "s3cret", *key_a_);
  ASSERT_TRUE(field);
  auto wrong_key = decrypt_password("alice", *field, *key_b_);
  ASSERT_FALSE(wrong_key);
  EXPECT_TRUE(contains(wrong_key.error().message, "wrong master key"));
  EXPECT_FALSE(decrypt_password("bob", *field, *key_a_));  // line copied onto another user

  // Flip one bit in each part of the entry: IV, ciphertext, tag.
  auto raw = base64_decode(field->substr(kEntryPrefix.size()));
  ASSERT_TRUE(raw);
  for (std::size_t at : {std::size_t{0}, std::size_t{12}, raw->size() - 1}) {
    Bytes damaged = *raw;
    damaged[at] ^= 0x01;
    std::string tampered = std::string(kEntryPrefix) + base64_encode(damaged);
    EXPECT_FALSE(decrypt_password("alice", tampered, *key_a_)) << "byte " << at;
  }
  auto truncated = decrypt_password("alice", std::string(kEntryPrefix) + "AAAA", *key_a_);
  ASSERT_FALSE(truncated);
  EXPECT_TRUE(contains(truncated.error().message, "too short"));
}

TEST_F(UsersFileTest, PgagroalFormatDecrypts) {
  auto alice = decrypt_password("alice", kPgagroalAlice, *pgagroal_);
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_EQ(alice->password, "secretpassword");
  EXPECT_EQ(alice->format, EntryFormat::pgagroal_cbc);
  // Our writer for that format agrees byte for byte with `openssl enc`.
  auto again = encrypt_password_pgagroal("secretpassword", kPgagroalKey);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, kPgagroalAlice);
  auto wrong = decrypt_password("alice", kPgagroalAlice, *key_a_);
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(contains(wrong.error().message, "wrong master key"));
}

TEST_F(UsersFileTest, PgagroalUsersFileWithItsMasterKeyFile) {
  // A home as pgagroal-admin leaves it: ~/.pgagroal/master.key and a users file.
  ASSERT_EQ(::mkdir(dir_.file(".pgagroal").c_str(), 0700), 0);
  write_file(dir_.file(".pgagroal/master.key"), base64_encode(as_bytes(kPgagroalKey)));
  std::string path = dir_.file("pgagroal_users.conf");
  write_file(path,
             "alice:" + std::string(kPgagroalAlice) + "\nbob:" + std::string(kPgagroalBob) + "\n");
  auto key = find_master_key(dir_.path());
  ASSERT_TRUE(key) << key.error().message;
  auto file = UsersFile::read(path, *key);
  ASSERT_TRUE(file) << file.error().message;
  auto passwords = file->passwords();
  EXPECT_EQ(passwords.size(), 2u);
  EXPECT_EQ(passwords["alice"], "secretpassword");
  EXPECT_EQ(passwords["bob"], "another one!");

  // Changing bob re-encrypts only bob, in pgquay's format; alice's line stays byte for byte.
  ASSERT_TRUE(file->set_password("bob", "new one", *key));
  ASSERT_TRUE(file->write(path));
  std::string text = read_file(path);
  EXPECT_TRUE(text.starts_with("alice:" + std::string(kPgagroalAlice) + "\nbob:pgq1$")) << text;
  auto reread = UsersFile::read(path, *key);
  ASSERT_TRUE(reread) << reread.error().message;
  EXPECT_EQ(reread->find("bob")->password, "new one");
  EXPECT_EQ(reread->find("bob")->format, EntryFormat::pgquay_gcm);
  EXPECT_EQ(reread->find("alice")->format, EntryFormat::pgagroal_cbc);
}

TEST_F(UsersFileTest, AddEditRemoveWriteRead) {
  std::string path = dir_.file("pgquay_users.conf");
  auto parsed = UsersFile::parse("# users for pgquay\n\n", path, *key_a_);
  ASSERT_TRUE(parsed);
  UsersFile file = std::move(*parsed);
  ASSERT_TRUE(file.add("alice", "pw-alice", *key_a_));
  ASSERT_TRUE(file.add("bob", "pw bob with spaces", *key_a_));
  ASSERT_TRUE(file.add("carol", "pw:carol#x", *key_a_));
  EXPECT_FALSE(file.add("bob", "again", *key_a_));
  ASSERT_TRUE(file.set_password("alice", "pw-alice-2", *key_a_));
  EXPECT_FALSE(file.set_password("dave", "x", *key_a_));
  ASSERT_TRUE(file.remove("carol"));
  EXPECT_FALSE(file.remove("carol"));
  ASSERT_TRUE(file.write(path));
  EXPECT_EQ(mode_of(path), 0600u);

  std::string text = read_file(path);
  EXPECT_TRUE(text.starts_with("# users for pgquay\n\nalice:pgq1$")) << text;
  EXPECT_FALSE(contains(text, "pw-alice"));
  auto reread = UsersFile::read(path, *key_a_);
  ASSERT_TRUE(reread) << reread.error().message;
  ASSERT_EQ(reread->size(), 2u);
  EXPECT_EQ(reread->entries()[0]->user, "alice");
  EXPECT_EQ(reread->entries()[0]->password, "pw-alice-2");
  EXPECT_EQ(reread->entries()[0]->line, 3);
  EXPECT_EQ(reread->find("bob")->password, "pw bob with spaces");
  EXPECT_EQ(reread->find("carol"), nullptr);
  EXPECT_EQ(reread->text(), text);  // parse + text is the identity

  // Read with another key: the first entry names the problem.
  auto wrong = UsersFile::read(path, *key_b_);
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(contains(wrong.error().message, path + ":3: user 'alice': cannot decrypt: wrong "
                                                     "master key"))
      << wrong.error().message;
}

TEST_F(UsersFileTest, RejectsInvalidNamesAndPasswords) {
  UsersFile file;
  for (std::string_view bad : {"", "a:b", "#root", ";x", " lead", "tab\there", "nl\n"}) {
    EXPECT_FALSE(file.add(bad, "pw", *key_a_)) << bad;
  }
  EXPECT_FALSE(file.add("alice", "", *key_a_));
  EXPECT_FALSE(file.add("alice", std::string("nul\0byte", 8), *key_a_));
  EXPECT_FALSE(file.add("alice", "line\nbreak", *key_a_));
  EXPECT_TRUE(file.add("name with spaces", "pw", *key_a_));
  EXPECT_TRUE(file.add("ünïcode", "pässwörd", *key_a_));
}

TEST_F(UsersFileTest, ErrorsNameFileAndLine) {
  auto good = encrypt_password("alice", "pw", *key_a_);
  ASSERT_TRUE(good);
  std::string alice = "alice:" + *good;
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string path = "/etc/pgquay/pgquay_users.conf";
  for (const Case& c : std::vector<Case>{
           {"# comment\n\nno separator here\n", path + ":3: expected user:encrypted-password"},
           {":" + *good + "\n", path + ":1: empty user name"},
           {"alice:\n", path + ":1: no encrypted password"},
           {"alice:pgq1$not*base64\n", path + ":1: user 'alice': not base64"},
           {"alice:%%%%\n", path + ":1: user 'alice': not base64"},
           {alice + "\n;x\n" + alice + "\n", path + ":3: duplicate user 'alice' (first on line 1)"},
           {"bob:" + *good + "\n", path + ":1: user 'bob': cannot decrypt"},
           {"  alice:" + *good + "\n", path + ":1: user name starts with a blank"},
       }) {
    auto file = UsersFile::parse(c.text, path, *key_a_);
    ASSERT_FALSE(file) << c.text;
    EXPECT_TRUE(file.error().message.starts_with(c.expected))
        << "got: " << file.error().message << "\nwanted: " << c.expected;
  }
  // Windows line ends and trailing blanks are tolerated.
  auto crlf = UsersFile::parse("# c\r\n" + alice + " \r\n", path, *key_a_);
  ASSERT_TRUE(crlf) << crlf.error().message;
  EXPECT_EQ(crlf->find("alice")->password, "pw");
}

TEST_F(UsersFileTest, RefusesLoosePermissionsAndMissingFile) {
  std::string path = dir_.file("users.conf");
  auto missing = UsersFile::read(path, *key_a_);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error().message, path));

  UsersFile file;
  ASSERT_TRUE(file.add("alice", "pw", *key_a_));
  ASSERT_TRUE(file.write(path));
  for (mode_t mode : {0640, 0644, 0602, 0606}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto loose = UsersFile::read(path, *key_a_);
    ASSERT_FALSE(loose) << std::oct << mode;
    EXPECT_TRUE(contains(loose.error().message, path + " has mode 0")) << loose.error().message;
    EXPECT_TRUE(contains(loose.error().message, "chmod 600 " + path));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(UsersFile::read(path, *key_a_));
  // Rewriting restores 0600 and keeps no temporary file around.
  ASSERT_TRUE(file.write(path));
  EXPECT_EQ(mode_of(path), 0600u);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

}  // namespace
}  // namespace pgquay::security
