// Relay: moves protocol messages between a client stream and a server stream for one session,
// framed by the protocol (type byte + length), never by read() boundaries. It forwards bytes as
// they arrive (a 100 MB result streams through without being buffered whole), applies back
// pressure (a side whose peer cannot keep up stops being read), and knows at every moment whether
// the server connection is between requests, so the worker can decide to reset and pool it.
#pragma once

#include <memory>

#include "pgquay/ev/stream.hpp"
#include "pgquay/pipeline/pipeline.hpp"
#include "pgquay/proto/scanner.hpp"

namespace pgquay::pipeline {

class Relay {
 public:
  Relay(Pipeline& pipeline, ev::Stream& client, ev::Stream& server, RelayOwner& owner);
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
  void apply_backpressure();

  Pipeline& pipeline_;
  ev::Stream& client_;
  ev::Stream& server_;
  RelayOwner& owner_;
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
