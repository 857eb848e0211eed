#include "pgquay/proto/auth.hpp"

#include "pgquay/common/check.hpp"
#include "pgquay/proto/framing.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::proto {

namespace {
void build_code(std::string& out, AuthCode code, std::string_view data = {}) {
  MessageWriter w(out);
  w.begin(msg::kAuthentication).i32(static_cast<std::int32_t>(code)).bytes(data).end();
}
}  // namespace

void build_auth_cleartext_request(std::string& out) {
  build_code(out, AuthCode::cleartext_password);
}

void build_auth_md5_request(std::string& out, std::span<const std::uint8_t> salt) {
  PGQ_CHECK(salt.size() == 4);
  build_code(out, AuthCode::md5_password,
             std::string_view(reinterpret_cast<const char*>(salt.data()), salt.size()));
}

void build_auth_sasl(std::string& out, std::span<const std::string_view> mechanisms) {
  MessageWriter w(out);
  w.begin(msg::kAuthentication).i32(static_cast<std::int32_t>(AuthCode::sasl));
  for (auto name : mechanisms) w.cstr(name);
  w.byte('\0');
  w.end();
}

void build_auth_sasl_continue(std::string& out, std::string_view data) {
  build_code(out, AuthCode::sasl_continue, data);
}

void build_auth_sasl_final(std::string& out, std::string_view data) {
  build_code(out, AuthCode::sasl_final, data);
}

std::optional<AuthRequest> parse_auth_request(std::string_view body) {
  if (body.size() < 4) return std::nullopt;
  AuthRequest request{read_i32(body), body.substr(4)};
  if (request.code == static_cast<std::int32_t>(AuthCode::md5_password) && request.data.size() != 4)
    return std::nullopt;
  return request;
}

std::optional<std::vector<std::string_view>> parse_sasl_mechanisms(std::string_view data) {
  std::vector<std::string_view> names;
  BodyReader r(data);
  for (;;) {
    auto name = r.cstr();
    if (!name) return std::nullopt;
    if (name->empty()) break;
    names.push_back(*name);
  }
  if (!r.done()) return std::nullopt;
  return names;
}

void build_password_message(std::string& out, std::string_view password) {
  MessageWriter w(out);
  w.begin(msg::kPasswordMessage).cstr(password).end();
}

void build_sasl_initial_response(std::string& out, std::string_view mechanism,
                                 std::string_view data) {
  MessageWriter w(out);
  w.begin(msg::kPasswordMessage)
      .cstr(mechanism)
      .i32(static_cast<std::int32_t>(data.size()))
      .bytes(data)
      .end();
}

void build_sasl_response(std::string& out, std::string_view data) {
  MessageWriter w(out);
  w.begin(msg::kPasswordMessage).bytes(data).end();
}

std::optional<std::string_view> parse_password_message(std::string_view body) {
  BodyReader r(body);
  auto text = r.cstr();
  if (!text || !r.done()) return std::nullopt;
  return text;
}

std::optional<SaslInitialResponse> parse_sasl_initial_response(std::string_view body) {
  BodyReader r(body);
  auto mechanism = r.cstr();
  auto length = r.i32();
  if (!mechanism || !length) return std::nullopt;
  SaslInitialResponse response{*mechanism, {}};
  if (*length == -1) {
    if (!r.done()) return std::nullopt;
    return response;
  }
  if (*length < 0 || static_cast<std::size_t>(*length) != r.remaining()) return std::nullopt;
  response.data = *r.bytes(static_cast<std::size_t>(*length));
  return response;
}

}  // namespace pgquay::proto
