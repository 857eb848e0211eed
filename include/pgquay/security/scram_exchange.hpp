// One SCRAM-SHA-256 exchange, from either side, over the SASL messages' payloads (the bytes inside
// SASLInitialResponse / SASLResponse / AuthenticationSASLContinue / AuthenticationSASLFinal; the
// protocol framing belongs to the caller). No I/O: each call takes a message and returns the next
// one, so the same objects serve blocking tests and the event loop alike.
//
// Every failure is an Error whose message is for the log; a server answers any failure with
// FATAL 28P01 without saying which check failed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/security/scram.hpp"

namespace pgquay::security::scram {

// Channel binding facts for ServerExchange (outside the class so it can be a default argument).
struct ServerChannelBinding {
  // True when the server listed SCRAM-SHA-256-PLUS in AuthenticationSASL (TLS connection).
  bool plus_offered = false;
  // tls-server-end-point data: the hash of the server certificate (RFC 5929); needed to accept
  // the PLUS mechanism.
  Bytes tls_server_end_point;
};

// pgquay verifying a client. Holds only the verifier (never the password).
class ServerExchange {
 public:
  // `server_nonce` is normally generate_nonce(); tests pass fixed ones.
  ServerExchange(Verifier verifier, std::string server_nonce, ServerChannelBinding binding = {});
  static Result<ServerExchange> create(Verifier verifier, ServerChannelBinding binding = {});

  // The SASLInitialResponse: `mechanism` as the client chose it and its client-first-message.
  // Returns the server-first-message. Refuses a mechanism we did not offer, a binding flag that
  // does not fit the mechanism, 'y' when PLUS was offered (a downgrade), and an authzid.
  Result<std::string> handle_client_first(std::string_view mechanism, std::string_view message);

  // The client-final-message. Checks channel binding, nonce and proof; returns the
  // server-final-message ("v=...") when the client proved it knows the password.
  Result<std::string> handle_client_final(std::string_view message);

  [[nodiscard]] bool authenticated() const { return state_ == State::done; }

 private:
  enum class State { initial, first_sent, done, failed };
  Verifier verifier_;
  std::string server_nonce_;
  ServerChannelBinding binding_;
  State state_ = State::initial;
  std::string expected_binding_;  // gs2 header (+ binding data), what c= must decode to
  std::string nonce_;             // c-nonce + s-nonce
  std::string client_first_bare_;
  std::string server_first_;
};

// How ClientExchange binds the channel (outside the class so it can be a default argument).
struct ClientOptions {
  std::string user;  // PostgreSQL ignores it (the startup message names the user); "" is usual
  // When set, authenticate with SCRAM-SHA-256-PLUS bound to this tls-server-end-point data.
  std::optional<Bytes> tls_server_end_point;
  // Without binding data: send 'y' (could bind, server did not offer PLUS) instead of 'n'.
  bool binding_supported = false;
};

// pgquay logging in to PostgreSQL with a password it knows.
class ClientExchange {
 public:
  ClientExchange(std::string password, std::string client_nonce, ClientOptions options);
  static Result<ClientExchange> create(std::string password, ClientOptions options = {});
  ClientExchange(ClientExchange&&) noexcept = default;
  ClientExchange& operator=(ClientExchange&&) noexcept = default;
  ~ClientExchange();

  // "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS", for SASLInitialResponse.
  [[nodiscard]] std::string_view mechanism() const;
  // The client-first-message.
  [[nodiscard]] std::string client_first() const;
  // AuthenticationSASLContinue's data -> the client-final-message. Checks that the server's
  // nonce extends ours and that the iteration count is sane.
  Result<std::string> handle_server_first(std::string_view message);
  // AuthenticationSASLFinal's data: verifies the server's signature (constant time), so a server
  // that does not know the verifier is detected. "e=" from the server is an error.
  Result<void> handle_server_final(std::string_view message);

  [[nodiscard]] bool server_verified() const { return verified_; }

 private:
  std::string password_;
  std::string nonce_;
  ClientOptions options_;
  std::string gs2_header_;
  std::string bare_;
  Sha256 expected_server_signature_{};
  bool first_handled_ = false;
  bool verified_ = false;
};

}  // namespace pgquay::security::scram
