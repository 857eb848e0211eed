// Private to the worker: one client session from its first byte to its last.
//
// Phases: startup (SSLRequest/GSSENCRequest answered 'N', CancelRequest forwarded, startup packet
// checked against hba) -> authenticate (password methods for users pgquay knows: pgquay verifies
// the client itself) -> acquire (ask main for a server connection, maybe wait in its queue) ->
// login (new connections only: pgquay answers PostgreSQL's authentication request with the users
// file's password, or relays the exchange to a client pgquay did not verify) ->
// setup (the client's startup parameters applied with set_config) -> relay (the pipeline) ->
// reset (ROLLBACK if needed, DISCARD ALL) -> release (connection handed back to main) -> exit.
//
// The transaction pipeline (transaction.cpp) adds a cycle after the first ReadyForQuery: idle
// (no server connection) -> acquire -> sync (the client's settings applied on that connection,
// if it differs) -> relay until ReadyForQuery 'I' between requests -> detach (connection handed
// back clean, without a reset) -> idle.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgquay/config/hba.hpp"
#include "pgquay/ev/stream.hpp"
#include "pgquay/ev/watchers.hpp"
#include "pgquay/pipeline/parameter_sync.hpp"
#include "pgquay/pipeline/pipeline.hpp"
#include "pgquay/pipeline/prepared_statements.hpp"
#include "pgquay/pipeline/relay.hpp"
#include "pgquay/pool/control.hpp"
#include "pgquay/proto/error.hpp"
#include "pgquay/proto/framing.hpp"
#include "pgquay/proto/messages.hpp"
#include "pgquay/proto/startup.hpp"
#include "pgquay/security/md5.hpp"
#include "pgquay/security/scram_exchange.hpp"
#include "pgquay/worker/context.hpp"

namespace pgquay::worker {

// True when a pooled connection's socket has nothing to read (a terminated backend leaves its
// FATAL and end-of-stream there).
bool pooled_connection_alive(int fd);

enum class Phase {
  startup,
  authenticate,  // pgquay verifying the client's password
  acquire,
  connect,
  login,
  setup,
  relay,
  idle,    // transaction pipeline: between transactions, no server connection
  sync,    // transaction pipeline: applying the client's settings on a granted connection
  detach,  // transaction pipeline: handing the connection back after a transaction
  reset,
  release,
  cancel,
  done
};

class Session final : public ev::StreamEvents, public pipeline::RelayOwner {
 public:
  // `request_counter` numbers this worker's requests to main across all its sessions, so an answer
  // to an earlier session's request is never taken for one of this session's.
  Session(ev::Loop& loop, const Context& context, int control_fd, uint32_t& request_counter,
          ClientHandoff handoff);
  ~Session() override;
  void start();
  [[nodiscard]] int exit_status() const { return exit_status_; }
  // False after anything went wrong (a broken server connection, a protocol error, a lost control
  // channel): the worker process then exits rather than serve another client.
  [[nodiscard]] bool reusable() const { return exit_status_ == 0 && !saw_error_; }

  // StreamEvents
  void on_stream_data(ev::Stream& stream) override;
  void on_stream_closed(ev::Stream& stream, int error) override;
  void on_stream_drained(ev::Stream& stream) override;
  void on_stream_quiet(ev::Stream& stream, bool clean) override;
  // RelayOwner
  void on_relay_end(const pipeline::RelayOutcome& outcome) override;
  void on_server_parameter(std::string_view name, std::string_view value) override;

