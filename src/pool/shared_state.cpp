#include "pgquay/pool/shared_state.hpp"

#include <sys/mman.h>

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

}  // namespace pgquay::pool
