// The relay between a client and a server stream, on both event-loop backends and both pipelines.
#include "pgquay/pipeline/relay.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

#include "pgquay/ev/loop.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::pipeline {
namespace {

using Param = std::tuple<ev::BackendKind, config::Pipeline>;

std::string typed(char type, std::string_view body) {
  std::string out(1, type);
  uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(len >> shift));
  out.append(body);
  return out;
}

// Collects what arrives at one end of a socketpair.
struct Sink : ev::StreamEvents {
  std::string received;
  bool closed = false;
  void on_stream_data(ev::Stream& s) override {
    received.append(s.input().view());
    s.input().consume(s.input().size());
  }
  void on_stream_closed(ev::Stream&, int) override { closed = true; }
};

class RelayTest : public ::testing::TestWithParam<Param>,
                  public RelayOwner,
                  public ev::StreamEvents {
 protected:
  void SetUp() override {
    auto created = ev::Loop::create(std::get<0>(GetParam()));
    ASSERT_TRUE(created) << created.error().message;
    loop = std::move(*created);
    pipeline = make_pipeline(std::get<1>(GetParam()));
    int c[2], s[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    client_peer = std::make_unique<ev::Stream>(*loop, Fd(c[0]), client_sink);
    client_side = std::make_unique<ev::Stream>(*loop, Fd(c[1]), *this);
    server_side = std::make_unique<ev::Stream>(*loop, Fd(s[0]), *this);
    server_peer = std::make_unique<ev::Stream>(*loop, Fd(s[1]), server_sink);
    relay = std::make_unique<Relay>(*pipeline, *client_side, *server_side, *this);
    relay->start();
  }

  // Runs the loop until `done` holds (bounded by a watchdog that fails the test).
  template <typename Pred>
  void run_until(Pred done) {
    ev::Timer check(*loop, [&] {
      if (done()) loop->break_loop();
    });
    ev::Timer watchdog(*loop, [&] {
      ADD_FAILURE() << "condition not reached";
      loop->break_loop();
    });
    check.start(std::chrono::milliseconds{1}, std::chrono::milliseconds{1});
    watchdog.start(std::chrono::milliseconds{10000});
    ASSERT_TRUE(loop->run());
  }

  void on_relay_end(const RelayOutcome& o) override { outcome = o; }
  void on_server_parameter(std::string_view name, std::string_view value) override {
    last_parameter = std::string(name) + "=" + std::string(value);
  }
  void on_stream_data(ev::Stream& s) override {
    if (&s == client_side.get())
      relay->client_data();
    else
      relay->server_data();
  }
  void on_stream_closed(ev::Stream& s, int error) override {
    if (&s == client_side.get())
      relay->client_closed(error);
    else
      relay->server_closed(error);
  }
  void on_stream_drained(ev::Stream& s) override {
    if (&s == client_side.get())
      relay->client_drained();
    else
      relay->server_drained();
  }

  std::unique_ptr<ev::Loop> loop;
  std::unique_ptr<Pipeline> pipeline;
  Sink client_sink, server_sink;
  std::unique_ptr<ev::Stream> client_peer, client_side, server_side, server_peer;
  std::unique_ptr<Relay> relay;
  std::optional<RelayOutcome> outcome;
  std::string last_parameter;
};

TEST_P(RelayTest, ForwardsBothWaysAndKeepsTheServerForThePoolOnTerminate) {
  std::string query = typed('Q', std::string("select 1") + '\0');
  client_peer->write(query);
  run_until([&] { return server_sink.received == query; });
  EXPECT_FALSE(relay->server_synced());  // the query is not answered yet

  std::string answer = typed('C', std::string("SELECT 1") + '\0') + typed('Z', "I");
  server_peer->write(answer);
  run_until([&] { return client_sink.received == answer; });
  EXPECT_TRUE(relay->server_synced());

  client_peer->write(typed('X', ""));
  run_until([&] { return outcome.has_value(); });
  EXPECT_EQ(outcome->reason, EndReason::client_terminated);
  EXPECT_TRUE(outcome->server_synced);
  EXPECT_EQ(outcome->tx_status, proto::TxStatus::idle);
  EXPECT_EQ(server_sink.received, query);  // Terminate never reaches the server
}

TEST_P(RelayTest, MessagesSplitAcrossReadsAreFramedByLength) {
  std::string batch = typed('P', std::string("\0select 1\0\0\0", 12)) +
                      typed('B', std::string(10, '\0')) + typed('E', std::string(5, '\0')) +
                      typed('S', "");
  for (char c : batch) client_peer->write(std::string_view(&c, 1));
  run_until([&] { return server_sink.received == batch; });
  EXPECT_FALSE(relay->server_synced());
  server_peer->write(typed('1', "") + typed('2', "") + typed('C', std::string("SELECT 1") + '\0') +
                     typed('Z', "T"));
  run_until([&] { return relay->tx_status() == proto::TxStatus::in_transaction; });
  EXPECT_TRUE(relay->server_synced());
}

TEST_P(RelayTest, FatalFromTheServerEndsTheSessionAfterReachingTheClient) {
  std::string fatal;
  proto::build_fatal(fatal, "57P01", "terminating connection due to administrator command");
  server_peer->write(fatal);
  run_until([&] { return outcome.has_value() && client_sink.received == fatal; });
  EXPECT_EQ(outcome->reason, EndReason::server_fatal);
  EXPECT_FALSE(outcome->server_synced);
}

TEST_P(RelayTest, AClientLeavingMidQueryLeavesTheServerUnsynced) {
  client_peer->write(typed('Q', std::string("select pg_sleep(10)") + '\0'));
  run_until([&] { return !server_sink.received.empty(); });
  client_peer.reset();
  run_until([&] { return outcome.has_value(); });
  EXPECT_EQ(outcome->reason, EndReason::client_terminated);
  EXPECT_FALSE(outcome->server_synced);
}

TEST_P(RelayTest, ALargeResultStreamsThroughWithBackPressure) {
  // 40 DataRow messages of 512 KiB: far more than the socket buffers and the high-water mark.
  std::string result;
  for (int i = 0; i < 40; ++i)
    result += typed('D', std::string(512 * 1024, static_cast<char>('a' + i % 26)));
  result += typed('Z', "I");
  server_peer->write(result);
  run_until([&] { return client_sink.received.size() == result.size(); });
  EXPECT_TRUE(client_sink.received == result);
}

TEST_P(RelayTest, ParameterStatusIsTrackedOnlyBySessionPipeline) {
  std::string status;
  proto::build_parameter_status(status, "application_name", "app");
  server_peer->write(status);
  run_until([&] { return client_sink.received == status; });
  if (std::get<1>(GetParam()) == config::Pipeline::session) {
    EXPECT_EQ(last_parameter, "application_name=app");
  } else {
    EXPECT_EQ(last_parameter, "");
  }
}

TEST_P(RelayTest, AnImpossibleLengthIsAProtocolError) {
  client_peer->write(std::string("Q\0\0\0\2", 5));
  run_until([&] { return outcome.has_value(); });
  EXPECT_EQ(outcome->reason, EndReason::protocol_error);
  EXPECT_TRUE(server_sink.received.empty());
}

INSTANTIATE_TEST_SUITE_P(
    BackendsAndPipelines, RelayTest,
    ::testing::Combine(::testing::Values(ev::BackendKind::io_uring, ev::BackendKind::epoll),
                       ::testing::Values(config::Pipeline::performance, config::Pipeline::session)),
    [](const ::testing::TestParamInfo<Param>& param_info) {
      return std::string(ev::backend_kind_name(std::get<0>(param_info.param))) + "_" +
             std::string(config::to_string(std::get<1>(param_info.param)));
    });

}  // namespace
}  // namespace pgquay::pipeline

namespace pgquay::pipeline {
namespace {

TEST(IsListen, FindsTheKeywordAfterBlanksAndComments) {
  EXPECT_TRUE(is_listen("LISTEN chan"));
  EXPECT_TRUE(is_listen("  listen chan;"));
  EXPECT_TRUE(is_listen("-- note\n /* block */ Listen\"chan\""));
  EXPECT_TRUE(is_listen("listen"));
  EXPECT_FALSE(is_listen("listener"));
  EXPECT_FALSE(is_listen("UNLISTEN *"));
  EXPECT_FALSE(is_listen("select 'listen'"));
  EXPECT_FALSE(is_listen("/* unterminated listen"));
  EXPECT_FALSE(is_listen(""));
}

}  // namespace
}  // namespace pgquay::pipeline
