// Private to the net module: building sockaddr_un values.
#pragma once

#include <string>

#include "pgquay/common/result.hpp"
#include "pgquay/net/address.hpp"

namespace pgquay::net::detail {

// A filesystem Unix socket address for `path`; fails when the path does not fit in sun_path
// (108 bytes on Linux, including the terminating NUL).
Result<SocketAddress> unix_address(const std::string& path);

}  // namespace pgquay::net::detail
