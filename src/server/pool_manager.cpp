#include "pgquay/server/pool_manager.hpp"

#include <signal.h>

#include <algorithm>
#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/net/fd_passing.hpp"

namespace pgquay::server {

using pool::ControlMessage;
using pool::ControlType;
using pool::DenyReason;
using pool::Slot;
using pool::SlotState;

PoolManager::PoolManager(ev::Loop& loop, worker::Context& context)
    : loop_(loop),
      context_(context),
      server_fds_(static_cast<size_t>(context.shared->max_connections)),
      deadline_timer_(loop, [this] { on_deadline(); }),
      close_on_release_(static_cast<size_t>(context.shared->max_connections), false),
      maintenance_timer_(loop, [this] { on_maintenance(); }),
      last_validation_ms_(pool::now_ms()) {
  schedule_maintenance();
}

PoolManager::~PoolManager() = default;

int PoolManager::connections_for(std::string_view database, std::string_view user) const {
  int n = 0;
  for (const Slot& slot : context_.shared->all_slots()) {
    if (slot.state.load() != SlotState::not_init && slot.database_name() == database &&
        slot.user_name() == user)
      ++n;
  }
  return n;
}

int PoolManager::limit_for(std::string_view database, std::string_view user) const {
  // The databases file's own precedence (exact match before `all`), not the first line that fits.
  const config::DatabaseLimit* limit =
      config::find_limit(context_.databases.limits, database, user);
  if (!limit || limit->max_size == config::kAllConnections) return context_.shared->max_connections;
  return limit->max_size;
}

void PoolManager::close_slot(int index) {
  Slot& slot = context_.shared->slots[index];
  close_on_release_[static_cast<size_t>(index)] = false;
  if (server_fds_[index]) {
    server_fds_[index].reset();
    context_.shared->stats.server_connections_closed.fetch_add(1);
  }
  slot.owner_pid.store(0);
  slot.client_key_pid.store(0);
  slot.client_key_secret.store(0);
  slot.backend_pid = 0;
  slot.backend_secret = 0;
  slot.params_length = 0;
  slot.applied_length = 0;
  slot.settings_signature = 0;
  slot.parked_by.store(0);
  slot.prepared.count = 0;
  slot.prepared.unknown = false;
  slot.user[0] = '\0';
  slot.database[0] = '\0';
  slot.state.store(SlotState::not_init);
}

// Order of preference: a pooled connection of the same user/database (only for a client pgquay
// could verify), an empty slot, and finally an idle connection of someone else, closed to make
// room.
PoolManager::Grant PoolManager::try_grant(const Waiter& waiter) {
  const ControlMessage& req = waiter.request;
  auto slots = context_.shared->all_slots();
  int send_fd = -1;
  ControlMessage reply{};
  reply.type = ControlType::grant_pooled;

  int chosen = -1;
  if (req.reuse_allowed) {
    // The least recently used first, so idle connections age evenly.
    int64_t oldest = INT64_MAX;
    int64_t now = pool::now_ms();
    for (size_t i = 0; i < slots.size(); ++i) {
      Slot& s = slots[i];
      // One past max_connection_age is left for maintenance to close, not handed out.
      if (s.state.load() == SlotState::free && s.database_name() == req.database &&
          s.user_name() == req.user && s.last_used_ms < oldest && !too_old(s.created_ms, now)) {
        oldest = s.last_used_ms;
        chosen = static_cast<int>(i);
      }
    }
    if (chosen >= 0 && pool::transition(slots[chosen], SlotState::free, SlotState::in_use)) {
      slots[chosen].owner_pid.store(waiter.pid);
      send_fd = server_fds_[chosen].get();
      context_.shared->stats.server_connections_reused.fetch_add(1);
    } else {
      chosen = reclaim_parked(req);
      if (chosen >= 0) {
        slots[chosen].owner_pid.store(waiter.pid);
        send_fd = server_fds_[chosen].get();
        context_.shared->stats.server_connections_reused.fetch_add(1);
      }
    }
  }

  if (chosen < 0) {
    bool under_limit = connections_for(req.database, req.user) < limit_for(req.database, req.user);
    int victim = -1;
    for (size_t i = 0; i < slots.size() && chosen < 0; ++i) {
      SlotState st = slots[i].state.load();
      if (st == SlotState::not_init && under_limit) chosen = static_cast<int>(i);
      if (st == SlotState::free && victim < 0) {
        bool same_pool =
            slots[i].database_name() == req.database && slots[i].user_name() == req.user;
        // A free connection of this same pool can make room even at the limit; one of another
        // pool only when this pool is under its limit.
        if (same_pool || under_limit) victim = static_cast<int>(i);
      }
    }
    if (chosen < 0 && victim >= 0 &&
        pool::transition(slots[victim], SlotState::free, SlotState::remove)) {
      PGQ_DEBUG("closing idle connection of %s/%s in slot %d to make room", slots[victim].user,
                slots[victim].database, victim);
      close_slot(victim);
      chosen = victim;
    }
    if (chosen < 0) return Grant::none;
    if (!pool::transition(slots[chosen], SlotState::not_init, SlotState::init)) return Grant::none;
    Slot& s = slots[chosen];
    pool::copy_name(s.user, req.user);
    pool::copy_name(s.database, req.database);
    s.owner_pid.store(waiter.pid);
    s.created_ms = pool::now_ms();
    s.sessions = 0;
    reply.type = ControlType::grant_create;
  }

  reply.slot = chosen;
  reply.request = req.request;
  int sent = net::send_message(waiter.control_fd, &reply, sizeof(reply), send_fd);
  if (sent < 0) {
    // The worker is gone (its death is handled when it is reaped): undo the grant, so a pooled
    // connection stays pooled and an empty slot stays empty.
    PGQ_DEBUG("could not hand slot %d to worker %d: %s", chosen, static_cast<int>(waiter.pid),
              std::strerror(-sent));
    Slot& s = slots[chosen];
    s.owner_pid.store(0);
    if (reply.type == ControlType::grant_pooled) {
      s.state.store(SlotState::free);
    } else {
      close_slot(chosen);
    }
    return Grant::none;
  }
  context_.shared->stats.client_wait.observe(pool::kClientWaitBoundsUs,
                                             pool::now_us() - waiter.queued_us);
  return reply.type == ControlType::grant_pooled ? Grant::pooled : Grant::create;
}

int PoolManager::reclaim_parked(const ControlMessage& req) {
  auto slots = context_.shared->all_slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& s = slots[i];
    if (s.state.load() != SlotState::in_use || !server_fds_[i] ||
        s.database_name() != req.database || s.user_name() != req.user)
      continue;
    int32_t parker = s.parked_by.load();
    // Winning the exchange makes the connection main's to give: the worker that parked it finds
    // it gone at its client's next transaction and asks like everyone else.
    if (parker != 0 && s.parked_by.compare_exchange_strong(parker, 0)) return static_cast<int>(i);
  }
  return -1;
}

