// The worker process: serves exactly one client, then exits. Called by main() in a freshly forked
// child, after the fork hook ran and the main process's objects were destroyed.
#pragma once

#include "pgquay/ev/loop.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::worker {

// Returns the process exit status: 0 when the session ended cleanly (the main process then knows
// nothing went wrong), non-zero after an error.
int run_worker(ev::Loop& loop, const Context& context, ClientHandoff handoff);

}  // namespace pgquay::worker
