// The one shared-memory segment: created by the main process before the first fork and mapped
// in every worker. Holds the servers, the connection slots and the statistics. Only fixed-size,
// lock-free data lives here (atomics and plain fields owned by whoever holds a slot).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "pgquay/common/result.hpp"
#include "pgquay/pool/known_statements.hpp"
#include "pgquay/pool/slot.hpp"

namespace pgquay::pool {

inline constexpr size_t kMaxServers = 64;

struct ServerEntry {
  char name[kNameLength]{};
  char host[256]{};
  int32_t port = 0;
  bool primary = false;
  sockaddr_storage address{};
  socklen_t address_length = 0;
};

struct Statistics {
  std::atomic<uint64_t> clients_accepted{0};
  std::atomic<int64_t> clients_active{0};
  std::atomic<int64_t> clients_waiting{0};
  std::atomic<uint64_t> server_connections_created{0};
  std::atomic<uint64_t> server_connections_reused{0};
  std::atomic<uint64_t> server_connections_closed{0};
  std::atomic<uint64_t> worker_crashes{0};
  // Client authentications pgquay decided or relayed (trust is not counted): the per-user detail
  // is in the log line each failure writes.
  std::atomic<uint64_t> auth_success{0};
  std::atomic<uint64_t> auth_failure{0};
};

struct SharedState {
  uint32_t magic = 0;
  int32_t max_connections = 0;
  int32_t server_count = 0;
  ServerEntry servers[kMaxServers];
  Statistics stats;
  KnownStatements known_statements;
  Slot slots[1];  // really max_connections of them (the segment is sized for that)

  [[nodiscard]] std::span<Slot> all_slots() {
    return {slots, static_cast<size_t>(max_connections)};
  }
};

// Owns the mapping. Moving it moves the mapping; destroying it unmaps it in this process.
class SharedSegment {
 public:
  static Result<SharedSegment> create(int max_connections);
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&&) = delete;
  ~SharedSegment();

  [[nodiscard]] SharedState& state() const { return *state_; }

 private:
  SharedSegment(SharedState* state, size_t size) : state_(state), size_(size) {}
  SharedState* state_;
  size_t size_;
};

int64_t now_ms();

}  // namespace pgquay::pool