void PoolManager::deny(const Waiter& waiter, DenyReason reason) {
  ControlMessage reply{};
  reply.type = ControlType::deny;
  reply.reason = reason;
  reply.request = waiter.request.request;
  (void)net::send_message(waiter.control_fd, &reply, sizeof(reply));
}

void PoolManager::on_message(pid_t pid, int control_fd, const ControlMessage& message,
                             Fd attached) {
  auto slots = context_.shared->all_slots();
  bool valid_slot = message.slot >= 0 && static_cast<size_t>(message.slot) < slots.size() &&
                    slots[message.slot].owner_pid.load() == pid;
  switch (message.type) {
    case ControlType::acquire: {
      Waiter waiter{pid, control_fd, message, 0, pool::now_us()};
      ControlMessage& req = waiter.request;
      req.user[pool::kNameLength - 1] = '\0';
      req.database[pool::kNameLength - 1] = '\0';
      if (is_disabled(req.database)) {
        context_.shared->stats.clients_refused.fetch_add(1);
        deny(waiter, DenyReason::disabled);
        return;
      }
      // Strict FIFO: a newcomer never overtakes clients already waiting for the same pool.
      bool others_waiting = std::any_of(waiters_.begin(), waiters_.end(), [&](const Waiter& w) {
        return std::string_view(w.request.user) == req.user &&
               std::string_view(w.request.database) == req.database;
      });
      // Published before try_grant looks for parked connections (see connection_demand).
      context_.shared->connection_demand.store(static_cast<int64_t>(waiters_.size()) + 1);
      if ((!others_waiting || req.retry) && try_grant(waiter) != Grant::none) {
        publish_waiting();
        return;
      }
      auto timeout = context_.config.main.blocking_timeout.count();
      waiter.deadline_ms = timeout > 0 ? pool::now_ms() + timeout : 0;
      if (req.retry) {
        waiters_.push_front(waiter);  // it was served once already: it keeps its turn
      } else {
        waiters_.push_back(waiter);
      }
      publish_waiting();
      arm_deadline_timer();
      return;
    }
    case ControlType::established: {
      if (!valid_slot || !attached) {
        PGQ_WARN("worker %d reported an unknown connection (slot %d)", static_cast<int>(pid),
                 message.slot);
        return;
      }
      if (pool::transition(slots[message.slot], SlotState::init, SlotState::in_use)) {
        server_fds_[message.slot] = std::move(attached);
        context_.shared->stats.server_connections_created.fetch_add(1);
      }
      return;
    }
    case ControlType::release: {
      if (!valid_slot) return;
      Slot& slot = slots[message.slot];
      slot.client_key_pid.store(0);
      slot.client_key_secret.store(0);
      slot.last_used_ms = pool::now_ms();
      if (message.clean && server_fds_[message.slot] &&
          !close_on_release_[static_cast<size_t>(message.slot)] &&
          !too_old(slot.created_ms, slot.last_used_ms) &&
          pool::transition(slot, SlotState::in_use, SlotState::free)) {
        slot.owner_pid.store(0);
      } else {
        SlotState st = slot.state.load();
        if (st == SlotState::in_use || st == SlotState::init) slot.state.store(SlotState::remove);
        close_slot(message.slot);
      }
      serve_waiters();
      return;
    }
    default:
      PGQ_WARN("worker %d sent an unexpected control message %u", static_cast<int>(pid),
               static_cast<unsigned>(message.type));
  }
}

