#include "session.hpp"

#include <signal.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/net/socket.hpp"
#include "pgquay/proto/error_fields.hpp"
#include "pgquay/proto/framing.hpp"

namespace pgquay::worker {

namespace {
constexpr size_t kPreRelayInputLimit = 1 << 20;
// How long a closing client may take to read its last messages before it is cut off.
constexpr std::chrono::milliseconds kClientFlushTimeout{10000};
}  // namespace

Session::Session(ev::Loop& loop, const Context& context, int control_fd, uint32_t& request_counter,
                 ClientHandoff handoff)
    : loop_(loop),
      context_(context),
      control_fd_(control_fd),
      request_counter_(request_counter),
      handoff_(std::move(handoff)),
      transaction_mode_(config::effective_pipeline(context.config.main) ==
                        config::Pipeline::transaction) {}

Session::~Session() {
  release_parked();
}

void Session::start() {
  started_ms_ = pool::now_ms();
  const auto& main = context_.config.main;
  if (!handoff_.unix_socket) {
    net::set_nodelay(handoff_.client.get(), main.nodelay);
    net::set_keepalive(handoff_.client.get(), main.keep_alive);
  }
  client_ = std::make_unique<ev::Stream>(loop_, std::move(handoff_.client), *this);
  signals_ = std::make_unique<ev::SignalWatcher>(
      loop_, std::initializer_list<int>{SIGTERM, SIGQUIT}, [this](int) {
        saw_error_ = true;  // the worker exits after this session
        client_error("57P01", "terminating connection due to administrator command");
        release_server(false);
      });
  auth_timer_ = std::make_unique<ev::Timer>(loop_, [this] {
    if (phase_ >= Phase::relay) return;
    PGQ_WARN("%s: authentication timeout", describe().c_str());
    saw_error_ = true;
    client_error("57014", "canceling authentication due to timeout");
    release_server(false);
  });
  auth_timer_->start(main.authentication_timeout);
}

pool::Slot& Session::slot() const {
  return context_.shared->slots[slot_];
}

std::string Session::describe() const {
  std::string host = net::host_string(handoff_.peer);
  if (user_.empty()) return host;
  return user_ + "@" + host + "/" + requested_database_;
}

void Session::on_stream_data(ev::Stream& stream) {
  if (&stream == client_.get()) {
    switch (phase_) {
      case Phase::startup:
        return read_startup();
      case Phase::authenticate:
        return read_client_auth();
      case Phase::login:
        return read_client_during_login();
      case Phase::relay:
        if (idle_check_timer_) last_activity_ms_ = pool::now_ms();
        return relay_->client_data();
      case Phase::idle:
        return on_idle_client_data();
      case Phase::reset:
      case Phase::release:
      case Phase::cancel:
      case Phase::done:
        stream.input().clear();
        return;
      default:
        // Kept until the session is ready (a client may pipeline its first query), within reason.
        if (stream.input().size() > kPreRelayInputLimit) stream.pause_reading();
        return;
    }
  }
  switch (phase_) {
    case Phase::login:
      return read_login();
    case Phase::setup:
    case Phase::sync:
      return read_parameter_sync();
    case Phase::relay:
      if (idle_check_timer_) last_activity_ms_ = pool::now_ms();
      return relay_->server_data();
    case Phase::reset:
      return read_reset();
    default:
      stream.input().clear();
      return;
  }
}

void Session::on_stream_closed(ev::Stream& stream, int error) {
  if (&stream == client_.get()) {
    if (phase_ == Phase::relay) return relay_->client_closed(error);
    if (phase_ == Phase::idle) {
      log_disconnection(error ? std::strerror(error) : "client closed the connection");
      release_parked();
      client_.reset();
      return maybe_finish();
    }
    client_.reset();
    if (phase_ == Phase::detach) return;  // finish_detach goes on, then the session ends
    // Gone while main may still be answering a request: this worker ends (main then cleans up
    // whatever it grants) instead of serving a new client with answers meant for this one.
    if (request_ != 0 || phase_ == Phase::connect || phase_ == Phase::login) saw_error_ = true;
    if ((phase_ == Phase::setup || phase_ == Phase::sync) && server_) {
      // The connection is mid-request: it cannot be reused safely.
      release_server(false);
    } else if (phase_ == Phase::login || phase_ == Phase::connect) {
      release_server(false);
    }
    return maybe_finish();
  }
  if (phase_ == Phase::relay) return relay_->server_closed(error);
  if (phase_ == Phase::cancel) {
    server_.reset();
    return maybe_finish();
  }
  if (phase_ == Phase::detach) return finish_detach(false);
  if (phase_ == Phase::login || phase_ == Phase::setup || phase_ == Phase::sync) {
    client_error("08006", "the PostgreSQL server closed the connection unexpectedly");
  }
  release_server(false);
}

void Session::on_stream_drained(ev::Stream& stream) {
  if (&stream == client_.get()) {
    if (client_closing_) {
      client_.reset();
      return maybe_finish();
    }
    if (relay_) relay_->client_drained();
    return;
  }
  if (phase_ == Phase::cancel) {
    server_.reset();
    return maybe_finish();
  }
  if (relay_) relay_->server_drained();
}

void Session::on_server_parameter(std::string_view name, std::string_view value) {
  if (transaction_mode_ && slot_ >= 0) load_slot_parameters();
  std::string& current = parameters_[std::string(name)];
  if (current != value) parameters_changed_ = true;
  current = value;
  // Relayed to the client (its own SET): from now on it expects this value on every connection.
  if (transaction_mode_ && phase_ == Phase::relay) client_view_[std::string(name)] = value;
}

void Session::remember_parameter(std::string_view body) {
  if (auto kv = proto::parse_parameter_status(body)) on_server_parameter(kv->first, kv->second);
}

void Session::client_error(std::string_view sqlstate, std::string_view message,
                           std::string_view detail) {
  std::string out;
  proto::build_fatal(out, sqlstate, message, detail);
  PGQ_WARN("%s: %.*s", describe().c_str(), static_cast<int>(message.size()), message.data());
  client_raw_error(std::move(out));
}

void Session::client_error(const proto::ProtoError& error) {
  client_error(error.sqlstate, error.message, error.detail);
}

void Session::client_raw_error(std::string bytes) {
  if (client_ && !client_->closed()) client_->write(bytes);
  close_client();
}

void Session::close_client() {
  if (!client_) return maybe_finish();
  if (client_->output_pending() > 0 && !client_->closed()) {
    client_closing_ = true;  // on_stream_drained closes it
    client_->pause_reading();
    close_timer_ = std::make_unique<ev::Timer>(loop_, [this] {
      PGQ_WARN("%s: the client did not read its last messages; closing", describe().c_str());
      saw_error_ = true;
      client_.reset();
      maybe_finish();
    });
    close_timer_->start(kClientFlushTimeout);
    return;
  }
  client_.reset();
  maybe_finish();
}

void Session::maybe_finish() {
  bool server_done = released_ || slot_ < 0;
  if (phase_ == Phase::cancel) server_done = !server_ && !connector_;
  if (!client_ && server_done) {
    phase_ = Phase::done;
    loop_.break_loop();
  }
}

void Session::log_disconnection(std::string_view why) {
  if (!context_.config.main.log_disconnections) return;
  int64_t ms = pool::now_ms() - started_ms_;
  PGQ_INFO("disconnection: session time: %lld.%03lld s user=%s database=%s host=%s (%.*s)",
           static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000), user_.c_str(),
           requested_database_.c_str(), net::host_string(handoff_.peer).c_str(),
           static_cast<int>(why.size()), why.data());
}

void Session::save_parameters_to_slot() {
  if (slot_ < 0) return;
  std::string bytes;
  for (const auto& [name, value] : parameters_) {
    std::string one;
    proto::build_parameter_status(one, name, value);
    if (bytes.size() + one.size() > pool::kParamsCapacity) {
      PGQ_DEBUG("parameter %s does not fit in the slot; a later client will not see it",
                name.c_str());
      continue;
    }
    bytes += one;
  }
  pool::Slot& s = slot();
  std::memcpy(s.params, bytes.data(), bytes.size());
  s.params_length = static_cast<uint32_t>(bytes.size());
}

}  // namespace pgquay::worker
