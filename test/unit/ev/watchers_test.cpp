#include "pgquay/ev/watchers.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "ev_test_support.hpp"
#include "pgquay/ev/stream.hpp"

namespace pgquay::ev {
namespace {

using namespace std::chrono_literals;
using testing::BackendTest;
using testing::make_socketpair;

class WatchersTest : public BackendTest {};

Fd listen_loopback(sockaddr_in* bound) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(fd.get(), 128), 0);
  socklen_t len = sizeof(*bound);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(bound), &len);
  return fd;
}

TEST_P(WatchersTest, PeriodicTimerFiresRepeatedly) {
  int fired = 0;
  Timer timer(*loop, [&] {
    if (++fired == 5) loop->break_loop();
  });
  timer.start(2ms, 2ms);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(fired, 5);
  EXPECT_TRUE(timer.active());
}

TEST_P(WatchersTest, OneShotTimerFiresOnce) {
  int fired = 0;
  Timer once(*loop, [&] { ++fired; });
  Timer done(*loop, [&] { loop->break_loop(); });
  once.start(1ms);
  done.start(30ms);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(once.active());
}

TEST_P(WatchersTest, CallbacksCanStopAndStartOtherWatchers) {
  int a_fired = 0, b_fired = 0;
  Timer b(*loop, [&] { ++b_fired; });
  Timer a(*loop, [&] {
    ++a_fired;
    if (a_fired == 1) b.stop();  // b was due at the same time: it must not fire now
    if (a_fired == 3) b.start(1ms);
    if (a_fired == 6) loop->break_loop();
  });
  a.start(3ms, 3ms);
  b.start(3ms, 3ms);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(a_fired, 6);
  EXPECT_GE(b_fired, 1);  // restarted by a's third tick
}

TEST_P(WatchersTest, TimerCanStopItselfAndBeDestroyedInItsCallback) {
  auto self = std::make_unique<Timer>(*loop, [] {});
  int fired = 0;
  self = std::make_unique<Timer>(*loop, [&] {
    ++fired;
    self.reset();
    loop->break_loop();
  });
  self->start(1ms, 1ms);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(self, nullptr);
}

TEST_P(WatchersTest, SignalsArriveAsLoopEvents) {
  std::vector<int> seen;
  SignalWatcher signals(*loop, {SIGUSR1, SIGUSR2}, [&](int signo) {
    seen.push_back(signo);
    if (seen.size() == 2) loop->break_loop();
  });
  ASSERT_TRUE(signals.ok());
  Timer sender(*loop, [&] {
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR2);
  });
  sender.start(1ms);
  ASSERT_TRUE(loop->run());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0] + seen[1], SIGUSR1 + SIGUSR2);
}

TEST_P(WatchersTest, BreakReturnsFromRun) {
  Timer t(*loop, [&] { loop->break_loop(); });
  t.start(1ms);
  ASSERT_TRUE(loop->run());
  EXPECT_TRUE(loop->stopping());
  // And the loop can run again afterwards.
  t.start(1ms);
  ASSERT_TRUE(loop->run());
}

