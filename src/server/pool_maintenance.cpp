// Slot maintenance in the main process: idle_timeout, max_connection_age and background
// validation of the free (pooled, unused) server connections. Main owns those sockets, so it can
// close them without asking any worker; a slot being checked is moved out of `free` first (a
// compare-exchange), so no grant can hand it out meanwhile.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "pgquay/common/log.hpp"
#include "pgquay/server/pool_manager.hpp"

namespace pgquay::server {

using pool::Slot;
using pool::SlotState;

namespace {
// With nothing configured the timer still ticks now and then, so that a reload that turns a
// setting on takes effect; and a long setting is checked at least this often, so that a reload
// that shortens it does too.
constexpr int64_t kMaxPeriodMs = 5000;
constexpr int64_t kMinPeriodMs = 100;

// A backend that went away (pg_terminate_backend, a server restart, a network failure) has its
// FATAL and/or end-of-stream queued in the socket; a healthy idle connection has nothing to read.
// Any byte at all is a reason to close: an idle pooled connection is owed nothing.
bool backend_alive(int fd) {
  char byte;
  ssize_t r = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

bool PoolManager::too_old(int64_t created_ms, int64_t now_ms) const {
  auto age = context_.config.main.max_connection_age.count();
  return age > 0 && now_ms - created_ms >= age;
}

void PoolManager::schedule_maintenance() {
  const auto& main = context_.config.main;
  int64_t period = kMaxPeriodMs;
  auto consider = [&](int64_t ms) {
    if (ms > 0) period = std::min(period, ms);
  };
  consider(main.idle_timeout.count());
  consider(main.max_connection_age.count());
  if (main.validation == config::Validation::background) consider(main.background_interval.count());
  maintenance_timer_.start(std::chrono::milliseconds{std::max(period, kMinPeriodMs)});
}

void PoolManager::on_maintenance() {
  maintain(pool::now_ms());
  schedule_maintenance();
}

PoolManager::MaintenanceOutcome PoolManager::maintain(int64_t now_ms) {
  const auto& main = context_.config.main;
  MaintenanceOutcome outcome;
  auto idle_limit = main.idle_timeout.count();
  bool validate = main.validation == config::Validation::background &&
                  now_ms - last_validation_ms_ >= main.background_interval.count();
  if (validate) last_validation_ms_ = now_ms;
  auto slots = context_.shared->all_slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& slot = slots[i];
    if (slot.state.load() != SlotState::free) continue;
    int index = static_cast<int>(i);
    if (too_old(slot.created_ms, now_ms)) {
      if (pool::transition(slot, SlotState::free, SlotState::max_age)) {
        PGQ_DEBUG("closing connection of %s/%s in slot %d: older than max_connection_age",
                  slot.user, slot.database, index);
        close_slot(index);
        ++outcome.aged_closed;
      }
      continue;
    }
    if (idle_limit > 0 && now_ms - slot.last_used_ms >= idle_limit) {
      if (pool::transition(slot, SlotState::free, SlotState::idle_check)) {
        PGQ_DEBUG("closing connection of %s/%s in slot %d: idle longer than idle_timeout",
                  slot.user, slot.database, index);
        close_slot(index);
        ++outcome.idle_closed;
      }
      continue;
    }
    if (validate && pool::transition(slot, SlotState::free, SlotState::validation)) {
      if (server_fds_[i] && backend_alive(server_fds_[i].get())) {
        slot.state.store(SlotState::free);
      } else {
        PGQ_INFO("closing connection of %s/%s in slot %d (backend %d): validation found it gone",
                 slot.user, slot.database, index, slot.backend_pid);
        close_slot(index);
        ++outcome.invalid_closed;
      }
    }
  }
  if (outcome.idle_closed + outcome.aged_closed + outcome.invalid_closed > 0 && !waiters_.empty())
    serve_waiters();  // room was made for clients waiting on other pools
  return outcome;
}

}  // namespace pgquay::server
