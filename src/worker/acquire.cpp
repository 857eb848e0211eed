// Getting a server connection from the main process.
#include <cerrno>
#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/net/fd_passing.hpp"
#include "pgquay/proto/framing.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::send_control(pool::ControlMessage message, int fd) {
  int sent = net::send_message(handoff_.control.get(), &message, sizeof(message), fd);
  if (sent < 0) {
    PGQ_ERROR("%s: lost the control channel to the main process: %s", describe().c_str(),
              std::strerror(-sent));
    exit_status_ = 1;
  }
}

void Session::request_connection() {
  phase_ = Phase::acquire;
  control_watcher_ = std::make_unique<ev::ReadableWatcher>(loop_, handoff_.control.get(),
                                                           [this] { on_control(); });
  pool::ControlMessage request{};
  request.type = pool::ControlType::acquire;
  request.reuse_allowed = reuse_allowed_ ? 1 : 0;
  pool::copy_name(request.user, user_);
  pool::copy_name(request.database, database_);
  send_control(request);
}

void Session::on_control() {
  for (;;) {
    pool::ControlMessage message{};
    Fd attached;
    int n = net::receive_message(handoff_.control.get(), &message, sizeof(message), &attached);
    if (n == -EAGAIN) return;
    if (n <= 0) {
      control_watcher_->stop();
      if (phase_ == Phase::acquire) {
        client_error("57P01", "terminating connection because the pooler is shutting down");
      }
      return;
    }
    switch (message.type) {
      case pool::ControlType::grant_pooled:
        if (phase_ == Phase::acquire && attached) {
          on_grant_pooled(message.slot, std::move(attached));
        }
        break;
      case pool::ControlType::grant_create:
        if (phase_ == Phase::acquire) on_grant_create(message.slot);
        break;
      case pool::ControlType::deny: {
        if (phase_ != Phase::acquire) break;
        if (message.reason == pool::DenyReason::timeout) {
          auto seconds = context_.config.main.blocking_timeout.count() / 1000;
          client_error("53300", "sorry, too many clients already",
                       "No server connection for user \"" + user_ + "\" and database \"" +
                           database_ + "\" became free within blocking_timeout (" +
                           std::to_string(seconds) + " s).");
        } else {
          client_error("57P03", "the connection pooler is shutting down");
        }
        break;
      }
      case pool::ControlType::shutdown:
        client_error("57P01", "terminating connection due to administrator command");
        release_server(false);
        break;
      default:
        break;
    }
  }
}

void Session::on_grant_pooled(int slot, Fd server) {
  slot_ = slot;
  slot_established_ = true;
  pool::Slot& s = this->slot();
  backend_key_ = proto::BackendKey{s.backend_pid, s.backend_secret};
  std::string_view params = s.parameter_bytes();
  while (auto m = proto::next_message(params)) {
    if (!*m) break;
    if (auto kv = proto::parse_parameter_status((*m)->body))
      parameters_[std::string(kv->first)] = std::string(kv->second);
    params.remove_prefix((*m)->size);
  }
  server_ = std::make_unique<ev::Stream>(loop_, std::move(server), *this);
  std::string out;
  proto::build_authentication_ok(out);
  if (client_) client_->write(out);
  begin_setup();
}

void Session::on_grant_create(int slot) {
  slot_ = slot;
  connect_server();
}

}  // namespace pgquay::worker
