// The Prometheus endpoint of a running pgquay: the exposition parses, every sample belongs to an
// announced family, counters move as clients come and go, and the HTTP side answers 404, 405,
// 400 and 431 where it should.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <string_view>

#include "harness/postgres_environment.hpp"
#include "management_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class MetricsTest : public ManagementTest {};
INSTANTIATE_POOLER_TEST_SUITE(MetricsTest);

TEST_P(MetricsTest, MetricsAreScrapedAndCountersMove) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto first = scrape();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->value("pgquay_state"), 1);
  EXPECT_GT(first->value("pgquay_connections_max"), 0);
  EXPECT_EQ(first->types["pgquay_sessions_total"], "counter");
  EXPECT_EQ(first->types["pgquay_client_wait_seconds"], "histogram");
  EXPECT_EQ(first->types["pgquay_pool_connections"], "gauge");
  // Every sample belongs to an announced family.
  for (const auto& [key, value] : first->samples) {
    std::string name = key.substr(0, key.find('{'));
    bool announced = first->types.contains(name);
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.ends_with(suffix))
        announced = announced || first->types.contains(name.substr(0, name.size() - suffix.size()));
    }
    EXPECT_TRUE(announced) << key;
  }
  const double sessions = first->value("pgquay_sessions_total");
  const double waits = first->value("pgquay_client_wait_seconds_count");

  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "select 1"));
  auto during = scrape();
  ASSERT_TRUE(during);
  EXPECT_EQ(during->value("pgquay_sessions_total"), sessions + 1);
  EXPECT_EQ(during->value("pgquay_client_wait_seconds_count"), waits + 1);
  EXPECT_EQ(during->value("pgquay_pool_connections" + kPoolKey + ",state=\"active\"}"), 1);
  EXPECT_GE(during->value("pgquay_clients_active"), 1);
  EXPECT_GE(during->value("pgquay_server_connections{state=\"in-use\"}"), 1);

  client->reset();
  EXPECT_TRUE(wait_until(
      [&] {
        auto after = scrape();
        return after &&
               after->value("pgquay_pool_connections" + kPoolKey + ",state=\"idle\"}") == 1 &&
               after->value("pgquay_session_seconds_count") >= 1;
      },
      10s));

  ASSERT_TRUE(cli_json({"clear", "prometheus"}));
  auto cleared = scrape();
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->value("pgquay_sessions_total"), 0);
  EXPECT_EQ(cleared->value("pgquay_client_wait_seconds_count"), 0);
  EXPECT_EQ(cleared->value("pgquay_pool_connections" + kPoolKey + ",state=\"idle\"}"), 1)
      << "clear prometheus must not touch gauges";
}

TEST_P(MetricsTest, MetricsEndpointSpeaksHttp) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto index = http_exchange(metrics_port_, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(http_status(*index), 200);
  EXPECT_NE(index->find("/metrics"), std::string::npos);
  auto missing = http_exchange(metrics_port_, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(missing);
  EXPECT_EQ(http_status(*missing), 404);
  auto post = http_exchange(metrics_port_, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(post);
  EXPECT_EQ(http_status(*post), 405);
  auto garbage = http_exchange(metrics_port_, "hello\r\n\r\n");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(http_status(*garbage), 400);
  auto huge =
      http_exchange(metrics_port_, "GET /metrics HTTP/1.1\r\nX: " + std::string(16 * 1024, 'a'));
  ASSERT_TRUE(huge) << huge.error().message;
  EXPECT_EQ(http_status(*huge), 431);
  auto metrics = http_exchange(metrics_port_, "GET /metrics HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics->find("Connection: close"), std::string::npos);
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
}

TEST_P(MetricsTest, WorkerCrashesAreCounted) {
  if (auto started = start(); !started) FAIL() << started.error().message;
  auto client = connect_pooled(kUser);
  ASSERT_TRUE(client) << describe(client.error());
  ASSERT_TRUE(exec(client->get(), "select 1"));
  auto worker = worker_serving(pgquay().pid(), pgquay().port(), client->get());
  ASSERT_TRUE(worker) << worker.error().message;
  auto before = scrape();
  ASSERT_TRUE(before) << before.error().message;
  // (The readiness probe of the test harness was a session too.)
  const double ended = before->value("pgquay_session_seconds_count");
  EXPECT_EQ(before->value("pgquay_worker_crashes_total"), 0);
  ASSERT_EQ(::kill(*worker, SIGKILL), 0);
  EXPECT_TRUE(wait_until(
      [&] {
        auto metrics = scrape();
        return metrics && metrics->value("pgquay_worker_crashes_total") == 1 &&
               metrics->value("pgquay_session_seconds_count") == ended + 1;
      },
      10s))
      << "the killed worker was not counted: "
      << (scrape()
              ? std::to_string(scrape()->value("pgquay_worker_crashes_total")) + " crashes, " +
                    std::to_string(scrape()->value("pgquay_session_seconds_count")) + " sessions"
              : "no scrape");
}

}  // namespace
}  // namespace pgquay::test
