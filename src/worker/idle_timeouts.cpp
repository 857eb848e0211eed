// Clients that sit idle while holding a server connection: idle_transaction_timeout (idle inside
// a transaction, PostgreSQL's idle_in_transaction_session_timeout at the pooler) and
// disconnect_client (idle at all; with disconnect_client_force also in the middle of a request).
//
// "Idle" counts from the last bytes relayed either way, so a client waiting for a long query is
// not idle until ReadyForQuery reached it. One timer per session, re-armed only when it fires
// (never per message): each message costs just a clock read.
#include <algorithm>

#include "pgquay/common/log.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "session.hpp"

namespace pgquay::worker {

namespace {
constexpr int64_t kMinCheckMs = 10;
}

void Session::arm_idle_check() {
  const auto& main = context_.config.main;
  int64_t idle_tx = main.idle_transaction_timeout.count();
  int64_t disconnect = main.disconnect_client.count();
  if (idle_tx <= 0 && disconnect <= 0) return;
  last_activity_ms_ = pool::now_ms();
  if (!idle_check_timer_)
    idle_check_timer_ = std::make_unique<ev::Timer>(loop_, [this] { on_idle_check(); });
  int64_t first =
      idle_tx > 0 && disconnect > 0 ? std::min(idle_tx, disconnect) : std::max(idle_tx, disconnect);
  idle_check_timer_->start(std::chrono::milliseconds{std::max(first, kMinCheckMs)});
}

void Session::on_idle_check() {
  // Between transactions (transaction pipeline) or ending: arm_idle_check runs again when a
  // relay starts.
  if (phase_ != Phase::relay || !relay_ || relay_->finished()) return;
  const auto& main = context_.config.main;
  int64_t idle_tx = main.idle_transaction_timeout.count();
  int64_t disconnect = main.disconnect_client.count();
  int64_t idle_ms = pool::now_ms() - last_activity_ms_;
  bool synced = relay_->server_synced();
  bool in_transaction = relay_->tx_status() != proto::TxStatus::idle;

  if (idle_tx > 0 && synced && in_transaction && idle_ms >= idle_tx) {
    // Its transaction must roll back: the connection is closed, PostgreSQL does the rest (and
    // frees its locks) at once.
    return end_idle_client("25P03", "terminating connection due to idle-in-transaction timeout",
                           false);
  }
  if (disconnect > 0 && idle_ms >= disconnect && (synced || main.disconnect_client_force)) {
    // Between requests: reset (ROLLBACK if needed, DISCARD ALL) and pooled as after a Terminate.
    // In the middle of one (disconnect_client_force): the connection's state is unknown, closed.
    return end_idle_client("57P05", "terminating connection due to idle-session timeout", synced);
  }
  // Not due yet (or busy): look again when the soonest limit could be reached.
  int64_t next = INT64_MAX;
  for (int64_t limit : {idle_tx, disconnect}) {
    if (limit <= 0) continue;
    int64_t remaining = limit - idle_ms;
    next = std::min(next, remaining > 0 ? remaining : limit);
  }
  idle_check_timer_->start(std::chrono::milliseconds{std::max(next, kMinCheckMs)});
}

void Session::end_idle_client(std::string_view sqlstate, std::string_view message, bool poolable) {
  PGQ_INFO("%s: %.*s", describe().c_str(), static_cast<int>(message.size()), message.data());
  if (!poolable) close_after_relay_ = true;
  if (client_ && !client_->closed()) {
    std::string out;
    proto::build_fatal(out, sqlstate, message);
    client_->write(out);
  }
  // As if the client had sent Terminate: on_relay_end closes the client once the FATAL is
  // written, and resets or closes the server connection.
  relay_->client_closed(0);
}

}  // namespace pgquay::worker
