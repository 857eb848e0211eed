#include "pgquay/pipeline/relay.hpp"

#include <strings.h>

#include <cctype>
#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/proto/error_fields.hpp"

namespace pgquay::pipeline {

namespace {
// Above this many bytes queued for one side, the other side is not read until they drain.
constexpr size_t kHighWater = 1 << 20;
// Client messages the transaction pipeline looks into are at most this long (longer ones pass).
constexpr uint32_t kInspectLimit = 64 * 1024;
constexpr std::string_view kRefuseListen =
    "DO $pgquay$BEGIN RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', MESSAGE = "
    "'LISTEN is not supported by pgquay''s transaction pipeline', HINT = 'Connect through a pgquay "
    "with pipeline = session (or directly) to receive notifications.'; END$pgquay$";
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
    case EndReason::transaction_idle:
      return "transaction ended";
  }
  return "?";
}

// Client -> server: everything is forwarded except Terminate, which ends the session while the
// server connection stays open for the pool.
// True when the statement text begins with the keyword LISTEN (after blanks and comments).
bool is_listen(std::string_view sql) {
  for (;;) {
    while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.front())))
      sql.remove_prefix(1);
    if (sql.starts_with("--")) {
      size_t end = sql.find('\n');
      sql.remove_prefix(end == std::string_view::npos ? sql.size() : end);
    } else if (sql.starts_with("/*")) {
      size_t end = sql.find("*/");
      if (end == std::string_view::npos) return false;
      sql.remove_prefix(end + 2);
    } else {
      break;
    }
  }
  constexpr std::string_view kListen = "listen";
  if (sql.size() < kListen.size() || strncasecmp(sql.data(), kListen.data(), kListen.size()) != 0)
    return false;
  return sql.size() == kListen.size() ||
         !(std::isalnum(static_cast<unsigned char>(sql[kListen.size()])) ||
           sql[kListen.size()] == '_');
}

class Relay::ClientVisitor final : public proto::MessageScanner::Visitor {
 public:
  explicit ClientVisitor(Relay& relay) : relay_(relay) {}
  proto::Disposition on_header(char type, uint32_t size) override {
    switch (type) {
      case 'X':
        relay_.terminate_seen_ = true;
        return proto::Disposition::drop;
      case 'Q':  // simple query
        ++relay_.awaiting_ready_;
        if (auto* statements = relay_.statements()) statements->batch_sent();
        // The transaction pipeline looks at the statement: LISTEN is refused (see on_message).
        if (relay_.transaction_ && size < kInspectLimit) return proto::Disposition::capture;
        break;
      case 'F':  // function call
        ++relay_.awaiting_ready_;
        if (auto* statements = relay_.statements()) statements->batch_sent();
        break;
      case 'S':  // Sync closes an extended-protocol batch
        ++relay_.awaiting_ready_;
        relay_.extended_unsynced_ = false;
        if (auto* statements = relay_.statements()) statements->batch_sent();
        break;
      case 'P':
      case 'B':
      case 'D':
      case 'C':
        relay_.extended_unsynced_ = true;
        if (relay_.statements()) return proto::Disposition::capture;
        break;
      case 'E':
      case 'H':
        relay_.extended_unsynced_ = true;
        break;
      default:  // CopyData/CopyDone/CopyFail and the rest: answered within a pending request
        break;
    }
    return relay_.terminate_seen_ ? proto::Disposition::drop : proto::Disposition::pass;
  }
  // Transaction pipeline: Query, and Parse, Bind, Describe and Close for the prepared-statement
  // tracker.
  void on_message(char type, std::string_view body) override {
    relay_.rewritten_.clear();
    if (type == 'Q') {
      if (is_listen(body.substr(0, body.find('\0')))) {
        // A LISTEN registered on a connection the client gives back after this transaction
        // would deliver its notifications to strangers. The replacement fails in PostgreSQL, in
        // the place of the LISTEN, so the client's transaction state follows as it would.
        proto::build_query(relay_.rewritten_, kRefuseListen);
      } else {
        proto::MessageWriter(relay_.rewritten_).begin('Q').bytes(body).end();
      }
    } else {
      relay_.statements()->from_client(type, body, *relay_.transaction_->server_statements,
                                       relay_.rewritten_);
    }
    relay_.server_.write(relay_.rewritten_);
  }
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
    if (relay_.statements()) {
      if (type == '1' || type == '3') return proto::Disposition::capture;
      if (type == 'C' && size < kInspectLimit) return proto::Disposition::inspect;
    }
    return proto::Disposition::pass;
  }
  void on_message(char type, std::string_view body) override {
    auto* statements = relay_.statements();
    if (type == 'Z') {
      if (auto status = proto::parse_ready_for_query(body)) relay_.tx_status_ = *status;
      if (relay_.awaiting_ready_ > 0) --relay_.awaiting_ready_;
      if (statements) statements->on_ready();
      if (relay_.transaction_ && relay_.tx_status_ == proto::TxStatus::idle)
        relay_.idle_seen_ = true;
    } else if (type == 'E') {
      auto fields = proto::parse_error_fields(body);
      if (fields && proto::is_fatal_or_panic(*fields)) relay_.server_fatal_ = true;
      if (statements) statements->on_error(*relay_.transaction_->server_statements);
    } else if (type == '1' || type == '3') {
      auto reply = type == '1' ? statements->on_parse_complete() : statements->on_close_complete();
      if (reply == PreparedStatements::Reply::forward) {
        relay_.client_.write(type == '1' ? kParseComplete : kCloseComplete);
      } else if (reply == PreparedStatements::Reply::as_parse_complete) {
        relay_.client_.write(kParseComplete);
      }
    } else if (type == 'C') {
      std::string_view tag = body.substr(0, body.find('\0'));
      if (tag == "DEALLOCATE ALL" || tag == "DISCARD ALL")
        statements->on_deallocate_all(*relay_.transaction_->server_statements);
    } else if (type == 'S') {
      if (auto kv = proto::parse_parameter_status(body))
        relay_.owner_.on_server_parameter(kv->first, kv->second);
    }
  }
  void on_forward(std::string_view bytes) override { relay_.client_.write(bytes); }

 private:
  static constexpr std::string_view kParseComplete{"1\0\0\0\4", 5};
  static constexpr std::string_view kCloseComplete{"3\0\0\0\4", 5};
  Relay& relay_;
};

Relay::Relay(Pipeline& pipeline, ev::Stream& client, ev::Stream& server, RelayOwner& owner,
             std::optional<TransactionRelay> transaction)
    : pipeline_(pipeline),
      client_(client),
      server_(server),
      owner_(owner),
      transaction_(transaction),
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
  if (idle_seen_) {
    idle_seen_ = false;
    bool settled = !statements() || statements()->settled();
    if (server_synced() && settled) return finish(EndReason::transaction_idle);
  }
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
