// The management protocol between pgquay-cli and the main process.
//
// A connection carries one request and one response. Each is a frame: a 4-byte big-endian length
// followed by that many bytes of JSON (UTF-8). The length counts the JSON only.
//
//   request   {"version": 1, "command": "status details", "args": {...}}
//   response  {"version": 1, "status": "ok", "result": {...}}
//             {"version": 1, "status": "error", "error": "one line for an operator"}
//
// `command` is the CLI's command words ("ping", "conf get", "flush", ...); `args` is an object
// (may be absent). A peer that sees a version it does not speak answers with an error.
// Nothing here throws: malformed input is a Result error, and documents are always dumped with
// invalid UTF-8 replaced (names in pgquay come from clients).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::management {

using Json = nlohmann::json;

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 4;
// A request is a command and a few short arguments.
inline constexpr size_t kMaxRequestSize = 64 * 1024;
// A response may list every slot of a large pool (`status details`).
inline constexpr size_t kMaxResponseSize = 64 * 1024 * 1024;

// <length><json>. Never throws; invalid UTF-8 in strings is replaced by U+FFFD.
std::string encode_frame(const Json& document);

// One complete frame at the front of a buffer.
struct Frame {
  std::string_view body;  // the JSON text
  size_t size = 0;        // header + body: what to consume
};

// Looks for a complete frame at the front of `buffer`. nullopt: more bytes are needed. An error
// when the announced length is 0 or above `max_size` (the caller answers and closes: the rest of
// the stream cannot be trusted).
Result<std::optional<Frame>> take_frame(std::string_view buffer, size_t max_size);

// Parses JSON text into an object; anything else (bad syntax, an array, a number) is an error.
Result<Json> parse_document(std::string_view text);

struct Request {
  std::string command;
  Json args = Json::object();

  // Optional string argument; nullopt when absent or not a string.
  [[nodiscard]] std::optional<std::string> arg(std::string_view name) const;
};

// Checks version, command (non-empty string) and args (an object when present).
Result<Request> parse_request(const Json& document);
Json make_request(std::string_view command, Json args = Json::object());

struct Response {
  bool ok = false;
  std::string error;  // when !ok
  Json result = Json::object();
};

Json ok_response(Json result = Json::object());
Json error_response(std::string_view message);
// Checks version and status; an error response is a successful parse with ok = false.
Result<Response> parse_response(const Json& document);

// The management socket of a pgquay listening on `port`: <dir>/.s.pgquay.<port>.admin.
std::string socket_path(std::string_view dir, int port);

}  // namespace pgquay::management
