// Making a logged-in server connection look new to this client: apply the client's startup
// parameters, then tell the client what PostgreSQL would have told it at the end of a login.
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "pgquay/common/log.hpp"
#include "pgquay/config/enums.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/framing.hpp"
#include "pgquay/proto/quote.hpp"
#include "session.hpp"

namespace pgquay::worker {

namespace {
// GUC names are case-insensitive; ParameterStatus uses the canonical spelling (DateStyle).
const std::string* find_parameter(const std::map<std::string, std::string, std::less<>>& params,
                                  std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0)
      return &value;
  }
  return nullptr;
}
}  // namespace

void Session::begin_setup() {
  phase_ = Phase::setup;
  std::string select;
  for (const auto& [name, value] : client_params_) {
    const std::string* current = find_parameter(parameters_, name);
    if (current && *current == value) continue;
    select += select.empty() ? "SELECT " : ", ";
    select += "pg_catalog.set_config(" + proto::quote_literal(name) + ", " +
              proto::quote_literal(value) + ", false)";
  }
  if (select.empty()) return finish_setup();
  std::string out;
  proto::build_query(out, select);
  server_->write(out);
}

void Session::read_setup() {
  auto error = each_message(
      server_->input(), Phase::setup, [this](const proto::MessageView& m, std::string_view whole) {
        switch (m.type) {
          case 'S':
            remember_parameter(m.body);
            break;
          case 'E':
            setup_error_ = std::string(m.body);
            break;
          case 'N':
            if (client_) client_->write(whole);
            break;
          case 'Z': {
            if (!setup_error_) return finish_setup();
            // PostgreSQL rejects a bad startup parameter with FATAL; the client gets that, and the
            // connection (whose SET was rolled back) goes back to the pool after the usual reset.
            std::string fatal;
            if (!proto::reencode_error_as_fatal(fatal, *setup_error_)) {
              proto::build_fatal(fatal, "22023", "invalid startup parameter");
            }
            PGQ_WARN("%s: a startup parameter was refused by PostgreSQL", describe().c_str());
            client_raw_error(std::move(fatal));
            return begin_reset(proto::TxStatus::idle);
          }
          default:
            break;  // the row set_config returns
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
  // cancel key handed out earlier for this backend cannot cancel this client's queries.
  client_key_ = proto::BackendKey{backend_key_.pid, static_cast<int32_t>(secret)};
  pool::Slot& s = slot();
  s.client_key_pid.store(client_key_.pid);
  s.client_key_secret.store(client_key_.secret);
  s.last_used_ms = pool::now_ms();

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
  start_relay();
}

void Session::start_relay() {
  phase_ = Phase::relay;
  pipeline_ = pipeline::make_pipeline(config::effective_pipeline(context_.config.main));
  relay_ = std::make_unique<pipeline::Relay>(*pipeline_, *client_, *server_, *this);
  relay_->start();
}

}  // namespace pgquay::worker
