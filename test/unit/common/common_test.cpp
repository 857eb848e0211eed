#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgquay/common/fd.hpp"
#include "pgquay/common/log.hpp"
#include "pgquay/common/process.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay {
namespace {

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

TEST(Fd, ClosesOnDestructionAndMoves) {
  int raw[2];
  ASSERT_EQ(pipe(raw), 0);
  {
    Fd a(raw[0]);
    Fd b = std::move(a);
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw[0]);
    EXPECT_TRUE(is_open(raw[0]));
  }
  EXPECT_FALSE(is_open(raw[0]));
  Fd c(raw[1]);
  int released = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(is_open(released));
  ::close(released);
}

TEST(Result, CarriesErrnoText) {
  Result<int> r = fail_errno("open /nope", ENOENT);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ENOENT);
  EXPECT_EQ(r.error().message, "open /nope: No such file or directory");
}

TEST(Log, ParsesPgagroalLevelNames) {
  EXPECT_EQ(log::parse_level("info").value(), log::Level::info);
  EXPECT_EQ(log::parse_level("DEBUG5").value(), log::Level::debug5);
  EXPECT_EQ(log::parse_level("debug1").value(), log::Level::debug);
  EXPECT_EQ(log::parse_level("warn").value(), log::Level::warn);
  auto bad = log::parse_level("loud");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "unknown log level 'loud' (accepted: debug5..debug1, info, warn, error, fatal)");
}

TEST(Log, WritesOneLineWithRoleAndPid) {
  int raw[2];
  ASSERT_EQ(pipe(raw), 0);
  Fd read_end(raw[0]), write_end(raw[1]);
  log::set_output_fd(write_end.get());
  log::set_process_role("test");
  PGQ_WARN("user=%s database=%s", "alice", "app");
  log::set_output_fd(STDERR_FILENO);
  char buf[512] = {};
  ssize_t n = ::read(read_end.get(), buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  std::string line(buf, static_cast<size_t>(n));
  EXPECT_NE(line.find("WARN  [test " + std::to_string(getpid()) + "] user=alice database=app\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.back(), '\n');
}

TEST(Process, CloseInheritedFdsKeepsOnlyWhatIsAsked) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) _exit(10);
    process::close_inherited_fds({a[0]});
    bool ok = is_open(a[0]) && !is_open(a[1]) && !is_open(b[0]) && !is_open(b[1]) &&
              is_open(STDERR_FILENO);
    _exit(ok ? 0 : 11);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace pgquay
