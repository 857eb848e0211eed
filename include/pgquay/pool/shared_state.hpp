// The one shared-memory segment: created by the main process before the first fork and mapped
// in every worker. Holds the servers, the connection slots and the statistics. Only fixed-size,
// lock-free data lives here (atomics and plain fields owned by whoever holds a slot).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
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

// A histogram of durations with fixed bucket bounds (microseconds), lock-free so any process
// may observe into it. buckets[i] counts observations <= bounds[i] and > bounds[i-1] (not
// cumulative); buckets[bounds.size()] counts the rest (+Inf).
inline constexpr size_t kMaxHistogramBuckets = 16;
struct DurationHistogram {
  std::atomic<uint64_t> buckets[kMaxHistogramBuckets]{};
  std::atomic<uint64_t> sum_us{0};

  void observe(std::span<const int64_t> bounds_us, int64_t value_us);
  void reset();
};
// Time a client waited between asking main for a server connection and getting one.
inline constexpr int64_t kClientWaitBoundsUs[] = {100,      500,      1000,    5000,    10000,
                                                  50000,    100000,   500000,  1000000, 5000000,
                                                  10000000, 30000000, 60000000};
// Time a client session lasted (a worker served the client) — from hand-over to the end.
inline constexpr int64_t kSessionBoundsUs[] = {10000,       100000,     1000000,    10000000,
                                               60000000,    300000000,  1800000000, 3600000000,
                                               28800000000, 86400000000};
static_assert(std::size(kClientWaitBoundsUs) < kMaxHistogramBuckets);
static_assert(std::size(kSessionBoundsUs) < kMaxHistogramBuckets);

// Counters (only grow; `clear prometheus` resets them) and gauges (current values).
struct Statistics {
  std::atomic<uint64_t> clients_accepted{0};  // counter: accepted client sockets
  std::atomic<int64_t> clients_active{0};     // gauge: clients a worker is serving
  std::atomic<int64_t> clients_waiting{0};    // gauge: clients queued for a server connection
  std::atomic<uint64_t> server_connections_created{0};
  std::atomic<uint64_t> server_connections_reused{0};
  std::atomic<uint64_t> server_connections_closed{0};
  std::atomic<uint64_t> worker_crashes{0};   // workers that exited abnormally
  std::atomic<uint64_t> sessions{0};         // clients handed to a worker
  std::atomic<uint64_t> auth_success{0};     // password exchanges pgquay decided or relayed
  std::atomic<uint64_t> auth_failure{0};     // ... that failed (trust is not counted)
  std::atomic<uint64_t> reloads{0};          // successful configuration reloads
  std::atomic<uint64_t> reload_failures{0};  // reloads refused because a file was wrong
  std::atomic<uint64_t> wait_timeouts{0};    // clients refused after blocking_timeout
  std::atomic<uint64_t> clients_refused{0};  // clients refused: database disabled, shutdown
  DurationHistogram client_wait;
  DurationHistogram session_time;

  // Zeroes every counter and histogram; gauges keep their values.
  void reset_counters();
};

struct SharedState {
  uint32_t magic = 0;
  int32_t max_connections = 0;
  int32_t server_count = 0;
  ServerEntry servers[kMaxServers];
  Statistics stats;
  KnownStatements known_statements;
  // Clients main is queueing or about to serve. A worker of the transaction pipeline parks its
  // connection between transactions only while this is zero (see worker/transaction.cpp); main
  // raises it before it looks for parked connections, so one of the two always sees the other.
  std::atomic<int64_t> connection_demand{0};
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
int64_t now_us();  // CLOCK_MONOTONIC in microseconds

}  // namespace pgquay::pool