void PoolManager::worker_gone(pid_t pid) {
  auto slots = context_.shared->all_slots();
  bool freed = false;
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& slot = slots[i];
    SlotState st = slot.state.load();
    if ((st == SlotState::in_use || st == SlotState::init) && slot.owner_pid.load() == pid) {
      // It may have been in the middle of a transaction: closing our copy (the worker's copy died
      // with it) makes PostgreSQL roll back and end that backend.
      slot.state.store(SlotState::remove);
      close_slot(static_cast<int>(i));
      freed = true;
    }
  }
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                [pid](const Waiter& w) { return w.pid == pid; }),
                 waiters_.end());
  publish_waiting();
  if (freed || !waiters_.empty()) serve_waiters();
}

void PoolManager::publish_waiting() {
  auto waiting = static_cast<int64_t>(waiters_.size());
  context_.shared->stats.clients_waiting.store(waiting);
  context_.shared->connection_demand.store(waiting);
}

void PoolManager::forget_waiter(pid_t pid) {
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                [pid](const Waiter& w) { return w.pid == pid; }),
                 waiters_.end());
  publish_waiting();
}

void PoolManager::serve_waiters() {
  // Once a waiter of a pool got nothing, its later waiters get nothing either in this pass: with
  // hundreds of clients queued (the transaction pipeline), each release costs one grant attempt
  // per pool instead of one per waiter.
  std::vector<ControlMessage> exhausted;  // copies: erasing from a deque moves its elements
  auto same_pool = [](const ControlMessage& a, const ControlMessage& b) {
    return a.reuse_allowed == b.reuse_allowed && std::string_view(a.user) == b.user &&
           std::string_view(a.database) == b.database;
  };
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    bool skip = std::any_of(exhausted.begin(), exhausted.end(),
                            [&](const ControlMessage& m) { return same_pool(m, it->request); });
    if (!skip && try_grant(*it) != Grant::none) {
      it = waiters_.erase(it);
    } else {
      if (!skip) exhausted.push_back(it->request);
      ++it;
    }
  }
  publish_waiting();
  arm_deadline_timer();
}

void PoolManager::arm_deadline_timer() {
  int64_t earliest = 0;
  for (const Waiter& w : waiters_) {
    if (w.deadline_ms > 0 && (earliest == 0 || w.deadline_ms < earliest)) earliest = w.deadline_ms;
  }
  // Re-armed only when a deadline comes sooner than the one armed: with hundreds of clients
  // queueing in the transaction pipeline, this runs at every grant. A timer left armed for
  // waiters that were served since (or an empty queue) just fires early and finds nothing due.
  if (earliest == 0) return;
  if (armed_deadline_ms_ != 0 && armed_deadline_ms_ <= earliest) return;
  int64_t delay = std::max<int64_t>(1, earliest - pool::now_ms());
  deadline_timer_.start(std::chrono::milliseconds{delay});
  armed_deadline_ms_ = earliest;
}

