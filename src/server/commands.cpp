// The management socket: framing, dispatch, and the commands that act (flush, enable/disable,
// shutdown, reload, clear). The read-only views are in status.cpp and metrics.cpp.
#include <unistd.h>

#include "pgquay/build_config.hpp"
#include "pgquay/common/log.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/management/http.hpp"
#include "pgquay/net/socket.hpp"
#include "pgquay/server/server.hpp"

namespace pgquay::server {

using management::Json;

namespace {

// A management connection is one request and its reply; pgquay-cli needs milliseconds.
constexpr management::EndpointLimits kAdminLimits{
    management::kFrameHeaderSize + management::kMaxRequestSize, std::chrono::seconds(10), 16};
constexpr management::EndpointLimits kMetricsLimits{management::kMaxHttpHeadSize,
                                                    std::chrono::seconds(10), 32};
constexpr int kManagementBacklog = 16;

management::Reply error_reply(std::string_view message) {
  return management::Reply{management::encode_frame(management::error_response(message)), {}};
}

// The database a command names: "*" (all) when absent; an alias from pgquay_databases.conf
// stands for its database, as it does for clients.
std::string database_arg(const management::Request& request,
                         const std::vector<config::DatabaseLimit>& limits) {
  auto database = request.arg("database");
  if (!database || database->empty() || *database == "*") return "*";
  return config::resolve_alias(limits, *database);
}

}  // namespace

Result<void> Server::open_management() {
  const auto& main = context_.config.main;
  auto listener = net::listen_unix_at(management::socket_path(main.unix_socket_dir, main.port),
                                      kManagementBacklog, 0600);
  if (!listener) return Unexpected(listener.error());
  admin_socket_path_ = listener->path;
  admin_ = std::make_unique<management::Endpoint>(
      loop_, std::move(listener->fd), "management socket", kAdminLimits,
      management::EndpointHandler{[this](std::string_view input) { return on_admin_input(input); },
                                  [] { return error_reply("request too large"); }});
  if (main.management > 0) {
    // Remote management without authentication would let anyone who reaches the port stop the
    // pooler: the port stays closed until SCRAM authentication exists.
    PGQ_WARN(
        "management = %d: remote management needs authentication, which this version does "
        "not provide; the port is not opened (use %s)",
        main.management, admin_socket_path_.c_str());
  }
  if (main.metrics > 0) {
    auto fds = net::listen_tcp(main.host, main.metrics, kManagementBacklog);
    if (!fds) return fail("metrics: " + fds.error().message);
    for (Fd& fd : *fds) {
      metrics_.push_back(std::make_unique<management::Endpoint>(
          loop_, std::move(fd), "metrics endpoint", kMetricsLimits,
          management::EndpointHandler{
              [this](std::string_view input) { return on_metrics_input(input); },
              [] {
                return management::Reply{
                    management::http_response(431, "text/plain", "request too large\n"), {}};
              }}));
    }
    PGQ_INFO("metrics on %s:%d", main.host.c_str(), main.metrics);
  }
  return {};
}

std::optional<management::Reply> Server::on_admin_input(std::string_view input) {
  auto frame = management::take_frame(input, management::kMaxRequestSize);
  if (!frame) return error_reply(frame.error().message);
  if (!*frame) return std::nullopt;
  auto document = management::parse_document((*frame)->body);
  if (!document) return error_reply(document.error().message);
  auto request = management::parse_request(*document);
  if (!request) return error_reply(request.error().message);
  std::function<void()> then;
  auto result = run_command(*request, then);
  if (!result) {
    PGQ_DEBUG("management: %s: %s", request->command.c_str(), result.error().message.c_str());
    return error_reply(result.error().message);
  }
  return management::Reply{management::encode_frame(management::ok_response(std::move(*result))),
                           std::move(then)};
}

Result<Json> Server::run_command(const management::Request& request, std::function<void()>& then) {
  const std::string& command = request.command;
  if (command == "ping") {
    return Json{{"pid", ::getpid()},
                {"version", PGQUAY_VERSION},
                {"state", graceful_ ? "graceful shutdown" : "running"}};
  }
  if (command == "status") return status(false);
  if (command == "status details") return status(true);
  if (command == "conf ls") return configuration(std::nullopt);
  if (command == "conf get") return configuration(request.arg("key"));
  if (command == "conf set") {
    auto key = request.arg("key");
    auto value = request.arg("value");
    if (!key || key->empty() || !value) return fail("conf set needs a key and a value");
    return set_key(*key, *value);
  }
  if (command == "conf reload") {
    PGQ_INFO("management: conf reload");
    return reload();
  }
  if (command == "flush") {
    std::string mode = request.arg("mode").value_or("gracefully");
    PoolManager::FlushMode flush_mode;
    if (mode == "idle") {
      flush_mode = PoolManager::FlushMode::idle;
    } else if (mode == "gracefully") {
      flush_mode = PoolManager::FlushMode::gracefully;
    } else if (mode == "all") {
      flush_mode = PoolManager::FlushMode::all;
    } else {
      return fail("flush: unknown mode \"" + mode + "\" (idle, gracefully or all)");
    }
    std::string database = database_arg(request, context_.databases.limits);
    auto outcome = pool_->flush(flush_mode, database);
    PGQ_INFO(
        "management: flush %s %s: %d idle connection(s) closed, %d marked, %d session(s) "
        "ended",
        mode.c_str(), database.c_str(), outcome.closed, outcome.marked, outcome.sessions_ended);
    return Json{{"mode", mode},
                {"database", database},
                {"closed", outcome.closed},
                {"marked", outcome.marked},
                {"sessions_ended", outcome.sessions_ended}};
  }
  if (command == "enable" || command == "disable") {
    std::string database = database_arg(request, context_.databases.limits);
    if (command == "enable") {
      pool_->enable(database);
    } else {
      pool_->disable(database);
    }
    PGQ_INFO("management: %s %s", command.c_str(), database.c_str());
    return Json{{"database", database},
                {"disabled", pool_->disabled()},
                {"enabled_exceptions", pool_->enabled_exceptions()}};
  }
  if (command == "shutdown") {
    std::string mode = request.arg("mode").value_or("gracefully");
    if (mode == "gracefully") {
      if (!graceful_) {
        PGQ_INFO("management: shutdown gracefully");
        // After the reply: with no client left the loop ends at once.
        then = [this] { shutdown_gracefully(); };
      }
      return Json{{"mode", mode}, {"sessions", context_.shared->stats.clients_active.load()}};
    }
    if (mode == "immediate") {
      then = [this] { shutdown_immediately("pgquay-cli shutdown immediate"); };
      return Json{{"mode", mode}};
    }
    if (mode == "cancel") {
      if (auto ok = cancel_shutdown(); !ok) return Unexpected(ok.error());
      return Json{{"mode", mode}};
    }
    return fail("shutdown: unknown mode \"" + mode + "\" (gracefully, immediate or cancel)");
  }
  if (command == "clear prometheus") {
    context_.shared->stats.reset_counters();
    PGQ_INFO("management: prometheus counters cleared");
    return Json::object();
  }
  return fail("unknown command \"" + command + "\"");
}

Result<Json> Server::configuration(const std::optional<std::string>& key) const {
  const config::Config& config = context_.config;
  if (key && !key->empty()) {
    auto value = config::get_value(config, *key);
    if (!value) return fail("unknown configuration key \"" + *key + "\"");
    return Json{{"key", *key}, {"value", *value}};
  }
  Json values = Json::array();
  for (const auto& name : config::list_keys()) {
    values.push_back(Json{{"key", name}, {"value", config::get_value(config, name).value_or("")}});
  }
  for (const auto& server : config.servers) {
    for (const auto& name : config::list_server_keys()) {
      std::string full = "server." + server.name + "." + name;
      values.push_back(
          Json{{"key", full}, {"value", config::get_value(config, full).value_or("")}});
    }
  }
  return Json{{"path", config.path}, {"values", std::move(values)}};
}

}  // namespace pgquay::server
