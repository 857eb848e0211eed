#include "pgquay/pipeline/relay.hpp"

#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/proto/error_fields.hpp"

namespace pgquay::pipeline {

namespace {
// Above this many bytes queued for one side, the other side is not read until they drain.
constexpr size_t kHighWater = 1 << 20;
}  // namespace

const char* end_reason_name(EndReason reason) {
  switch (reason) {
    case EndReason::client_terminated:
      return "client terminated";
    case EndReason::client_failed:
      return "client connection failed";
    case EndReason::server_closed:
      return "server closed the connection";
    case EndReason::server_fatal:
      return "server reported a fatal error";
    case EndReason::protocol_error:
      return "protocol error";
  }
  return "?";
}

// Client -> server: everything is forwarded except Terminate, which ends the session while the
// server connection stays open for the pool.
class Relay::ClientVisitor final : public proto::MessageScanner::Visitor {
 public:
  explicit ClientVisitor(Relay& relay) : relay_(relay) {}
  proto::Disposition on_header(char type, uint32_t) override {
    switch (type) {
      case 'X':
        relay_.terminate_seen_ = true;
        return proto::Disposition::drop;
      case 'Q':  // simple query
      case 'F':  // function call
        ++relay_.awaiting_ready_;
        break;
      case 'S':  // Sync closes an extended-protocol batch
        ++relay_.awaiting_ready_;
        relay_.extended_unsynced_ = false;
        break;
      case 'P':
      case 'B':
      case 'D':
      case 'E':
      case 'C':
      case 'H':
        relay_.extended_unsynced_ = true;
        break;
      default:  // CopyData/CopyDone/CopyFail and the rest: answered within a pending request
        break;
    }
    return relay_.terminate_seen_ ? proto::Disposition::drop : proto::Disposition::pass;
  }
  void on_message(char, std::string_view) override {}
  void on_forward(std::string_view bytes) override { relay_.server_.write(bytes); }

 private:
  Relay& relay_;
};

// Server -> client: everything is forwarded; ReadyForQuery, errors and (session pipeline)
// ParameterStatus are also read.
class Relay::ServerVisitor final : public proto::MessageScanner::Visitor {
 public:
  explicit ServerVisitor(Relay& relay) : relay_(relay) {}
  proto::Disposition on_header(char type, uint32_t size) override {
    if (type == 'Z' || (type == 'E' && size < kInspectLimit)) return proto::Disposition::inspect;
    if (type == 'S' && relay_.pipeline_.tracks_parameters() && size < kInspectLimit)
      return proto::Disposition::inspect;
    return proto::Disposition::pass;
  }
  void on_message(char type, std::string_view body) override {
    if (type == 'Z') {
      if (auto status = proto::parse_ready_for_query(body)) relay_.tx_status_ = *status;
      if (relay_.awaiting_ready_ > 0) --relay_.awaiting_ready_;
    } else if (type == 'E') {
      auto fields = proto::parse_error_fields(body);
      if (fields && proto::is_fatal_or_panic(*fields)) relay_.server_fatal_ = true;
    } else if (type == 'S') {
      if (auto kv = proto::parse_parameter_status(body))
        relay_.owner_.on_server_parameter(kv->first, kv->second);
    }
  }
  void on_forward(std::string_view bytes) override { relay_.client_.write(bytes); }

 private:
  static constexpr uint32_t kInspectLimit = 64 * 1024;
  Relay& relay_;
};

Relay::Relay(Pipeline& pipeline, ev::Stream& client, ev::Stream& server, RelayOwner& owner)
    : pipeline_(pipeline),
      client_(client),
      server_(server),
      owner_(owner),
      client_visitor_(std::make_unique<ClientVisitor>(*this)),
      server_visitor_(std::make_unique<ServerVisitor>(*this)) {}

Relay::~Relay() = default;

void Relay::start() {
  pipeline_.start(*this);
  if (!client_.input().empty()) client_data();
  if (!finished_ && !server_.input().empty()) server_data();
}

bool Relay::server_synced() const {
  return awaiting_ready_ == 0 && !extended_unsynced_ && client_scanner_.at_boundary() &&
         server_scanner_.at_boundary() && !server_fatal_;
}

void Relay::client_data() {
  if (finished_) return;
  auto& in = client_.input();
  auto fed = client_scanner_.feed(in.view(), *client_visitor_);
  in.consume(in.size());
  if (!fed) return finish(EndReason::protocol_error, "client: " + fed.error().message);
  if (terminate_seen_) return finish(EndReason::client_terminated);
  apply_backpressure();
}

void Relay::server_data() {
  if (finished_) return;
  auto& in = server_.input();
  auto fed = server_scanner_.feed(in.view(), *server_visitor_);
  in.consume(in.size());
  if (!fed) return finish(EndReason::protocol_error, "server: " + fed.error().message);
  if (server_fatal_) return finish(EndReason::server_fatal);
  apply_backpressure();
}

void Relay::apply_backpressure() {
  if (client_.output_pending() > kHighWater) {
    server_.pause_reading();
  } else if (!server_.reading() && !finished_) {
    server_.resume_reading();
  }
  if (finished_) return;
  if (server_.output_pending() > kHighWater) {
    client_.pause_reading();
  } else if (!client_.reading() && !finished_) {
    client_.resume_reading();
  }
}

void Relay::client_drained() {
  if (!finished_ && !server_.reading()) server_.resume_reading();
}

void Relay::server_drained() {
  if (!finished_ && !client_.reading()) client_.resume_reading();
}

void Relay::client_closed(int error) {
  if (finished_) return;
  finish(error == 0 ? EndReason::client_terminated : EndReason::client_failed,
         error ? std::strerror(error) : "");
}

void Relay::server_closed(int error) {
  if (finished_) return;
  finish(EndReason::server_closed, error ? std::strerror(error) : "end of stream");
}

void Relay::finish(EndReason reason, std::string detail) {
  if (finished_) return;
  finished_ = true;
  pipeline_.stop(*this);
  RelayOutcome outcome{reason, server_synced(), tx_status_, std::move(detail)};
  owner_.on_relay_end(outcome);
}

}  // namespace pgquay::pipeline
