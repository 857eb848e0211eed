// pgquay_databases.conf: parsing, aliases, limits lookup and errors.
#include "pgquay/config/databases.hpp"

#include <gtest/gtest.h>

namespace pgquay::config {
namespace {

DatabasesConfig parse(const std::string& text) {
  auto r = parse_databases_string(text, "pgquay_databases.conf");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : DatabasesConfig{};
}

std::string error_of(const std::string& text) {
  auto r = parse_databases_string(text, "pgquay_databases.conf");
  EXPECT_FALSE(r.has_value()) << text;
  return r ? std::string() : r.error().message;
}

TEST(DatabasesParse, Columns) {
  auto d = parse(
      "# DATABASE USER MAX_SIZE INITIAL_SIZE MIN_SIZE\n"
      "mydb       myuser  all\n"
      "anotherdb  userB   10   5   3   # comment\n"
      "ALL        all     20   all\n"
      "\n"
      "third      u       4    0   all\n");
  ASSERT_EQ(d.limits.size(), 4u);
  EXPECT_EQ(d.limits[0].database, "mydb");
  EXPECT_EQ(d.limits[0].user, "myuser");
  EXPECT_EQ(d.limits[0].max_size, kAllConnections);
  EXPECT_EQ(d.limits[0].initial_size, 0);
  EXPECT_EQ(d.limits[0].min_size, 0);
  EXPECT_EQ(d.limits[0].line, 2);
  EXPECT_EQ(d.limits[1].max_size, 10);
  EXPECT_EQ(d.limits[1].initial_size, 5);
  EXPECT_EQ(d.limits[1].min_size, 3);
  EXPECT_EQ(d.limits[2].database, "all");   // keyword normalised
  EXPECT_EQ(d.limits[2].initial_size, 20);  // all = MAX_SIZE
  EXPECT_EQ(d.limits[3].min_size, 4);
  EXPECT_EQ(d.limits[3].line, 6);
  EXPECT_TRUE(d.warnings.empty());
  EXPECT_TRUE(parse("# only comments\n").limits.empty());
}

TEST(DatabasesParse, Aliases) {
  auto d = parse(
      "production_db=prod,main,primary     myuser   10  5  2\n"
      "development_db = dev, test ,staging devuser   5  2  1\n"
      "production_db=prod                  other     3\n");
  ASSERT_EQ(d.limits.size(), 3u);
  EXPECT_EQ(d.limits[0].database, "production_db");
  EXPECT_EQ(d.limits[0].aliases, (std::vector<std::string>{"prod", "main", "primary"}));
  EXPECT_EQ(d.limits[1].database, "development_db");
  EXPECT_EQ(d.limits[1].aliases, (std::vector<std::string>{"dev", "test", "staging"}));
  EXPECT_EQ(d.limits[1].user, "devuser");
  EXPECT_EQ(d.limits[1].max_size, 5);
  EXPECT_EQ(resolve_alias(d.limits, "prod"), "production_db");
  EXPECT_EQ(resolve_alias(d.limits, "staging"), "development_db");
  EXPECT_EQ(resolve_alias(d.limits, "production_db"), "production_db");
  EXPECT_EQ(resolve_alias(d.limits, "unknown"), "unknown");
}

TEST(DatabasesParse, Errors) {
  const std::string file = "pgquay_databases.conf:1: ";
  EXPECT_EQ(error_of("db=a,b,c,d,e,f,g,h,i u 5\n"),
            file + "DATABASE 'db=a,b,c,d,e,f,g,h,i': 9 aliases; at most 8 are allowed");
  EXPECT_EQ(error_of("db=a,,b u 5\n"), file + "DATABASE 'db=a,,b': empty alias");
  // "db= u" reads as database db with alias u (pgagroal allows blanks around '='), so the
  // entry lacks its sizes.
  EXPECT_EQ(error_of("db= u 5\n"), file +
                                       "missing MAX_SIZE: expected DATABASE[=ALIASES] USER "
                                       "MAX_SIZE [INITIAL_SIZE [MIN_SIZE]]");
  EXPECT_EQ(error_of("all=x u 5\n"), file + "DATABASE 'all=x': all cannot have aliases");
  EXPECT_EQ(error_of("=x u 5\n"), file + "DATABASE '=x': missing the database name before '='");
  EXPECT_EQ(error_of("db=db u 5\n"), file + "DATABASE 'db=db': alias 'db' is the database itself");
  EXPECT_EQ(error_of("db=a,a u 5\n"), file + "DATABASE 'db=a,a': alias 'a' is listed twice");
  EXPECT_EQ(error_of("db=all u 5\n"), file + "DATABASE 'db=all': all cannot be an alias");
  EXPECT_EQ(error_of("db u 0\n"), file + "MAX_SIZE '0': expected a positive integer or all");
  EXPECT_EQ(error_of("db u x\n"), file + "MAX_SIZE 'x': expected a positive integer or all");
  EXPECT_EQ(error_of("db u 5 -1\n"),
            file + "INITIAL_SIZE '-1': expected a non-negative integer or all");
  EXPECT_EQ(error_of("db u 5 1 z\n"),
            file + "MIN_SIZE 'z': expected a non-negative integer or all");
  EXPECT_EQ(error_of("db u 5 6\n"), file + "INITIAL_SIZE 6 is larger than MAX_SIZE 5");
  EXPECT_EQ(error_of("db u 5 0 6\n"), file + "MIN_SIZE 6 is larger than MAX_SIZE 5");
  EXPECT_EQ(error_of("db\n"),
            file +
                "missing USER and MAX_SIZE: expected DATABASE[=ALIASES] USER MAX_SIZE "
                "[INITIAL_SIZE [MIN_SIZE]]");
  EXPECT_EQ(error_of("db u 5 1 1 9\n"),
            file + "unexpected '9' after MIN_SIZE (a comment starts with #)");
}

TEST(DatabasesParse, AliasConflictsAcrossEntries) {
  EXPECT_EQ(error_of("one=x u 5\ntwo=x u 5\n"),
            "pgquay_databases.conf:2: alias 'x' already names database 'one' (line 1)");
  EXPECT_EQ(error_of("one=two u 5\ntwo u 5\n"),
            "pgquay_databases.conf:1: alias 'two' is also a database name (line 2)");
  // The same alias on two entries of the same database (one per user) is consistent.
  auto d = parse("one=x alice 5\none=x bob 5\n");
  EXPECT_EQ(d.limits.size(), 2u);
}

TEST(DatabasesParse, InitialBelowMinIsRaisedWithAWarning) {
  auto d = parse("db u 10 2 3\n");
  EXPECT_EQ(d.limits[0].initial_size, 3);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "pgquay_databases.conf:1: INITIAL_SIZE 2 is below MIN_SIZE 3; using 3");
}

TEST(DatabasesParse, MissingFile) {
  auto r = load_databases_file("/nonexistent/pgquay_databases.conf");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cannot read /nonexistent/pgquay_databases.conf: No such file or directory");
}

TEST(FindLimit, PgagroalOrderAndAliases) {
  auto d = parse(
      "all     admin  2\n"
      "sales=crm  all    8\n"
      "sales   alice  4\n"
      "all     all    50\n");
  const auto& l = d.limits;
  EXPECT_EQ(find_limit(l, "sales", "alice")->line, 3);  // exact database and user
  EXPECT_EQ(find_limit(l, "crm", "alice")->line, 3);    // via the alias
  EXPECT_EQ(find_limit(l, "sales", "admin")->line, 1);  // user match, database all
  EXPECT_EQ(find_limit(l, "sales", "bob")->line, 2);    // database match, user all
  EXPECT_EQ(find_limit(l, "crm", "bob")->line, 2);
  EXPECT_EQ(find_limit(l, "other", "bob")->line, 4);  // all all
  auto none = parse("sales alice 4\n");
  EXPECT_EQ(find_limit(none.limits, "sales", "bob"), nullptr);
  EXPECT_EQ(find_limit({}, "sales", "bob"), nullptr);
}

TEST(ResolveSizes, AllTakesWhatIsLeft) {
  auto d = parse("a u 30\nc u 10\nb u all all\n");
  auto r = resolve_sizes(d.limits, 100, "pgquay_databases.conf");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(d.limits[2].max_size, 60);
  EXPECT_EQ(d.limits[2].initial_size, 60);
  // `all` takes what the entries above left (70), so the entry after it overflows: 30 + 70 + 10
  auto over = parse("a u 30\nb u all\nc u 10\n");
  auto err = resolve_sizes(over.limits, 100, "pgquay_databases.conf");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message,
            "pgquay_databases.conf: the MAX_SIZEs add up to 110, more than max_connections = 100");
  auto none_left = parse("a u 100\nb u all\n");
  auto err2 = resolve_sizes(none_left.limits, 100, "pgquay_databases.conf");
  ASSERT_FALSE(err2);
  EXPECT_EQ(err2.error().message,
            "pgquay_databases.conf:2: MAX_SIZE all leaves no connections: the entries above "
            "already use all max_connections = 100");
  auto big_initial = parse("b u all 200\n");
  auto err3 = resolve_sizes(big_initial.limits, 100, "pgquay_databases.conf");
  ASSERT_FALSE(err3);
  EXPECT_EQ(err3.error().message,
            "pgquay_databases.conf:1: INITIAL_SIZE 200 / MIN_SIZE 0 exceed MAX_SIZE all = 100");
}

}  // namespace
}  // namespace pgquay::config
