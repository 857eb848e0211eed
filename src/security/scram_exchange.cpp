#include "pgquay/security/scram_exchange.hpp"

#include <utility>

namespace pgquay::security::scram {

ServerExchange::ServerExchange(Verifier verifier, std::string server_nonce,
                               ServerChannelBinding binding)
    : verifier_(std::move(verifier)),
      server_nonce_(std::move(server_nonce)),
      binding_(std::move(binding)) {}

Result<ServerExchange> ServerExchange::create(Verifier verifier, ServerChannelBinding binding) {
  auto nonce = generate_nonce();
  if (!nonce) return Unexpected(nonce.error());
  return ServerExchange(std::move(verifier), std::move(*nonce), std::move(binding));
}

Result<std::string> ServerExchange::handle_client_first(std::string_view mechanism,
                                                        std::string_view message) {
  if (state_ != State::initial) return fail("SCRAM: client-first-message out of order");
  state_ = State::failed;  // until this call succeeds
  bool plus = mechanism == kMechanismPlus;
  if (!plus && mechanism != kMechanism) {
    return fail("SCRAM: unsupported SASL mechanism '" + std::string(mechanism) + "'");
  }
  if (plus && (!binding_.plus_offered || binding_.tls_server_end_point.empty())) {
    return fail("SCRAM: client chose SCRAM-SHA-256-PLUS, which was not offered");
  }
  auto first = parse_client_first(message);
  if (!first) return Unexpected(first.error());
  if (plus && (first->cbind_flag != 'p' || first->cbind_name != kChannelBindingType)) {
    return fail("SCRAM: SCRAM-SHA-256-PLUS needs channel binding type tls-server-end-point");
  }
  if (!plus && first->cbind_flag == 'p') {
    return fail("SCRAM: channel binding requested with SCRAM-SHA-256 (needs the -PLUS mechanism)");
  }
  if (!plus && first->cbind_flag == 'y' && binding_.plus_offered) {
    // The client supports binding and believes we do not, although we offered it: someone in
    // the middle removed SCRAM-SHA-256-PLUS from our list.
    return fail("SCRAM: client says the server offered no channel binding, but it was offered");
  }
  if (!first->authzid.empty()) return fail("SCRAM: authorization identity is not supported");

  expected_binding_ = first->gs2_header;
  if (plus) expected_binding_ += as_text(binding_.tls_server_end_point);
  nonce_ = first->nonce + server_nonce_;
  client_first_bare_ = std::move(first->bare);
  server_first_ = format_server_first({nonce_, verifier_.salt, verifier_.iterations});
  state_ = State::first_sent;
  return server_first_;
}

Result<std::string> ServerExchange::handle_client_final(std::string_view message) {
  if (state_ != State::first_sent) return fail("SCRAM: client-final-message out of order");
  state_ = State::failed;
  auto final_message = parse_client_final(message);
  if (!final_message) return Unexpected(final_message.error());
  if (!constant_time_equal(final_message->channel_binding, as_bytes(expected_binding_))) {
    return fail("SCRAM: channel binding does not match");
  }
  if (final_message->nonce != nonce_) return fail("SCRAM: nonce does not match");
  std::string auth = auth_message(client_first_bare_, server_first_, final_message->without_proof);
  if (!verify_client_proof(verifier_.stored_key, auth, final_message->proof)) {
    return fail("SCRAM: wrong password (client proof does not verify)");
  }
  state_ = State::done;
  return format_server_final(server_signature(verifier_.server_key, auth));
}

ClientExchange::ClientExchange(std::string password, std::string client_nonce,
                               ClientOptions options)
    : password_(std::move(password)),
      nonce_(std::move(client_nonce)),
      options_(std::move(options)) {
  if (options_.tls_server_end_point) {
    gs2_header_ = gs2_header('p', kChannelBindingType);
  } else {
    gs2_header_ = gs2_header(options_.binding_supported ? 'y' : 'n');
  }
  bare_ = client_first_bare(options_.user, nonce_);
}

Result<ClientExchange> ClientExchange::create(std::string password, ClientOptions options) {
  auto nonce = generate_nonce();
  if (!nonce) return Unexpected(nonce.error());
  return ClientExchange(std::move(password), std::move(*nonce), std::move(options));
}

ClientExchange::~ClientExchange() {
  cleanse(password_);
  cleanse(expected_server_signature_);
}

std::string_view ClientExchange::mechanism() const {
  return options_.tls_server_end_point ? kMechanismPlus : kMechanism;
}

std::string ClientExchange::client_first() const {
  return gs2_header_ + bare_;
}

Result<std::string> ClientExchange::handle_server_first(std::string_view message) {
  if (first_handled_) return fail("SCRAM: server-first-message out of order");
  first_handled_ = true;
  auto first = parse_server_first(message);
  if (!first) return Unexpected(first.error());
  if (first->nonce.size() <= nonce_.size() || !first->nonce.starts_with(nonce_)) {
    return fail("SCRAM: server nonce does not extend the client nonce");
  }
  std::string binding = gs2_header_;
  if (options_.tls_server_end_point) binding += as_text(*options_.tls_server_end_point);
  std::string without_proof = client_final_without_proof(as_bytes(binding), first->nonce);
  std::string auth = auth_message(bare_, message, without_proof);

  Sha256 salted = salted_password(password_, first->salt, first->iterations);
  Sha256 client = client_key(salted);
  Sha256 proof = client_proof(client, stored_key(client), auth);
  expected_server_signature_ = server_signature(server_key(salted), auth);
  cleanse(salted);
  cleanse(client);
  return format_client_final(without_proof, proof);
}

Result<void> ClientExchange::handle_server_final(std::string_view message) {
  if (!first_handled_ || verified_) return fail("SCRAM: server-final-message out of order");
  auto final_message = parse_server_final(message);
  if (!final_message) return Unexpected(final_message.error());
  if (!final_message->signature)
    return fail("SCRAM: server reported error: " + final_message->error);
  if (!constant_time_equal(*final_message->signature, expected_server_signature_)) {
    return fail("SCRAM: server signature does not verify (the server does not know the password)");
  }
  verified_ = true;
  return {};
}

}  // namespace pgquay::security::scram
