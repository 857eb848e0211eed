// A listening socket served on the main process's event loop where every connection sends one
// request and receives one reply: the management socket and the metrics HTTP endpoint.
//
// Nothing blocks: bytes are received and sent by ev::Stream. Each connection is bounded in size
// (a request that grows past max_request_size is answered by on_too_large) and in time (a
// connection still open after `timeout` is closed, whatever it was doing), and the number of
// connections is bounded (beyond max_connections a new one is closed at once). After the reply
// has reached the kernel the endpoint half-closes the socket and waits for the peer to close, so
// the reply is never cut off by a reset. A peer may half-close right after its request; it then
// gets every reply that fits in the socket buffer (a larger one may be cut short).
//
// Must be created and destroyed in the process that owns `loop`. Destroying an Endpoint inherited
// by a forked child only closes that child's descriptors.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/loop.hpp"
#include "pgquay/ev/watchers.hpp"

namespace pgquay::management {

struct Reply {
  std::string bytes;
  // Runs once the reply is in the kernel's hands, or when the connection ends before that. Used
  // for actions that would otherwise cut the reply short (an immediate shutdown).
  std::function<void()> then;
};

struct EndpointHandler {
  // Everything received so far on one connection. nullopt: wait for more bytes.
  std::function<std::optional<Reply>(std::string_view input)> on_input;
  // The input reached the size limit without on_input producing a reply.
  std::function<Reply()> on_too_large;
};

struct EndpointLimits {
  size_t max_request_size = 64 * 1024;
  std::chrono::milliseconds timeout{10000};
  size_t max_connections = 64;
};

class Endpoint {
 public:
  // Serves `listener` (a listening socket, owned from now on). `name` is for log lines.
  Endpoint(ev::Loop& loop, Fd listener, std::string name, EndpointLimits limits,
           EndpointHandler handler);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  [[nodiscard]] size_t connections() const { return connections_.size(); }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  class Connection;
  void on_accept(Fd fd);
  // Destroys `connection`, then runs its pending `then` (nothing of the endpoint is touched
  // after that: it may destroy the endpoint).
  void finish(Connection* connection);

  ev::Loop& loop_;
  Fd listener_;
  std::string name_;
  EndpointLimits limits_;
  EndpointHandler handler_;
  std::map<Connection*, std::unique_ptr<Connection>> connections_;
  std::unique_ptr<ev::Acceptor> acceptor_;  // last: stopped before the rest goes
};

}  // namespace pgquay::management
