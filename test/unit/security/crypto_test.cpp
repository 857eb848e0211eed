#include "pgquay/security/crypto.hpp"

#include <gtest/gtest.h>

#include <set>

namespace pgquay::security {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(as_bytes("")), "");
  EXPECT_EQ(base64_encode(as_bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(as_bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(as_bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(as_bytes("foobar")), "Zm9vYmFy");
}

TEST(Base64, DecodesAndRemovesPadding) {
  for (std::string_view text : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = base64_decode(base64_encode(as_bytes(text)));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(as_text(*decoded), text);
  }
  Bytes binary = {0, 1, 0xfe, 0xff, 0x80};
  auto round = base64_decode(base64_encode(binary));
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, binary);
}

TEST(Base64, RejectsMalformedInput) {
  for (std::string_view bad : {"Zg=", "Zg=\n", " Zg==", "Z===", "Zg=a", "Zm9v!A==", "=Zm9"}) {
    auto decoded = base64_decode(bad);
    EXPECT_FALSE(decoded) << bad;
    if (!decoded) {
      EXPECT_NE(decoded.error().message.find("not base64"), std::string::npos);
    }
  }
}

TEST(Random, BytesDiffer) {
  auto a = random_bytes(32);
  auto b = random_bytes(32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(Random, PasswordsUseTheAlphabetOnly) {
  std::set<char> seen;
  for (int i = 0; i < 20; ++i) {
    auto password = random_password(100);
    ASSERT_TRUE(password);
    ASSERT_EQ(password->size(), 100u);
    for (char c : *password) {
      ASSERT_NE(kPasswordAlphabet.find(c), std::string_view::npos) << c;
      seen.insert(c);
    }
  }
  // 2000 draws from 87 characters: every character shows up (a biased or truncated alphabet
  // would be visible here).
  EXPECT_EQ(seen.size(), kPasswordAlphabet.size());
  auto empty = random_password(0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST(Digest, KnownValues) {
  // FIPS 180-2 / RFC 1321 / RFC 4231 test vectors.
  EXPECT_EQ(base64_encode(sha256(as_bytes("abc"))), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  EXPECT_EQ(md5_hex(as_bytes("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex(as_bytes("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(base64_encode(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  // An empty key is a valid HMAC key (not "reuse the previous key").
  EXPECT_EQ(hmac_sha256(as_bytes(""), as_bytes("x")), hmac_sha256(Bytes(64, 0), as_bytes("x")));
}

TEST(Compare, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal(as_bytes("abc"), as_bytes("abc")));
  EXPECT_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("abd")));
  EXPECT_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("abcd")));
  EXPECT_TRUE(constant_time_equal(as_bytes(""), as_bytes("")));
}

TEST(Cleanse, ClearsStrings) {
  std::string secret = "hunter2";
  cleanse(secret);
  EXPECT_TRUE(secret.empty());
}

}  // namespace
}  // namespace pgquay::security
