// Builders for the regular (typed) messages a pooler sends, and parsers for the small bodies it
// needs to read while relaying. Builders append one whole message to `out`; parsers take the body
// (as MessageView::body or MessageScanner::Visitor::on_message delivers it) and return nullopt
// when it is malformed. Error and notice messages live in error_fields.hpp, startup-phase packets
// in startup.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pgquay::proto {

// Message type bytes this project uses by name (protocol-message-formats in the PostgreSQL docs).
namespace msg {
// Backend -> frontend
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kDataRow = 'D';
inline constexpr char kCommandComplete = 'C';
// Frontend -> backend
inline constexpr char kQuery = 'Q';
inline constexpr char kTerminate = 'X';
inline constexpr char kSync = 'S';
}  // namespace msg

// ReadyForQuery transaction status.
enum class TxStatus : char { idle = 'I', in_transaction = 'T', failed = 'E' };

struct BackendKey {
  std::int32_t pid = 0;
  std::int32_t secret = 0;
  bool operator==(const BackendKey&) const = default;
};

void build_authentication_ok(std::string& out);
void build_parameter_status(std::string& out, std::string_view name, std::string_view value);
void build_backend_key_data(std::string& out, BackendKey key);
void build_ready_for_query(std::string& out, TxStatus status);
// sql must not contain NUL (checked).
void build_query(std::string& out, std::string_view sql);
void build_terminate(std::string& out);

// 'Z' body: exactly one of I, T, E.
std::optional<TxStatus> parse_ready_for_query(std::string_view body);
// 'S' body: name NUL value NUL, nothing after.
std::optional<std::pair<std::string_view, std::string_view>> parse_parameter_status(
    std::string_view body);
// 'K' body: two int32 (protocol 3.0 keys; PostgreSQL 18's longer keys need protocol 3.2).
std::optional<BackendKey> parse_backend_key_data(std::string_view body);

}  // namespace pgquay::proto
