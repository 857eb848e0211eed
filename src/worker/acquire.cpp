// Getting a server connection from the main process.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/net/fd_passing.hpp"
#include "pgquay/proto/framing.hpp"
#include "session.hpp"

namespace pgquay::worker {

void Session::send_control(pool::ControlMessage message, int fd) {
  int sent = net::send_message(control_fd_, &message, sizeof(message), fd);
  if (sent == -EPIPE || sent == -ECONNRESET) {
    // The main process is gone (an immediate shutdown): nothing left to tell it.
    PGQ_DEBUG("%s: the main process has exited", describe().c_str());
    saw_error_ = true;
  } else if (sent < 0) {
    PGQ_ERROR("%s: lost the control channel to the main process: %s", describe().c_str(),
              std::strerror(-sent));
    exit_status_ = 1;
  }
}

void Session::request_connection() {
  phase_ = Phase::acquire;
  // Waiting for a free connection is bounded by blocking_timeout (main enforces it), not by
  // authentication_timeout: the clock restarts if PostgreSQL has to authenticate the client.
  auth_timer_->stop();
  if (!control_watcher_) {
    control_watcher_ =
        std::make_unique<ev::ReadableWatcher>(loop_, control_fd_, [this] { on_control(); });
  }
  send_acquire();
}

void Session::send_acquire(bool retry) {
  pool::ControlMessage request{};
  request.type = pool::ControlType::acquire;
  request.retry = retry ? 1 : 0;
  request.reuse_allowed = reuse_allowed_ ? 1 : 0;
  request.request = request_ = next_request_id();
  pool::copy_name(request.user, user_);
  pool::copy_name(request.database, database_);
  send_control(request);
}

void Session::release_slot(int slot, bool clean) {
  pool::ControlMessage release{};
  release.type = pool::ControlType::release;
  release.slot = slot;
  release.clean = clean ? 1 : 0;
  send_control(release);
}

void Session::on_control() {
  for (;;) {
    pool::ControlMessage message{};
    Fd attached;
    int n = net::receive_message(control_fd_, &message, sizeof(message), &attached);
    if (n == -EAGAIN) return;
    if (n <= 0) {
      control_watcher_->stop();
      if (phase_ == Phase::acquire) {
        client_error("57P01", "terminating connection because the pooler is shutting down");
      }
      return;
    }
    bool expected = phase_ == Phase::acquire && message.request == request_ && request_ != 0;
    switch (message.type) {
      case pool::ControlType::grant_pooled:
        if (!expected) {
          release_slot(message.slot, attached.valid());  // unused: as good as before
        } else if (!attached) {
          // The socket did not arrive (descriptor limit): give the slot back and fail the client.
          request_ = 0;
          release_slot(message.slot, false);
          client_error("53300", "could not receive a server connection from the pooler");
          saw_error_ = true;
        } else {
          request_ = 0;
          on_grant_pooled(message.slot, std::move(attached));
        }
        break;
      case pool::ControlType::grant_create:
        if (!expected) {
          release_slot(message.slot, false);
        } else {
          request_ = 0;
          on_grant_create(message.slot);
        }
        break;
      case pool::ControlType::deny: {
        if (!expected) break;
        request_ = 0;
        if (message.reason == pool::DenyReason::timeout) {
          auto seconds = context_.config.main.blocking_timeout.count() / 1000;
          client_error("53300", "sorry, too many clients already",
                       "No server connection for user \"" + user_ + "\" and database \"" +
                           database_ + "\" became free within blocking_timeout (" +
                           std::to_string(seconds) + " s).");
        } else if (message.reason == pool::DenyReason::disabled) {
          client_error("55000",
                       "database \"" + database_ + "\" is not currently accepting connections",
                       "The database was disabled with pgquay-cli disable.");
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
    // The answer this session waited for: stop here rather than spend a receive on EAGAIN (the
    // watcher is level-triggered and calls again if anything else is queued).
    if (expected) return;
  }
}

// A pooled connection whose backend was terminated (pg_terminate_backend, a server restart) has
// its FATAL and end-of-stream waiting in the socket; a healthy idle one has nothing to read.
bool pooled_connection_alive(int fd) {
  char byte;
  ssize_t r = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void Session::on_grant_pooled(int slot, Fd server) {
  if (!pooled_connection_alive(server.get())) {
    PGQ_INFO("%s: the pooled connection in slot %d (backend %d) is gone; closing it",
             describe().c_str(), slot, context_.shared->slots[slot].backend_pid);
    release_slot(slot, false);
    // Still waiting for a connection: ask again, keeping this client's turn.
    send_acquire(/*retry=*/true);
    return;
  }
  if (client_ready_) return attach_pooled(slot, std::move(server));
  slot_ = slot;
  slot_established_ = true;
  pool::Slot& s = this->slot();
  backend_key_ = proto::BackendKey{s.backend_pid, s.backend_secret};
  std::string_view params = s.parameter_bytes();
  while (auto m = proto::next_message(params)) {
    if (!*m) break;
    remember_parameter((*m)->body);
    params.remove_prefix((*m)->size);
  }
  server_ = std::make_unique<ev::Stream>(loop_, std::move(server), *this);
  if (client_ && !client_authenticated_) {
    std::string out;
    proto::build_authentication_ok(out);
    client_->write(out);
  }
  begin_setup();
}

void Session::on_grant_create(int slot) {
  slot_ = slot;
  if (client_ready_) {  // a new connection for the next transaction: its login reports them all
    parameters_.clear();
    parameters_loaded_ = true;
  }
  auth_timer_->start(context_.config.main.authentication_timeout);
  connect_server();
}

}  // namespace pgquay::worker
