#include "pgquay/proto/error_fields.hpp"

#include <gtest/gtest.h>

#include "bytes.hpp"
#include "pgquay/proto/framing.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::message;
using test::S;

// What PostgreSQL 15 sends for `SET work_mem = 'x'` (field order of send_message_to_frontend).
std::string server_error_body() {
  return S(
      "SERROR\0VERROR\0C22023\0Minvalid value for parameter \"work_mem\": \"x\"\0"
      "Hsome hint\0Fguc.c\0L7591\0Rparse_and_validate_value\0\0");
}

TEST(ErrorFields, BuildFatal) {
  std::string out;
  build_fatal(out, "28000", "no user");
  EXPECT_EQ(out, "E" + B({0, 0, 0, 35}) + S("SFATAL\0VFATAL\0C28000\0Mno user\0\0"));
  out.clear();
  build_fatal(out, "08P01", "bad", "why");
  EXPECT_EQ(out, "E" + B({0, 0, 0, 36}) + S("SFATAL\0VFATAL\0C08P01\0Mbad\0Dwhy\0\0"));
}

TEST(ErrorFields, BuildFatalFromProtoError) {
  std::string out;
  build_fatal(out, ProtoError{"42601", "msg", "det", "hin"});
  EXPECT_EQ(out, message('E', S("SFATAL\0VFATAL\0C42601\0Mmsg\0Ddet\0Hhin\0\0")));
}

TEST(ErrorFields, BuildWritesNamedFieldsThenOthersInOrder) {
  ErrorFields f;
  f.severity = "FEHLER";
  f.severity_nonlocalized = "ERROR";
  f.sqlstate = "42P01";
  f.message = "m";
  f.detail = "d";
  f.hint = "h";
  f.position = "15";
  f.other = {{'R', "r"}, {'F', "f"}, {'L', "12"}};
  std::string out;
  build_error_response(out, f);
  EXPECT_EQ(out, message('E', S("SFEHLER\0VERROR\0C42P01\0Mm\0Dd\0Hh\0P15\0Rr\0Ff\0L12\0\0")));
  out.clear();
  build_notice_response(out, f);
  EXPECT_EQ(out[0], 'N');
  EXPECT_EQ(out.substr(1),
            message('E', S("SFEHLER\0VERROR\0C42P01\0Mm\0Dd\0Hh\0P15\0Rr\0Ff\0L12\0\0")).substr(1));
}

TEST(ErrorFields, BuildAlwaysWritesSeverityCodeMessage) {
  std::string out;
  build_notice_response(out, ErrorFields{});
  EXPECT_EQ(out, message('N', S("S\0C\0M\0\0")));
}

TEST(ErrorFields, ParseNamedAndOther) {
  auto f = parse_error_fields(server_error_body());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->severity, "ERROR");
  EXPECT_EQ(f->severity_nonlocalized, "ERROR");
  EXPECT_EQ(f->sqlstate, "22023");
  EXPECT_EQ(f->message, "invalid value for parameter \"work_mem\": \"x\"");
  EXPECT_EQ(f->hint, "some hint");
  EXPECT_TRUE(f->detail.empty());
  ASSERT_EQ(f->other.size(), 3u);
  EXPECT_EQ(f->other[0], (std::pair<char, std::string>{'F', "guc.c"}));
  EXPECT_EQ(f->other[2], (std::pair<char, std::string>{'R', "parse_and_validate_value"}));
  ASSERT_NE(f->find('L'), nullptr);
  EXPECT_EQ(*f->find('L'), "7591");
  EXPECT_EQ(*f->find('C'), "22023");
  EXPECT_EQ(f->find('D'), nullptr);
  EXPECT_EQ(f->find('q'), nullptr);
}

