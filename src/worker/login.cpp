// Creating a server connection: connect, then log in. pgquay answers PostgreSQL's authentication
// request itself when the users file has the user's password (server_auth.cpp); otherwise the
// exchange is relayed between the server and a client pgquay did not verify (cleartext, md5 and
// SCRAM-SHA-256 messages pass through unchanged).
#include <cstring>

#include "pgquay/common/log.hpp"
#include "pgquay/net/socket.hpp"
#include "pgquay/proto/framing.hpp"
#include "session.hpp"

namespace pgquay::worker {

namespace {
int primary_server(const pool::SharedState& shared) {
  for (int i = 0; i < shared.server_count; ++i) {
    if (shared.servers[i].primary) return i;
  }
  return 0;
}
}  // namespace

void Session::connect_server() {
  phase_ = Phase::connect;
  int index = primary_server(*context_.shared);
  slot().server = index;
  const pool::ServerEntry& server = context_.shared->servers[index];
  auto sock = net::stream_socket(server.address.ss_family);
  if (!sock) {
    client_error("08001", "could not create a socket: " + sock.error().message);
    return release_server(false);
  }
  if (server.address.ss_family != AF_UNIX) {
    // Requests and answers are small messages: never let Nagle hold one back.
    net::set_nodelay(sock->get(), true);
    net::set_keepalive(sock->get(), context_.config.main.keep_alive);
  }
  int fd = sock->get();
  auto holder = std::make_shared<Fd>(std::move(*sock));
  connect_timer_ = std::make_unique<ev::Timer>(loop_, [this] {
    connector_.reset();
    on_server_connected(ETIMEDOUT);
  });
  connect_timer_->start(context_.config.main.server_connect_timeout);
  connector_ = std::make_unique<ev::Connector>(
      loop_, fd, reinterpret_cast<const sockaddr*>(&server.address), server.address_length,
      [this, holder](int error) {
        if (!error) server_ = std::make_unique<ev::Stream>(loop_, std::move(*holder), *this);
        on_server_connected(error);
      });
}

void Session::on_server_connected(int error) {
  if (released_ || phase_ != Phase::connect) return;
  if (connect_timer_) connect_timer_->stop();
  const pool::ServerEntry& server = context_.shared->servers[slot().server];
  if (error) {
    client_error("08001", "could not connect to the PostgreSQL server \"" +
                              std::string(server.name) + "\" at " + server.host + ":" +
                              std::to_string(server.port) + ": " + std::strerror(error));
    return release_server(false);
  }
  phase_ = Phase::login;
  // With the user's password in the users file pgquay logs in itself; otherwise PostgreSQL's
  // request goes to the client (which then has not been verified by pgquay).
  server_auth_by_pgquay_ = context_.credentials.server_password(user_) != nullptr;
  scram_client_.reset();
  // Only user and database: the connection's defaults stay the server's own, and each client's
  // parameters are applied on top with set_config (and removed by DISCARD ALL).
  std::vector<std::pair<std::string, std::string>> params{{"user", user_}, {"database", database_}};
  std::string packet;
  proto::build_startup(packet, params);
  server_->write(packet);
}

void Session::read_login() {
  auto error = each_message(
      server_->input(), Phase::login, [this](const proto::MessageView& m, std::string_view whole) {
        switch (m.type) {
          case 'R': {
            // The client already has its AuthenticationOk when pgquay verified it or this is a
            // later connection of the transaction pipeline: then the login is pgquay's alone.
            const bool client_done = client_ready_ || client_authenticated_;
            if (m.body.size() >= 4 && proto::read_i32(m.body) == 0) {
              if (!client_done && client_) client_->write(whole);
              break;
            }
            if (server_auth_by_pgquay_) return answer_server_auth(m.body);
            if (client_done) return login_without_client(m.body);
            relayed_auth_ = true;
            if (client_) client_->write(whole);
            break;
          }
          case 'N':
            if (client_ && !client_ready_) client_->write(whole);
            break;
          case 'E':
            PGQ_WARN("%s: PostgreSQL refused the login%s", describe().c_str(),
                     server_auth_by_pgquay_ ? " with the users file's password" : "");
            note_relayed_auth(false);
            client_raw_error(std::string(whole));
            release_server(false);
            break;
          case 'S':
            remember_parameter(m.body);
            break;
          case 'K':
            if (auto key = proto::parse_backend_key_data(m.body)) backend_key_ = *key;
            break;
          case 'Z':
            login_complete();
            break;
          default:
            break;  // NegotiateProtocolVersion and the like: nothing for the client
        }
      });
  if (error) {
    client_error("08P01", "invalid message from the PostgreSQL server during login",
                 error->message);
    release_server(false);
  }
}

void Session::login_without_client(std::string_view request) {
  auto code = request.size() >= 4 ? proto::read_i32(request) : -1;
  // The client's own answer cannot be replayed (md5 and SCRAM are salted per attempt), and the
  // users file has no password for this user: the pool grows only where PostgreSQL trusts pgquay,
  // or through client logins.
  PGQ_WARN("%s: PostgreSQL asks for a password to open another server connection (method %d)",
           describe().c_str(), code);
  client_error("08004", "pgquay cannot open another server connection for user \"" + user_ + "\"",
               "PostgreSQL asked for a password and the client is not part of this login; "
               "add the user's password to pgquay_users.conf (-u), or allow pgquay's address "
               "with trust in pg_hba.conf.");
  release_server(false);
}

void Session::read_client_during_login() {
  auto error = each_message(
      client_->input(), Phase::login, [this](const proto::MessageView& m, std::string_view whole) {
        if (m.type == 'p') {
          server_->write(whole);
        } else if (m.type == 'X') {
          client_.reset();
          release_server(false);
        } else {
          client_error("08P01",
                       "invalid message during authentication: expected a password message");
          release_server(false);
        }
      });
  if (error) {
    client_error(*error);
    release_server(false);
  }
}

void Session::login_complete() {
  note_relayed_auth(true);
  pool::Slot& s = slot();
  s.backend_pid = backend_key_.pid;
  s.backend_secret = backend_key_.secret;
  save_parameters_to_slot();
  pool::ControlMessage done{};
  done.type = pool::ControlType::established;
  done.slot = slot_;
  send_control(done, server_->fd());
  slot_established_ = true;
  if (client_ready_) return begin_sync();
  begin_setup();
}

}  // namespace pgquay::worker
