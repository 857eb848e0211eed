// The Prometheus endpoint: /metrics in the text exposition format, / a short index, the rest 404.
// Every metric is documented in doc/CLI.md (## Metrics); keep the two in step.
#include <span>

#include "pgquay/build_config.hpp"
#include "pgquay/management/http.hpp"
#include "pgquay/management/prometheus.hpp"
#include "pgquay/server/server.hpp"
#include "usage.hpp"

namespace pgquay::server {

namespace {

using management::Exposition;

constexpr std::string_view kIndex =
    "<html><head><title>pgquay</title></head><body>\n"
    "<h1>pgquay</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

template <size_t N>
void write_histogram(Exposition& out, std::string_view name, std::string_view help,
                     const int64_t (&bounds_us)[N], const pool::DurationHistogram& histogram) {
  double bounds[N];
  uint64_t counts[N + 1];
  for (size_t i = 0; i < N; ++i) bounds[i] = static_cast<double>(bounds_us[i]) / 1e6;
  for (size_t i = 0; i <= N; ++i) counts[i] = histogram.buckets[i].load();
  out.histogram(name, help, bounds, counts, static_cast<double>(histogram.sum_us.load()) / 1e6);
}

void counter(Exposition& out, std::string_view name, std::string_view help, uint64_t value) {
  out.family(name, "counter", help);
  out.sample(name, {}, static_cast<double>(value));
}

void gauge(Exposition& out, std::string_view name, std::string_view help, double value) {
  out.family(name, "gauge", help);
  out.sample(name, {}, value);
}

}  // namespace

std::optional<management::Reply> Server::on_metrics_input(std::string_view input) const {
  auto head_size = management::http_head_size(input);
  if (!head_size) return std::nullopt;
  auto request = management::parse_http_request(input.substr(0, *head_size));
  if (!request)
    return management::Reply{management::http_response(400, "text/plain", "bad request\n"), {}};
  bool head_only = request->method == "HEAD";
  if (request->method != "GET" && !head_only) {
    return management::Reply{management::http_response(405, "text/plain", "method not allowed\n",
                                                       false, "Allow: GET, HEAD\r\n"),
                             {}};
  }
  if (request->path == "/metrics") {
    return management::Reply{management::http_response(200, management::kPrometheusContentType,
                                                       metrics_text(), head_only),
                             {}};
  }
  if (request->path == "/") {
    return management::Reply{
        management::http_response(200, "text/html; charset=utf-8", kIndex, head_only), {}};
  }
  return management::Reply{management::http_response(404, "text/plain", "not found\n", head_only),
                           {}};
}

std::string Server::metrics_text() const {
  pool::SharedState& shared = *context_.shared;
  const pool::Statistics& stats = shared.stats;
  Exposition out;

  out.family("pgquay_info", "gauge", "pgquay's version (the value is always 1)");
  out.sample("pgquay_info", {{"version", PGQUAY_VERSION}}, 1);
  gauge(out, "pgquay_state", "1 running, 2 shutting down gracefully", graceful_ ? 2 : 1);
  gauge(out, "pgquay_uptime_seconds", "Seconds since pgquay started",
        static_cast<double>(pool::now_ms() - started_ms_) / 1000.0);
  gauge(out, "pgquay_connections_max", "max_connections: slots for server connections",
        shared.max_connections);

  auto counts = detail::slot_state_counts(shared);
  out.family("pgquay_server_connections", "gauge", "Connection slots by state (not-init = empty)");
  for (size_t i = 0; i < counts.size(); ++i) {
    out.sample("pgquay_server_connections",
               {{"state", pool::slot_state_name(static_cast<pool::SlotState>(i))}}, counts[i]);
  }

  auto pools = detail::pool_usage(shared, pool_->waiter_info());
  out.family("pgquay_pool_connections", "gauge",
             "Server connections per database and user: active (lent to a client), idle "
             "(pooled), other (being closed or checked)");
  for (const auto& [key, use] : pools) {
    const auto& [database, user] = key;
    out.sample("pgquay_pool_connections",
               {{"database", database}, {"user", user}, {"state", "active"}}, use.active);
    out.sample("pgquay_pool_connections",
               {{"database", database}, {"user", user}, {"state", "idle"}}, use.idle);
    out.sample("pgquay_pool_connections",
               {{"database", database}, {"user", user}, {"state", "other"}}, use.other);
  }
  out.family("pgquay_pool_connections_max", "gauge",
             "The limit on server connections per database and user (pgquay_databases.conf)");
  for (const auto& [key, use] : pools) {
    out.sample("pgquay_pool_connections_max", {{"database", key.first}, {"user", key.second}},
               pool_->limit_for(key.first, key.second));
  }
  out.family("pgquay_pool_clients_waiting", "gauge",
             "Clients waiting for a server connection, per database and user");
  for (const auto& [key, use] : pools) {
    out.sample("pgquay_pool_clients_waiting", {{"database", key.first}, {"user", key.second}},
               use.waiting);
  }
  out.family("pgquay_database_disabled", "gauge",
             "1 for each database disabled with pgquay-cli disable (* = all)");
  for (const auto& database : pool_->disabled())
    out.sample("pgquay_database_disabled", {{"database", database}}, 1);

  gauge(out, "pgquay_clients_active", "Clients a worker is serving",
        static_cast<double>(stats.clients_active.load()));
  gauge(out, "pgquay_clients_waiting", "Clients waiting for a server connection",
        static_cast<double>(pool_->waiting()));
  gauge(out, "pgquay_workers", "Worker processes", static_cast<double>(workers_.size()));
  gauge(out, "pgquay_worker_cache", "Idle pre-forked workers ready for a client",
        static_cast<double>(idle_workers_.size()));

  counter(out, "pgquay_clients_accepted_total", "Client connections accepted",
          stats.clients_accepted.load());
  counter(out, "pgquay_sessions_total", "Client sessions started (clients handed to a worker)",
          stats.sessions.load());
  counter(out, "pgquay_clients_refused_total",
          "Clients refused because their database was disabled or pgquay was shutting down",
          stats.clients_refused.load());
  counter(out, "pgquay_client_wait_timeouts_total",
          "Clients refused after waiting blocking_timeout for a server connection",
          stats.wait_timeouts.load());
  counter(out, "pgquay_auth_success_total", "Client logins that succeeded",
          stats.auth_success.load());
  counter(out, "pgquay_auth_failure_total", "Client logins that failed", stats.auth_failure.load());
  counter(out, "pgquay_server_connections_created_total", "Server connections opened",
          stats.server_connections_created.load());
  counter(out, "pgquay_server_connections_reused_total",
          "Times a pooled server connection was lent to a client",
          stats.server_connections_reused.load());
  counter(out, "pgquay_server_connections_closed_total", "Server connections closed",
          stats.server_connections_closed.load());
  counter(out, "pgquay_reloads_total", "Successful configuration reloads", stats.reloads.load());
  counter(out, "pgquay_reload_failures_total",
          "Reloads refused because a file had an error (nothing was changed)",
          stats.reload_failures.load());
  counter(out, "pgquay_worker_crashes_total",
          "Worker processes that exited with an error status or were killed by a signal",
          stats.worker_crashes.load());

  write_histogram(out, "pgquay_client_wait_seconds", "Time a client waited for a server connection",
                  pool::kClientWaitBoundsUs, stats.client_wait);
  write_histogram(out, "pgquay_session_seconds", "Duration of client sessions",
                  pool::kSessionBoundsUs, stats.session_time);
  return out.take();
}

}  // namespace pgquay::server