 private:
  // startup.cpp
  void read_startup();
  void handle_startup(const proto::StartupMessage& message);
  void handle_cancel(const proto::BackendKey& key);
  // client_auth.cpp
  // After the hba match for a password method: pgquay runs the exchange itself when it knows the
  // user's password (or allow_unknown_users is off), else the client goes on to PostgreSQL.
  void begin_client_auth();
  void read_client_auth();
  void on_client_auth_message(std::string_view body);
  void client_auth_succeeded();
  // Logs `reason` and, after kAuthFailureDelay counted from the client's last message, sends the
  // same FATAL 28P01 whatever the reason.
  void client_auth_failed(std::string_view reason);
  // Counts and logs the outcome of a password exchange relayed between client and PostgreSQL.
  void note_relayed_auth(bool success);
  // server_auth.cpp
  // Answers PostgreSQL's authentication request on a fresh connection with the users file's
  // password (no client involved); a request it cannot answer fails the session.
  void answer_server_auth(std::string_view request);
  // acquire.cpp
  void request_connection();
  void send_acquire(bool retry = false);
  void on_control();
  void on_grant_pooled(int slot, Fd server);
  void on_grant_create(int slot);
  void send_control(pool::ControlMessage message, int fd = -1);
  // login.cpp
  void connect_server();
  void on_server_connected(int error);
  void read_login();
  void read_client_during_login();
  void login_complete();
  // PostgreSQL asks for a password the users file does not have, on a login the client is not
  // part of (pgquay verified it, or a later transaction of the transaction pipeline): 08004.
  void login_without_client(std::string_view request);
  // setup.cpp
  void begin_setup();
  void read_parameter_sync();
  void finish_setup();
  void start_relay();
  // Applies plan_parameter_sync's SQL, reading the answer in `phase`; then `done()`.
  void send_parameter_sync(const pipeline::ParameterSync& plan);
  // Writes applied_ to the slot.
  void record_applied();
  // transaction.cpp
  [[nodiscard]] bool transaction_mode() const { return transaction_mode_; }
  void enter_idle();
  void on_idle_client_data();
  // Answers a Parse..Sync batch of statements known to prepare cleanly without a server; false
  // when the input does not start with one.
  bool prepare_without_server();
  void attach_pooled(int slot, Fd server);
  void begin_sync();
  // parameters_ from the slot, once per transaction, only when something needs them.
  void load_slot_parameters();
  // A digest of client_view_ and client_params_: what this client wants a connection to look like.
  [[nodiscard]] uint64_t settings_signature() const;
  // Records in the slot that the connection now looks as this client wants.
  void mark_settings_current();
  void start_transaction_relay();
  void detach_server();
  void finish_detach(bool clean);
  // Between transactions, while no client waits for a connection, the worker keeps its clean
  // connection (parked, slot.parked_by) instead of handing it back: the next transaction needs
  // no exchange with main. Main may reclaim it at any time (pool/slot.hpp).
  bool park();
  // The parked connection for this transaction, if main has not reclaimed it.
  bool unpark();
  // Hands a parked connection back to main (the session ends), unless main took it already.
  void release_parked();
  // idle_timeouts.cpp: idle_transaction_timeout and disconnect_client.
  // Arms the idle check when the relay starts (no-op when neither is configured).
  void arm_idle_check();
  void on_idle_check();
  // Sends the client FATAL `sqlstate` `message` and ends the relay; the server connection is
  // reset and pooled when `poolable`, else closed.
  void end_idle_client(std::string_view sqlstate, std::string_view message, bool poolable);
  // finish.cpp
  void begin_reset(proto::TxStatus status);
  void read_reset();
  void release_server(bool clean);
  void send_release();
  void close_client();
  void client_error(std::string_view sqlstate, std::string_view message,
                    std::string_view detail = {});
  void client_error(const proto::ProtoError& error);
  void client_raw_error(std::string bytes);
  void maybe_finish();
  void log_disconnection(std::string_view why);

  // Hands each complete message in `in` to `handle(message, whole_bytes)`, consuming it first
  // (the bytes stay readable until the stream receives again), for as long as the session stays
  // in `phase`: a handler that moves the session on ends the loop. Returns a framing error.
  template <typename Handle>
  std::optional<proto::ProtoError> each_message(
      ev::InputBuffer& in, Phase phase, Handle&& handle,
      std::uint32_t max_length = proto::kMaxMessageLength);
  // Records a ParameterStatus body in parameters_.
  void remember_parameter(std::string_view body);

  [[nodiscard]] pool::Slot& slot() const;
  [[nodiscard]] std::string describe() const;  // user@host/database for log lines
  void save_parameters_to_slot();

