// Relay: moves protocol messages between a client stream and a server stream for one session,
// framed by the protocol (type byte + length), never by read() boundaries. It forwards bytes as
// they arrive (a 100 MB result streams through without being buffered whole), applies back
// pressure (a side whose peer cannot keep up stops being read), and knows at every moment whether
// the server connection is between requests, so the worker can decide to reset and pool it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "pgquay/ev/stream.hpp"
#include "pgquay/pipeline/pipeline.hpp"
#include "pgquay/pipeline/prepared_statements.hpp"
#include "pgquay/proto/scanner.hpp"

namespace pgquay::pipeline {

// The transaction pipeline's part: the relay ends (EndReason::transaction_idle) as soon as the
// server is idle and between requests, and protocol-level prepared statements are renamed
// (statements may be null: they then pass unchanged).
struct TransactionRelay {
  PreparedStatements* statements = nullptr;
  ServerStatements* server_statements = nullptr;
};

// True when `sql` begins with the keyword LISTEN (after blanks and comments): the transaction
// pipeline refuses it.
bool is_listen(std::string_view sql);

class Relay {
 public:
  Relay(Pipeline& pipeline, ev::Stream& client, ev::Stream& server, RelayOwner& owner,
        std::optional<TransactionRelay> transaction = std::nullopt);
  ~Relay();

  // Starts relaying; bytes already waiting in either stream's input are processed.
  void start();
  // Feed from the worker's stream callbacks.
  void client_data();
  void server_data();
  void client_drained();
  void server_drained();
  void client_closed(int error);
  void server_closed(int error);

  [[nodiscard]] bool finished() const { return finished_; }
  [[nodiscard]] proto::TxStatus tx_status() const { return tx_status_; }
  [[nodiscard]] bool server_synced() const;

 private:
  class ClientVisitor;
  class ServerVisitor;
  void finish(EndReason reason, std::string detail = {});
  [[nodiscard]] PreparedStatements* statements() const {
    return transaction_ ? transaction_->statements : nullptr;
  }
  void apply_backpressure();

  Pipeline& pipeline_;
  ev::Stream& client_;
  ev::Stream& server_;
  RelayOwner& owner_;
  std::optional<TransactionRelay> transaction_;
  std::string rewritten_;   // scratch for rewritten client messages
  bool idle_seen_ = false;  // transaction pipeline: a ReadyForQuery 'I' arrived
  proto::MessageScanner client_scanner_;
  proto::MessageScanner server_scanner_;
  std::unique_ptr<ClientVisitor> client_visitor_;
  std::unique_ptr<ServerVisitor> server_visitor_;
  proto::TxStatus tx_status_ = proto::TxStatus::idle;
  int awaiting_ready_ = 0;          // requests (Query, Sync, FunctionCall) not yet answered
  bool extended_unsynced_ = false;  // extended-protocol messages sent since the last Sync
  bool terminate_seen_ = false;
  bool server_fatal_ = false;
  bool finished_ = false;
};

}  // namespace pgquay::pipeline
