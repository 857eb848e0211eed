// Value types of pgquay.conf: cleaning, parsing and printing.
#include "pgquay/config/values.hpp"

#include <gtest/gtest.h>

#include "pgquay/config/enums.hpp"

namespace pgquay::config {
namespace {

using std::chrono::milliseconds;

std::string clean(std::string_view raw) {
  auto v = clean_value(raw);
  return v ? *v : "<error: " + v.error().message + ">";
}

TEST(CleanValue, TrimsAndStripsComments) {
  EXPECT_EQ(clean("  localhost  "), "localhost");
  EXPECT_EQ(clean(" localhost # the host"), "localhost");
  EXPECT_EQ(clean(" localhost ; the host"), "localhost");
  EXPECT_EQ(clean("console#log to stdout"), "console");  // pgagroal's own documented example
  EXPECT_EQ(clean(""), "");
  EXPECT_EQ(clean("   # only a comment"), "");
  EXPECT_EQ(clean("two words"), "two words");
}

TEST(CleanValue, UnquotesAndKeepsQuotedCommentSigns) {
  EXPECT_EQ(clean("\"%Y-%m-%d %H:%M:%S\""), "%Y-%m-%d %H:%M:%S");
  EXPECT_EQ(clean("'performance' # no need to quote"), "performance");
  EXPECT_EQ(clean("\"a # b ; c\" ; comment"), "a # b ; c");
  EXPECT_EQ(clean("'it\"s'"), "it\"s");
  EXPECT_EQ(clean("\"\""), "");
}

TEST(CleanValue, RejectsBadQuoting) {
  auto open = clean_value("\"unterminated");
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().message, "unterminated quote: expected a closing \"");
  auto trailing = clean_value("'a' b");
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().message,
            "unexpected text 'b' after the closing quote (start a comment with # or ;)");
}

TEST(ParseBool, AcceptsAllSpellings) {
  for (auto t : {"on", "ON", "yes", "Yes", "true", "TRUE", "1"}) EXPECT_TRUE(*parse_bool(t)) << t;
  for (auto t : {"off", "Off", "no", "NO", "false", "False", "0"}) {
    EXPECT_FALSE(*parse_bool(t)) << t;
  }
  for (auto t : {"", "2", "enabled", "onn", " on"}) {
    auto v = parse_bool(t);
    ASSERT_FALSE(v) << t;
    EXPECT_EQ(v.error().message, "expected a boolean: on, off, yes, no, true, false, 1 or 0");
  }
}

TEST(ParseInt, RangeAndSyntax) {
  EXPECT_EQ(*parse_int("42", 1, 100), 42);
  EXPECT_EQ(*parse_int("+7", 1, 100), 7);
  EXPECT_EQ(*parse_int("-1", -1, 10), -1);
  EXPECT_EQ(*parse_int("100", 1, 100), 100);
  for (auto t : {"", "abc", "1.5", "12a", "0", "101", "-", "99999999999999999999"}) {
    auto v = parse_int(t, 1, 100);
    ASSERT_FALSE(v) << t;
    EXPECT_EQ(v.error().message, "expected an integer from 1 to 100");
  }
}

