#include "pgquay/proto/startup.hpp"

#include <gtest/gtest.h>

#include "bytes.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::be32;
using test::S;

// A startup-phase packet by hand: length word (counting itself) + code + payload.
std::string packet(std::uint32_t code, std::string_view payload) {
  return be32(static_cast<std::uint32_t>(8 + payload.size())) + be32(code) + std::string(payload);
}
constexpr std::uint32_t kV30 = 3u << 16;

TEST(StartupLength, NeedsFourBytes) {
  const std::string whole = packet(kV30, S("user\0u\0\0"));
  for (std::size_t n = 0; n < 4; ++n) {
    auto r = startup_length(std::string_view(whole).substr(0, n));
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->has_value());
  }
  auto r = startup_length(std::string_view(whole).substr(0, 4));
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(**r, whole.size());
}

TEST(StartupLength, Limits) {
  EXPECT_EQ(startup_length(be32(8)).value(), 8u);
  EXPECT_EQ(startup_length(be32(10000)).value(), 10000u);
  for (std::uint32_t bad : {0u, 4u, 7u, 10001u, 0x80000000u, 0xffffffffu}) {
    auto r = startup_length(be32(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().sqlstate, "08P01");
    EXPECT_EQ(r.error().message, "invalid length of startup packet");
  }
  EXPECT_EQ(startup_length(be32(7)).error().detail,
            "the packet declares 7 bytes; lengths from 8 to 10000 are accepted");
}

TEST(ParseStartup, SslRequest) {
  auto r = parse_startup(B({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*r));
}

TEST(ParseStartup, GssEncRequest) {
  auto r = parse_startup(B({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*r));
}

TEST(ParseStartup, CancelRequest) {
  auto r = parse_startup(
      B({0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x30, 0x39, 0xff, 0xff, 0xff, 0xfe}));
  ASSERT_TRUE(r);
  ASSERT_TRUE(std::holds_alternative<CancelRequest>(*r));
  EXPECT_EQ(std::get<CancelRequest>(*r).key, (BackendKey{12345, -2}));
  for (std::size_t payload : {0u, 4u, 12u}) {
    auto bad = parse_startup(packet(kCancelRequestCode, std::string(payload, '\1')));
    ASSERT_FALSE(bad) << payload;
    EXPECT_EQ(bad.error().sqlstate, "08P01");
    EXPECT_EQ(bad.error().message, "invalid length of cancel request packet");
  }
}

TEST(ParseStartup, StartupMessage) {
  auto r = parse_startup(
      packet(kV30, S("user\0alice\0database\0shop\0application_name\0psql\0options\0-c a=b\0\0")));
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = std::get<StartupMessage>(*r);
  EXPECT_EQ(s.major, 3);
  EXPECT_EQ(s.minor, 0);
  const ParamList expected = {
      {"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}, {"options", "-c a=b"}};
  EXPECT_EQ(s.params, expected);
  EXPECT_TRUE(s.protocol_options.empty());
  EXPECT_FALSE(s.needs_negotiation());
  EXPECT_EQ(s.user(), "alice");
  EXPECT_EQ(s.database(), "shop");
  ASSERT_NE(s.find("options"), nullptr);
  EXPECT_EQ(*s.find("options"), "-c a=b");
  EXPECT_EQ(s.find("nope"), nullptr);
}

TEST(ParseStartup, DatabaseDefaultsToUserAndLastValueWins) {
  auto r = parse_startup(packet(kV30, S("user\0a\0user\0b\0database\0\0\0")));
  ASSERT_TRUE(r);
  const auto& s = std::get<StartupMessage>(*r);
  EXPECT_EQ(s.params.size(), 3u);
  EXPECT_EQ(s.user(), "b");
  EXPECT_EQ(s.database(), "b");
}

TEST(ParseStartup, MinorVersionWithProtocolOptions) {
  auto r = parse_startup(packet((3u << 16) | 1, S("user\0u\0_pq_.compression\0on\0_pq_.x\0\0\0")));
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = std::get<StartupMessage>(*r);
  EXPECT_EQ(s.minor, 1);
  EXPECT_TRUE(s.needs_negotiation());
  const ParamList expected_params = {{"user", "u"}};
  const ParamList expected_options = {{"_pq_.compression", "on"}, {"_pq_.x", ""}};
  EXPECT_EQ(s.params, expected_params);
  EXPECT_EQ(s.protocol_options, expected_options);
  EXPECT_EQ(s.protocol_option_names(), (std::vector<std::string>{"_pq_.compression", "_pq_.x"}));

  // 3.0 with a _pq_ option also needs NegotiateProtocolVersion; 3.5 without options too.
  auto with_option = parse_startup(packet(kV30, S("_pq_.a\0b\0user\0u\0\0")));
  ASSERT_TRUE(with_option);
  EXPECT_TRUE(std::get<StartupMessage>(*with_option).needs_negotiation());
  auto minor_only = parse_startup(packet((3u << 16) | 5, S("user\0u\0\0")));
  ASSERT_TRUE(minor_only);
  EXPECT_TRUE(std::get<StartupMessage>(*minor_only).needs_negotiation());
}

TEST(ParseStartup, UnsupportedProtocolVersions) {
  const struct {
    std::uint32_t code;
    const char* text;
  } cases[] = {
      {1u << 16, "unsupported frontend protocol 1.0: server supports 3.0 to 3.0"},
      {2u << 16, "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"},
      {4u << 16, "unsupported frontend protocol 4.0: server supports 3.0 to 3.0"},
      {(2u << 16) | 7, "unsupported frontend protocol 2.7: server supports 3.0 to 3.0"},
      {80877105, "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0"},
  };
  for (const auto& c : cases) {
    auto r = parse_startup(packet(c.code, S("user\0u\0\0")));
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().sqlstate, "0A000");
    EXPECT_EQ(r.error().message, c.text);
  }
  EXPECT_EQ(unsupported_protocol_error(kSslRequestCode).message,
            "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0");
}

TEST(ParseStartup, MissingTerminator) {
  const std::string layouts[] = {
      "",                        // only the version
      S("user\0u\0"),            // no final NUL
      S("user\0u"),              // value runs to the end
      S("user\0"),               // name without value
      S("user"),                 // name runs to the end
      S("user\0u\0\0\0"),        // bytes after the terminator
      S("user\0u\0\0junk\0\0"),  // more after the terminator
  };
  for (const std::string& payload : layouts) {
    auto r = parse_startup(packet(kV30, payload));
    ASSERT_FALSE(r) << payload;
    EXPECT_EQ(r.error().sqlstate, "08P01");
    EXPECT_EQ(r.error().message, "invalid startup packet layout: expected terminator as last byte");
  }
}

TEST(ParseStartup, MissingUser) {
  for (const std::string& payload : {S("\0"), S("database\0d\0\0"), S("user\0\0\0")}) {
    auto r = parse_startup(packet(kV30, payload));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().sqlstate, "28000");
    EXPECT_EQ(r.error().message, "no PostgreSQL user name specified in startup packet");
  }
}

TEST(ParseStartup, ShortAndWrongLength) {
  auto r = parse_startup(B({0, 0}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "incomplete startup packet");

  const std::string whole = packet(kV30, S("user\0u\0\0"));
  auto truncated = parse_startup(std::string_view(whole).substr(0, whole.size() - 1));
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().sqlstate, "08P01");
  EXPECT_EQ(truncated.error().message, "incomplete startup packet");

  auto extra = parse_startup(whole + "x");
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().message, "invalid length of startup packet");
  EXPECT_EQ(extra.error().detail, "the packet declares 16 bytes but 17 were given");

  auto tiny = parse_startup(B({0, 0, 0, 4, 0, 3, 0, 0}));
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.error().message, "invalid length of startup packet");

  auto huge = parse_startup(be32(10001) + std::string(10001 - 4, '\0'));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().message, "invalid length of startup packet");
}

