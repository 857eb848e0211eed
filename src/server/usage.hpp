// Private to the server module: counts over the slots that `status` and the metrics share.
#pragma once

#include <array>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "pgquay/pool/shared_state.hpp"
#include "pgquay/server/pool_manager.hpp"

namespace pgquay::server::detail {

inline constexpr size_t kSlotStates = static_cast<size_t>(pool::SlotState::remove) + 1;

struct PoolUse {
  int active = 0;   // init or in use
  int idle = 0;     // free
  int other = 0;    // being checked, flushed or removed
  int waiting = 0;  // clients queued for this pool
};
using PoolKey = std::pair<std::string, std::string>;  // database, user

// Slots per state, indexed by SlotState.
std::array<int, kSlotStates> slot_state_counts(pool::SharedState& shared);
// Every (database, user) with a connection or a waiting client.
std::map<PoolKey, PoolUse> pool_usage(pool::SharedState& shared,
                                      const std::vector<PoolManager::WaiterInfo>& waiters);

}  // namespace pgquay::server::detail
