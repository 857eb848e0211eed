#include "pgquay/proto/framing.hpp"

#include <gtest/gtest.h>

#include "bytes.hpp"

namespace pgquay::proto {
namespace {

using test::B;
using test::message;

TEST(Framing, ReadBigEndian) {
  const std::string buf = B({0x01, 0x02, 0x03, 0x04, 0xff, 0xfe});
  EXPECT_EQ(read_i32(buf), 0x01020304);
  EXPECT_EQ(read_i32(buf, 2), 0x0304fffe);
  EXPECT_EQ(read_i16(buf), 0x0102);
  EXPECT_EQ(read_i16(buf, 4), -2);
  EXPECT_EQ(read_i32(B({0xff, 0xff, 0xff, 0xff})), -1);
}

TEST(Framing, NextMessageWaitsForEveryPrefix) {
  const std::string whole = message('Q', test::S("SELECT 1\0"));
  for (std::size_t n = 0; n < whole.size(); ++n) {
    auto r = next_message(std::string_view(whole).substr(0, n));
    ASSERT_TRUE(r.has_value()) << n;
    EXPECT_FALSE(r->has_value()) << n;
  }
  const std::string with_more = whole + "trailing";
  auto r = next_message(with_more);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->type, 'Q');
  EXPECT_EQ((*r)->body, test::S("SELECT 1\0"));
  EXPECT_EQ((*r)->size, whole.size());
}

TEST(Framing, NextMessageEmptyBody) {
  auto r = next_message(B({'X', 0, 0, 0, 4}));
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->type, 'X');
  EXPECT_TRUE((*r)->body.empty());
  EXPECT_EQ((*r)->size, 5u);
}

TEST(Framing, NextMessageRejectsBadLengths) {
  for (std::uint32_t bad : {0u, 1u, 3u}) {
    auto r = next_message(std::string(1, 'D') + test::be32(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().sqlstate, "08P01");
    EXPECT_EQ(r.error().message, "invalid message length");
  }
  // Known to be too long from the header alone, before the body arrives.
  auto big = next_message(B({'D', 0x40, 0, 0, 1}));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().detail,
            "message type 'D' declares length 1073741825; lengths from 4 to 1073741824 are "
            "accepted");
  auto negative = next_message(B({0x01, 0xff, 0xff, 0xff, 0xff}));
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().detail,
            "message type 0x01 declares length -1; lengths from 4 to 1073741824 are accepted");
  auto limited = next_message(message('Q', std::string(100, 'x')), 50);
  ASSERT_FALSE(limited);
  EXPECT_TRUE(next_message(message('Q', std::string(46, 'x')), 50).value().has_value());
}

TEST(Framing, WriterPatchesLength) {
  std::string out = "prefix";
  MessageWriter w(out);
  w.begin('T').i16(-2).i32(0x01020304).cstr("ab").bytes(test::S("\0\1")).byte('z').end();
  EXPECT_EQ(out, "prefix" + B({'T', 0, 0, 0, 16, 0xff, 0xfe, 1, 2, 3, 4, 'a', 'b', 0, 0, 1, 'z'}));
  w.begin_untyped().i32(7).end();
  EXPECT_EQ(out.substr(out.size() - 8), B({0, 0, 0, 8, 0, 0, 0, 7}));
}

TEST(Framing, WriterRejectsMisuse) {
  EXPECT_DEATH(
      {
        std::string out;
        MessageWriter w(out);
        w.begin('Q').cstr(test::S("a\0b"));
      },
      "invariant violated");
  EXPECT_DEATH(
      {
        std::string out;
        MessageWriter w(out);
        w.begin('Q').begin('Q');
      },
      "invariant violated");
}

TEST(Framing, BodyReader) {
  const std::string body = B({0, 1, 0, 0, 0, 2, 'h', 'i', 0, 'x', 'y'});
  BodyReader r(body);
  EXPECT_EQ(r.i16(), 1);
  EXPECT_EQ(r.i32(), 2);
  EXPECT_EQ(r.cstr(), "hi");
  EXPECT_EQ(r.remaining(), 2u);
  EXPECT_FALSE(r.cstr());  // no NUL left
  EXPECT_FALSE(r.i32());   // too short; nothing consumed
  EXPECT_EQ(r.bytes(1), "x");
  EXPECT_EQ(r.byte(), 'y');
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.byte());
  EXPECT_FALSE(r.i16());
}

TEST(Framing, ToError) {
  const Error e = to_error(ProtoError::protocol_violation("invalid message length", "why"));
  EXPECT_EQ(e.code, 0);
  EXPECT_EQ(e.message, "08P01: invalid message length (why)");
}

}  // namespace
}  // namespace pgquay::proto
