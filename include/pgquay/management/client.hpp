// The client side of the management protocol, for pgquay-cli: blocking, one request per call.
#pragma once

#include <chrono>
#include <string>

#include "pgquay/common/result.hpp"
#include "pgquay/management/protocol.hpp"

namespace pgquay::management {

// Connects to the management socket at `path`, sends `request` and reads the response, all
// within `timeout`. Errors (no socket, refused, timed out, a reply that is not a valid frame or
// response) name the socket path. An error *response* is a success here (Response::ok false).
[[nodiscard]] Result<Response> call(const std::string& path, const Json& request,
                                    std::chrono::milliseconds timeout);

}  // namespace pgquay::management
