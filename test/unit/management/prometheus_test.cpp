#include "pgquay/management/prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace pgquay::management {
namespace {

TEST(Prometheus, EscapesLabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("a\nb"), "a\\nb");
}

TEST(Prometheus, LabelValuesAreValidUtf8) {
  EXPECT_EQ(escape_label_value("caf\xC3\xA9 \xF0\x9F\x90\x98"), "caf\xC3\xA9 \xF0\x9F\x90\x98");
  EXPECT_EQ(escape_label_value("a\xFFz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(escape_label_value("\xC3"), "\xEF\xBF\xBD");                  // truncated
  EXPECT_EQ(escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(escape_label_value("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
}

TEST(Prometheus, EscapesHelpButNotQuotes) {
  EXPECT_EQ(escape_help("say \"x\"\\\n"), "say \"x\"\\\\\\n");
}

TEST(Prometheus, FormatsValues) {
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(42), "42");
  EXPECT_EQ(format_sample_value(-3), "-3");
  EXPECT_EQ(format_sample_value(0.25), "0.25");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::nan("")), "NaN");
}

TEST(Prometheus, FamilyAndSamples) {
  Exposition out;
  out.family("pgquay_pool_connections", "gauge", "Connections per pool");
  out.sample("pgquay_pool_connections", {{"database", "db\"1"}, {"user", "u"}}, 3);
  out.sample("pgquay_pool_connections", {}, 1.5);
  EXPECT_EQ(out.text(),
            "# HELP pgquay_pool_connections Connections per pool\n"
            "# TYPE pgquay_pool_connections gauge\n"
            "pgquay_pool_connections{database=\"db\\\"1\",user=\"u\"} 3\n"
            "pgquay_pool_connections 1.5\n");
}

TEST(Prometheus, HistogramIsCumulativeWithInfCountAndSum) {
  Exposition out;
  const double bounds[] = {0.001, 0.5, 2};
  const uint64_t counts[] = {1, 2, 0, 4};  // last: above 2 s
  out.histogram("w_seconds", "Wait", bounds, counts, 12.5);
  EXPECT_EQ(out.text(),
            "# HELP w_seconds Wait\n"
            "# TYPE w_seconds histogram\n"
            "w_seconds_bucket{le=\"0.001\"} 1\n"
            "w_seconds_bucket{le=\"0.5\"} 3\n"
            "w_seconds_bucket{le=\"2\"} 3\n"
            "w_seconds_bucket{le=\"+Inf\"} 7\n"
            "w_seconds_sum 12.5\n"
            "w_seconds_count 7\n");
}

}  // namespace
}  // namespace pgquay::management
