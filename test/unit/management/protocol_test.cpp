#include "pgquay/management/protocol.hpp"

#include <gtest/gtest.h>

namespace pgquay::management {
namespace {

TEST(Frame, EncodesBigEndianLengthThenJson) {
  std::string frame = encode_frame(Json{{"a", 1}});
  ASSERT_EQ(frame.size(), 4u + 7u);
  EXPECT_EQ(frame.substr(0, 4), std::string("\0\0\0\x07", 4));
  EXPECT_EQ(frame.substr(4), "{\"a\":1}");
}

TEST(Frame, RoundTripsThroughTakeFrame) {
  Json document = make_request("status details", Json{{"x", "y"}});
  std::string frame = encode_frame(document);
  std::string buffer = frame + "trailing";  // the frame's body points into it
  auto taken = take_frame(buffer, kMaxRequestSize);
  ASSERT_TRUE(taken.has_value());
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->size, frame.size());
  auto parsed = parse_document((*taken)->body);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, document);
}

TEST(Frame, WaitsForTheWholeFrame) {
  std::string frame = encode_frame(Json{{"k", "value"}});
  for (size_t n = 0; n < frame.size(); ++n) {
    auto taken = take_frame(std::string_view(frame).substr(0, n), kMaxRequestSize);
    ASSERT_TRUE(taken.has_value()) << n;
    EXPECT_FALSE(taken->has_value()) << n;
  }
}

TEST(Frame, RejectsEmptyAndOversizedLengths) {
  EXPECT_FALSE(take_frame(std::string("\0\0\0\0", 4), 100).has_value());
  auto big = take_frame(std::string("\0\0\x01\x00", 4), 100);  // 256 > 100
  ASSERT_FALSE(big.has_value());
  EXPECT_NE(big.error().message.find("exceeds the limit of 100"), std::string::npos);
  // Oversized is reported from the header alone, before the body arrives.
  EXPECT_FALSE(take_frame(std::string("\xff\xff\xff\xff", 4), kMaxRequestSize).has_value());
}

TEST(Frame, InvalidUtf8IsReplacedNotThrown) {
  std::string frame = encode_frame(Json{{"user", std::string("a\xff") + "b"}});
  auto parsed = parse_document(std::string_view(frame).substr(4));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ((*parsed)["user"],
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Document, RejectsMalformedAndNonObjects) {
  EXPECT_FALSE(parse_document("{").has_value());
  EXPECT_FALSE(parse_document("").has_value());
  EXPECT_FALSE(parse_document("[1,2]").has_value());
  EXPECT_FALSE(parse_document("42").has_value());
  EXPECT_TRUE(parse_document("{}").has_value());
}

TEST(Request, ParsesCommandAndArgs) {
  auto request = parse_request(make_request("conf get", Json{{"key", "port"}}));
  ASSERT_TRUE(request.has_value()) << request.error().message;
  EXPECT_EQ(request->command, "conf get");
  EXPECT_EQ(request->arg("key"), "port");
  EXPECT_EQ(request->arg("missing"), std::nullopt);
}

TEST(Request, ArgsMayBeAbsentOrNull) {
  auto absent = parse_request(Json{{"version", 1}, {"command", "ping"}});
  ASSERT_TRUE(absent.has_value());
  EXPECT_TRUE(absent->args.is_object());
  auto null = parse_request(Json{{"version", 1}, {"command", "ping"}, {"args", nullptr}});
  ASSERT_TRUE(null.has_value());
}

TEST(Request, RejectsBadShapes) {
  EXPECT_FALSE(parse_request(Json{{"command", "ping"}}).has_value());                  // no version
  EXPECT_FALSE(parse_request(Json{{"version", 2}, {"command", "ping"}}).has_value());  // version
  EXPECT_FALSE(parse_request(Json{{"version", "1"}, {"command", "ping"}}).has_value());
  EXPECT_FALSE(parse_request(Json{{"version", 1}}).has_value());
  EXPECT_FALSE(parse_request(Json{{"version", 1}, {"command", 5}}).has_value());
  EXPECT_FALSE(parse_request(Json{{"version", 1}, {"command", ""}}).has_value());
  EXPECT_FALSE(parse_request(Json{{"version", 1}, {"command", "ping"}, {"args", Json::array()}})
                   .has_value());
  EXPECT_FALSE(parse_request(Json::array()).has_value());
  auto version = parse_request(Json{{"version", 7}, {"command", "ping"}});
  ASSERT_FALSE(version.has_value());
  EXPECT_NE(version.error().message.find("version 7"), std::string::npos);
}

TEST(Request, NonStringArgIsAbsent) {
  auto request = parse_request(make_request("flush", Json{{"mode", 3}}));
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->arg("mode"), std::nullopt);
}

TEST(Response, OkAndErrorRoundTrip) {
  auto ok = parse_response(ok_response(Json{{"n", 3}}));
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->result["n"], 3);
  auto error = parse_response(error_response("no such key"));
  ASSERT_TRUE(error.has_value());
  EXPECT_FALSE(error->ok);
  EXPECT_EQ(error->error, "no such key");
}

TEST(Response, RejectsUnknownStatusAndVersion) {
  EXPECT_FALSE(parse_response(Json{{"version", 1}, {"status", "maybe"}}).has_value());
  EXPECT_FALSE(parse_response(Json{{"version", 1}}).has_value());
  EXPECT_FALSE(parse_response(Json{{"version", 3}, {"status", "ok"}}).has_value());
}

TEST(SocketPath, IsInTheSocketDirectory) {
  EXPECT_EQ(socket_path("/tmp", 2345), "/tmp/.s.pgquay.2345.admin");
  EXPECT_EQ(socket_path("/run/pgquay/", 6432), "/run/pgquay/.s.pgquay.6432.admin");
}

}  // namespace
}  // namespace pgquay::management
