// Private to src/ev: the contract every OS mechanism implements. A backend knows nothing about
// watchers or protocol: it runs operations and reports (token, result) pairs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pgquay/common/result.hpp"
#include "pgquay/ev/loop.hpp"

namespace pgquay::ev {

struct Completion {
  uint64_t token;
  int result;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Starts `op`; its completion is reported by a later wait() with `token`.
  virtual void submit(uint64_t token, const Op& op) = 0;
  // Best effort: the operation completes soon, with -ECANCELED if it had not finished.
  virtual void cancel(uint64_t token, const Op& op) = 0;
  virtual void forget_fd(int fd) = 0;
  virtual bool wants_blocking_sockets() const = 0;
  // The descriptors the backend itself holds (the epoll fd, the ring fd).
  virtual std::vector<int> descriptors() const = 0;
  // Appends completions to `out`, sleeping until at least one is available.
  [[nodiscard]] virtual Result<void> wait(std::vector<Completion>& out) = 0;
  // In a forked child: release the parent's kernel objects without touching them.
  virtual void abandon_after_fork() = 0;
};

Result<std::unique_ptr<Backend>> make_epoll_backend();
// A ring's memory counts against RLIMIT_MEMLOCK for users without CAP_IPC_LOCK, per user: the
// main loop gets a large ring, each forked child (one client, a handful of requests in flight) a
// small one, so hundreds of workers fit in the default 8 MiB.
inline constexpr unsigned kMainRingEntries = 256;
inline constexpr unsigned kChildRingEntries = 32;
Result<std::unique_ptr<Backend>> make_uring_backend(unsigned ring_entries = kMainRingEntries);
Result<std::unique_ptr<Backend>> make_kqueue_backend();

// Token layout: generation in the high 32 bits, table index in the low 32 bits.
inline uint64_t make_token(OpId id) {
  return (uint64_t{id.generation} << 32) | id.index;
}
inline OpId token_id(uint64_t token) {
  return OpId{static_cast<uint32_t>(token), static_cast<uint32_t>(token >> 32)};
}

}  // namespace pgquay::ev
