// Child processes for integration tests: PostgreSQL's programs and the pgquay binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::test {

// An unprivileged identity to switch to before exec.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

// When this process runs as root: the `postgres` system user (PostgreSQL refuses to run as
// root). Otherwise nullopt: children run as the current user. Fails when root has no such user.
[[nodiscard]] Result<std::optional<RunAs>> unprivileged_user_if_root();

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path (no PATH search)
  // stdout and stderr are appended to this file; empty means /dev/null. The child never inherits
  // the test's own stdout/stderr, so `meson test` never waits on a pipe a leftover child holds.
  std::string output_path;
  std::optional<RunAs> run_as;
  // "NAME=value" entries added to (or replacing those in) the test's environment.
  std::vector<std::string> env;
  // Delivered to the child when the test process dies first (crash, ASan abort, timeout kill), so
  // no server outlives a failed test. 0 leaves the child alone.
  int parent_death_signal = 0;
};

// A started child. Move-only; the destructor kills (SIGKILL) and reaps a child still running.
class ChildProcess {
 public:
  // Forks and execs. Fails (with the errno of the failed step) when the exec itself failed.
  [[nodiscard]] static Result<ChildProcess> spawn(const SpawnOptions& options);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Reaps the child if it has exited; true while it is still running.
  bool running();
  // Raw wait status once the child was reaped.
  [[nodiscard]] std::optional<int> wait_status() const { return status_; }
  // Waits up to `timeout` for the child to exit; returns its wait status.
  [[nodiscard]] Result<int> wait(std::chrono::milliseconds timeout);
  // Sends `signal`, waits up to `grace`, then SIGKILLs. Returns the wait status.
  int stop(int signal, std::chrono::milliseconds grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  void kill_and_reap();

  pid_t pid_ = -1;
  std::optional<int> status_;
};

// "exited with status 1", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

// Runs a program to completion within `timeout`; fails unless it exits with status 0.
// The error message includes the tail of options.output_path.
[[nodiscard]] Result<void> run_to_completion(const SpawnOptions& options,
                                             std::chrono::milliseconds timeout);

}  // namespace pgquay::test
