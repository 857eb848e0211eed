// Protocol failures as values. Every parser in proto returns ProtoResult<T>: a failure carries the
// SQLSTATE and the wording PostgreSQL itself would use, so a caller can answer the peer with the
// same FATAL a real server sends (build_fatal(out, error) in error_fields.hpp) and log the rest.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::proto {

// The SQLSTATEs proto produces (PostgreSQL's errcodes.txt names).
namespace sqlstate {
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kUndefinedObject = "42704";
}  // namespace sqlstate

struct ProtoError {
  std::string sqlstate;  // five characters, e.g. "08P01"
  std::string message;   // PostgreSQL's primary message where it has one
  std::string detail;    // optional
  std::string hint;      // optional

  static ProtoError protocol_violation(std::string message, std::string detail = {}) {
    return ProtoError{
        std::string(sqlstate::kProtocolViolation), std::move(message), std::move(detail), {}};
  }
};

template <typename T>
using ProtoResult = std::expected<T, ProtoError>;

// For callers that only log: "08P01: invalid message length (detail)".
Error to_error(const ProtoError& error);

}  // namespace pgquay::proto