TEST_P(WatchersTest, AcceptsEveryPendingClient) {
  sockaddr_in addr{};
  Fd listener = listen_loopback(&addr);
  std::vector<Fd> clients, accepted;
  for (int i = 0; i < 20; ++i) {
    clients.emplace_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(connect(clients.back().get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  Acceptor acceptor(*loop, listener.get(), [&](Fd fd) {
    accepted.push_back(std::move(fd));
    if (accepted.size() == 20) loop->break_loop();
  });
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(accepted.size(), 20u);
  for (auto& fd : accepted) EXPECT_TRUE(fd.valid());
}

TEST_P(WatchersTest, ConnectorReportsSuccessAndRefusal) {
  sockaddr_in addr{};
  Fd listener = listen_loopback(&addr);
  Fd ok_sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int ok_result = -1, refused_result = -1;
  Connector good(*loop, ok_sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr),
                 [&](int err) { ok_result = err; });
  // A port nobody listens on: bind a socket, note its port, close it.
  sockaddr_in closed_addr{};
  { Fd tmp = listen_loopback(&closed_addr); }
  Fd bad_sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Connector bad(*loop, bad_sock.get(), reinterpret_cast<sockaddr*>(&closed_addr),
                sizeof(closed_addr), [&](int err) { refused_result = err; });
  Timer check(*loop, [&] {
    if (ok_result >= 0 && refused_result >= 0) loop->break_loop();
  });
  check.start(1ms, 1ms);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(ok_result, 0);
  EXPECT_EQ(refused_result, ECONNREFUSED);
}

TEST_P(WatchersTest, ReadableWatcherFiresForDataAndKeepsFiring) {
  auto [a, b] = make_socketpair();
  int reads = 0;
  ReadableWatcher watcher(*loop, a.get(), [&] {
    char c;
    ASSERT_EQ(::recv(a.get(), &c, 1, MSG_DONTWAIT), 1);
    if (++reads == 3) loop->break_loop();
  });
  ASSERT_EQ(::write(b.get(), "abc", 3), 3);
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(reads, 3);
}

TEST_P(WatchersTest, DestroyLeavesNoDescriptorBehind) {
  loop.reset();
  int before = testing::count_open_fds();
  {
    auto created = Loop::create(GetParam());
    ASSERT_TRUE(created);
    auto& l = **created;
    auto [a, b] = make_socketpair();
    struct Nop : StreamEvents {
      void on_stream_data(Stream& s) override { s.input().consume(s.input().size()); }
      void on_stream_closed(Stream&, int) override {}
    } nop;
    Stream s1(l, std::move(a), nop), s2(l, std::move(b), nop);
    Timer t(l, [&] { l.break_loop(); });
    SignalWatcher sig(l, {SIGUSR2}, [](int) {});
    s1.write("bytes in flight");
    t.start(2ms);
    ASSERT_TRUE(l.run());
  }
  EXPECT_EQ(testing::count_open_fds(), before);
}

// The fork hook: the child builds its own loop and uses it; the parent's registrations keep
// firing after the child has exited.
TEST_P(WatchersTest, ForkHookGivesTheChildAFreshLoop) {
  auto [parent_end, child_end] = make_socketpair();
  int ticks = 0;
  Timer parent_timer(*loop, [&] { ++ticks; });
  parent_timer.start(1ms, 1ms);
  struct Keep : StreamEvents {
    std::string got;
    void on_stream_data(Stream& s) override {
      got.append(s.input().view());
      s.input().consume(s.input().size());
    }
    void on_stream_closed(Stream&, int) override {}
  } parent_events;
  Stream parent_stream(*loop, std::move(parent_end), parent_events);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: the hook first. The inherited watchers are left alone: they are inert now, and
    // touching their kernel objects (the timerfd is shared with the parent) would be a bug.
    if (!loop->fork_child()) _exit(10);
    struct Echo : StreamEvents {
      Loop* l;
      void on_stream_data(Stream& s) override {
        std::string bytes(s.input().view());
        s.input().consume(bytes.size());
        s.write("child:" + bytes);
      }
      void on_stream_drained(Stream&) override { l->break_loop(); }
      void on_stream_closed(Stream&, int) override { _exit(11); }
    } echo;
    echo.l = loop.get();
    Stream child_stream(*loop, std::move(child_end), echo);
    Timer watchdog(*loop, [] { _exit(12); });
    watchdog.start(5000ms);
    if (!loop->run()) _exit(13);
    _exit(0);
  }
  child_end.reset();
  parent_stream.write("ping");
  // The parent keeps running its loop while the child works, and after the child has exited.
  int status = -1;
  int ticks_at_exit = -1;
  Timer until(*loop, [&] {
    if (ticks_at_exit < 0 && waitpid(pid, &status, WNOHANG) == pid) ticks_at_exit = ticks;
    if (ticks_at_exit >= 0 && parent_events.got == "child:ping" && ticks >= ticks_at_exit + 3)
      loop->break_loop();
  });
  until.start(1ms, 1ms);
  ASSERT_TRUE(loop->run());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(parent_events.got, "child:ping");
  EXPECT_GE(ticks, ticks_at_exit + 3);
}

PGQ_INSTANTIATE_BACKENDS(WatchersTest);

TEST(BackendSelection, ParsesNamesAndRejectsUnknownOnes) {
  EXPECT_EQ(parse_backend_kind("auto").value(), BackendKind::automatic);
  EXPECT_EQ(parse_backend_kind("IO_URING").value(), BackendKind::io_uring);
  EXPECT_EQ(parse_backend_kind("epoll").value(), BackendKind::epoll);
  auto bad = parse_backend_kind("poll");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "unknown event loop backend 'poll' (accepted: auto, io_uring, epoll, kqueue)");
}

TEST(BackendSelection, AutoPrefersIoUringAndKqueueIsRefusedOnLinux) {
  EXPECT_EQ(select_backend(BackendKind::automatic).value(), BackendKind::io_uring);
  auto kq = select_backend(BackendKind::kqueue);
  ASSERT_FALSE(kq);
  EXPECT_EQ(kq.error().message,
            "ev_backend = kqueue is not available: kqueue exists only on BSD and macOS");
}

}  // namespace
}  // namespace pgquay::ev
