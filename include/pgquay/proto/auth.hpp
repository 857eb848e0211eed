// The authentication messages of protocol 3.0: the backend's Authentication* requests ('R') and
// the frontend's answers ('p': PasswordMessage, SASLInitialResponse, SASLResponse, told apart
// only by what was asked). pgquay plays both sides: the server towards its clients, the client
// towards PostgreSQL. Builders append one whole message; parsers take a message body and return
// nullopt when it is malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgquay::proto {

namespace msg {
inline constexpr char kPasswordMessage = 'p';  // also SASLInitialResponse and SASLResponse
}  // namespace msg

// The int32 that starts an Authentication message.
enum class AuthCode : std::int32_t {
  ok = 0,
  cleartext_password = 3,
  md5_password = 5,
  sasl = 10,
  sasl_continue = 11,
  sasl_final = 12,
};

// --- backend -> frontend ---
void build_auth_cleartext_request(std::string& out);
// `salt`: exactly 4 bytes (checked).
void build_auth_md5_request(std::string& out, std::span<const std::uint8_t> salt);
// AuthenticationSASL listing `mechanisms` (each NUL-terminated, then an empty one).
void build_auth_sasl(std::string& out, std::span<const std::string_view> mechanisms);
void build_auth_sasl_continue(std::string& out, std::string_view data);
void build_auth_sasl_final(std::string& out, std::string_view data);

struct AuthRequest {
  std::int32_t code = 0;  // an AuthCode, or one pgquay does not speak (GSS, SSPI, ...)
  std::string_view data;  // what follows the code: md5 salt, SASL mechanisms or SASL data
};
// Any 'R' body of at least 4 bytes. For md5_password the data must be 4 bytes.
std::optional<AuthRequest> parse_auth_request(std::string_view body);
// AuthenticationSASL's mechanism list (NUL-terminated names ended by an empty one).
std::optional<std::vector<std::string_view>> parse_sasl_mechanisms(std::string_view data);

// --- frontend -> backend ---
// PasswordMessage: `password` (no NUL, checked) + NUL.
void build_password_message(std::string& out, std::string_view password);
void build_sasl_initial_response(std::string& out, std::string_view mechanism,
                                 std::string_view data);
void build_sasl_response(std::string& out, std::string_view data);

// PasswordMessage body: one NUL-terminated string and nothing after it.
std::optional<std::string_view> parse_password_message(std::string_view body);
struct SaslInitialResponse {
  std::string_view mechanism;
  std::string_view data;  // empty when the client sent length -1 (no initial response)
};
std::optional<SaslInitialResponse> parse_sasl_initial_response(std::string_view body);

}  // namespace pgquay::proto