  ev::Loop& loop_;
  const Context& context_;
  int control_fd_;
  uint32_t& request_counter_;
  uint32_t next_request_id() {
    return ++request_counter_ == 0 ? ++request_counter_ : request_counter_;
  }
  ClientHandoff handoff_;
  Phase phase_ = Phase::startup;
  std::unique_ptr<ev::Stream> client_;
  std::unique_ptr<ev::Stream> server_;
  std::unique_ptr<ev::ReadableWatcher> control_watcher_;
  std::unique_ptr<ev::Connector> connector_;
  std::unique_ptr<ev::Timer> auth_timer_;
  std::unique_ptr<ev::Timer> connect_timer_;
  std::unique_ptr<ev::Timer> reset_timer_;       // bounds the reset of the server connection
  std::unique_ptr<ev::Timer> close_timer_;       // bounds the final flush to a closing client
  std::unique_ptr<ev::Timer> idle_check_timer_;  // idle_transaction_timeout, disconnect_client
  int64_t last_activity_ms_ = 0;    // relay phase: the last bytes from either side (with the timer)
  bool close_after_relay_ = false;  // the relay ended for a timeout: close the server connection
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<pipeline::Relay> relay_;
  std::unique_ptr<ev::SignalWatcher> signals_;

  std::string user_;
  std::string database_;  // the real database (aliases resolved)
  std::string requested_database_;
  pipeline::ParameterList client_params_;  // startup parameters, applied with set_config
  config::HbaMethod method_ = config::HbaMethod::reject;
  bool reuse_allowed_ = false;

  // Authentication (client_auth.cpp, server_auth.cpp).
  enum class AuthStep { none, cleartext, md5, sasl_initial, sasl_response, failing };
  AuthStep auth_step_ = AuthStep::none;
  bool client_known_ = false;           // pgquay has the password the client must give
  bool client_authenticated_ = false;   // pgquay verified the client and sent AuthenticationOk
  bool relayed_auth_ = false;           // the client answered PostgreSQL's password request
  bool server_auth_by_pgquay_ = false;  // pgquay answers PostgreSQL with the users file's password
  security::Md5Salt md5_salt_{};
  std::optional<security::scram::ServerExchange> scram_server_;
  std::optional<security::scram::ClientExchange> scram_client_;
  std::chrono::steady_clock::time_point auth_message_at_{};
  std::unique_ptr<ev::Timer> auth_failure_timer_;

  uint32_t request_ = 0;  // the acquire this session waits for (0: none)
  // Tells main this session is done with `slot`: pooled again when clean, else closed.
  void release_slot(int slot, bool clean);
  int slot_ = -1;
  bool slot_established_ = false;      // main has our socket (the connection is in the pool)
  pipeline::ParameterMap parameters_;  // the server connection's, as reported
  bool parameters_changed_ = false;    // parameters_ differs from the slot's copy
  bool parameters_loaded_ = false;     // parameters_ holds the slot's copy (transaction pipeline)
  bool server_unpoolable_ = false;     // close the server connection instead of pooling it
  pipeline::ParameterList applied_;    // what the slot will record as applied for this client

  // Transaction pipeline.
  bool transaction_mode_ = false;
  bool client_ready_ = false;           // the client got its first ReadyForQuery
  pipeline::ParameterMap client_view_;  // the reported parameters as the client was told them
  pipeline::PreparedStatements statements_;
  std::optional<pipeline::ServerStatements> server_statements_;
  int parked_slot_ = -1;
  Fd parked_fd_;
  proto::BackendKey backend_key_{};
  proto::BackendKey client_key_{};
  int setup_pending_ = 0;
  std::optional<std::string> setup_error_;  // ErrorResponse body from set_config
  int reset_pending_ = 0;
  bool reset_failed_ = false;
  bool server_clean_ = false;
  bool released_ = false;
  bool client_closing_ = false;
  int64_t started_ms_ = 0;
  bool saw_error_ = false;
  int exit_status_ = 0;
};

template <typename Handle>
std::optional<proto::ProtoError> Session::each_message(ev::InputBuffer& in, Phase phase,
                                                       Handle&& handle, std::uint32_t max_length) {
  while (phase_ == phase) {
    auto next = proto::next_message(in.view(), max_length);
    if (!next) return next.error();
    if (!*next) return std::nullopt;
    const proto::MessageView message = **next;
    std::string_view whole = in.view().substr(0, message.size);
    in.consume(message.size);
    handle(message, whole);
  }
  return std::nullopt;
}

}  // namespace pgquay::worker
