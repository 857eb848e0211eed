// The little HTTP/1.x the metrics endpoint speaks: one request head in, one response out, then
// the connection closes (every response says Connection: close). Request bodies are not read.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::management {

// A request head (request line and headers) larger than this is answered with 431.
inline constexpr size_t kMaxHttpHeadSize = 8 * 1024;

struct HttpRequest {
  std::string method;
  std::string path;  // the target without a query string
  std::string version;
};

// Finds the end of the head ("\r\n\r\n", or a bare "\n\n") in `input`: its size including the
// blank line, or nullopt while incomplete.
std::optional<size_t> http_head_size(std::string_view input);

// Parses the request line of a complete head. Errors: not three fields, a version other than
// HTTP/1.0 or HTTP/1.1, a target that is neither a path nor an absolute URI.
Result<HttpRequest> parse_http_request(std::string_view head);

// A complete response with Content-Length and Connection: close. A HEAD request gets the same
// headers without the body (pass head_only).
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool head_only = false, std::string_view extra_headers = {});
std::string_view http_reason(int status);

}  // namespace pgquay::management
