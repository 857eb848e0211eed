// ErrorResponse ('E') and NoticeResponse ('N'): the field struct, builders, the parser, and the
// FATAL helpers a pooler needs. Field codes are those of "Error and Notice Message Fields" in the
// PostgreSQL protocol documentation.
//
// Round trip: parse_error_fields() then build_error_response() reproduces a PostgreSQL message
// byte for byte, because the builder writes S V C M D H P first and then `other` in arrival order,
// which is the order PostgreSQL sends. An empty named field means "absent" (PostgreSQL never sends
// an empty D, H, P or V); S, C and M are always written, as the protocol requires.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgquay/proto/error.hpp"

namespace pgquay::proto {

struct ErrorFields {
  std::string severity;               // S: localized (ERROR, FATAL, ... or a translation)
  std::string severity_nonlocalized;  // V: never localized; absent before PostgreSQL 9.6
  std::string sqlstate;               // C
  std::string message;                // M
  std::string detail;                 // D
  std::string hint;                   // H
  std::string position;               // P
  // Every other field (p q W s t c d n F L R and codes added later), in message order. Codes
  // must not be NUL or one of the named ones above.
  std::vector<std::pair<char, std::string>> other;

  // The value of field `code` (named or other); nullptr when absent or empty.
  [[nodiscard]] const std::string* find(char code) const;
  bool operator==(const ErrorFields&) const = default;
};

void build_error_response(std::string& out, const ErrorFields& fields);
void build_notice_response(std::string& out, const ErrorFields& fields);

// S=FATAL V=FATAL C M [D], as PostgreSQL reports a failed connection attempt.
void build_fatal(std::string& out, std::string_view sqlstate, std::string_view message,
                 std::string_view detail = {});
// The FATAL a real server would send for this protocol failure (with its detail and hint).
void build_fatal(std::string& out, const ProtoError& error);

// Parses the body of an 'E' or 'N' message. Error (08P01) when a field is not NUL-terminated, the
// final NUL is missing or bytes follow it.
ProtoResult<ErrorFields> parse_error_fields(std::string_view body);

// True for FATAL and PANIC: the server closes the connection after sending it. Uses V when present
// (S may be translated), else S.
[[nodiscard]] bool is_fatal_or_panic(const ErrorFields& fields);

// The same error with S and V set to FATAL, every other field kept: a pooler that runs SET for the
// client's startup parameters turns the server's ERROR into the FATAL the client would have got
// from PostgreSQL for the same parameter in its startup packet.
[[nodiscard]] ErrorFields as_fatal(ErrorFields fields);
// Parses an 'E' body and appends it re-encoded as FATAL ('E' message) to out; on error out is
// unchanged.
ProtoResult<void> reencode_error_as_fatal(std::string& out, std::string_view error_body);

}  // namespace pgquay::proto