TEST(ErrorFields, RoundTripIsByteExact) {
  auto f = parse_error_fields(server_error_body());
  ASSERT_TRUE(f);
  std::string out;
  build_error_response(out, *f);
  EXPECT_EQ(out, message('E', server_error_body()));

  // And struct -> bytes -> struct.
  ErrorFields g;
  g.severity = "WARNING";
  g.sqlstate = "01000";
  g.message = "careful";
  g.position = "3";
  g.other = {{'q', "select"}, {'W', "context"}};
  out.clear();
  build_notice_response(out, g);
  auto parsed = next_message(out);
  ASSERT_TRUE(parsed && *parsed);
  auto back = parse_error_fields((*parsed)->body);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, g);
}

TEST(ErrorFields, ParseErrors) {
  const struct {
    std::string body;
    std::string detail;
  } cases[] = {
      {"", "the terminating NUL byte is missing"},
      {S("SERROR\0"), "the terminating NUL byte is missing"},
      {S("SERROR"), "a field value is not NUL-terminated"},
      {S("S"), "a field value is not NUL-terminated"},
      {S("SERROR\0\0x"), "bytes follow the terminating NUL byte"},
  };
  for (const auto& c : cases) {
    auto f = parse_error_fields(c.body);
    ASSERT_FALSE(f) << c.body;
    EXPECT_EQ(f.error().sqlstate, "08P01");
    EXPECT_EQ(f.error().message, "invalid error or notice message");
    EXPECT_EQ(f.error().detail, c.detail);
  }
  EXPECT_TRUE(parse_error_fields(S("\0")));  // no fields at all is still well-formed
}

TEST(ErrorFields, FatalOrPanic) {
  ErrorFields f;
  f.severity = "FATAL";
  EXPECT_TRUE(is_fatal_or_panic(f));
  f.severity = "PANIC";
  EXPECT_TRUE(is_fatal_or_panic(f));
  f.severity = "ERROR";
  EXPECT_FALSE(is_fatal_or_panic(f));
  // V wins over a translated S.
  f.severity = "FATAL";  // e.g. a translation that happens to read FATAL for ERROR
  f.severity_nonlocalized = "ERROR";
  EXPECT_FALSE(is_fatal_or_panic(f));
  f.severity = "SCHWERWIEGEND";
  f.severity_nonlocalized = "FATAL";
  EXPECT_TRUE(is_fatal_or_panic(f));
  f.severity_nonlocalized = "WARNING";
  EXPECT_FALSE(is_fatal_or_panic(f));
}

TEST(ErrorFields, AsFatalKeepsEverythingElse) {
  auto f = parse_error_fields(server_error_body());
  ASSERT_TRUE(f);
  ErrorFields fatal = as_fatal(*f);
  EXPECT_EQ(fatal.severity, "FATAL");
  EXPECT_EQ(fatal.severity_nonlocalized, "FATAL");
  EXPECT_TRUE(is_fatal_or_panic(fatal));
  fatal.severity = f->severity;
  fatal.severity_nonlocalized = f->severity_nonlocalized;
  EXPECT_EQ(fatal, *f);
}

TEST(ErrorFields, ReencodeErrorAsFatal) {
  std::string out = "before";
  ASSERT_TRUE(reencode_error_as_fatal(out, server_error_body()));
  EXPECT_EQ(out, "before" + message('E', S("SFATAL\0VFATAL\0C22023\0Minvalid value for parameter "
                                           "\"work_mem\": \"x\"\0Hsome hint\0Fguc.c\0L7591\0"
                                           "Rparse_and_validate_value\0\0")));
  // A pre-9.6 server sends no V: the re-encoded message gains one.
  out.clear();
  ASSERT_TRUE(reencode_error_as_fatal(out, S("SERROR\0C42704\0Mnope\0\0")));
  EXPECT_EQ(out, message('E', S("SFATAL\0VFATAL\0C42704\0Mnope\0\0")));
  // Malformed input leaves out unchanged.
  out = "keep";
  auto bad = reencode_error_as_fatal(out, S("SERROR"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().sqlstate, "08P01");
  EXPECT_EQ(out, "keep");
}

}  // namespace
}  // namespace pgquay::proto
