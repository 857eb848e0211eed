#include "harness/child_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>
#include <utility>

#include "harness/files.hpp"
#include "pgquay/common/fd.hpp"

namespace pgquay::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

// What the child reports through the exec pipe when a step before exec() fails.
struct ChildFailure {
  int step;
  int err;
};
constexpr const char* kStepNames[] = {"dup2", "setgroups", "setgid", "setuid", "prctl", "execve"};

// Reports the failed step and its errno to the parent, then exits the child.
[[noreturn]] void report_and_exit(int report_fd, int step) {
  ChildFailure failure{step, errno};
  ssize_t ignored = ::write(report_fd, &failure, sizeof(failure));
  (void)ignored;
  ::_exit(127);
}

// Runs in the forked child: only async-signal-safe calls, no allocation (the argv array was built
// before fork). Never returns.
[[noreturn]] void exec_child(const SpawnOptions& options, char* const* argv, char* const* envp,
                             int in_fd, int out_fd, int report_fd, pid_t parent) {
  auto die = [report_fd](int step) { report_and_exit(report_fd, step); };
  if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
      ::dup2(out_fd, STDERR_FILENO) < 0)
    die(0);
  if (options.run_as) {
    gid_t gid = options.run_as->gid;
    if (::setgroups(1, &gid) != 0) die(1);
    if (::setgid(gid) != 0) die(2);
    if (::setuid(options.run_as->uid) != 0) die(3);
  }
  // After setuid: the kernel clears the parent-death signal when credentials change.
  if (options.parent_death_signal != 0) {
    if (::prctl(PR_SET_PDEATHSIG, options.parent_death_signal) != 0) die(4);
    if (::getppid() != parent) ::_exit(127);  // the parent already died before prctl
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Descriptors opened without O_CLOEXEC (by the test or a library) must not leak into servers.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(argv[0], argv, envp);
  report_and_exit(report_fd, 5);
}

// The test's environment with `extra` ("NAME=value") added; an entry of `extra` replaces the
// inherited one of the same name.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env(extra);
  for (char** inherited = environ; *inherited != nullptr; ++inherited) {
    std::string_view entry(*inherited);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& e : extra) replaced = replaced || e.starts_with(std::string(name) + "=");
    if (!replaced) env.emplace_back(entry);
  }
  return env;
}

}  // namespace

Result<std::optional<RunAs>> unprivileged_user_if_root() {
  if (geteuid() != 0) return std::optional<RunAs>();
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  int rc = ::getpwnam_r("postgres", &pw, buf, sizeof(buf), &found);
  if (rc != 0 || found == nullptr)
    return fail(
        "running as root but there is no 'postgres' system user to run PostgreSQL as "
        "(install postgresql-15 or run the tests as a normal user)");
  return std::optional<RunAs>(RunAs{pw.pw_uid, pw.pw_gid, pw.pw_name});
}

Result<ChildProcess> ChildProcess::spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return fail("spawn: empty argv");
  std::vector<char*> argv;
  for (const auto& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const std::vector<std::string> env_strings = child_environment(options.env);
  std::vector<char*> envp;
  for (const auto& entry : env_strings) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  Fd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!in) return fail_errno("open /dev/null");
  const std::string out_path = options.output_path.empty() ? "/dev/null" : options.output_path;
  Fd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out) return fail_errno("open " + out_path);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail_errno("pipe2");
  Fd report_read(pipe_fds[0]);
  Fd report_write(pipe_fds[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0)
    exec_child(options, argv.data(), envp.data(), in.get(), out.get(), report_write.get(), parent);

  ChildProcess child(pid);
  report_write.reset();
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    child.kill_and_reap();
    return fail_errno(std::string(kStepNames[failure.step]) + " for " + options.argv[0],
                      failure.err);
  }
  return child;  // EOF: exec succeeded and closed the pipe
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  kill_and_reap();
}

bool ChildProcess::running() {
  if (pid_ < 0 || status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    status_ = r == pid_ ? status : 0;
    return false;
  }
  return true;
}

Result<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline)
      return fail("process " + std::to_string(pid_) + " still running after " +
                  std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(kPollInterval);
  }
  return status_.value_or(0);
}

int ChildProcess::stop(int signal, std::chrono::milliseconds grace) {
  if (running()) {
    ::kill(pid_, signal);
    if (!wait(grace)) kill_and_reap();
  }
  return status_.value_or(0);
}

void ChildProcess::kill_and_reap() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  return "wait status " + std::to_string(status);
}

Result<void> run_to_completion(const SpawnOptions& options, std::chrono::milliseconds timeout) {
  auto child = ChildProcess::spawn(options);
  if (!child) return Unexpected(child.error());
  auto status = child->wait(timeout);
  if (!status) return fail(options.argv[0] + ": " + status.error().message);
  if (*status != 0)
    return fail(options.argv[0] + " " + describe_wait_status(*status) + "; output:\n" +
                tail_file(options.output_path, 30));
  return {};
}

}  // namespace pgquay::test
