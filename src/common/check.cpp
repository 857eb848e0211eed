#include "pgquay/common/check.hpp"

#include <cstdio>
#include <cstdlib>

namespace pgquay::detail {

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "pgquay: invariant violated: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace pgquay::detail
