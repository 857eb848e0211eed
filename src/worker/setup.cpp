// Making a logged-in server connection look new to this client: apply the client's startup
// parameters, then tell the client what PostgreSQL would have told it at the end of a login.
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/config/enums.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/framing.hpp"
#include "pgquay/proto/quote.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::begin_setup() {
  phase_ = Phase::setup;
  // Before the login completes the client has been told nothing: only its startup parameters
  // count, and whatever pgquay applied for an earlier client is reset.
  auto plan = pipeline::plan_parameter_sync({}, parameters_, client_params_,
                                            pipeline::decode_applied(slot().applied_bytes()));
  if (plan.sql.empty()) {
    applied_ = std::move(plan.applied);
    return finish_setup();
  }
  send_parameter_sync(plan);
}

void Session::send_parameter_sync(const pipeline::ParameterSync& plan) {
  applied_ = plan.applied;
  setup_error_.reset();
  std::string out;
  proto::build_query(out, plan.sql);
  server_->write(out);
}

// The answer to send_parameter_sync, at login (Phase::setup) or before a transaction of the
// transaction pipeline (Phase::sync).
void Session::read_parameter_sync() {
  const Phase phase = phase_;
  auto error = each_message(
      server_->input(), phase, [this, phase](const proto::MessageView& m, std::string_view whole) {
        switch (m.type) {
          case 'S':  // at login the client is told them all; later it already believes them
            remember_parameter(m.body);
            break;
          case 'E':
            setup_error_ = std::string(m.body);
            break;
          case 'N':
            if (client_ && phase == Phase::setup) client_->write(whole);
            break;
          case 'Z': {
            if (!setup_error_) {
              if (phase == Phase::setup) return finish_setup();
              record_applied();
              mark_settings_current();
              return start_transaction_relay();
            }
            // PostgreSQL rejects a bad startup parameter with FATAL; the client gets that. The
            // SET was rolled back, so the connection is as it was: pooled after the usual reset
            // (at login) or at once (before a transaction).
            std::string fatal;
            if (!proto::reencode_error_as_fatal(fatal, *setup_error_)) {
              proto::build_fatal(fatal, "22023", "invalid startup parameter");
            }
            PGQ_WARN("%s: a startup parameter was refused by PostgreSQL", describe().c_str());
            client_raw_error(std::move(fatal));
            if (phase == Phase::setup) return begin_reset(proto::TxStatus::idle);
            return release_server(true);
          }
          default:
            break;  // the rows set_config returns
        }
      });
  if (error) {
    client_error("08P01", "invalid message from the PostgreSQL server", error->message);
    release_server(false);
  }
}

void Session::finish_setup() {
  if (!client_) return begin_reset(proto::TxStatus::idle);
  uint32_t secret = 0;
  if (getrandom(&secret, sizeof(secret), 0) != sizeof(secret))
    secret = static_cast<uint32_t>(pool::now_ms());
  // The client sees the real backend's pid, so PQbackendPID() agrees with pg_backend_pid() and
  // with the pid in its own NOTIFY messages, as without a pooler; the secret is pgquay's own, so a
  // cancel key handed out earlier for this backend cannot cancel this client's queries. In the
  // transaction pipeline the backend changes from one transaction to the next: the key names
  // this worker instead, and a cancel reaches whichever backend runs the client's transaction.
  int32_t key_pid = transaction_mode_ ? static_cast<int32_t>(getpid()) : backend_key_.pid;
  client_key_ = proto::BackendKey{key_pid, static_cast<int32_t>(secret)};
  pool::Slot& s = slot();
  s.client_key_pid.store(client_key_.pid);
  s.client_key_secret.store(client_key_.secret);
  s.last_used_ms = pool::now_ms();

  record_applied();
  // The client is verified (trust, pgquay checked its password, or PostgreSQL accepted it).
  reuse_allowed_ = true;
  std::string out;
  for (const auto& [name, value] : parameters_) proto::build_parameter_status(out, name, value);
  proto::build_backend_key_data(out, client_key_);
  proto::build_ready_for_query(out, proto::TxStatus::idle);
  client_->write(out);
  auth_timer_->stop();
  if (context_.config.main.log_connections) {
    PGQ_INFO("connection authorized: user=%s database=%s host=%s backend=%d", user_.c_str(),
             requested_database_.c_str(), net::host_string(handoff_.peer).c_str(),
             backend_key_.pid);
  }
  if (transaction_mode_) {
    client_ready_ = true;
    client_view_ = parameters_;
    std::string scope = database_;
    scope += '\0';
    scope += user_;
    statements_.set_known(&context_.shared->known_statements, std::move(scope));
    mark_settings_current();
    return detach_server();
  }
  start_relay();
}

void Session::record_applied() {
  pool::Slot& s = slot();
  if (s.applied_length == 0 && applied_.empty()) return;
  std::string applied = pipeline::encode_applied(applied_);
  if (applied.size() > pool::kAppliedCapacity) {
    // Unrecorded settings would never be reset for the next client: close the connection after
    // this client instead of pooling it.
    PGQ_WARN(
        "%s: the startup parameters are too long to record; the server connection will not "
        "be pooled",
        describe().c_str());
    server_unpoolable_ = true;
    applied.clear();
  }
  std::memcpy(s.applied, applied.data(), applied.size());
  s.applied_length = static_cast<uint32_t>(applied.size());
}

void Session::start_relay() {
  phase_ = Phase::relay;
  pipeline_ = pipeline::make_pipeline(config::effective_pipeline(context_.config.main));
  relay_ = std::make_unique<pipeline::Relay>(*pipeline_, *client_, *server_, *this);
  arm_idle_check();
  relay_->start();
}

}  // namespace pgquay::worker
