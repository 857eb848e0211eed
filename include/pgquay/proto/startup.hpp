// The startup phase: packets without a type byte (int32 length, int32 code, payload) that open a
// connection, and NegotiateProtocolVersion. Target: PostgreSQL 15, which speaks protocol 3.0 only
// and answers a 3.x request (x > 0) or `_pq_.` options with NegotiateProtocolVersion.
//
// Error texts and SQLSTATEs are PostgreSQL's (ProcessStartupPacket), so the caller can reply with
// build_fatal(out, error) and the client sees what a real server would have said.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pgquay/proto/error.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::proto {

// PostgreSQL's MAX_STARTUP_PACKET_LENGTH: the whole packet, length word included.
inline constexpr std::uint32_t kMaxStartupPacketLength = 10000;
// Length word + request code.
inline constexpr std::uint32_t kMinStartupPacketLength = 8;

inline constexpr std::int32_t kCancelRequestCode = 80877102;  // 1234.5678
inline constexpr std::int32_t kSslRequestCode = 80877103;     // 1234.5679
inline constexpr std::int32_t kGssEncRequestCode = 80877104;  // 1234.5680
inline constexpr std::uint16_t kProtocolMajor = 3;
// Newest minor version of protocol 3 that PostgreSQL 15 (and so pgquay) implements.
inline constexpr std::uint16_t kProtocolNewestMinor = 0;

using ParamList = std::vector<std::pair<std::string, std::string>>;

struct SslRequest {};
struct GssEncRequest {};
struct CancelRequest {
  BackendKey key;
};
struct StartupMessage {
  std::uint16_t major = kProtocolMajor;
  std::uint16_t minor = 0;
  // Every name/value pair except `_pq_.*`, in packet order (duplicates kept; the last one wins,
  // as in PostgreSQL). Includes user, database, options, replication.
  ParamList params;
  // `_pq_.*` protocol options, in packet order. PostgreSQL 15 recognizes none of them.
  ParamList protocol_options;

  // The value of the last `name` parameter; nullptr when absent.
  [[nodiscard]] const std::string* find(std::string_view name) const;
  // Never empty after parse_startup() succeeded.
  [[nodiscard]] std::string_view user() const;
  // `database`, or the user name when it is absent or empty (PostgreSQL's default).
  [[nodiscard]] std::string_view database() const;
  // True when the client must be answered with NegotiateProtocolVersion before authentication.
  [[nodiscard]] bool needs_negotiation() const {
    return minor > kProtocolNewestMinor || !protocol_options.empty();
  }
  // The names of protocol_options, for build_negotiate_protocol_version().
  [[nodiscard]] std::vector<std::string> protocol_option_names() const;
};

using StartupPacket = std::variant<SslRequest, GssEncRequest, CancelRequest, StartupMessage>;

// How many bytes the startup-phase packet at the start of buf occupies (its length word).
// nullopt: fewer than 4 bytes so far. Error (08P01 "invalid length of startup packet") when the
// length is below 8 or above 10000.
ProtoResult<std::optional<std::uint32_t>> startup_length(std::string_view buf);

// Parses one whole startup-phase packet (exactly the bytes its length word covers). Checks, in
// PostgreSQL's order: length, request code, protocol major version, the name/value layout, the
// user name. Protocol 3.x with x > 0 is accepted: see StartupMessage::needs_negotiation().
ProtoResult<StartupPacket> parse_startup(std::string_view whole_packet);

// PostgreSQL's answer to a request code it does not accept at this point, e.g. a second SSLRequest
// after TLS is up: "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0" (0A000).
ProtoError unsupported_protocol_error(std::int32_t code);

// StartupMessage for protocol 3.minor with these parameters, in order. Names and values must not
// contain NUL (checked); names must not be empty (checked: an empty name ends the list).
void build_startup(std::string& out, std::span<const std::pair<std::string, std::string>> params,
                   std::uint16_t minor = 0);
void build_cancel_request(std::string& out, BackendKey key);
void build_ssl_request(std::string& out);
void build_gssenc_request(std::string& out);
// 'v': the newest minor version supported for the requested major, and the unrecognized options.
void build_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                      std::span<const std::string> unrecognized_options);

}  // namespace pgquay::proto
