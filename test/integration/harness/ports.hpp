// Loopback ports for servers started by tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::test {

// `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (the kernel picks them by
// binding port 0; all are held until every one is picked, so they differ). Another process may
// still take one before the caller binds it: servers started on such a port retry or fail loudly.
[[nodiscard]] Result<std::vector<int>> free_ports(std::size_t count);
[[nodiscard]] Result<int> free_port();

// True when a TCP connection to host:port is accepted within `timeout`.
bool port_accepts(const std::string& host, int port,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(200));

}  // namespace pgquay::test
