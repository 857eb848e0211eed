// Ending a session: reset the server connection if it is between requests, give it back to the
// main process (or have it closed), close the client.
#include "pgquay/common/log.hpp"
#include "pgquay/proto/framing.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::on_relay_end(const pipeline::RelayOutcome& outcome) {
  using pipeline::EndReason;
  if (outcome.reason != EndReason::transaction_idle)
    log_disconnection(pipeline::end_reason_name(outcome.reason));
  switch (outcome.reason) {
    case EndReason::client_terminated:
    case EndReason::client_failed:
      close_client();
      if (outcome.server_synced && !close_after_relay_) return begin_reset(outcome.tx_status);
      // The client left in the middle of a request: the server's state is unknown.
      return release_server(false);
    case EndReason::protocol_error:
      saw_error_ = true;
      PGQ_WARN("%s: %s", describe().c_str(), outcome.detail.c_str());
      client_error("08P01", "invalid frontend message framing", outcome.detail);
      return release_server(false);
    case EndReason::server_fatal:
    case EndReason::server_closed:
      close_client();  // after the server's last words (already queued) reach the client
      return release_server(false);
    case EndReason::transaction_idle:
      return detach_server();
  }
}

void Session::begin_reset(proto::TxStatus status) {
  phase_ = Phase::reset;
  // The relay object stays alive until the session ends: this may run inside one of its calls.
  if (!server_ || server_->closed()) return release_server(false);
  server_->resume_reading();  // back pressure may have paused it
  reset_timer_ = std::make_unique<ev::Timer>(loop_, [this] {
    PGQ_WARN("%s: the server did not answer the session reset; closing the connection",
             describe().c_str());
    release_server(false);
  });
  reset_timer_->start(
      std::max(context_.config.main.authentication_timeout, std::chrono::milliseconds{10000}));
  std::string out;
  if (status != proto::TxStatus::idle) {
    proto::build_query(out, "ROLLBACK");
    ++reset_pending_;
  }
  // DISCARD ALL: temp tables, prepared statements, SET values, LISTEN, advisory locks, cursors.
  // Not in the transaction pipeline: session state is not kept per client there, and the
  // connection's prepared statements serve every client.
  if (!transaction_mode_) {
    proto::build_query(out, "DISCARD ALL");
    ++reset_pending_;
  }
  if (out.empty()) return release_server(true);
  server_->write(out);
}

void Session::read_reset() {
  auto& in = server_->input();
  auto error = each_message(in, Phase::reset, [&](const proto::MessageView& m, std::string_view) {
    if (m.type == 'E') {
      reset_failed_ = true;
    } else if (m.type == 'S') {
      remember_parameter(m.body);
    } else if (m.type == 'Z' && --reset_pending_ == 0) {
      auto status = proto::parse_ready_for_query(m.body);
      release_server(!reset_failed_ && status == proto::TxStatus::idle && in.empty());
    }
  });
  if (error) release_server(false);
}

void Session::release_server(bool clean) {
  if (phase_ == Phase::release || released_) return;
  phase_ = Phase::release;
  if (reset_timer_) reset_timer_->stop();
  if (connect_timer_) connect_timer_->stop();
  connector_.reset();  // a connect still in flight must not bring this session back to life
  if (slot_ < 0) {
    released_ = true;
    server_.reset();
    return maybe_finish();
  }
  if (clean && server_ && slot_established_) {
    server_clean_ = true;
    server_->quiesce();  // on_stream_quiet sends the release
    return;
  }
  server_clean_ = false;
  saw_error_ = true;
  send_release();
}

void Session::on_stream_quiet(ev::Stream&, bool clean) {
  if (phase_ == Phase::detach) return finish_detach(clean);
  server_clean_ = server_clean_ && clean && server_->input().empty();
  send_release();
}

void Session::send_release() {
  if (released_) return;
  released_ = true;
  bool clean =
      server_clean_ && slot_established_ && !server_unpoolable_ && !slot().prepared.unknown;
  if (clean) {
    if (!transaction_mode_) {  // DISCARD ALL reset them
      slot().applied_length = 0;
      slot().settings_signature = 0;
    }
    save_parameters_to_slot();
    ++slot().sessions;
  }
  release_slot(slot_, clean);
  server_.reset();
  maybe_finish();
}

}  // namespace pgquay::worker