void PoolManager::on_deadline() {
  armed_deadline_ms_ = 0;
  int64_t now = pool::now_ms();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->deadline_ms > 0 && it->deadline_ms <= now) {
      context_.shared->stats.wait_timeouts.fetch_add(1);
      deny(*it, DenyReason::timeout);
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  publish_waiting();
  arm_deadline_timer();
}

void PoolManager::close_all() {
  for (const Waiter& w : waiters_) {
    context_.shared->stats.clients_refused.fetch_add(1);
    deny(w, DenyReason::shutting_down);
  }
  waiters_.clear();
  publish_waiting();
  for (size_t i = 0; i < server_fds_.size(); ++i) {
    if (server_fds_[i]) close_slot(static_cast<int>(i));
  }
}

// ---- management ----------------------------------------------------------------------------

namespace {
bool every_database(std::string_view database) {
  return database.empty() || database == "*";
}
}  // namespace

std::vector<PoolManager::WaiterInfo> PoolManager::waiter_info() const {
  std::vector<WaiterInfo> out;
  int64_t now = pool::now_us();
  for (const Waiter& w : waiters_)
    out.push_back({w.pid, w.request.user, w.request.database, now - w.queued_us});
  return out;
}

PoolManager::FlushOutcome PoolManager::flush(FlushMode mode, std::string_view database) {
  FlushOutcome outcome;
  auto slots = context_.shared->all_slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& slot = slots[i];
    if (!every_database(database) && slot.database_name() != database) continue;
    SlotState st = slot.state.load();
    if (st == SlotState::free) {
      // Through the flush state, so no grant can pick it while it is being closed.
      if (pool::transition(slot, SlotState::free, SlotState::flush)) {
        close_slot(static_cast<int>(i));
        ++outcome.closed;
      }
    } else if ((st == SlotState::in_use || st == SlotState::init) && mode != FlushMode::idle) {
      if (!close_on_release_[i]) {
        close_on_release_[i] = true;
        ++outcome.marked;
      }
      pid_t owner = slot.owner_pid.load();
      // The worker answers SIGTERM by ending its client's session with FATAL 57P01 and
      // releasing the connection as broken, which closes it.
      if (mode == FlushMode::all && owner > 0 && ::kill(owner, SIGTERM) == 0)
        ++outcome.sessions_ended;
    }
  }
  if (outcome.closed > 0) serve_waiters();  // room was made for other pools
  return outcome;
}

void PoolManager::deny_waiters_for(std::string_view database, DenyReason reason) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (every_database(database) || std::string_view(it->request.database) == database) {
      context_.shared->stats.clients_refused.fetch_add(1);
      deny(*it, reason);
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  publish_waiting();
  arm_deadline_timer();
}

void PoolManager::disable(std::string_view database) {
  if (every_database(database)) {
    all_disabled_ = true;
    disabled_.clear();
    enabled_exceptions_.clear();
  } else if (all_disabled_) {
    enabled_exceptions_.erase(std::string(database));
  } else {
    disabled_.emplace(database);
  }
  deny_waiters_for(database, DenyReason::disabled);
}

void PoolManager::enable(std::string_view database) {
  if (every_database(database)) {
    all_disabled_ = false;
    disabled_.clear();
    enabled_exceptions_.clear();
  } else if (all_disabled_) {
    enabled_exceptions_.emplace(database);
  } else {
    disabled_.erase(std::string(database));
  }
}

bool PoolManager::is_disabled(std::string_view database) const {
  if (all_disabled_) return !enabled_exceptions_.contains(database);
  return disabled_.contains(database);
}

std::vector<std::string> PoolManager::disabled() const {
  if (all_disabled_) return {"*"};
  return {disabled_.begin(), disabled_.end()};
}

std::vector<std::string> PoolManager::enabled_exceptions() const {
  return {enabled_exceptions_.begin(), enabled_exceptions_.end()};
}

}  // namespace pgquay::server