TEST(ParseDuration, UnitsAndDefaultSeconds) {
  EXPECT_EQ(*parse_duration("30"), milliseconds(30000));
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
  EXPECT_EQ(*parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(*parse_duration("500MS"), milliseconds(500));
  EXPECT_EQ(*parse_duration("30s"), milliseconds(30000));
  EXPECT_EQ(*parse_duration("30S"), milliseconds(30000));
  EXPECT_EQ(*parse_duration("5m"), milliseconds(300000));
  EXPECT_EQ(*parse_duration("5M"), milliseconds(300000));  // pgagroal: M is minutes
  EXPECT_EQ(*parse_duration("2h"), milliseconds(7200000));
  EXPECT_EQ(*parse_duration("1D"), milliseconds(86400000));
  EXPECT_EQ(*parse_duration("1w"), milliseconds(604800000));
  EXPECT_EQ(*parse_duration("10 s"), milliseconds(10000));
}

TEST(ParseDuration, Rejects) {
  for (auto t : {"", "s", "-5", "1.5h", "5x", "5 minutes", "1h30m", "99999999999999999999999"}) {
    auto v = parse_duration(t);
    ASSERT_FALSE(v) << t;
    EXPECT_EQ(v.error().message,
              "expected a duration such as 30 (seconds), 500ms, 30s, 5m, 2h, 1d or 1w");
  }
}

TEST(ParseSize, Units) {
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("1000"), 1000u);
  EXPECT_EQ(*parse_size("10B"), 10u);
  EXPECT_EQ(*parse_size("256k"), 256u * 1024);
  EXPECT_EQ(*parse_size("256KB"), 256u * 1024);
  EXPECT_EQ(*parse_size("64M"), 64u * 1024 * 1024);
  EXPECT_EQ(*parse_size("64mb"), 64u * 1024 * 1024);
  EXPECT_EQ(*parse_size("2G"), 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(*parse_size("2gb"), 2ull * 1024 * 1024 * 1024);
  for (auto t : {"", "K", "-1", "1.5M", "10BB", "10T", "5 bytes", "99999999999999999999G"}) {
    auto v = parse_size(t);
    ASSERT_FALSE(v) << t;
    EXPECT_EQ(v.error().message, "expected a size such as 0, 65536, 256K, 64MB or 1G");
  }
}

TEST(ParseLogLevel, PgagroalNames) {
  EXPECT_EQ(*parse_log_level("info"), log::Level::info);
  EXPECT_EQ(*parse_log_level("INFO"), log::Level::info);
  EXPECT_EQ(*parse_log_level("warn"), log::Level::warn);
  EXPECT_EQ(*parse_log_level("error"), log::Level::error);
  EXPECT_EQ(*parse_log_level("fatal"), log::Level::fatal);
  EXPECT_EQ(*parse_log_level("debug1"), log::Level::debug);
  EXPECT_EQ(*parse_log_level("debug5"), log::Level::debug5);
  EXPECT_EQ(*parse_log_level("trace"), log::Level::debug5);
  auto bad = parse_log_level("verbose");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "expected a log level: fatal, error, warn, info, debug, debug1 to debug5, trace");
}

TEST(Format, RoundTrips) {
  EXPECT_EQ(format_bool(true), "on");
  EXPECT_EQ(format_bool(false), "off");
  EXPECT_EQ(format_duration(milliseconds(0)), "0");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(30000)), "30s");
  EXPECT_EQ(format_duration(milliseconds(300000)), "5m");
  EXPECT_EQ(format_duration(milliseconds(90000)), "90s");
  EXPECT_EQ(format_duration(milliseconds(7200000)), "2h");
  EXPECT_EQ(format_duration(milliseconds(1209600000)), "2w");
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(256 * 1024), "256K");
  EXPECT_EQ(format_size(3ull * 1024 * 1024 * 1024), "3G");
  EXPECT_EQ(format_log_level(log::Level::debug5), "debug5");
  EXPECT_EQ(format_log_level(log::Level::warn), "warn");
  for (long long ms : {0LL, 1LL, 999LL, 1000LL, 61000LL, 3600000LL, 86400000LL * 3}) {
    EXPECT_EQ(*parse_duration(format_duration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
  for (std::uint64_t b : {0ULL, 1ULL, 1023ULL, 1024ULL, 1536ULL, 1ULL << 20, 5ULL << 30}) {
    EXPECT_EQ(*parse_size(format_size(b)), b) << b;
  }
}

TEST(Enums, ToStringAndParse) {
  EXPECT_EQ(to_string(Pipeline::automatic), "auto");
  EXPECT_EQ(to_string(Pipeline::transaction), "transaction");
  EXPECT_EQ(to_string(EvBackend::io_uring), "io_uring");
  EXPECT_EQ(to_string(EvBackend::automatic), "auto");
  EXPECT_EQ(*parse_pipeline("Session"), Pipeline::session);
  EXPECT_EQ(*parse_pipeline("auto"), Pipeline::automatic);
  EXPECT_EQ(*parse_ev_backend("EPOLL"), EvBackend::epoll);
  EXPECT_EQ(*parse_ev_backend("iouring"), EvBackend::io_uring);  // alias
  EXPECT_EQ(*parse_enum<UpdateProcessTitle>("full"), UpdateProcessTitle::verbose);
  EXPECT_EQ(to_string(HugePage::if_available), "try");
  auto bad = parse_pipeline("fast");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "expected one of: auto, performance, session, transaction");
  auto bad_backend = parse_ev_backend("select");
  ASSERT_FALSE(bad_backend);
  EXPECT_EQ(bad_backend.error().message, "expected one of: auto, io_uring, epoll, kqueue");
  EXPECT_EQ(describe_enum_names(enum_names<UpdateProcessTitle>(), true),
            "never (or off), strict, minimal, verbose (or full)");
}

}  // namespace
}  // namespace pgquay::config
