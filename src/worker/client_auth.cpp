// pgquay verifying a client's password itself (hba methods password, md5, scram-sha-256, all) for
// users whose password it knows from the users files. Only a client verified here (or trusted by
// hba) may receive a server connection another client logged in.
//
// No user enumeration: a user pgquay does not know (with allow_unknown_users off) goes through the
// same exchange as a known one (SCRAM against a mock verifier whose salt looks like a real one,
// md5 with a fresh salt) and fails with the same message after the same delay as a wrong password.
#include <algorithm>

#include "pgquay/common/log.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/proto/auth.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/messages.hpp"
#include "session.hpp"

namespace pgquay::worker {

namespace {
// Every failure is answered this long after the client's last message, whatever the reason and
// however long the checks took: a client learns nothing from the timing, and guessing passwords
// one connection at a time gets slow.
constexpr std::chrono::milliseconds kAuthFailureDelay{500};
// The longest password or SASL message accepted, as PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: an
// unauthenticated client cannot make pgquay buffer more.
constexpr std::uint32_t kMaxAuthMessageLength = 65535;

std::string_view method_name(config::HbaMethod method) {
  return config::to_string(method);
}
}  // namespace

void Session::begin_client_auth() {
  const std::string* password = context_.credentials.client_password(user_);
  client_known_ = password != nullptr;
  if (!client_known_ && context_.config.main.allow_unknown_users) {
    // Pass-through: PostgreSQL authenticates this client on a fresh connection; the connection is
    // pooled afterwards but handed only to clients pgquay can verify.
    reuse_allowed_ = false;
    return request_connection();
  }
  phase_ = Phase::authenticate;
  auth_message_at_ = std::chrono::steady_clock::now();
  std::string out;
  switch (method_) {
    case config::HbaMethod::password:
      auth_step_ = AuthStep::cleartext;
      proto::build_auth_cleartext_request(out);
      break;
    case config::HbaMethod::md5: {
      auto salt = security::md5_salt();
      if (!salt) {
        return client_error("XX000", "could not generate an authentication salt",
                            salt.error().message);
      }
      md5_salt_ = *salt;
      auth_step_ = AuthStep::md5;
      proto::build_auth_md5_request(out, md5_salt_);
      break;
    }
    default: {  // scram-sha-256, and `all`: the strongest method the credentials allow
      const security::scram::Verifier* known = context_.credentials.client_verifier(user_);
      auto verifier = known ? *known : context_.credentials.unknown_verifier(user_);
      auto exchange = security::scram::ServerExchange::create(std::move(verifier));
      if (!exchange) {
        return client_error("XX000", "could not start SCRAM authentication",
                            exchange.error().message);
      }
      scram_server_.emplace(std::move(*exchange));
      auth_step_ = AuthStep::sasl_initial;
      const std::string_view mechanisms[] = {security::scram::kMechanism};
      proto::build_auth_sasl(out, mechanisms);
      break;
    }
  }
  client_->write(out);
  if (!client_->input().empty()) read_client_auth();
}

void Session::read_client_auth() {
  auto error = each_message(
      client_->input(), Phase::authenticate,
      [this](const proto::MessageView& m, std::string_view) {
        if (auth_step_ == AuthStep::failing || auth_step_ == AuthStep::none) return;
        if (m.type != proto::msg::kPasswordMessage) {
          saw_error_ = true;
          auth_step_ = AuthStep::none;
          return client_error("08P01",
                              "invalid message during authentication: expected a password "
                              "message");
        }
        auth_message_at_ = std::chrono::steady_clock::now();
        on_client_auth_message(m.body);
      },
      kMaxAuthMessageLength);
  if (error) {
    saw_error_ = true;
    client_error(*error);
  }
}

void Session::on_client_auth_message(std::string_view body) {
  const std::string* password = context_.credentials.client_password(user_);
  switch (auth_step_) {
    case AuthStep::cleartext: {
      auto given = proto::parse_password_message(body);
      if (!given) return client_auth_failed("malformed password message");
      if (!password) return client_auth_failed("user not in the users files");
      if (!security::constant_time_equal(security::as_bytes(*given), security::as_bytes(*password)))
        return client_auth_failed("wrong password");
      return client_auth_succeeded();
    }
    case AuthStep::md5: {
      auto given = proto::parse_password_message(body);
      if (!given) return client_auth_failed("malformed password message");
      if (!password) return client_auth_failed("user not in the users files");
      std::string expected = security::md5_response(user_, *password, md5_salt_);
      if (!security::md5_response_matches(expected, *given))
        return client_auth_failed("wrong password");
      return client_auth_succeeded();
    }
    case AuthStep::sasl_initial: {
      auto initial = proto::parse_sasl_initial_response(body);
      if (!initial) return client_auth_failed("malformed SASLInitialResponse");
      auto first = scram_server_->handle_client_first(initial->mechanism, initial->data);
      if (!first) return client_auth_failed(first.error().message);
      auth_step_ = AuthStep::sasl_response;
      std::string out;
      proto::build_auth_sasl_continue(out, *first);
      client_->write(out);
      return;
    }
    case AuthStep::sasl_response: {
      auto final_message = scram_server_->handle_client_final(body);
      if (!final_message) {
        return client_auth_failed(client_known_ ? final_message.error().message
                                                : "user not in the users files");
      }
      if (!client_known_) return client_auth_failed("user not in the users files");
      std::string out;
      proto::build_auth_sasl_final(out, *final_message);
      client_->write(out);
      return client_auth_succeeded();
    }
    case AuthStep::none:
    case AuthStep::failing:
      return;
  }
}

void Session::client_auth_succeeded() {
  auth_step_ = AuthStep::none;
  scram_server_.reset();
  client_authenticated_ = true;
  reuse_allowed_ = true;  // verified by pgquay: any pooled connection of this user will do
  context_.shared->stats.auth_success.fetch_add(1, std::memory_order_relaxed);
  std::string out;
  proto::build_authentication_ok(out);
  client_->write(out);
  request_connection();
}

void Session::client_auth_failed(std::string_view reason) {
  auth_step_ = AuthStep::failing;
  scram_server_.reset();
  context_.shared->stats.auth_failure.fetch_add(1, std::memory_order_relaxed);
  // For the operator only: the client gets the generic message.
  PGQ_WARN("authentication failed: user=%s database=%s host=%s method=%.*s: %.*s", user_.c_str(),
           requested_database_.c_str(), net::host_string(handoff_.peer).c_str(),
           static_cast<int>(method_name(method_).size()), method_name(method_).data(),
           static_cast<int>(reason.size()), reason.data());
  client_->pause_reading();
  client_->input().clear();
  auth_timer_->stop();  // the answer comes after the fixed delay, not at the timeout
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - auth_message_at_);
  auto delay = std::max(kAuthFailureDelay - elapsed, std::chrono::milliseconds{1});
  auth_failure_timer_ = std::make_unique<ev::Timer>(loop_, [this] {
    std::string out;
    proto::build_fatal(out, "28P01", "password authentication failed for user \"" + user_ + "\"");
    client_raw_error(std::move(out));
  });
  auth_failure_timer_->start(delay);
}

void Session::note_relayed_auth(bool success) {
  if (!relayed_auth_) return;
  relayed_auth_ = false;
  auto& stats = context_.shared->stats;
  if (success) {
    stats.auth_success.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  stats.auth_failure.fetch_add(1, std::memory_order_relaxed);
  PGQ_WARN(
      "authentication failed: user=%s database=%s host=%s method=%.*s: PostgreSQL refused the "
      "client's password (pass-through)",
      user_.c_str(), requested_database_.c_str(), net::host_string(handoff_.peer).c_str(),
      static_cast<int>(method_name(method_).size()), method_name(method_).data());
}

}  // namespace pgquay::worker
