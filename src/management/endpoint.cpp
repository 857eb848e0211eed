#include "pgquay/management/endpoint.hpp"

#include <sys/socket.h>

#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/ev/stream.hpp"

namespace pgquay::management {

class Endpoint::Connection final : public ev::StreamEvents {
 public:
  Connection(Endpoint& owner, Fd fd)
      : owner_(owner), stream_(owner.loop_, std::move(fd), *this), timer_(owner.loop_, [this] {
          PGQ_DEBUG("%s: closing a connection after %lld ms", owner_.name_.c_str(),
                    static_cast<long long>(owner_.limits_.timeout.count()));
          owner_.finish(this);
        }) {
    timer_.start(owner_.limits_.timeout);
  }

  std::function<void()> take_then() { return std::move(then_); }

 private:
  void on_stream_data(ev::Stream& stream) override {
    auto& input = stream.input();
    if (replied_) {
      input.clear();  // one request per connection: whatever follows is ignored
      return;
    }
    std::optional<Reply> reply = owner_.handler_.on_input(input.view());
    if (!reply && input.size() >= owner_.limits_.max_request_size) {
      reply = owner_.handler_.on_too_large();
    }
    if (!reply) return;
    input.clear();
    replied_ = true;
    then_ = std::move(reply->then);
    // Most replies fit in the socket buffer: send them at once (MSG_DONTWAIT: never blocks,
    // whatever mode the backend put the socket in), so a peer that half-closes right after its
    // request still gets the whole reply. ev::Stream takes whatever the kernel did not.
    std::string_view bytes = reply->bytes;
    ssize_t sent = ::send(stream.fd(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) bytes.remove_prefix(static_cast<size_t>(sent));
    if (bytes.empty()) {
      on_stream_drained(stream);
      return;
    }
    stream_.write(bytes);
  }

  void on_stream_drained(ev::Stream& stream) override {
    if (!replied_ || half_closed_ || stream.output_pending() > 0) return;
    half_closed_ = true;
    // The reply is complete: say so with a FIN, then wait for the peer to close (or the timer).
    ::shutdown(stream.fd(), SHUT_WR);
    // Last: `then` may destroy this connection and the endpoint.
    if (auto then = std::move(then_)) then();
  }

  void on_stream_closed(ev::Stream&, int error) override {
    if (error != 0 && !replied_) {
      PGQ_DEBUG("%s: connection failed: %s", owner_.name_.c_str(), std::strerror(error));
    }
    owner_.finish(this);
  }

  Endpoint& owner_;
  ev::Stream stream_;
  ev::Timer timer_;
  std::function<void()> then_;
  bool replied_ = false;
  bool half_closed_ = false;
};

Endpoint::Endpoint(ev::Loop& loop, Fd listener, std::string name, EndpointLimits limits,
                   EndpointHandler handler)
    : loop_(loop),
      listener_(std::move(listener)),
      name_(std::move(name)),
      limits_(limits),
      handler_(std::move(handler)) {
  acceptor_ = std::make_unique<ev::Acceptor>(loop_, listener_.get(),
                                             [this](Fd fd) { on_accept(std::move(fd)); });
}

Endpoint::~Endpoint() {
  acceptor_.reset();
  connections_.clear();  // pending `then` actions are dropped: the process is going away
}

void Endpoint::on_accept(Fd fd) {
  if (connections_.size() >= limits_.max_connections) {
    PGQ_WARN("%s: too many connections (%zu); refusing one", name_.c_str(), connections_.size());
    return;  // closing `fd` refuses it
  }
  auto connection = std::make_unique<Connection>(*this, std::move(fd));
  Connection* key = connection.get();
  connections_.emplace(key, std::move(connection));
}

void Endpoint::finish(Connection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  std::function<void()> then = it->second->take_then();
  connections_.erase(it);
  if (then) then();
}

}  // namespace pgquay::management
