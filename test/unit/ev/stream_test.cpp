#include "pgquay/ev/stream.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "ev_test_support.hpp"
#include "pgquay/ev/watchers.hpp"

namespace pgquay::ev {
namespace {

using testing::BackendTest;
using testing::make_socketpair;

// Test double that records what a stream reports and lets a test react.
struct Recorder : StreamEvents {
  std::string received;
  int closed_error = -1;
  int drained = 0;
  int quiet = 0;
  bool quiet_clean = false;
  std::function<void(Stream&)> on_data;
  std::function<void(Stream&)> on_close;
  void on_stream_data(Stream& s) override {
    received.append(s.input().view());
    s.input().consume(s.input().size());
    if (on_data) on_data(s);
  }
  void on_stream_closed(Stream& s, int error) override {
    closed_error = error;
    if (on_close) on_close(s);
  }
  void on_stream_drained(Stream&) override { ++drained; }
  void on_stream_quiet(Stream&, bool clean) override {
    ++quiet;
    quiet_clean = clean;
  }
};

// An echo server: every byte read is written back.
struct Echo : StreamEvents {
  void on_stream_data(Stream& s) override {
    std::string bytes(s.input().view());
    s.input().consume(bytes.size());
    s.write(bytes);
  }
  void on_stream_closed(Stream&, int) override { closed = true; }
  bool closed = false;
};

class StreamTest : public BackendTest {};

TEST_P(StreamTest, EchoesOverSocketpair) {
  auto [a, b] = make_socketpair();
  Echo echo;
  Recorder client;
  Stream server_side(*loop, std::move(a), echo);
  Stream client_side(*loop, std::move(b), client);
  client.on_data = [&](Stream&) {
    if (client.received.size() == 11) loop->break_loop();
  };
  client_side.write("hello ");
  client_side.write("world");
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(client.received, "hello world");
}

TEST_P(StreamTest, TransfersMoreThanTheSocketBuffersInOrder) {
  auto [a, b] = make_socketpair();
  int small = 4096;
  setsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(b.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  std::string payload(24 * 1024 * 1024, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 7919) >> 3);
  Recorder sink, source_events;
  Stream source(*loop, std::move(a), source_events);
  Stream dest(*loop, std::move(b), sink);
  // Written in uneven pieces so partial sends and receives land at every kind of boundary.
  for (size_t off = 0; off < payload.size();) {
    size_t n = std::min<size_t>(payload.size() - off, 100000 + off % 777);
    source.write(std::string_view(payload).substr(off, n));
    off += n;
  }
  EXPECT_GT(source.output_pending(), 0u);
  sink.on_data = [&](Stream&) {
    if (sink.received.size() >= payload.size()) loop->break_loop();
  };
  ASSERT_TRUE(loop->run());
  ASSERT_EQ(sink.received.size(), payload.size());
  EXPECT_TRUE(sink.received == payload);
  EXPECT_EQ(source.output_pending(), 0u);
  EXPECT_GE(source_events.drained, 1);
}

TEST_P(StreamTest, ManyStreamsAtOnce) {
  constexpr int kPairs = 300;
  std::vector<std::unique_ptr<Echo>> echoes;
  std::vector<std::unique_ptr<Recorder>> recorders;
  std::vector<std::unique_ptr<Stream>> streams;
  int finished = 0;
  for (int i = 0; i < kPairs; ++i) {
    auto [a, b] = make_socketpair();
    echoes.push_back(std::make_unique<Echo>());
    recorders.push_back(std::make_unique<Recorder>());
    streams.push_back(std::make_unique<Stream>(*loop, std::move(a), *echoes.back()));
    streams.push_back(std::make_unique<Stream>(*loop, std::move(b), *recorders.back()));
    std::string msg = "message-" + std::to_string(i);
    Recorder* rec = recorders.back().get();
    rec->on_data = [&, rec, msg](Stream&) {
      if (rec->received == msg && ++finished == kPairs) loop->break_loop();
    };
    streams.back()->write(msg);
  }
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(finished, kPairs);
}

TEST_P(StreamTest, ReportsPeerCloseAndCanBeDestroyedInsideTheCallback) {
  auto [a, b] = make_socketpair();
  Recorder rec;
  auto stream = std::make_unique<Stream>(*loop, std::move(a), rec);
  rec.on_close = [&](Stream&) {
    stream.reset();
    loop->break_loop();
  };
  b.reset();
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(rec.closed_error, 0);
  EXPECT_EQ(stream, nullptr);
}

TEST_P(StreamTest, DestroyingAStreamInsideItsDataCallbackIsSafe) {
  auto [a, b] = make_socketpair();
  Recorder rec;
  auto stream = std::make_unique<Stream>(*loop, std::move(a), rec);
  rec.on_data = [&](Stream&) {
    stream.reset();
    loop->break_loop();
  };
  ASSERT_EQ(::write(b.get(), "x", 1), 1);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(rec.received, "x");
  EXPECT_EQ(stream, nullptr);
}

TEST_P(StreamTest, PauseKeepsBytesUntilResume) {
  auto [a, b] = make_socketpair();
  Recorder rec;
  Stream stream(*loop, std::move(a), rec);
  rec.on_data = [&](Stream& s) { s.pause_reading(); };
  Timer resume(*loop, [&] { stream.resume_reading(); });
  Timer finish(*loop, [&] { loop->break_loop(); });
  ASSERT_EQ(::write(b.get(), "one", 3), 3);
  // The pause happens in the first data callback; bytes sent later must wait for resume.
  Timer second_write(*loop, [&] {
    ASSERT_EQ(::write(b.get(), "two", 3), 3);
    resume.start(std::chrono::milliseconds{30});
  });
  second_write.start(std::chrono::milliseconds{10});
  rec.on_data = [&](Stream& s) {
    if (rec.received == "one") s.pause_reading();
    if (rec.received == "onetwo") loop->break_loop();
  };
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(rec.received, "onetwo");
}

// A receive is in flight when quiesce() starts: it must be cancelled without eating any bytes, so
// the socket can be handed to another process intact.
TEST_P(StreamTest, QuiesceStopsReceivingAndReleasesTheSocketIntact) {
  auto [a, b] = make_socketpair();
  struct QuietRecorder : Recorder {
    Loop* loop = nullptr;
    void on_stream_quiet(Stream& s, bool clean) override {
      Recorder::on_stream_quiet(s, clean);
      loop->break_loop();
    }
  } rec;
  rec.loop = loop.get();
  auto stream = std::make_unique<Stream>(*loop, std::move(a), rec);
  Timer start_quiesce(*loop, [&] { stream->quiesce(); });
  start_quiesce.start(std::chrono::milliseconds{5});
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(rec.quiet, 1);
  EXPECT_TRUE(rec.quiet_clean);
  EXPECT_EQ(rec.received, "");
  Fd released = stream->release();
  stream.reset();
  ASSERT_EQ(::write(b.get(), "next", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(::recv(released.get(), buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "next");
}

PGQ_INSTANTIATE_BACKENDS(StreamTest);

}  // namespace
}  // namespace pgquay::ev

namespace pgquay::ev {
namespace {

// A consumer may take everything while a receive is still writing behind it (a worker hands the
// buffered bytes to a relay while the stream keeps reading): the bytes that receive brings must
// land after the consumed ones, not be lost to a rewind of the buffer.
TEST(InputBuffer, ConsumingEverythingDuringAReceiveKeepsWhatItBrings) {
  InputBuffer in;
  size_t room = 0;
  char* at = in.prepare(16, &room);
  std::memcpy(at, "first", 5);
  in.commit(5);
  at = in.prepare(16, &room);  // the next receive is in flight...
  in.consume(in.size());       // ...when the consumer takes everything
  EXPECT_TRUE(in.empty());
  std::memcpy(at, "second", 6);
  in.commit(6);
  EXPECT_EQ(in.view(), "second");
}

}  // namespace
}  // namespace pgquay::ev
