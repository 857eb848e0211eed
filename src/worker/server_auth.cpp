// pgquay logging in to PostgreSQL with the password from the users file: cleartext, md5 and
// SCRAM-SHA-256 (whose final message proves PostgreSQL knows the verifier: a server that cannot
// prove it is not trusted with the session). The client is not involved.
#include <algorithm>

#include "pgquay/common/log.hpp"
#include "pgquay/proto/auth.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::answer_server_auth(std::string_view body) {
  using proto::AuthCode;
  const std::string* password = context_.credentials.server_password(user_);
  auto request = proto::parse_auth_request(body);
  if (!password || !request) {
    client_error("08P01", "invalid authentication request from the PostgreSQL server");
    return release_server(false);
  }
  auto fail = [this](std::string_view why) {
    PGQ_WARN("%s: logging in to PostgreSQL with the users file's password failed: %.*s",
             describe().c_str(), static_cast<int>(why.size()), why.data());
    client_error("08004",
                 "pgquay could not log in to the PostgreSQL server as user \"" + user_ + "\"", why);
    release_server(false);
  };
  std::string out;
  switch (static_cast<AuthCode>(request->code)) {
    case AuthCode::cleartext_password:
      proto::build_password_message(out, *password);
      break;
    case AuthCode::md5_password: {
      security::Md5Salt salt;
      std::copy_n(request->data.begin(), salt.size(), salt.begin());
      proto::build_password_message(out, security::md5_response(user_, *password, salt));
      break;
    }
    case AuthCode::sasl: {
      auto mechanisms = proto::parse_sasl_mechanisms(request->data);
      if (!mechanisms) return fail("malformed AuthenticationSASL");
      if (std::ranges::find(*mechanisms, security::scram::kMechanism) == mechanisms->end())
        return fail("PostgreSQL offers no SASL mechanism pgquay supports");
      auto exchange = security::scram::ClientExchange::create(*password);
      if (!exchange) return fail(exchange.error().message);
      scram_client_.emplace(std::move(*exchange));
      proto::build_sasl_initial_response(out, scram_client_->mechanism(),
                                         scram_client_->client_first());
      break;
    }
    case AuthCode::sasl_continue: {
      if (!scram_client_) return fail("AuthenticationSASLContinue without AuthenticationSASL");
      auto final_message = scram_client_->handle_server_first(request->data);
      if (!final_message) return fail(final_message.error().message);
      proto::build_sasl_response(out, *final_message);
      break;
    }
    case AuthCode::sasl_final: {
      if (!scram_client_) return fail("AuthenticationSASLFinal without AuthenticationSASL");
      auto verified = scram_client_->handle_server_final(request->data);
      scram_client_.reset();
      if (!verified) return fail(verified.error().message);
      return;  // AuthenticationOk follows
    }
    default:
      return fail("PostgreSQL asks for authentication method " + std::to_string(request->code) +
                  ", which pgquay does not speak");
  }
  server_->write(out);
}

}  // namespace pgquay::worker
