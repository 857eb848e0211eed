// The one-request endpoint on a real loop (both backends): a client thread talks to it over TCP
// on 127.0.0.1 while the test thread runs the loop.
#include "pgquay/management/endpoint.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace pgquay::management {
namespace {

using namespace std::chrono_literals;

std::string backend_name(const ::testing::TestParamInfo<ev::BackendKind>& param_info) {
  return ev::backend_kind_name(param_info.param);
}

class EndpointTest : public ::testing::TestWithParam<ev::BackendKind> {
 protected:
  void SetUp() override {
    auto created = ev::Loop::create(GetParam());
    ASSERT_TRUE(created.has_value()) << created.error().message;
    loop_ = std::move(*created);
    listener_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(listener_);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener_.get(), 16), 0);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }

  // Line protocol for the tests: a request ends with '\n'; the reply echoes it.
  EndpointHandler echo_handler() {
    return EndpointHandler{
        [this](std::string_view input) -> std::optional<Reply> {
          auto eol = input.find('\n');
          if (eol == std::string_view::npos) return std::nullopt;
          return Reply{"reply:" + std::string(input.substr(0, eol + 1)), [this] { ++thens_; }};
        },
        [] {
          return Reply{"too large\n", {}};
        }};
  }

  Fd connect_client() const {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Fd();
    timeval tv{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

  static std::string read_to_eof(int fd) {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return n == 0 ? out : out + "<error>";
  }

  // Runs the loop until `client` (on its own thread) returns.
  void run_with_client(const std::function<void()>& client) {
    std::atomic<bool> done{false};
    std::thread thread([&] {
      client();
      done = true;
    });
    ev::Timer poll(*loop_, [&] {
      if (done) loop_->break_loop();
    });
    poll.start(5ms, 5ms);
    auto ran = loop_->run();
    thread.join();
    ASSERT_TRUE(ran.has_value());
  }

  std::unique_ptr<ev::Loop> loop_;
  Fd listener_;
  int port_ = 0;
  int thens_ = 0;
};

TEST_P(EndpointTest, OneRequestOneReplyThenClose) {
  Endpoint endpoint(*loop_, std::move(listener_), "test", EndpointLimits{}, echo_handler());
  std::string got;
  run_with_client([&] {
    Fd fd = connect_client();
    ::send(fd.get(), "hel", 3, MSG_NOSIGNAL);
    std::this_thread::sleep_for(20ms);  // the request arrives in two pieces
    ::send(fd.get(), "lo\nextra\n", 9, MSG_NOSIGNAL);
    got = read_to_eof(fd.get());
  });
  EXPECT_EQ(got, "reply:hello\n");
  EXPECT_EQ(thens_, 1);
}

TEST_P(EndpointTest, TooLargeRequestGetsTheOverflowReply) {
  EndpointLimits limits;
  limits.max_request_size = 16;
  Endpoint endpoint(*loop_, std::move(listener_), "test", limits, echo_handler());
  std::string got;
  run_with_client([&] {
    Fd fd = connect_client();
    std::string big(64, 'x');
    ::send(fd.get(), big.data(), big.size(), MSG_NOSIGNAL);
    got = read_to_eof(fd.get());
  });
  EXPECT_EQ(got, "too large\n");
}

TEST_P(EndpointTest, IdleConnectionIsClosedAfterTheTimeout) {
  EndpointLimits limits;
  limits.timeout = 100ms;
  Endpoint endpoint(*loop_, std::move(listener_), "test", limits, echo_handler());
  std::string got;
  std::chrono::steady_clock::duration took{};
  run_with_client([&] {
    Fd fd = connect_client();
    auto start = std::chrono::steady_clock::now();
    got = read_to_eof(fd.get());
    took = std::chrono::steady_clock::now() - start;
  });
  EXPECT_EQ(got, "");
  EXPECT_LT(took, 4s);
  EXPECT_EQ(endpoint.connections(), 0u);
}

TEST_P(EndpointTest, ConnectionsBeyondTheLimitAreClosed) {
  EndpointLimits limits;
  limits.max_connections = 1;
  Endpoint endpoint(*loop_, std::move(listener_), "test", limits, echo_handler());
  std::string second;
  std::string first;
  run_with_client([&] {
    Fd a = connect_client();
    std::this_thread::sleep_for(50ms);  // accepted first
    Fd b = connect_client();
    ::send(b.get(), "x\n", 2, MSG_NOSIGNAL);
    second = read_to_eof(b.get());
    ::send(a.get(), "a\n", 2, MSG_NOSIGNAL);
    first = read_to_eof(a.get());
  });
  EXPECT_TRUE(second.empty() || second == "<error>") << second;
  EXPECT_EQ(first, "reply:a\n");
}

INSTANTIATE_TEST_SUITE_P(Backends, EndpointTest,
                         ::testing::Values(ev::BackendKind::io_uring, ev::BackendKind::epoll),
                         backend_name);

}  // namespace
}  // namespace pgquay::management
