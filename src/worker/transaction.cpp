// The transaction pipeline's cycle: the client holds a server connection only from the first
// message of a transaction until PostgreSQL reports it idle again between requests.
#include <unistd.h>

#include <cstring>
#include <utility>

#include "pgquay/common/log.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/framing.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::enter_idle() {
  phase_ = Phase::idle;
  server_.reset();
  server_statements_.reset();
  slot_ = -1;
  slot_established_ = false;
  released_ = false;
  server_clean_ = false;
  server_unpoolable_ = false;
  if (!client_) return maybe_finish();
  if (!client_->input().empty()) on_idle_client_data();
}

bool Session::prepare_without_server() {
  if (context_.config.main.max_prepared_statements == 0) return false;
  auto& in = client_->input();
  std::string_view rest = in.view();
  std::vector<std::string_view> parses;
  size_t batch = 0;
  for (;;) {
    auto next = proto::next_message(rest);
    if (!next || !*next) return false;  // incomplete or malformed: the server path decides
    const proto::MessageView& m = **next;
    batch += m.size;
    rest.remove_prefix(m.size);
    if (m.type == 'S' && !parses.empty()) break;
    if (m.type != 'P') return false;
    parses.push_back(m.body);
  }
  // Checked all before any is remembered: the batch is answered here whole or not at all.
  for (auto body : parses) {
    if (!statements_.is_known(body)) {
      PGQ_DEBUG("%s: statement not known yet; preparing it on a server connection",
                describe().c_str());
      return false;
    }
  }
  for (auto body : parses) statements_.prepare_without_server(body);
  std::string out;
  for (size_t i = 0; i < parses.size(); ++i) out.append("1\0\0\0\4", 5);
  proto::build_ready_for_query(out, proto::TxStatus::idle);
  client_->write(out);
  in.consume(batch);
  return true;
}

void Session::on_idle_client_data() {
  while (!client_->input().empty() && prepare_without_server()) {
  }
  auto& in = client_->input();
  if (in.empty()) return;
  auto next = proto::next_message(in.view());
  if (!next) {
    saw_error_ = true;
    return client_error("08P01", "invalid frontend message framing", next.error().message);
  }
  if (*next && (**next).type == 'X') {
    // Terminate needs no server connection.
    log_disconnection(pipeline::end_reason_name(pipeline::EndReason::client_terminated));
    release_parked();
    client_.reset();
    return maybe_finish();
  }
  // The bytes wait in the client's buffer until a connection is there (reading stops beyond a
  // limit, see on_stream_data, so a client streaming a large COPY does not fill memory).
  if (unpark()) return;
  request_connection();
}

void Session::attach_pooled(int slot, Fd server) {
  slot_ = slot;
  slot_established_ = true;
  pool::Slot& s = this->slot();
  backend_key_ = proto::BackendKey{s.backend_pid, s.backend_secret};
  parameters_loaded_ = false;
  parameters_changed_ = false;
  // The socket was made ready for this backend when it was created (unless this worker had to
  // fall back to epoll: then its mode is checked).
  server_ = std::make_unique<ev::Stream>(loop_, std::move(server), *this,
                                         /*socket_ready=*/!loop_.fell_back_to_epoll());
  begin_sync();
}

void Session::load_slot_parameters() {
  if (parameters_loaded_) return;
  parameters_loaded_ = true;
  parameters_.clear();
  std::string_view params = slot().parameter_bytes();
  while (auto m = proto::next_message(params)) {
    if (!*m) break;
    if (auto kv = proto::parse_parameter_status((*m)->body))
      parameters_[std::string(kv->first)] = std::string(kv->second);
    params.remove_prefix((*m)->size);
  }
}

void Session::mark_settings_current() {
  slot().settings_signature = settings_signature();
}

uint64_t Session::settings_signature() const {
  std::string text;
  for (const auto& [name, value] : client_view_)
    text.append(name).append("=").append(value).append(1, '\0');
  text += '\1';
  for (const auto& [name, value] : client_params_)
    text.append(name).append("=").append(value).append(1, '\0');
  uint64_t digest = std::hash<std::string>{}(text);
  return digest == 0 ? 1 : digest;
}

