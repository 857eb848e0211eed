// The key tables themselves (see key_table.hpp), their lookup, and the default constructors
// that fill a MainConfig / ServerConfig from them.
#include "key_table.hpp"

#include "binding.hpp"
#include "pgquay/common/check.hpp"
#include "pgquay/config/values.hpp"

namespace pgquay::config::detail {
namespace {

using M = MainConfig;
using K = KeyDef<MainConfig>;
constexpr long long kSecond = 1000;
constexpr int kMaxPort = 65535;

// The [pgquay] keys. Defaults follow pgagroal where pgagroal has the key; `apply` follows
// pgagroal's reload rules, made stricter where a change only takes effect on fresh sockets,
// shared memory or processes (listen addresses, TLS contexts, sizes). Built on first use
// (a function-local constant) so no other static initialiser can see it half-built.
std::span<const K> build_main_keys() {
  static const K table[] = {
      // Where clients and operators reach pgquay.
      {.name = "host",
       .default_text = "*",
       .apply = Apply::restart,
       .doc = "Address to listen on for clients: a host name, an IP address, or `*` for all",
       .binding = field<&M::host>()},
      {.name = "port",
       .default_text = "2345",
       .apply = Apply::restart,
       .doc = "TCP port for clients; the Unix socket is `<unix_socket_dir>/.s.PGSQL.<port>`",
       .binding = field<&M::port>(),
       .min = 1,
       .max = kMaxPort},
      {.name = "unix_socket_dir",
       .default_text = "/tmp",
       .apply = Apply::restart,
       .doc = "Directory of the Unix domain socket",
       .binding = field<&M::unix_socket_dir>()},
      {.name = "metrics",
       .default_text = "0",
       .apply = Apply::restart,
       .doc = "Port of the Prometheus metrics endpoint (0 = off)",
       .binding = field<&M::metrics>(),
       .min = 0,
       .max = kMaxPort},
      {.name = "metrics_cache_max_age",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "How long a metrics response is served from cache (0 = no cache)",
       .binding = field<&M::metrics_cache_max_age>()},
      {.name = "metrics_cache_max_size",
       .default_text = "256K",
       .apply = Apply::restart,
       .doc = "Largest metrics response kept in the cache (memory is reserved at start)",
       .binding = field<&M::metrics_cache_max_size>()},
      {.name = "metrics_cert_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Certificate for TLS on the metrics endpoint",
       .binding = field<&M::metrics_cert_file>()},
      {.name = "metrics_key_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Private key for TLS on the metrics endpoint (mode 0600, or 0640 if owned by root)",
       .binding = field<&M::metrics_key_file>()},
      {.name = "metrics_ca_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Certificate authority for TLS on the metrics endpoint",
       .binding = field<&M::metrics_ca_file>()},
      {.name = "management",
       .default_text = "0",
       .apply = Apply::restart,
       .doc = "Port for remote management with `pgquay-cli` (0 = off)",
       .binding = field<&M::management>(),
       .min = 0,
       .max = kMaxPort},
      {.name = "pidfile",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "PID file; empty = `<unix_socket_dir>/pgquay.<port>.pid`",
       .binding = field<&M::pidfile>()},

      // Logging.
      {.name = "log_type",
       .default_text = "console",
       .apply = Apply::restart,
       .doc = "Where log lines go: `console` (stderr), `file` (log_path) or `syslog`",
       .binding = field<&M::log_type>()},
      {.name = "log_level",
       .default_text = "info",
       .apply = Apply::reload,
       .doc = "Least severe level that is logged",
       .binding = field<&M::log_level>()},
      {.name = "log_path",
       .default_text = "pgquay.log",
       .apply = Apply::reload,
       .doc = "Log file for `log_type = file`; may contain strftime(3) escapes",
       .binding = field<&M::log_path>()},
      {.name = "log_rotation_age",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Start a new log file after this long (0 = never)",
       .binding = field<&M::log_rotation_age>()},
      {.name = "log_rotation_size",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Start a new log file when it reaches this size (0 = never)",
       .binding = field<&M::log_rotation_size>()},
      {.name = "log_line_prefix",
       .default_text = "%Y-%m-%d %H:%M:%S",
       .apply = Apply::reload,
       .doc = "strftime(3) prefix of every log line; quote it when it contains spaces",
       .binding = field<&M::log_line_prefix>()},
      {.name = "log_mode",
       .default_text = "append",
       .apply = Apply::reload,
       .doc = "Append to an existing log file, or `create` it anew",
       .binding = field<&M::log_mode>()},
      {.name = "log_connections",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Log every client connection",
       .binding = field<&M::log_connections>()},
      {.name = "log_disconnections",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Log every client disconnection",
       .binding = field<&M::log_disconnections>()},

      // The pool.
      {.name = "max_connections",
       .default_text = "100",
       .apply = Apply::restart,
       .doc = "Most connections pgquay opens to PostgreSQL, all servers and pools together",
       .binding = field<&M::max_connections>(),
       .min = 1,
       .max = 100000},
      {.name = "blocking_timeout",
       .default_text = "30s",
       .apply = Apply::reload,
       .doc = "How long a client waits for a free server connection (0 = forever)",
       .binding = field<&M::blocking_timeout>()},
      {.name = "idle_timeout",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Close pooled server connections idle for longer than this (0 = never)",
       .binding = field<&M::idle_timeout>()},
      {.name = "max_connection_age",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Close server connections older than this: idle ones in the pool, in-use ones when "
              "they are released (0 = never)",
       .binding = field<&M::max_connection_age>()},
      {.name = "validation",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Check pooled connections: before handing one out (`foreground`, which pgquay always "
              "does) or also every background_interval while they are idle (`background`)",
       .binding = field<&M::validation>()},
      {.name = "background_interval",
       .default_text = "5m",
       .apply = Apply::reload,
       .doc = "Interval between background validation runs",
       .binding = field<&M::background_interval>(),
       .min = kSecond},
      {.name = "max_retries",
       .default_text = "5",
       .apply = Apply::reload,
       .doc = "Attempts to obtain a server connection before the client gets an error",
       .binding = field<&M::max_retries>(),
       .min = 0,
       .max = 1000},
      {.name = "authentication_timeout",
       .default_text = "5s",
       .apply = Apply::reload,
       .doc = "Time a client has to complete authentication",
       .binding = field<&M::authentication_timeout>(),
       .min = kSecond},
      {.name = "allow_unknown_users",
       .default_text = "on",
       .apply = Apply::reload,
       .doc = "Let password clients pgquay has no password for (not in the users files) "
              "connect, authenticated by PostgreSQL on a fresh connection; `off`: they fail "
              "like a wrong password",
       .binding = field<&M::allow_unknown_users>()},
      {.name = "rotate_frontend_password_timeout",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Generate new random frontend passwords this often (0 = never)",
       .binding = field<&M::rotate_frontend_password_timeout>()},
      {.name = "rotate_frontend_password_length",
       .default_text = "8",
       .apply = Apply::reload,
       .doc = "Length of generated frontend passwords",
       .binding = field<&M::rotate_frontend_password_length>(),
       .min = 8,
       .max = 1024},
      {.name = "disconnect_client",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Disconnect clients idle for longer than this with FATAL 57P05 (0 = never); open "
              "transactions are not taken into account (they are rolled back)",
       .binding = field<&M::disconnect_client>()},
      {.name = "disconnect_client_force",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "With disconnect_client: also disconnect clients that are active",
       .binding = field<&M::disconnect_client_force>()},
      {.name = "pipeline",
       .default_text = "auto",
       .apply = Apply::restart,
       .doc = "How traffic is relayed; `auto` = `session` when tls, failover or disconnect_client "
              "is on, else `performance`",
       .binding = field<&M::pipeline>()},
      {.name = "auth_query",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Look passwords up with an authentication query (needs pgquay_superuser.conf)",
       .binding = field<&M::auth_query>()},
      {.name = "failover",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Run failover_script when the primary cannot be reached",
       .binding = field<&M::failover>()},
      {.name = "failover_script",
       .default_text = "",
       .apply = Apply::reload,
       .doc = "Executable that promotes a replica (required with failover)",
       .binding = field<&M::failover_script>()},
      {.name = "tracker",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Log the life cycle of every connection (debugging aid)",
       .binding = field<&M::tracker>()},
      {.name = "track_prepared_statements",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Accepted for pgagroal compatibility; the transaction pipeline always tracks "
              "protocol-level prepared statements (see max_prepared_statements)",
       .binding = field<&M::track_prepared_statements>()},

      // TLS between clients and pgquay.
      {.name = "tls",
       .default_text = "off",
       .apply = Apply::restart,
       .doc = "Offer TLS to clients (needs tls_cert_file and tls_key_file)",
       .binding = field<&M::tls>()},
      {.name = "tls_cert_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Server certificate presented to clients",
       .binding = field<&M::tls_cert_file>()},
      {.name = "tls_key_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Private key of tls_cert_file (mode 0600, or 0640 if owned by root)",
       .binding = field<&M::tls_key_file>()},
      {.name = "tls_ca_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Certificate authority used to verify client certificates",
       .binding = field<&M::tls_ca_file>()},

      // Sockets, processes and memory.
      {.name = "ev_backend",
       .default_text = "auto",
       .apply = Apply::restart,
       .doc = "Event loop: `auto` = io_uring, else epoll, else kqueue (kqueue: BSD and macOS only)",
       .binding = field<&M::ev_backend>()},
      {.name = "keep_alive",
       .default_text = "on",
       .apply = Apply::reload,
       .doc = "Set SO_KEEPALIVE on sockets",
       .binding = field<&M::keep_alive>()},
      {.name = "nodelay",
       .default_text = "on",
       .apply = Apply::reload,
       .doc = "Set TCP_NODELAY on sockets",
       .binding = field<&M::nodelay>()},
      {.name = "backlog",
       .default_text = "0",
       .apply = Apply::restart,
       .doc = "listen(2) backlog; 0 = max_connections / 4; never below 16",
       .binding = field<&M::backlog>(),
       .min = 0,
       .max = 65535},
      {.name = "hugepage",
       .default_text = "try",
       .apply = Apply::restart,
       .doc = "Huge pages for shared memory: `off`, `try` (when available) or `on` (required)",
       .binding = field<&M::hugepage>()},
      {.name = "update_process_title",
       .default_text = "verbose",
       .apply = Apply::reload,
       .doc = "Process titles: `never`, `strict`, `minimal` (user/database) or `verbose` "
              "(user@host:port/database)",
       .binding = field<&M::update_process_title>()},

      // pgquay additions.
      {.name = "prefork_workers",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Idle workers kept forked: 0 = automatic (2 x CPU cores, at most 16); -1 = none, "
              "fork for each client",
       .binding = field<&M::prefork_workers>(),
       .min = -1,
       .max = 1024},
      {.name = "worker_max_clients",
       .default_text = "5000",
       .apply = Apply::reload,
       .doc = "Clients a worker serves, one after the other, before it exits and is replaced",
       .binding = field<&M::worker_max_clients>(),
       .min = 1,
       .max = 1000000},
      {.name = "max_client_connections",
       .default_text = "10000",
       .apply = Apply::restart,
       .doc = "Most client connections at once; further clients are refused",
       .binding = field<&M::max_client_connections>(),
       .min = 1,
       .max = 1000000},
      {.name = "idle_transaction_timeout",
       .default_text = "0",
       .apply = Apply::reload,
       .doc =
           "Disconnect a client idle inside a transaction for longer than this with FATAL 25P03; "
           "its server connection is closed, which rolls the transaction back (0 = off)",
       .binding = field<&M::idle_transaction_timeout>()},
      {.name = "query_timeout",
       .default_text = "0",
       .apply = Apply::reload,
       .doc = "Cancel a query that runs longer than this (0 = off)",
       .binding = field<&M::query_timeout>()},
      {.name = "server_connect_timeout",
       .default_text = "10s",
       .apply = Apply::reload,
       .doc = "Time allowed to connect to PostgreSQL, including TLS and authentication",
       .binding = field<&M::server_connect_timeout>(),
       .min = 1},
      {.name = "max_prepared_statements",
       .default_text = "200",
       .apply = Apply::restart,
       .doc =
           "Protocol-level prepared statements kept on each server connection in the transaction "
           "pipeline (least recently used closed first); 0 passes them through untouched",
       .binding = field<&M::max_prepared_statements>(),
       .min = 0,
       .max = 240},

      // Older pgagroal releases.
      {.name = "libev",
       .default_text = "auto",
       .apply = Apply::restart,
       .doc = "Old name of ev_backend; libev backends pgquay lacks (select, poll, ...) mean `auto`",
       .binding = field<&M::ev_backend>(),
       .choices = libev_names(),
       .kind = KeyKind::alias},
      {.name = "buffer_size",
       .default_text = "65535",
       .apply = Apply::reload,
       .doc = "Ignored: socket buffer sizes are left to the kernel",
       .binding = field<&M::buffer_size>(),
       .min = 1,
       .max = 16 * 1024 * 1024,
       .kind = KeyKind::compat},
      {.name = "non_blocking",
       .default_text = "off",
       .apply = Apply::reload,
       .doc = "Ignored: pgquay's sockets are always non-blocking",
       .binding = field<&M::non_blocking>(),
       .kind = KeyKind::compat},
  };
  return table;
}

using SK = KeyDef<ServerConfig>;
using SC = ServerConfig;

std::span<const SK> build_server_keys() {
  static const SK table[] = {
      {.name = "host",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Host name, IP address, or Unix socket directory (starting with `/`); required",
       .binding = field<&SC::host>()},
      {.name = "port",
       .default_text = "5432",
       .apply = Apply::restart,
       .doc = "Port of the PostgreSQL server",
       .binding = field<&SC::port>(),
       .min = 1,
       .max = kMaxPort},
      {.name = "primary",
       .default_text = "off",
       // Copied into shared memory at start, like every server key.
       .apply = Apply::restart,
       .doc = "This server is the primary (a hint; at most one server)",
       .binding = field<&SC::primary>()},
      {.name = "tls",
       .default_text = "off",
       .apply = Apply::restart,
       .doc = "Connect to this server with TLS",
       .binding = field<&SC::tls>()},
      {.name = "tls_cert_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Client certificate presented to the server",
       .binding = field<&SC::tls_cert_file>()},
      {.name = "tls_key_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Private key of tls_cert_file",
       .binding = field<&SC::tls_key_file>()},
      {.name = "tls_ca_file",
       .default_text = "",
       .apply = Apply::restart,
       .doc = "Certificate authority used to verify the server's certificate",
       .binding = field<&SC::tls_ca_file>()},
  };
  return table;
}

template <typename S>
void apply_defaults(S& s, std::span<const KeyDef<S>> keys) {
  for (const auto& def : keys) {
    if (def.kind == KeyKind::alias) continue;
    auto r = def.binding.set(s, def, def.default_text);
    PGQ_CHECK(r.has_value());  // a default that does not parse is a bug in the table
  }
}

template <typename S>
const KeyDef<S>* find_key(std::span<const KeyDef<S>> keys, std::string_view name) {
  for (const auto& def : keys) {
    if (iequals(def.name, name)) return &def;
  }
  return nullptr;
}

}  // namespace

std::span<const KeyDef<MainConfig>> main_keys() {
  return build_main_keys();
}
std::span<const KeyDef<ServerConfig>> server_keys() {
  return build_server_keys();
}

const KeyDef<MainConfig>* find_main_key(std::string_view name) {
  return find_key(main_keys(), name);
}
const KeyDef<ServerConfig>* find_server_key(std::string_view name) {
  return find_key(server_keys(), name);
}

}  // namespace pgquay::config::detail

namespace pgquay::config {

MainConfig::MainConfig() {
  detail::apply_defaults(*this, detail::main_keys());
}
ServerConfig::ServerConfig() {
  detail::apply_defaults(*this, detail::server_keys());
}

}  // namespace pgquay::config
