// Always-on invariant checks. A failed check is a programming error: log where and abort, in
// release builds too. Expected runtime failures use Result instead.
#pragma once

namespace pgquay::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}

#define PGQ_CHECK(expr) \
  ((expr) ? static_cast<void>(0) : ::pgquay::detail::check_failed(#expr, __FILE__, __LINE__))
