// The startup phase: everything before the worker asks main for a server connection.
#include <strings.h>

#include <cstring>
#include <variant>

#include "pgquay/common/log.hpp"
#include "pgquay/common/process.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/net/socket.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/options.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::read_startup() {
  auto& in = client_->input();
  while (phase_ == Phase::startup && client_) {
    auto length = proto::startup_length(in.view());
    if (!length) return client_error(length.error());
    if (!*length || in.size() < **length) return;  // wait for the rest of the packet
    auto packet = proto::parse_startup(in.view().substr(0, **length));
    in.consume(**length);
    if (!packet) return client_error(packet.error());
    if (std::holds_alternative<proto::SslRequest>(*packet) ||
        std::holds_alternative<proto::GssEncRequest>(*packet)) {
      // No TLS or GSS encryption here: 'N' tells the client to go on in plain text (or give up,
      // with sslmode=require), exactly as PostgreSQL without ssl does.
      client_->write("N");
      continue;
    }
    if (auto* cancel = std::get_if<proto::CancelRequest>(&*packet))
      return handle_cancel(cancel->key);
    return handle_startup(std::get<proto::StartupMessage>(*packet));
  }
}

void Session::handle_startup(const proto::StartupMessage& message) {
  if (message.needs_negotiation()) {
    std::string out;
    auto options = message.protocol_option_names();
    proto::build_negotiate_protocol_version(out, proto::kProtocolNewestMinor, options);
    client_->write(out);
  }
  user_ = std::string(message.user());
  requested_database_ = std::string(message.database());
  database_ = config::resolve_alias(context_.databases.limits, requested_database_);
  if (message.find("replication")) {
    return client_error("0A000", "pgquay does not pool replication connections",
                        "Connect to PostgreSQL directly for replication.");
  }
  for (const auto& [name, value] : message.params) {
    if (name == "user" || name == "database") continue;
    if (name == "options") {
      auto parsed = proto::parse_startup_options(value);
      if (!parsed) return client_error(parsed.error());
      for (auto& kv : *parsed) client_params_.push_back(std::move(kv));
      continue;
    }
    client_params_.emplace_back(name, value);
  }

  config::ConnKind kind =
      handoff_.unix_socket ? config::ConnKind::unix_socket : config::ConnKind::tcp;
  const config::HbaRule* rule =
      config::match(context_.hba, kind, requested_database_, user_, handoff_.peer.get());
  std::string host = net::host_string(handoff_.peer);
  std::string who =
      "host \"" + host + "\", user \"" + user_ + "\", database \"" + requested_database_ + "\"";
  if (!rule) return client_error("28000", "no pgquay_hba.conf entry for " + who);
  if (rule->method == config::HbaMethod::reject)
    return client_error("28000", "pgquay_hba.conf rejects connection for " + who);
  if (rule->method == config::HbaMethod::cert)
    return client_error("28000", "certificate authentication failed for user \"" + user_ + "\"",
                        "TLS is not enabled on this pgquay.");
  method_ = rule->method;
  // Only a client whose identity pgquay vouches for may get a connection another client logged
  // in: `trust` says so, and so does a password pgquay verified (begin_client_auth).
  reuse_allowed_ = method_ == config::HbaMethod::trust;
  switch (context_.config.main.update_process_title) {
    case config::UpdateProcessTitle::never:
      break;
    case config::UpdateProcessTitle::minimal:
      process::set_title("pgquay: " + user_ + "/" + requested_database_);
      break;
    case config::UpdateProcessTitle::strict:
    case config::UpdateProcessTitle::verbose:
      process::set_title("pgquay: " + user_ + "@" + net::to_string(handoff_.peer) + "/" +
                         requested_database_);
      break;
  }
  if (method_ == config::HbaMethod::trust) return request_connection();
  begin_client_auth();
}

void Session::handle_cancel(const proto::BackendKey& key) {
  phase_ = Phase::cancel;
  client_.reset();  // PostgreSQL answers a CancelRequest by closing the connection
  const pool::SharedState& shared = *context_.shared;
  for (int i = 0; i < shared.max_connections; ++i) {
    const pool::Slot& s = shared.slots[i];
    if (s.state.load() != pool::SlotState::in_use) continue;
    if (s.client_key_pid.load() != key.pid || s.client_key_secret.load() != key.secret) continue;
    const pool::ServerEntry& server = shared.servers[s.server];
    auto sock = net::stream_socket(server.address.ss_family);
    if (!sock) break;
    int fd = sock->get();
    auto backend = proto::BackendKey{s.backend_pid, s.backend_secret};
    auto holder = std::make_shared<Fd>(std::move(*sock));
    connector_ = std::make_unique<ev::Connector>(
        loop_, fd, reinterpret_cast<const sockaddr*>(&server.address), server.address_length,
        [this, holder, backend](int error) {
          if (error) {
            PGQ_WARN("cancel request could not reach PostgreSQL: %s", std::strerror(error));
          } else {
            server_ = std::make_unique<ev::Stream>(loop_, std::move(*holder), *this);
            std::string packet;
            proto::build_cancel_request(packet, backend);
            server_->write(packet);  // on_stream_drained closes it and finishes
          }
          connector_.reset();
          maybe_finish();
        });
    return;
  }
  // Unknown key: like PostgreSQL, say nothing (the client cannot tell).
  maybe_finish();
}

}  // namespace pgquay::worker
