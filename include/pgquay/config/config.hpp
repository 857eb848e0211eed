// pgquay.conf: the main configuration, typed.
//
// One table of keys (src/config/key_table.cpp) drives parsing, defaults, validation, `conf get`,
// `conf set`, the reload diff and doc/CONFIGURATION.md. The structs below are plain values: copy
// them freely, compare old and new after a reload, hand a snapshot to a worker. Nothing here
// touches global state; every function may be called from any process (not from a signal
// handler: they allocate).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/log.hpp"
#include "pgquay/common/result.hpp"
#include "pgquay/config/enums.hpp"

namespace pgquay::config {

// The [pgquay] section (also read from [pgagroal]). A default-constructed MainConfig holds every
// key's documented default, taken from the key table, so the defaults exist in exactly one place.
// Durations are milliseconds; 0 means "off" wherever a timeout can be disabled.
struct MainConfig {
  MainConfig();

  // Listening and management.
  std::string host;
  int port = 0;
  std::string unix_socket_dir;
  int metrics = 0;
  std::chrono::milliseconds metrics_cache_max_age{0};
  std::uint64_t metrics_cache_max_size = 0;
  int management = 0;
  std::string pidfile;  // empty = effective_pidfile()

  // Logging.
  LogType log_type = LogType::console;
  log::Level log_level = log::Level::info;
  std::string log_path;
  std::chrono::milliseconds log_rotation_age{0};
  std::uint64_t log_rotation_size = 0;
  std::string log_line_prefix;
  LogMode log_mode = LogMode::append;
  bool log_connections = false;
  bool log_disconnections = false;

  // Pool and timeouts.
  int max_connections = 0;
  std::chrono::milliseconds blocking_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds max_connection_age{0};
  Validation validation = Validation::off;
  std::chrono::milliseconds background_interval{0};
  int max_retries = 0;
  std::chrono::milliseconds authentication_timeout{0};
  bool allow_unknown_users = false;
  std::chrono::milliseconds rotate_frontend_password_timeout{0};
  int rotate_frontend_password_length = 0;
  std::chrono::milliseconds disconnect_client{0};
  bool disconnect_client_force = false;
  Pipeline pipeline = Pipeline::automatic;
  bool auth_query = false;
  bool failover = false;
  std::string failover_script;
  bool tracker = false;
  bool track_prepared_statements = false;

  // TLS between clients and pgquay, and for the metrics endpoint.
  bool tls = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  std::string metrics_cert_file;
  std::string metrics_key_file;
  std::string metrics_ca_file;

  // Sockets, processes, memory.
  EvBackend ev_backend = EvBackend::automatic;
  bool keep_alive = false;
  bool nodelay = false;
  int backlog = 0;  // 0 = effective_backlog()
  HugePage hugepage = HugePage::off;
  UpdateProcessTitle update_process_title = UpdateProcessTitle::verbose;

  // pgquay additions.
  int prefork_workers = 0;  // 0 = automatic, -1 = off; see effective_prefork_workers()
  int worker_max_clients = 0;
  int max_client_connections = 0;
  std::chrono::milliseconds idle_transaction_timeout{0};
  std::chrono::milliseconds query_timeout{0};
  std::chrono::milliseconds server_connect_timeout{0};
  int max_prepared_statements = 0;

  // Keys of older pgagroal releases: parsed and validated so old files load, otherwise unused.
  int buffer_size = 0;
  bool non_blocking = false;
};

// One PostgreSQL server: any section other than [pgquay]/[pgagroal]. The name is the section name.
struct ServerConfig {
  ServerConfig();

  std::string name;
  std::string host;  // required; a path starting with '/' means a Unix socket directory
  int port = 0;
  bool primary = false;
  bool tls = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  int line = 0;  // line of the [name] header, for messages
};

struct Config {
  MainConfig main;
  std::vector<ServerConfig> servers;  // in file order
  std::vector<std::string> warnings;  // "file:line: ..." for unknown keys, duplicates, ...
  std::string path;                   // the file name used in messages
  // Line where each main key was last set (lower-case key), so later checks can point at it.
  std::map<std::string, int, std::less<>> key_lines;
};

// Reads and validates a pgquay.conf. Errors name the file and line; when several things are wrong
// the message holds one line per problem. Warnings (unknown keys, duplicates) do not fail the load;
// they are returned in Config::warnings for the caller to log.
Result<Config> load_main_config(const std::string& path);
// The same from text in memory; `name` stands for the file name in messages.
Result<Config> parse_main_config_string(std::string_view text, std::string_view name);

// Cross-key checks (a server section exists, at most one primary, TLS files present, the pipeline
// supports the features switched on, ...). load/parse already run it; set_value runs it too.
Result<void> validate(const Config& config);

// Keys for get_value/set_value: a main key ("max_connections", also "pgquay.max_connections" or
// "pgagroal.max_connections") or a server key "server.<name>.<key>" (pgagroal's `conf get` form).
// Values are printed canonically: bools on/off, durations and sizes with their largest exact unit.
std::optional<std::string> get_value(const Config& config, std::string_view key);
// Parses and stores one value, then re-runs validate(); on any error `config` is left unchanged.
Result<void> set_value(Config& config, std::string_view key, std::string_view value);
// Every main key, in table order (the aliases kept for pgagroal compatibility are not listed).
std::vector<std::string> list_keys();
// Server section keys, in table order.
std::vector<std::string> list_server_keys();
// True when changing `key` takes effect on reload; false when it needs a restart (nullopt:
// unknown).
std::optional<bool> is_reloadable(std::string_view key);

struct KeyChange {
  std::string key;        // as accepted by get_value; "server.<name>" for an added/removed server
  std::string old_value;  // "" when the key or server did not exist before
  std::string new_value;  // "" when it no longer exists
  bool reloadable = false;
};
// What a reload would change, main keys in table order, then servers in the new file's order.
std::vector<KeyChange> diff(const Config& old_config, const Config& new_config);

// A reload of pgquay.conf: `config` is the running configuration with every changed key that may
// change live (Applies = reload) taken from the file just read; the others keep their running
// value and are listed in restart_required. Server sections are never applied live (their
// changes are all listed in restart_required). Fails when the mix does not validate.
struct ReloadPlan {
  Config config;
  std::vector<KeyChange> applied;
  std::vector<KeyChange> restart_required;
};
Result<ReloadPlan> plan_reload(const Config& running, const Config& fresh);

// Derived values (each documented with its key in doc/CONFIGURATION.md).
// pidfile, or <unix_socket_dir>/pgquay.<port>.pid when empty.
std::string effective_pidfile(const MainConfig& main);
// backlog, or max(max_connections / 4, 16) when 0; never below 16.
int effective_backlog(const MainConfig& main);
// How many idle workers to keep forked: 0 -> 2 x cores capped at 16; -1 -> none (fork on accept).
int effective_prefork_workers(const MainConfig& main, unsigned cores);
// `auto` resolved like pgagroal: session when tls (with a certificate), failover or
// disconnect_client is on, performance otherwise.
Pipeline effective_pipeline(const MainConfig& main);

}  // namespace pgquay::config
