#include "pgquay/security/md5.hpp"

#include <gtest/gtest.h>

namespace pgquay::security {
namespace {

// Expected values computed independently with Python's hashlib:
//   "md5" + md5(b"secret" + b"postgres").hexdigest()
//   "md5" + md5(inner_hex.encode() + bytes([1, 2, 3, 4])).hexdigest()
constexpr std::string_view kHash = "md553f48b7c4b76a86ce72276c5755f217d";
constexpr std::string_view kResponse = "md5bb41a296aab6baccb36ff243a562abff";
constexpr Md5Salt kSalt = {1, 2, 3, 4};

TEST(Md5, PasswordHashAsPostgresStoresIt) {
  EXPECT_EQ(md5_password_hash("postgres", "secret"), kHash);
  EXPECT_TRUE(is_md5_password_hash(kHash));
  EXPECT_FALSE(is_md5_password_hash("md553f48b7c4b76a86ce72276c5755f217"));
  EXPECT_FALSE(is_md5_password_hash("md553F48B7C4B76A86CE72276C5755F217D"));
  EXPECT_FALSE(is_md5_password_hash("SCRAM-SHA-256$4096:xx"));
}

TEST(Md5, ResponseFromPasswordAndFromHash) {
  EXPECT_EQ(md5_response("postgres", "secret", kSalt), kResponse);
  auto from_hash = md5_response_from_hash(kHash, kSalt);
  ASSERT_TRUE(from_hash);
  EXPECT_EQ(*from_hash, kResponse);
  EXPECT_FALSE(md5_response_from_hash("plaintext", kSalt));
}

TEST(Md5, MatchingAndSalts) {
  EXPECT_TRUE(md5_response_matches(kResponse, kResponse));
  EXPECT_FALSE(md5_response_matches(kResponse, md5_response("postgres", "Secret", kSalt)));
  EXPECT_FALSE(md5_response_matches(kResponse, ""));
  auto a = md5_salt();
  auto b = md5_salt();
  ASSERT_TRUE(a && b);
  // Equal with probability 2^-32.
  EXPECT_NE(*a, *b);
  EXPECT_NE(md5_response("postgres", "secret", *a), md5_response("postgres", "secret", *b));
}

}  // namespace
}  // namespace pgquay::security
