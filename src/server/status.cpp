// `status` and `status details`: what the main process knows about its pool, read without
// disturbing anyone (no slot changes state, no message goes to a worker).
#include <unistd.h>

#include "pgquay/build_config.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/server/server.hpp"
#include "usage.hpp"

namespace pgquay::server {

using management::Json;

namespace detail {

std::array<int, kSlotStates> slot_state_counts(pool::SharedState& shared) {
  std::array<int, kSlotStates> counts{};
  for (const pool::Slot& slot : shared.all_slots()) {
    auto index = static_cast<size_t>(slot.state.load());
    if (index < counts.size()) ++counts[index];
  }
  return counts;
}

std::map<PoolKey, PoolUse> pool_usage(pool::SharedState& shared,
                                      const std::vector<PoolManager::WaiterInfo>& waiters) {
  std::map<PoolKey, PoolUse> pools;
  for (const pool::Slot& slot : shared.all_slots()) {
    pool::SlotState state = slot.state.load();
    if (state == pool::SlotState::not_init) continue;
    PoolUse& use = pools[{std::string(slot.database_name()), std::string(slot.user_name())}];
    if (state == pool::SlotState::init || state == pool::SlotState::in_use) {
      ++use.active;
    } else if (state == pool::SlotState::free) {
      ++use.idle;
    } else {
      ++use.other;
    }
  }
  for (const auto& waiter : waiters) ++pools[{waiter.database, waiter.user}].waiting;
  return pools;
}

}  // namespace detail

namespace {

double seconds_since_ms(int64_t then_ms, int64_t now_ms) {
  return then_ms > 0 ? static_cast<double>(now_ms - then_ms) / 1000.0 : 0.0;
}

}  // namespace

Json Server::status(bool details) const {
  pool::SharedState& shared = *context_.shared;
  const int64_t now = pool::now_ms();
  auto counts = detail::slot_state_counts(shared);
  auto count = [&](pool::SlotState state) { return counts[static_cast<size_t>(state)]; };
  int total = shared.max_connections - count(pool::SlotState::not_init);

  Json servers = Json::array();
  for (int i = 0; i < shared.server_count; ++i) {
    const pool::ServerEntry& server = shared.servers[i];
    servers.push_back(Json{{"name", server.name},
                           {"host", server.host},
                           {"port", server.port},
                           {"primary", server.primary}});
  }

  // Per databases-file entry: how many connections it governs now.
  const auto& limits = context_.databases.limits;
  std::vector<int> used(limits.size(), 0);
  for (const pool::Slot& slot : shared.all_slots()) {
    if (slot.state.load() == pool::SlotState::not_init) continue;
    const config::DatabaseLimit* limit =
        config::find_limit(limits, slot.database_name(), slot.user_name());
    if (limit != nullptr) ++used[static_cast<size_t>(limit - limits.data())];
  }
  Json limit_list = Json::array();
  for (size_t i = 0; i < limits.size(); ++i) {
    limit_list.push_back(Json{{"database", limits[i].database},
                              {"aliases", limits[i].aliases},
                              {"user", limits[i].user},
                              {"max_size", limits[i].max_size},
                              {"initial_size", limits[i].initial_size},
                              {"min_size", limits[i].min_size},
                              {"connections", used[i]}});
  }

  Json result{
      {"state", graceful_ ? "graceful shutdown" : "running"},
      {"pid", ::getpid()},
      {"version", PGQUAY_VERSION},
      {"uptime_seconds", seconds_since_ms(started_ms_, now)},
      {"servers", std::move(servers)},
      {"connections",
       {{"active", count(pool::SlotState::in_use) + count(pool::SlotState::init)},
        {"idle", count(pool::SlotState::free)},
        {"total", total},
        {"max", shared.max_connections}}},
      {"clients", {{"active", shared.stats.clients_active.load()}, {"waiting", pool_->waiting()}}},
      {"workers",
       {{"total", workers_.size()},
        {"cache", idle_workers_.size()},
        {"cache_target", cache_target_}}},
      {"limits", std::move(limit_list)},
      {"disabled", pool_->disabled()},
  };
  if (!details) return result;

  Json slots = Json::array();
  auto all = shared.all_slots();
  for (size_t i = 0; i < all.size(); ++i) {
    const pool::Slot& slot = all[i];
    pool::SlotState state = slot.state.load();
    if (state == pool::SlotState::not_init) continue;
    int32_t server = slot.server;
    slots.push_back(Json{
        {"slot", i},
        {"state", pool::slot_state_name(state)},
        {"database", std::string(slot.database_name())},
        {"user", std::string(slot.user_name())},
        {"server", server >= 0 && server < shared.server_count ? shared.servers[server].name : ""},
        {"age_seconds", seconds_since_ms(slot.created_ms, now)},
        {"idle_seconds",
         state == pool::SlotState::free ? seconds_since_ms(slot.last_used_ms, now) : 0.0},
        {"backend_pid", slot.backend_pid},
        {"worker_pid", slot.owner_pid.load()},
        {"flush_pending", pool_->flush_pending(i)}});
  }
  auto waiters = pool_->waiter_info();
  Json pools = Json::array();
  for (const auto& [key, use] : detail::pool_usage(shared, waiters)) {
    pools.push_back(Json{{"database", key.first},
                         {"user", key.second},
                         {"active", use.active},
                         {"idle", use.idle},
                         {"other", use.other},
                         {"waiting", use.waiting},
                         {"max", pool_->limit_for(key.first, key.second)}});
  }
  Json waiting = Json::array();
  for (const auto& waiter : waiters) {
    waiting.push_back(Json{{"worker_pid", waiter.pid},
                           {"database", waiter.database},
                           {"user", waiter.user},
                           {"waited_seconds", static_cast<double>(waiter.waited_us) / 1e6}});
  }
  result["slots"] = std::move(slots);
  result["pools"] = std::move(pools);
  result["waiting_clients"] = std::move(waiting);
  return result;
}

}  // namespace pgquay::server