void Session::begin_sync() {
  phase_ = Phase::sync;
  auth_timer_->stop();  // a connection created for this transaction has logged in
  // The connection last served a client that wanted exactly these settings (the common case:
  // every client of an application connects alike): nothing to compare, nothing to apply.
  if (slot().settings_signature == settings_signature()) return start_transaction_relay();
  load_slot_parameters();
  auto plan = pipeline::plan_parameter_sync(client_view_, parameters_, client_params_,
                                            pipeline::decode_applied(slot().applied_bytes()));
  if (plan.sql.empty()) {
    applied_ = std::move(plan.applied);
    record_applied();
    mark_settings_current();
    return start_transaction_relay();
  }
  send_parameter_sync(plan);
}

void Session::start_transaction_relay() {
  phase_ = Phase::relay;
  pool::Slot& s = slot();
  s.client_key_pid.store(client_key_.pid);
  s.client_key_secret.store(client_key_.secret);
  s.last_used_ms = pool::now_ms();
  if (!pipeline_) pipeline_ = pipeline::make_pipeline(config::Pipeline::transaction);
  pipeline::TransactionRelay transaction;
  int limit = context_.config.main.max_prepared_statements;
  if (limit > 0) {
    server_statements_.emplace(s.prepared, static_cast<size_t>(limit));
    statements_.attach();
    transaction.statements = &statements_;
    transaction.server_statements = &*server_statements_;
  }
  relay_ = std::make_unique<pipeline::Relay>(*pipeline_, *client_, *server_, *this, transaction);
  arm_idle_check();
  client_->resume_reading();
  relay_->start();
}

void Session::detach_server() {
  phase_ = Phase::detach;
  if (!server_ || server_->closed()) return finish_detach(false);
  server_->quiesce();  // on_stream_quiet -> finish_detach
}

void Session::finish_detach(bool clean) {
  pool::Slot& s = slot();
  clean = clean && server_ && server_->input().empty() && !server_unpoolable_ &&
          !s.prepared.unknown && slot_established_;
  if (clean && parameters_changed_) {
    save_parameters_to_slot();
    // The client's own SET of a reported setting: the connection now looks as it wants.
    mark_settings_current();
  }
  if (clean) ++s.sessions;
  if (clean && park()) return enter_idle();
  release_slot(slot_, clean);
  if (!clean) {
    PGQ_DEBUG("%s: server connection in slot %d closed after the transaction", describe().c_str(),
              slot_);
  }
  enter_idle();
}

bool Session::park() {
  if (server_->output_pending() > 0) return false;
  pool::Slot& s = slot();
  const auto me = static_cast<int32_t>(getpid());
  s.client_key_pid.store(0);  // no cancel may reach this backend while it waits here
  s.client_key_secret.store(0);
  s.last_used_ms = pool::now_ms();
  s.parked_by.store(me);
  // Someone asked main for a connection meanwhile (main raises the demand before it looks for
  // parked connections): hand this one back instead, unless main took it already.
  if (context_.shared->connection_demand.load() > 0) {
    int32_t expected = me;
    if (s.parked_by.compare_exchange_strong(expected, 0)) return false;  // released as usual
    server_.reset();  // main has it: our copy of the socket is closed
    return true;
  }
  parked_slot_ = slot_;
  parked_fd_ = server_->release();
  return true;
}

bool Session::unpark() {
  if (parked_slot_ < 0) return false;
  const int slot = std::exchange(parked_slot_, -1);
  Fd fd = std::move(parked_fd_);
  auto expected = static_cast<int32_t>(getpid());
  if (!context_.shared->slots[slot].parked_by.compare_exchange_strong(expected, 0)) {
    return false;  // main reclaimed it for another client; our copy closes here
  }
  if (!pooled_connection_alive(fd.get())) {
    PGQ_INFO("%s: the parked connection in slot %d (backend %d) is gone; closing it",
             describe().c_str(), slot, context_.shared->slots[slot].backend_pid);
    release_slot(slot, false);
    return false;
  }
  attach_pooled(slot, std::move(fd));
  return true;
}

void Session::release_parked() {
  if (parked_slot_ < 0) return;
  const int slot = std::exchange(parked_slot_, -1);
  parked_fd_.reset();
  auto expected = static_cast<int32_t>(getpid());
  if (!context_.shared->slots[slot].parked_by.compare_exchange_strong(expected, 0)) return;
  release_slot(slot, true);
}

}  // namespace pgquay::worker