TEST(BuildStartup, Bytes) {
  std::string out;
  const ParamList params = {{"user", "u"}};
  build_startup(out, params);
  EXPECT_EQ(out, B({0, 0, 0, 16, 0, 3, 0, 0}) + S("user\0u\0\0"));
  out.clear();
  build_startup(out, params, 2);
  EXPECT_EQ(out, B({0, 0, 0, 16, 0, 3, 0, 2}) + S("user\0u\0\0"));
}

TEST(BuildStartup, RoundTripKeepsOrder) {
  const ParamList params = {{"user", "bob"},
                            {"database", "db"},
                            {"client_encoding", "UTF8"},
                            {"DateStyle", "ISO, MDY"},
                            {"extra_float_digits", "2"}};
  std::string out;
  build_startup(out, params);
  auto r = parse_startup(out);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<StartupMessage>(*r).params, params);
}

TEST(BuildStartup, SpecialPackets) {
  std::string out;
  build_cancel_request(out, {7, 9});
  EXPECT_EQ(out, B({0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 7, 0, 0, 0, 9}));
  auto cancel = parse_startup(out);
  ASSERT_TRUE(cancel);
  EXPECT_EQ(std::get<CancelRequest>(*cancel).key, (BackendKey{7, 9}));
  out.clear();
  build_ssl_request(out);
  EXPECT_EQ(out, B({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}));
  out.clear();
  build_gssenc_request(out);
  EXPECT_EQ(out, B({0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}));
}

TEST(BuildStartup, NegotiateProtocolVersion) {
  std::string out;
  const std::vector<std::string> options = {"_pq_.a", "_pq_.bc"};
  build_negotiate_protocol_version(out, 0, options);
  EXPECT_EQ(out, "v" + B({0, 0, 0, 27, 0, 0, 0, 0, 0, 0, 0, 2}) + S("_pq_.a\0_pq_.bc\0"));
  out.clear();
  build_negotiate_protocol_version(out, 0, {});
  EXPECT_EQ(out, B({'v', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace pgquay::proto
