#include "pgquay/proto/quote.hpp"

#include <gtest/gtest.h>

namespace pgquay::proto {
namespace {

TEST(QuoteLiteral, Plain) {
  EXPECT_EQ(quote_literal(""), "''");
  EXPECT_EQ(quote_literal("abc"), "'abc'");
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
  EXPECT_EQ(quote_literal("''"), "''''''");
  EXPECT_EQ(quote_literal("\"x\""), "'\"x\"'");
  EXPECT_EQ(quote_literal("ünï"), "'ünï'");
}

TEST(QuoteLiteral, BackslashUsesEscapeString) {
  EXPECT_EQ(quote_literal(R"(a\b)"), R"(E'a\\b')");
  EXPECT_EQ(quote_literal(R"(\)"), R"(E'\\')");
  EXPECT_EQ(quote_literal(R"(it's \n)"), R"(E'it''s \\n')");
  EXPECT_EQ(quote_literal(R"(\')"), R"(E'\\''')");
}

TEST(QuoteLiteral, RejectsNul) {
  EXPECT_DEATH((void)quote_literal(std::string_view("a\0b", 3)), "invariant violated");
}

TEST(QuoteIdent, AlwaysQuoted) {
  EXPECT_EQ(quote_ident("search_path"), "\"search_path\"");
  EXPECT_EQ(quote_ident("DateStyle"), "\"DateStyle\"");
  EXPECT_EQ(quote_ident("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(quote_ident(""), "\"\"");
  EXPECT_EQ(quote_ident(R"(a\b)"), R"("a\b")");
  EXPECT_EQ(quote_ident("my.ext"), "\"my.ext\"");
}

}  // namespace
}  // namespace pgquay::proto
