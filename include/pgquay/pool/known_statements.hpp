// Statements known to prepare cleanly, per database and user (transaction pipeline): a client
// outside a transaction that prepares one of them (libpq's PQprepare: Parse + Sync) is answered
// by its worker at once, without waiting for a server connection. That matters when the client
// blocks on the answer while holding other connections' transactions open (pgbench -M prepared
// with fewer threads than clients): waiting for a connection there could never end.
//
// A lock-free open-addressing set of 64-bit keys in the shared segment; keys are never removed
// (a statement that stops preparing cleanly, say after a DROP TABLE, then reports its error at
// its first Bind instead of at Parse).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace pgquay::pool {

struct KnownStatements {
  static constexpr size_t kSize = 8192;
  static constexpr size_t kProbes = 16;
  std::atomic<uint64_t> keys[kSize]{};

  [[nodiscard]] bool contains(uint64_t key) const {
    key = key == 0 ? 1 : key;
    for (size_t i = 0; i < kProbes; ++i) {
      uint64_t found = keys[(key + i) % kSize].load(std::memory_order_relaxed);
      if (found == key) return true;
      if (found == 0) return false;
    }
    return false;
  }
  // Best effort: a full neighbourhood leaves the key out (its statement is then simply prepared
  // on a server connection as usual).
  void insert(uint64_t key) {
    key = key == 0 ? 1 : key;
    for (size_t i = 0; i < kProbes; ++i) {
      auto& cell = keys[(key + i) % kSize];
      uint64_t expected = 0;
      if (cell.compare_exchange_strong(expected, key, std::memory_order_relaxed) || expected == key)
        return;
    }
  }
};

}  // namespace pgquay::pool
