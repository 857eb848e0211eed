// Which OS mechanism drives an event loop. Chosen once per process from `ev_backend`.
#pragma once

#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::ev {

enum class BackendKind { automatic, io_uring, epoll, kqueue };

// Accepts "auto", "io_uring", "epoll", "kqueue" (case-insensitive).
Result<BackendKind> parse_backend_kind(std::string_view text);
const char* backend_kind_name(BackendKind kind);

// Whether this build and this kernel can run `kind` (never `automatic`); the error says why not,
// e.g. "io_uring is disabled by /proc/sys/kernel/io_uring_disabled = 2".
Result<void> probe_backend(BackendKind kind);

// The one place that picks a backend: `automatic` tries io_uring, then epoll, then kqueue and logs
// one line when it falls back; an explicit choice that cannot run is an error.
Result<BackendKind> select_backend(BackendKind requested);

}  // namespace pgquay::ev
