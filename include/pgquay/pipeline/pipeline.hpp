// Pipelines: the stage callbacks that run between a client (rcv_fd) and its server connection
// (snd_fd). initialize/destroy run once in the main process; start, client, server, periodic and
// stop run in the worker that serves one client.
//
//   performance  relays bytes; looks only at the client's Terminate, the server's ReadyForQuery
//                (so a connection is returned only when it is idle) and FATAL/PANIC errors
//   session      the full path: also tracks the parameters the server reports, so the pooled
//                connection's state is known when it is handed to the next client
//   transaction  releases the server connection at every ReadyForQuery 'I' between requests,
//                renames protocol-level prepared statements (prepared_statements.hpp) and keeps
//                each client's settings on whichever connection it gets (parameter_sync.hpp)
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pgquay/config/enums.hpp"
#include "pgquay/ev/stream.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::pipeline {

enum class EndReason {
  client_terminated,  // Terminate or EOF from the client
  client_failed,      // the client socket failed
  server_closed,      // the server closed or failed
  server_fatal,       // the server sent FATAL or PANIC (already forwarded to the client)
  protocol_error,     // the byte stream could not be framed (client or server)
  transaction_idle,   // transaction pipeline: the server is idle and may serve another client
};
const char* end_reason_name(EndReason reason);

// What the worker learns when relaying stops.
struct RelayOutcome {
  EndReason reason;
  // The server connection is between requests: every request the client sent has been answered
  // with ReadyForQuery, no message is half-sent either way.
  bool server_synced = false;
  proto::TxStatus tx_status = proto::TxStatus::idle;
  std::string detail;  // for the log line
};

class RelayOwner {
 public:
  virtual ~RelayOwner() = default;
  virtual void on_relay_end(const RelayOutcome& outcome) = 0;
  // A ParameterStatus went to the client (session pipeline).
  virtual void on_server_parameter(std::string_view, std::string_view) {}
};

class Relay;

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  [[nodiscard]] virtual const char* name() const = 0;
  // Main process, once at start-up and once at shutdown.
  virtual void initialize() {}
  virtual void destroy() {}
  // Worker: the session starts relaying / stops relaying.
  virtual void start(Relay&) {}
  virtual void stop(Relay&) {}
  // Which server messages this pipeline needs to see whole (besides ReadyForQuery and errors).
  [[nodiscard]] virtual bool tracks_parameters() const = 0;
  // Called from the worker's periodic watcher (idle/disconnect timers of later issues).
  virtual void periodic(Relay&) {}
};

std::unique_ptr<Pipeline> make_pipeline(config::Pipeline kind);

}  // namespace pgquay::pipeline
