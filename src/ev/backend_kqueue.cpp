// kqueue backend (BSD, macOS). On Linux this file only reports that kqueue does not exist here.
#include "backend.hpp"
#include "pgquay_build_config.h"

#if !PGQUAY_HAVE_KQUEUE

namespace pgquay::ev {
Result<std::unique_ptr<Backend>> make_kqueue_backend() {
  return fail("kqueue exists only on BSD and macOS");
}
}  // namespace pgquay::ev

#else
#error "the kqueue backend is not written yet: build with ev_backend epoll on Linux"
#endif
