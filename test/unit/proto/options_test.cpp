#include "pgquay/proto/options.hpp"

#include <gtest/gtest.h>

namespace pgquay::proto {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

Settings parse_ok(std::string_view options) {
  auto r = parse_startup_options(options);
  EXPECT_TRUE(r) << options << ": " << (r ? "" : r.error().message);
  return r ? *r : Settings{};
}

ProtoError parse_error(std::string_view options) {
  auto r = parse_startup_options(options);
  EXPECT_FALSE(r) << options;
  return r ? ProtoError{} : r.error();
}

TEST(StartupOptions, Empty) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("   \t\n ").empty());
}

TEST(StartupOptions, SwitchForms) {
  EXPECT_EQ(parse_ok("-c geqo=off"), (Settings{{"geqo", "off"}}));
  EXPECT_EQ(parse_ok("-cgeqo=off"), (Settings{{"geqo", "off"}}));
  EXPECT_EQ(parse_ok("--geqo=off"), (Settings{{"geqo", "off"}}));
  EXPECT_EQ(parse_ok("  -c a=1\t--b=2\n-cc=3  "), (Settings{{"a", "1"}, {"b", "2"}, {"c", "3"}}));
}

TEST(StartupOptions, DashesInNamesBecomeUnderscores) {
  EXPECT_EQ(parse_ok("--search-path=a-b"), (Settings{{"search_path", "a-b"}}));
  EXPECT_EQ(parse_ok("-c statement-timeout=5s"), (Settings{{"statement_timeout", "5s"}}));
}

TEST(StartupOptions, ValuesKeepEverythingAfterTheFirstEquals) {
  EXPECT_EQ(parse_ok("-c a=b=c"), (Settings{{"a", "b=c"}}));
  EXPECT_EQ(parse_ok("-c a="), (Settings{{"a", ""}}));
  EXPECT_EQ(parse_ok("-c myext.setting=x"), (Settings{{"myext.setting", "x"}}));
}

TEST(StartupOptions, BackslashEscapes) {
  EXPECT_EQ(parse_ok(R"(-c search_path=my\ schema)"), (Settings{{"search_path", "my schema"}}));
  EXPECT_EQ(parse_ok(R"(-c a=x\\y)"), (Settings{{"a", R"(x\y)"}}));
  EXPECT_EQ(parse_ok(R"(-c a=\x\=)"), (Settings{{"a", "x="}}));
  EXPECT_EQ(parse_ok(R"(-c a=b\)"), (Settings{{"a", "b"}}));  // a trailing lone backslash vanishes
  EXPECT_EQ(parse_ok("-c a=x\\\ty"), (Settings{{"a", "x\ty"}}));
  EXPECT_EQ(parse_ok(R"(-c\ a=1)"), (Settings{{" a", "1"}}));  // one word: "-c a=1" attached
}

TEST(StartupOptions, DashCTakesTheNextWordWhateverItIs) {
  EXPECT_EQ(parse_ok("-c --x=1"), (Settings{{"__x", "1"}}));
}

TEST(StartupOptions, DoubleDashEndsSwitches) {
  EXPECT_EQ(parse_ok("-c a=1 --"), (Settings{{"a", "1"}}));
  const ProtoError e = parse_error("-- -c a=1");
  EXPECT_EQ(e.message, "invalid command-line argument for server process: -c");
}

TEST(StartupOptions, MissingValue) {
  ProtoError e = parse_error("-c geqo");
  EXPECT_EQ(e.sqlstate, "42601");
  EXPECT_EQ(e.message, "-c geqo requires a value");
  e = parse_error("-cwork-mem");
  EXPECT_EQ(e.message, "-c work-mem requires a value");  // PostgreSQL quotes the raw argument
  e = parse_error("--work-mem");
  EXPECT_EQ(e.sqlstate, "42601");
  EXPECT_EQ(e.message, "--work-mem requires a value");
}

TEST(StartupOptions, InvalidArguments) {
  for (const char* text : {"geqo=off", "-c a=1 stray", "-", "-c", "-c a=1 -c", "-x", "-1"}) {
    const ProtoError e = parse_error(text);
    EXPECT_EQ(e.sqlstate, "42601") << text;
    EXPECT_TRUE(e.message.starts_with("invalid command-line argument for server process: "))
        << text;
    EXPECT_EQ(e.hint, "Try \"postgres --help\" for more information.");
  }
  EXPECT_EQ(parse_error("-c a=1 stray").message,
            "invalid command-line argument for server process: stray");
  EXPECT_EQ(parse_error("-c a=1 -c").message,
            "invalid command-line argument for server process: -c");
  EXPECT_EQ(parse_error(R"(\\)").message, "invalid command-line argument for server process: \\");
}

TEST(StartupOptions, EmptyName) {
  const ProtoError e = parse_error("-c =x");
  EXPECT_EQ(e.sqlstate, "42704");
  EXPECT_EQ(e.message, "unrecognized configuration parameter \"\"");
}

TEST(StartupOptions, OtherBackendSwitchesAreNotTranslated) {
  for (const char* text : {"-e", "-S 1024", "-B 100", "-d 3", "-P"}) {
    const ProtoError e = parse_error(text);
    EXPECT_EQ(e.sqlstate, "0A000") << text;
    EXPECT_TRUE(e.message.starts_with("unsupported switch in startup option \"options\": -"))
        << text;
  }
}

}  // namespace
}  // namespace pgquay::proto
