// Shared pieces of the event-loop tests: every test runs once per backend.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <utility>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/loop.hpp"

namespace pgquay::ev::testing {

inline std::pair<Fd, Fd> make_socketpair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) ADD_FAILURE() << "socketpair";
  return {Fd(fds[0]), Fd(fds[1])};
}

inline int count_open_fds() {
  int n = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream itself
}

class BackendTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    auto probe = probe_backend(GetParam());
    // Both Linux backends must work on the machines we test on: an unavailable one is a failure.
    ASSERT_TRUE(probe.has_value()) << probe.error().message;
    auto created = Loop::create(GetParam());
    ASSERT_TRUE(created.has_value()) << created.error().message;
    loop = std::move(*created);
  }
  std::unique_ptr<Loop> loop;
};

inline std::string backend_test_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return backend_kind_name(info.param);
}

#define PGQ_INSTANTIATE_BACKENDS(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(                                                                     \
      Backends, suite,                                                                          \
      ::testing::Values(::pgquay::ev::BackendKind::io_uring, ::pgquay::ev::BackendKind::epoll), \
      ::pgquay::ev::testing::backend_test_name)

}  // namespace pgquay::ev::testing
