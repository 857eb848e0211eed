// A connection slot in shared memory: one pooled server connection (or room for one).
//
// State machine (every move is an atomic compare-exchange; see transition()):
//
//   not_init --(main grants "create" to a worker)--> init --(worker logged in)--> in_use
//   init --(login failed / worker died)--> not_init
//   in_use --(worker released it clean)--> free --(main grants it to a worker)--> in_use
//   in_use --(released broken / worker died)--> remove --(main closed the socket)--> not_init
//   free --(main: flush, idle_timeout, max_connection_age, background validation)-->
//        flush | idle_check | max_age | validation --> not_init (closed), or free (validation
//        passed); see PoolManager::maintain (src/server/pool_maintenance.cpp)
//
// The main process owns every pooled server socket; the slot records what a worker or the
// management CLI needs to know about it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace pgquay::pool {

enum class SlotState : uint8_t {
  not_init = 0,
  init,
  free,
  in_use,
  gracefully,
  flush,
  idle_check,
  max_age,
  validation,
  remove,
};

const char* slot_state_name(SlotState state);

inline constexpr size_t kNameLength = 64;         // PostgreSQL's NAMEDATALEN
inline constexpr size_t kParamsCapacity = 3072;   // ParameterStatus messages of one connection
inline constexpr size_t kAppliedCapacity = 1024;  // settings pgquay applied (transaction pipeline)
// Room for max_prepared_statements plus a margin: a statement whose eviction PostgreSQL skipped
// (an error earlier in the same batch) is recorded again without another eviction.
inline constexpr size_t kPreparedCapacity = 256;
inline constexpr size_t kPreparedMargin = 16;

// The protocol-level prepared statements that exist on one server connection (transaction
// pipeline). pgquay names them after a digest of their text and parameter types, so whichever
// worker holds the connection next can tell whether a client's statement must be prepared again.
struct PreparedStatementCache {
  struct Entry {
    uint64_t digest[2];
    uint64_t last_used;  // from `clock`: the least recently used entry is evicted first
  };
  uint32_t count = 0;
  uint64_t clock = 0;
  // pgquay lost track of what the connection holds: it must be closed, not pooled again.
  bool unknown = false;
  Entry entries[kPreparedCapacity];
};

struct Slot {
  std::atomic<SlotState> state{SlotState::not_init};
  std::atomic<int32_t> owner_pid{0};  // worker holding it (init / in_use)
  // Set while the slot is owned (init/in_use); read by main and by cancel handling.
  char user[kNameLength]{};
  char database[kNameLength]{};
  int32_t server = 0;  // index into SharedState::servers
  int32_t backend_pid = 0;
  int32_t backend_secret = 0;
  int64_t created_ms = 0;
  int64_t last_used_ms = 0;
  uint64_t sessions = 0;
  // The client currently served over this connection, as pgquay told it in BackendKeyData: a
  // CancelRequest carrying this key is forwarded to backend_pid/backend_secret.
  std::atomic<int32_t> client_key_pid{0};
  std::atomic<int32_t> client_key_secret{0};
  // The connection's parameters as ParameterStatus messages (wire format), current as of the
  // last release, so a later client can be told what this connection looks like.
  uint32_t params_length = 0;
  char params[kParamsCapacity]{};
  // Transaction pipeline: settings that PostgreSQL does not report (search_path on PostgreSQL 15,
  // statement_timeout, ...) which pgquay applied for the last client, as name NUL value NUL pairs,
  // so the next client's differences can be applied and the rest reset.
  uint32_t applied_length = 0;
  char applied[kAppliedCapacity]{};
  // A digest of the settings the connection has as some client wanted them (0: unknown): a client
  // with the same digest needs no settings work at all.
  uint64_t settings_signature = 0;
  // Transaction pipeline: the worker (pid) that keeps this idle connection between its client's
  // transactions; 0 when none. The worker takes it back, or main reclaims it for another client,
  // by a compare-exchange to 0: whoever wins owns the connection.
  std::atomic<int32_t> parked_by{0};
  PreparedStatementCache prepared;

  [[nodiscard]] std::string_view user_name() const { return user; }
  [[nodiscard]] std::string_view database_name() const { return database; }
  [[nodiscard]] std::string_view parameter_bytes() const { return {params, params_length}; }
  [[nodiscard]] std::string_view applied_bytes() const { return {applied, applied_length}; }
};

// Moves `slot` from `from` to `to` if it is in `from`; false when another process won the race.
inline bool transition(Slot& slot, SlotState from, SlotState to) {
  return slot.state.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

void copy_name(char (&dest)[kNameLength], std::string_view name);

}  // namespace pgquay::pool
