#include "pgquay/proto/auth.hpp"

#include <gtest/gtest.h>

#include "bytes.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::be32;
using test::message;
using test::S;

// A message's body (after type and length), for the parsers.
std::string_view body_of(const std::string& whole) {
  return std::string_view(whole).substr(5);
}

TEST(AuthBuilders, Requests) {
  std::string out;
  build_auth_cleartext_request(out);
  EXPECT_EQ(out, message('R', be32(3)));
  out.clear();
  const std::uint8_t salt[] = {1, 2, 3, 4};
  build_auth_md5_request(out, salt);
  EXPECT_EQ(out, message('R', be32(5) + B({1, 2, 3, 4})));
  out.clear();
  const std::string_view mechanisms[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  build_auth_sasl(out, mechanisms);
  EXPECT_EQ(out, message('R', be32(10) + S("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")));
  out.clear();
  build_auth_sasl_continue(out, "r=abc");
  build_auth_sasl_final(out, "v=xyz");
  EXPECT_EQ(out, message('R', be32(11) + "r=abc") + message('R', be32(12) + "v=xyz"));
}

TEST(AuthBuilders, FrontendAnswers) {
  std::string out;
  build_password_message(out, "secret");
  EXPECT_EQ(out, message('p', S("secret\0")));
  out.clear();
  build_sasl_initial_response(out, "SCRAM-SHA-256", "n,,n=,r=x");
  EXPECT_EQ(out, message('p', S("SCRAM-SHA-256\0") + be32(9) + "n,,n=,r=x"));
  out.clear();
  build_sasl_response(out, "c=biws");
  EXPECT_EQ(out, message('p', "c=biws"));
}

TEST(AuthParsers, AuthRequest) {
  std::string out;
  const std::uint8_t salt[] = {9, 8, 7, 6};
  build_auth_md5_request(out, salt);
  auto request = parse_auth_request(body_of(out));
  ASSERT_TRUE(request);
  EXPECT_EQ(request->code, 5);
  EXPECT_EQ(request->data, B({9, 8, 7, 6}));
  EXPECT_FALSE(parse_auth_request(be32(5) + B({1, 2, 3})));  // md5 salt too short
  EXPECT_FALSE(parse_auth_request(B({0, 0, 0})));
  auto ok = parse_auth_request(be32(0));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->code, 0);
}

TEST(AuthParsers, SaslMechanisms) {
  const std::string list = S("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
  auto names = parse_sasl_mechanisms(list);
  ASSERT_TRUE(names);
  ASSERT_EQ(names->size(), 2U);
  EXPECT_EQ((*names)[1], "SCRAM-SHA-256");
  EXPECT_FALSE(parse_sasl_mechanisms(S("SCRAM-SHA-256\0")));  // no terminating empty name
  EXPECT_FALSE(parse_sasl_mechanisms(S("A\0\0extra")));
}

TEST(AuthParsers, PasswordMessage) {
  const std::string body = S("md5abc\0");
  auto text = parse_password_message(body);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "md5abc");
  EXPECT_FALSE(parse_password_message("no terminator"));
  EXPECT_FALSE(parse_password_message(S("a\0b")));
}

TEST(AuthParsers, SaslInitialResponse) {
  std::string out;
  build_sasl_initial_response(out, "SCRAM-SHA-256", "n,,n=,r=x");
  auto initial = parse_sasl_initial_response(body_of(out));
  ASSERT_TRUE(initial);
  EXPECT_EQ(initial->mechanism, "SCRAM-SHA-256");
  EXPECT_EQ(initial->data, "n,,n=,r=x");
  const std::string without_data = S("SCRAM-SHA-256\0") + B({0xff, 0xff, 0xff, 0xff});
  auto none = parse_sasl_initial_response(without_data);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->data.empty());
  EXPECT_FALSE(parse_sasl_initial_response(S("SCRAM-SHA-256\0") + be32(10) + "short"));
  EXPECT_FALSE(parse_sasl_initial_response(S("SCRAM-SHA-256\0") + be32(2) + "long"));
  EXPECT_FALSE(parse_sasl_initial_response(S("SCRAM-SHA-256\0") + be32(0x80000000U)));
  EXPECT_FALSE(parse_sasl_initial_response("no terminator"));
}

}  // namespace
}  // namespace pgquay::proto
