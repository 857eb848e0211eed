#include "pgquay/proto/startup.hpp"

#include <string>

#include "pgquay/common/check.hpp"
#include "pgquay/proto/framing.hpp"

namespace pgquay::proto {

namespace {

constexpr std::string_view kProtocolOptionPrefix = "_pq_.";

ProtoError invalid_startup_length(std::string detail = {}) {
  return ProtoError::protocol_violation("invalid length of startup packet", std::move(detail));
}

}  // namespace

ProtoError unsupported_protocol_error(std::int32_t signed_code) {
  const auto code = static_cast<std::uint32_t>(signed_code);
  return ProtoError{std::string(sqlstate::kFeatureNotSupported),
                    "unsupported frontend protocol " + std::to_string(code >> 16) + "." +
                        std::to_string(code & 0xffff) + ": server supports " +
                        std::to_string(kProtocolMajor) + ".0 to " + std::to_string(kProtocolMajor) +
                        "." + std::to_string(kProtocolNewestMinor),
                    {},
                    {}};
}

namespace {

// The name/value list after the protocol version, read the way ProcessStartupPacket reads it:
// PostgreSQL appends one NUL past the packet, so a string that runs to the end of the packet
// counts as terminated there, and the list must end with an empty name exactly at the last byte.
ProtoResult<void> parse_params(std::string_view body, StartupMessage& startup) {
  const std::size_t len = body.size();
  auto string_at = [&](std::size_t offset) {
    const std::size_t nul = body.find('\0', offset);
    return body.substr(offset, (nul == std::string_view::npos ? len : nul) - offset);
  };
  std::size_t offset = 4;  // after the protocol version
  while (offset < len) {
    if (body[offset] == '\0') break;  // the terminator
    const std::string_view name = string_at(offset);
    const std::size_t value_offset = offset + name.size() + 1;
    if (value_offset >= len) break;  // no value: reported below
    const std::string_view value = string_at(value_offset);
    ParamList& list =
        name.starts_with(kProtocolOptionPrefix) ? startup.protocol_options : startup.params;
    list.emplace_back(name, value);
    offset = value_offset + value.size() + 1;
  }
  if (offset != len - 1) {
    return std::unexpected(ProtoError::protocol_violation(
        "invalid startup packet layout: expected terminator as last byte"));
  }
  return {};
}

}  // namespace

const std::string* StartupMessage::find(std::string_view name) const {
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

std::string_view StartupMessage::user() const {
  const std::string* user = find("user");
  return user ? std::string_view(*user) : std::string_view();
}

std::string_view StartupMessage::database() const {
  const std::string* database = find("database");
  return database && !database->empty() ? std::string_view(*database) : user();
}

std::vector<std::string> StartupMessage::protocol_option_names() const {
  std::vector<std::string> names;
  names.reserve(protocol_options.size());
  for (const auto& option : protocol_options) names.push_back(option.first);
  return names;
}

ProtoResult<std::optional<std::uint32_t>> startup_length(std::string_view buf) {
  if (buf.size() < 4) return std::optional<std::uint32_t>{};
  const std::int32_t length = read_i32(buf);
  if (length < static_cast<std::int32_t>(kMinStartupPacketLength) ||
      length > static_cast<std::int32_t>(kMaxStartupPacketLength)) {
    return std::unexpected(
        invalid_startup_length("the packet declares " + std::to_string(length) +
                               " bytes; lengths from " + std::to_string(kMinStartupPacketLength) +
                               " to " + std::to_string(kMaxStartupPacketLength) + " are accepted"));
  }
  return std::optional<std::uint32_t>{static_cast<std::uint32_t>(length)};
}

ProtoResult<StartupPacket> parse_startup(std::string_view whole_packet) {
  auto length = startup_length(whole_packet);
  if (!length) return std::unexpected(std::move(length.error()));
  if (!*length || **length > whole_packet.size()) {
    return std::unexpected(ProtoError::protocol_violation("incomplete startup packet"));
  }
  if (**length != whole_packet.size()) {
    return std::unexpected(
        invalid_startup_length("the packet declares " + std::to_string(**length) + " bytes but " +
                               std::to_string(whole_packet.size()) + " were given"));
  }
  const std::string_view body = whole_packet.substr(4);
  const auto code = static_cast<std::uint32_t>(read_i32(body));

  switch (code) {
    case static_cast<std::uint32_t>(kCancelRequestCode):
      if (whole_packet.size() != 16) {
        return std::unexpected(
            ProtoError::protocol_violation("invalid length of cancel request packet"));
      }
      return CancelRequest{BackendKey{read_i32(body, 4), read_i32(body, 8)}};
    // PostgreSQL ignores any payload after these two codes; so do we.
    case static_cast<std::uint32_t>(kSslRequestCode):
      return SslRequest{};
    case static_cast<std::uint32_t>(kGssEncRequestCode):
      return GssEncRequest{};
    default:
      break;
  }

  if ((code >> 16) != kProtocolMajor) {
    return std::unexpected(unsupported_protocol_error(static_cast<std::int32_t>(code)));
  }
  StartupMessage startup;
  startup.major = static_cast<std::uint16_t>(code >> 16);
  startup.minor = static_cast<std::uint16_t>(code & 0xffff);
  if (auto parsed = parse_params(body, startup); !parsed) {
    return std::unexpected(std::move(parsed.error()));
  }
  if (startup.user().empty()) {
    return std::unexpected(ProtoError{std::string(sqlstate::kInvalidAuthorizationSpecification),
                                      "no PostgreSQL user name specified in startup packet",
                                      {},
                                      {}});
  }
  return startup;
}

void build_startup(std::string& out, std::span<const std::pair<std::string, std::string>> params,
                   std::uint16_t minor) {
  MessageWriter w(out);
  w.begin_untyped().i32(static_cast<std::int32_t>((std::uint32_t{kProtocolMajor} << 16) | minor));
  for (const auto& [name, value] : params) {
    PGQ_CHECK(!name.empty());
    w.cstr(name).cstr(value);
  }
  w.byte('\0').end();
}

void build_cancel_request(std::string& out, BackendKey key) {
  MessageWriter w(out);
  w.begin_untyped().i32(kCancelRequestCode).i32(key.pid).i32(key.secret).end();
}

void build_ssl_request(std::string& out) {
  MessageWriter w(out);
  w.begin_untyped().i32(kSslRequestCode).end();
}

void build_gssenc_request(std::string& out) {
  MessageWriter w(out);
  w.begin_untyped().i32(kGssEncRequestCode).end();
}

void build_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                      std::span<const std::string> unrecognized_options) {
  MessageWriter w(out);
  w.begin(msg::kNegotiateProtocolVersion)
      .i32(newest_minor)
      .i32(static_cast<std::int32_t>(unrecognized_options.size()));
  for (const std::string& option : unrecognized_options) w.cstr(option);
  w.end();
}

}  // namespace pgquay::proto
