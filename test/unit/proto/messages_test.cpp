#include "pgquay/proto/messages.hpp"

#include <gtest/gtest.h>

#include "bytes.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::S;

TEST(Builders, AuthenticationOk) {
  std::string out;
  build_authentication_ok(out);
  EXPECT_EQ(out, B({'R', 0, 0, 0, 8, 0, 0, 0, 0}));
}

TEST(Builders, ParameterStatus) {
  std::string out;
  build_parameter_status(out, "a", "b");
  EXPECT_EQ(out, B({'S', 0, 0, 0, 8, 'a', 0, 'b', 0}));
  out.clear();
  build_parameter_status(out, "server_version", "");
  EXPECT_EQ(out, "S" + B({0, 0, 0, 20}) + S("server_version\0\0"));
}

TEST(Builders, BackendKeyData) {
  std::string out;
  build_backend_key_data(out, {0x01020304, -1});
  EXPECT_EQ(out, B({'K', 0, 0, 0, 12, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff}));
}

TEST(Builders, ReadyForQuery) {
  std::string out;
  build_ready_for_query(out, TxStatus::idle);
  build_ready_for_query(out, TxStatus::in_transaction);
  build_ready_for_query(out, TxStatus::failed);
  EXPECT_EQ(out, B({'Z', 0, 0, 0, 5, 'I', 'Z', 0, 0, 0, 5, 'T', 'Z', 0, 0, 0, 5, 'E'}));
}

TEST(Builders, Query) {
  std::string out;
  build_query(out, "SELECT 1");
  EXPECT_EQ(out, "Q" + B({0, 0, 0, 13}) + S("SELECT 1\0"));
}

TEST(Builders, Terminate) {
  std::string out;
  build_terminate(out);
  EXPECT_EQ(out, B({'X', 0, 0, 0, 4}));
}

TEST(Builders, AppendToExistingOutput) {
  std::string out = "xy";
  build_terminate(out);
  EXPECT_EQ(out, "xy" + B({'X', 0, 0, 0, 4}));
}

TEST(SmallBodies, ReadyForQuery) {
  EXPECT_EQ(parse_ready_for_query("I"), TxStatus::idle);
  EXPECT_EQ(parse_ready_for_query("T"), TxStatus::in_transaction);
  EXPECT_EQ(parse_ready_for_query("E"), TxStatus::failed);
  EXPECT_FALSE(parse_ready_for_query("X"));
  EXPECT_FALSE(parse_ready_for_query(""));
  EXPECT_FALSE(parse_ready_for_query("II"));
}

TEST(SmallBodies, ParameterStatus) {
  const std::string body = S("TimeZone\0UTC\0");
  auto p = parse_parameter_status(body);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, "TimeZone");
  EXPECT_EQ(p->second, "UTC");
  EXPECT_TRUE(parse_parameter_status(S("a\0\0")));
  EXPECT_FALSE(parse_parameter_status(S("a\0b")));
  EXPECT_FALSE(parse_parameter_status(S("a\0b\0c")));
  EXPECT_FALSE(parse_parameter_status(""));
}

TEST(SmallBodies, BackendKeyData) {
  EXPECT_EQ(parse_backend_key_data(B({0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe})), (BackendKey{7, -2}));
  EXPECT_FALSE(parse_backend_key_data(B({0, 0, 0, 7})));
  EXPECT_FALSE(parse_backend_key_data(std::string(9, '\0')));
}

TEST(SmallBodies, RoundTrip) {
  std::string out;
  build_parameter_status(out, "application_name", "psql");
  auto p = parse_parameter_status(std::string_view(out).substr(5));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, "application_name");
  EXPECT_EQ(p->second, "psql");
  out.clear();
  build_backend_key_data(out, {1234, 987654321});
  EXPECT_EQ(parse_backend_key_data(std::string_view(out).substr(5)), (BackendKey{1234, 987654321}));
}

}  // namespace
}  // namespace pgquay::proto
