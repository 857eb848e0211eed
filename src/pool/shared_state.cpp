#include "pgquay/pool/shared_state.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <new>
#include <utility>

namespace pgquay::pool {

namespace {
constexpr uint32_t kMagic = 0x70677175;  // "pgqu"
}

const char* slot_state_name(SlotState state) {
  switch (state) {
    case SlotState::not_init:
      return "not-init";
    case SlotState::init:
      return "init";
    case SlotState::free:
      return "free";
    case SlotState::in_use:
      return "in-use";
    case SlotState::gracefully:
      return "gracefully";
    case SlotState::flush:
      return "flush";
    case SlotState::idle_check:
      return "idle-check";
    case SlotState::max_age:
      return "max-age";
    case SlotState::validation:
      return "validation";
    case SlotState::remove:
      return "remove";
  }
  return "?";
}

void copy_name(char (&dest)[kNameLength], std::string_view name) {
  size_t n = std::min(name.size(), kNameLength - 1);
  std::memcpy(dest, name.data(), n);
  dest[n] = '\0';
}

Result<SharedSegment> SharedSegment::create(int max_connections) {
  size_t size = offsetof(SharedState, slots) + sizeof(Slot) * static_cast<size_t>(max_connections);
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return fail_errno("could not create the shared memory segment");
  // Construct in place: the segment is fresh zeroed memory, the atomics need their constructors.
  auto* state = new (mem) SharedState();
  for (int i = 1; i < max_connections; ++i) new (&state->slots[i]) Slot();
  state->magic = kMagic;
  state->max_connections = max_connections;
  return SharedSegment(state, size);
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)), size_(other.size_) {}

SharedSegment::~SharedSegment() {
  if (state_) munmap(state_, size_);
}

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void DurationHistogram::observe(std::span<const int64_t> bounds_us, int64_t value_us) {
  value_us = std::max<int64_t>(value_us, 0);
  size_t i = 0;
  while (i < bounds_us.size() && value_us > bounds_us[i]) ++i;
  buckets[std::min(i, kMaxHistogramBuckets - 1)].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<uint64_t>(value_us), std::memory_order_relaxed);
}

void DurationHistogram::reset() {
  for (auto& bucket : buckets) bucket.store(0, std::memory_order_relaxed);
  sum_us.store(0, std::memory_order_relaxed);
}

void Statistics::reset_counters() {
  for (auto* counter :
       {&clients_accepted, &server_connections_created, &server_connections_reused,
        &server_connections_closed, &worker_crashes, &sessions, &auth_success, &auth_failure,
        &reloads, &reload_failures, &wait_timeouts, &clients_refused}) {
    counter->store(0, std::memory_order_relaxed);
  }
  client_wait.reset();
  session_time.reset();
}

}  // namespace pgquay::pool
