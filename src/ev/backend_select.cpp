// The one place that decides which backend a process runs.
#include <strings.h>

#include <cstdio>
#include <string>

#include "backend.hpp"
#include "pgquay/build_config.hpp"
#include "pgquay/common/log.hpp"
#include "pgquay/ev/backend_kind.hpp"

namespace pgquay::ev {

Result<BackendKind> parse_backend_kind(std::string_view text) {
  struct Entry {
    const char* name;
    BackendKind kind;
  };
  static constexpr Entry entries[] = {{"auto", BackendKind::automatic},
                                      {"io_uring", BackendKind::io_uring},
                                      {"epoll", BackendKind::epoll},
                                      {"kqueue", BackendKind::kqueue}};
  for (const auto& e : entries) {
    if (text.size() == std::string_view(e.name).size() &&
        strncasecmp(text.data(), e.name, text.size()) == 0)
      return e.kind;
  }
  return fail("unknown event loop backend '" + std::string(text) +
              "' (accepted: auto, io_uring, epoll, kqueue)");
}

const char* backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::automatic:
      return "auto";
    case BackendKind::io_uring:
      return "io_uring";
    case BackendKind::epoll:
      return "epoll";
    case BackendKind::kqueue:
      return "kqueue";
  }
  return "?";
}

namespace {

Result<void> probe_io_uring() {
  if (!PGQUAY_HAVE_IO_URING) return fail("io_uring is not compiled into this build");
  // 0 = enabled, 1 = only for members of kernel.io_uring_group, 2 = disabled for everyone.
  if (FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r")) {
    int disabled = 0;
    int got = std::fscanf(f, "%d", &disabled);
    std::fclose(f);
    if (got == 1 && disabled == 2)
      return fail("io_uring is disabled by /proc/sys/kernel/io_uring_disabled = 2");
  }
  // Creating a ring is the real test: seccomp filters and old kernels answer ENOSYS or EPERM.
  auto backend = make_uring_backend();
  if (!backend) return Unexpected(backend.error());
  return {};
}

}  // namespace

Result<void> probe_backend(BackendKind kind) {
  switch (kind) {
    case BackendKind::io_uring:
      return probe_io_uring();
    case BackendKind::epoll: {
      if (!PGQUAY_HAVE_EPOLL) return fail("epoll exists only on Linux");
      auto b = make_epoll_backend();
      if (!b) return Unexpected(b.error());
      return {};
    }
    case BackendKind::kqueue: {
      if (!PGQUAY_HAVE_KQUEUE) return fail("kqueue exists only on BSD and macOS");
      auto b = make_kqueue_backend();
      if (!b) return Unexpected(b.error());
      return {};
    }
    case BackendKind::automatic:
      break;
  }
  return fail("'auto' is not a backend");
}

Result<BackendKind> select_backend(BackendKind requested) {
  if (requested != BackendKind::automatic) {
    auto ok = probe_backend(requested);
    if (!ok)
      return fail(std::string("ev_backend = ") + backend_kind_name(requested) +
                  " is not available: " + ok.error().message);
    return requested;
  }
  std::string reasons;
  for (BackendKind kind : {BackendKind::io_uring, BackendKind::epoll, BackendKind::kqueue}) {
    auto ok = probe_backend(kind);
    if (ok) {
      if (!reasons.empty())
        PGQ_INFO("ev_backend = auto: using %s (%s)", backend_kind_name(kind), reasons.c_str());
      return kind;
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += ok.error().message;
  }
  return fail("no event loop backend is available: " + reasons);
}

}  // namespace pgquay::ev
