// The worker process: serves one client at a time. Called by main() in a freshly forked child,
// after the fork hook ran and the main process's objects were destroyed. After a session that ended
// cleanly it tells main it is idle and waits for the next client (up to worker_max_clients);
// after an error, or when main does not need it, it exits.
#pragma once

#include "pgquay/ev/loop.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::worker {

// Returns the process exit status: 0 unless the worker itself failed.
int run_worker(ev::Loop& loop, const Context& context, WorkerStart start);

}  // namespace pgquay::worker
