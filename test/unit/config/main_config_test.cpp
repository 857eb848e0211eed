// Parsing pgquay.conf: defaults, every value type, sections, warnings and error messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "pgquay/config/config.hpp"

namespace pgquay::config {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr const char* kServer = "[primary]\nhost = localhost\nport = 5432\n";

Result<Config> parse(const std::string& text) {
  return parse_main_config_string(text, "pgquay.conf");
}

// Parses "[pgquay]\n<main>\n<servers>"; fails the test when the file is rejected.
Config ok(const std::string& main, const std::string& servers = kServer) {
  auto c = parse("[pgquay]\n" + main + "\n" + servers);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return c ? *c : Config{};
}

// The error text for a file expected to be rejected.
std::string error_of(const std::string& text) {
  auto c = parse(text);
  EXPECT_FALSE(c.has_value()) << "the file was accepted:\n" << text;
  return c ? std::string() : c.error().message;
}

// Error for a single bad main key on line 2.
std::string main_error(const std::string& line) {
  return error_of("[pgquay]\n" + line + "\n" + kServer);
}

TEST(MainConfig, DefaultsArePgagroals) {
  Config c = ok("");
  const MainConfig& m = c.main;
  EXPECT_EQ(m.port, 2345);
  EXPECT_EQ(m.max_connections, 100);
  EXPECT_EQ(m.blocking_timeout, 30s);
  EXPECT_EQ(m.idle_timeout, 0s);
  EXPECT_EQ(m.max_connection_age, 0s);
  EXPECT_EQ(m.background_interval, 300s);
  EXPECT_EQ(m.authentication_timeout, 5s);
  EXPECT_EQ(m.max_retries, 5);
  EXPECT_TRUE(m.allow_unknown_users);
  EXPECT_TRUE(m.keep_alive);
  EXPECT_TRUE(m.nodelay);
  EXPECT_FALSE(m.non_blocking);
  EXPECT_FALSE(m.tls);
  EXPECT_FALSE(m.failover);
  EXPECT_EQ(m.pipeline, Pipeline::automatic);
  EXPECT_EQ(m.ev_backend, EvBackend::automatic);
  EXPECT_EQ(m.log_type, LogType::console);
  EXPECT_EQ(m.log_level, log::Level::info);
  EXPECT_EQ(m.log_mode, LogMode::append);
  EXPECT_EQ(m.log_line_prefix, "%Y-%m-%d %H:%M:%S");
  EXPECT_EQ(m.validation, Validation::off);
  EXPECT_EQ(m.hugepage, HugePage::if_available);
  EXPECT_EQ(m.update_process_title, UpdateProcessTitle::verbose);
  EXPECT_EQ(m.rotate_frontend_password_length, 8);
  EXPECT_EQ(m.metrics, 0);
  EXPECT_EQ(m.management, 0);
  EXPECT_EQ(m.metrics_cache_max_size, 256u * 1024);
  EXPECT_EQ(m.disconnect_client, 0s);
  EXPECT_EQ(m.buffer_size, 65535);
}

TEST(MainConfig, DefaultsOfPgquayKeys) {
  MainConfig m;  // a default-constructed MainConfig carries the same defaults
  EXPECT_EQ(m.host, "*");
  EXPECT_EQ(m.unix_socket_dir, "/tmp");
  EXPECT_EQ(m.log_path, "pgquay.log");
  EXPECT_EQ(m.prefork_workers, 0);
  EXPECT_EQ(m.worker_max_clients, 5000);
  EXPECT_EQ(m.max_client_connections, 10000);
  EXPECT_EQ(m.idle_transaction_timeout, 0s);
  EXPECT_EQ(m.query_timeout, 0s);
  EXPECT_EQ(m.server_connect_timeout, 10s);
  EXPECT_EQ(m.max_prepared_statements, 200);
  EXPECT_EQ(m.pidfile, "");
  ServerConfig s;
  EXPECT_EQ(s.port, 5432);
  EXPECT_FALSE(s.primary);
}

TEST(MainConfig, EveryValueType) {
  Config c =
      ok("host = 0.0.0.0\n"
         "port = 6432\n"
         "log_connections = yes\n"
         "log_disconnections = TRUE\n"
         "keep_alive = 0\n"
         "blocking_timeout = 2m\n"
         "idle_timeout = 600\n"
         "query_timeout = 250ms\n"
         "max_connection_age = 1H\n"
         "metrics_cache_max_size = 1M\n"
         "log_rotation_size = 10mb\n"
         "log_level = debug5\n"
         "pipeline = Transaction\n"
         "ev_backend = epoll\n"
         "hugepage = off\n"
         "update_process_title = full\n"
         "prefork_workers = -1\n"
         "unix_socket_dir = /run/pgquay\n");
  const MainConfig& m = c.main;
  EXPECT_EQ(m.host, "0.0.0.0");
  EXPECT_EQ(m.port, 6432);
  EXPECT_TRUE(m.log_connections);
  EXPECT_TRUE(m.log_disconnections);
  EXPECT_FALSE(m.keep_alive);
  EXPECT_EQ(m.blocking_timeout, 120s);
  EXPECT_EQ(m.idle_timeout, 600s);
  EXPECT_EQ(m.query_timeout, 250ms);
  EXPECT_EQ(m.max_connection_age, 3600s);
  EXPECT_EQ(m.metrics_cache_max_size, 1024u * 1024);
  EXPECT_EQ(m.log_rotation_size, 10u * 1024 * 1024);
  EXPECT_EQ(m.log_level, log::Level::debug5);
  EXPECT_EQ(m.pipeline, Pipeline::transaction);
  EXPECT_EQ(m.ev_backend, EvBackend::epoll);
  EXPECT_EQ(m.hugepage, HugePage::off);
  EXPECT_EQ(m.update_process_title, UpdateProcessTitle::verbose);
  EXPECT_EQ(m.prefork_workers, -1);
  EXPECT_EQ(m.unix_socket_dir, "/run/pgquay");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(MainConfig, QuotingAndComments) {
  Config c =
      ok("# a comment line\n"
         "   ; another one, indented\n"
         "log_line_prefix = \"PGQUAY #%Y-%m-%d ; %H\" # quoted: keeps # ; and spaces\n"
         "log_type= console#log to stdout\n"
         "pipeline = 'performance' ; single quotes\n"
         "log_path = '/var/log/pgquay.log'\n"
         "failover_script=\"\"\n");
  EXPECT_EQ(c.main.log_line_prefix, "PGQUAY #%Y-%m-%d ; %H");
  EXPECT_EQ(c.main.log_type, LogType::console);
  EXPECT_EQ(c.main.pipeline, Pipeline::performance);
  EXPECT_EQ(c.main.log_path, "/var/log/pgquay.log");
  EXPECT_EQ(c.main.failover_script, "");
}

TEST(MainConfig, IndentedKeysAreNotContinuations) {
  Config c = ok("  host = a.example\n\tport = 3000\n   max_connections = 7\n");
  EXPECT_EQ(c.main.host, "a.example");
  EXPECT_EQ(c.main.port, 3000);
  EXPECT_EQ(c.main.max_connections, 7);
}

TEST(MainConfig, KeysAreCaseInsensitive) {
  Config c = ok("MAX_CONNECTIONS = 9\nLog_Level = warn\n");
  EXPECT_EQ(c.main.max_connections, 9);
  EXPECT_EQ(c.main.log_level, log::Level::warn);
}

TEST(MainConfig, CrLfAndByteOrderMark) {
  auto c = parse("\xEF\xBB\xBF[pgquay]\r\nport = 3001\r\n[primary]\r\nhost = db\r\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->main.port, 3001);
  EXPECT_EQ(c->servers.at(0).host, "db");
}

TEST(MainConfig, LongValuesSurviveInihsLineBuffer) {
  std::string prefix(400, 'x');
  Config c = ok("log_line_prefix = \"" + prefix + " %H\"\nport = 3002\n");
  EXPECT_EQ(c.main.log_line_prefix, prefix + " %H");
  EXPECT_EQ(c.main.port, 3002);
}

TEST(MainConfig, PgagroalSectionIsTheMainSection) {
  auto c = parse(
      "[pgagroal]\n"
      "host = *\n"
      "port = 2345\n"
      "libev = iouring\n"
      "non_blocking = on\n"
      "buffer_size = 8192\n"
      "unix_socket_dir = /tmp/\n"
      "\n"
      "[primary]\n"
      "host = localhost\n"
      "port = 5432\n"
      "primary = on\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->main.ev_backend, EvBackend::io_uring);
  EXPECT_TRUE(c->main.non_blocking);
  EXPECT_EQ(c->main.buffer_size, 8192);
  EXPECT_TRUE(c->servers.at(0).primary);
  EXPECT_TRUE(c->warnings.empty());
}

TEST(MainConfig, LibevBackendsPgquayLacksMeanAuto) {
  EXPECT_EQ(ok("libev = select\n").main.ev_backend, EvBackend::automatic);
  EXPECT_EQ(ok("libev = epoll\n").main.ev_backend, EvBackend::epoll);
  EXPECT_EQ(main_error("libev = fast"),
            "pgquay.conf:2: libev = 'fast': expected one of: auto, iouring, epoll, kqueue");
}

TEST(MainConfig, ServerSections) {
  Config c = ok("",
                "[primary]\nhost = db1\nport = 5432\nprimary = on\n"
                "[replica.1]\nhost = /var/run/postgresql\ntls = on\ntls_ca_file = /ca.pem\n");
  ASSERT_EQ(c.servers.size(), 2u);
  EXPECT_EQ(c.servers[0].name, "primary");
  EXPECT_EQ(c.servers[0].host, "db1");
  EXPECT_EQ(c.servers[0].line, 3);
  EXPECT_TRUE(c.servers[0].primary);
  EXPECT_EQ(c.servers[1].name, "replica.1");
  EXPECT_EQ(c.servers[1].host, "/var/run/postgresql");
  EXPECT_EQ(c.servers[1].port, 5432);  // default
  EXPECT_TRUE(c.servers[1].tls);
  EXPECT_EQ(c.servers[1].tls_ca_file, "/ca.pem");
  EXPECT_FALSE(c.servers[1].primary);
}

TEST(MainConfig, UnknownKeysAreWarnings) {
  Config c = ok("foo = 1\nport = 3003", "[primary]\nhost = db\nbar = 2\n");
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0], "pgquay.conf:2: unknown key 'foo' in section [pgquay] (ignored)");
  EXPECT_EQ(c.warnings[1], "pgquay.conf:6: unknown key 'bar' in section [primary] (ignored)");
  EXPECT_EQ(c.main.port, 3003);
}

TEST(MainConfig, KeyOutsideAnySectionIsAWarning) {
  auto c = parse("port = 1\n[pgquay]\n" + std::string(kServer));
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0], "pgquay.conf:1: key 'port' outside of any section (ignored)");
  EXPECT_EQ(c->main.port, 2345);
}

TEST(MainConfig, DuplicateKeyWarnsAndLastWins) {
  Config c = ok("port = 3004\nport = 3005\n", "[primary]\nhost = a\nhost = b\n");
  EXPECT_EQ(c.main.port, 3005);
  EXPECT_EQ(c.servers.at(0).host, "b");
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0],
            "pgquay.conf:3: duplicate key 'port' (also set at line 2); the last value wins");
  EXPECT_EQ(c.warnings[1],
            "pgquay.conf:7: duplicate key 'host' (also set at line 6); the last value wins");
  EXPECT_EQ(c.key_lines.at("port"), 3);
}

TEST(MainConfigErrors, BadValueNamesFileLineKeyValueAndAccepted) {
  EXPECT_EQ(main_error("max_connections = abc"),
            "pgquay.conf:2: max_connections = 'abc': expected an integer from 1 to 100000");
  EXPECT_EQ(main_error("max_connections = 0"),
            "pgquay.conf:2: max_connections = '0': expected an integer from 1 to 100000");
  EXPECT_EQ(main_error("log_connections = maybe"),
            "pgquay.conf:2: log_connections = 'maybe': expected a boolean: on, off, yes, no, "
            "true, false, 1 or 0");
  EXPECT_EQ(main_error("pipeline = fast"),
            "pgquay.conf:2: pipeline = 'fast': expected one of: auto, performance, session, "
            "transaction");
  EXPECT_EQ(main_error("ev_backend = poll"),
            "pgquay.conf:2: ev_backend = 'poll': expected one of: auto, io_uring, epoll, kqueue");
  EXPECT_EQ(main_error("blocking_timeout = 5x"),
            "pgquay.conf:2: blocking_timeout = '5x': expected a duration such as 30 (seconds), "
            "500ms, 30s, 5m, 2h, 1d or 1w");
  EXPECT_EQ(main_error("authentication_timeout = 0"),
            "pgquay.conf:2: authentication_timeout = '0': expected a duration such as 30 "
            "(seconds), 500ms, 30s, 5m, 2h, 1d or 1w, at least 1s");
  EXPECT_EQ(main_error("metrics_cache_max_size = 1T"),
            "pgquay.conf:2: metrics_cache_max_size = '1T': expected a size such as 0, 65536, "
            "256K, 64MB or 1G");
  EXPECT_EQ(main_error("log_level = loud"),
            "pgquay.conf:2: log_level = 'loud': expected a log level: fatal, error, warn, info, "
            "debug, debug1 to debug5, trace");
  EXPECT_EQ(main_error("log_mode = overwrite"),
            "pgquay.conf:2: log_mode = 'overwrite': expected one of: append, create");
  EXPECT_EQ(main_error("port ="), "pgquay.conf:2: port = '': expected an integer from 1 to 65535");
  EXPECT_EQ(main_error("log_path = \"/var/log"),
            "pgquay.conf:2: log_path: unterminated quote: expected a closing \"");
}

TEST(MainConfigErrors, ServerKeyErrorsAndManyErrorsAtOnce) {
  EXPECT_EQ(error_of("[pgquay]\n[primary]\nhost = db\nport = x\n"),
            "pgquay.conf:4: port = 'x': expected an integer from 1 to 65535");
  EXPECT_EQ(error_of("[pgquay]\nport = 0\nnodelay = 2\n" + std::string(kServer)),
            "pgquay.conf:2: port = '0': expected an integer from 1 to 65535\n"
            "pgquay.conf:3: nodelay = '2': expected a boolean: on, off, yes, no, true, false, 1 "
            "or 0");
}

TEST(MainConfigErrors, Syntax) {
  EXPECT_EQ(error_of("[pgquay]\ngarbage\n" + std::string(kServer)),
            "pgquay.conf:2: expected 'key = value' or '[section]', found 'garbage'");
  EXPECT_EQ(error_of("[pgquay]\n= 5\n" + std::string(kServer)),
            "pgquay.conf:2: missing key name before '='");
  EXPECT_EQ(error_of("[pgquay\n" + std::string(kServer)),
            "pgquay.conf:1: section header without closing ']'\n"
            "pgquay.conf: no [pgquay] section (a [pgagroal] section is read the same way)");
  EXPECT_EQ(error_of("[pgquay] x\n" + std::string(kServer)),
            "pgquay.conf:1: unexpected text 'x' after the section header");
  EXPECT_EQ(error_of("[pgquay]\n[ ]\n" + std::string(kServer)),
            "pgquay.conf:2: empty section name");
}

TEST(MainConfigErrors, Sections) {
  EXPECT_EQ(error_of(kServer),
            "pgquay.conf: no [pgquay] section (a [pgagroal] section is read the same way)");
  EXPECT_EQ(error_of("[pgquay]\nport = 1\n"),
            "pgquay.conf: no server section: add one, e.g. [primary] with host = localhost and "
            "port = 5432");
  EXPECT_EQ(error_of("[pgquay]\n[pgagroal]\n" + std::string(kServer)),
            "pgquay.conf:2: duplicate section [pgagroal] (the main section starts at line 1)");
  EXPECT_EQ(error_of("[pgquay]\n[a]\nhost = x\n[a]\nhost = y\n"),
            "pgquay.conf:4: duplicate section [a] (first at line 2)");
}

TEST(MainConfigErrors, CrossKeyChecks) {
  EXPECT_EQ(error_of("[pgquay]\n[primary]\nport = 5432\n"),
            "pgquay.conf:2: server [primary] has no host");
  EXPECT_EQ(error_of("[pgquay]\n[a]\nhost = x\nprimary = on\n[b]\nhost = y\nprimary = yes\n"),
            "pgquay.conf:5: servers [a] (line 2) and [b] both have primary = on; at most one "
            "server can be the primary");
  EXPECT_EQ(error_of("[pgquay]\n[a]\nhost = x\n[b]\nhost = x\nport = 5432\n"),
            "pgquay.conf:4: servers [a] (line 2) and [b] both point to x:5432");
  EXPECT_EQ(main_error("tls = on"),
            "pgquay.conf:2: tls = on requires tls_cert_file and tls_key_file");
  EXPECT_EQ(main_error("tls_cert_file = /c.pem"),
            "pgquay.conf:2: tls_cert_file and tls_key_file must be set together");
  EXPECT_EQ(error_of("[pgquay]\n[a]\nhost = x\ntls_key_file = /k\n"),
            "pgquay.conf:2: server [a]: tls_cert_file and tls_key_file must be set together");
  EXPECT_EQ(main_error("failover = on"),
            "pgquay.conf:2: failover = on requires failover_script\n"
            "pgquay.conf:2: failover = on requires at least two server sections");
  EXPECT_EQ(main_error("metrics = 2345"),
            "pgquay.conf:2: metrics = 2345 is the client port; choose another port");
  EXPECT_EQ(error_of("[pgquay]\nmetrics = 9000\nmanagement = 9000\n" + std::string(kServer)),
            "pgquay.conf:3: management and metrics both use port 9000; choose different ports");
  EXPECT_EQ(error_of("[pgquay]\npipeline = performance\ntls = on\ntls_cert_file = /c\n"
                     "tls_key_file = /k\n" +
                     std::string(kServer)),
            "pgquay.conf:2: pipeline = performance does not support tls (set at pgquay.conf:3); "
            "use session or transaction");
  EXPECT_EQ(error_of("[pgquay]\npipeline = transaction\ndisconnect_client = 60\n[a]\nhost = x\n"
                     "tls = on\n"),
            "pgquay.conf:2: pipeline = transaction does not support disconnect_client (set at "
            "pgquay.conf:3)\n"
            "pgquay.conf:4: server [a]: tls = on is not supported with pipeline = transaction");
  EXPECT_EQ(main_error("host = \"\""),
            "pgquay.conf:2: host is empty: use * to listen on every address");
}

TEST(MainConfigFile, MissingFileNamesPathAndErrno) {
  auto c = load_main_config("/nonexistent/pgquay.conf");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "cannot read /nonexistent/pgquay.conf: No such file or directory");
  EXPECT_EQ(c.error().code, ENOENT);
}

TEST(MainConfigFile, DirectoryIsNotAFile) {
  auto c = load_main_config("/");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "cannot read /: Is a directory");
}

TEST(MainConfigFile, LoadsAndNamesThePath) {
  char path[] = "/tmp/pgquay-config-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "[pgquay]\nport = 4000\nbogus = 1\n[primary]\nhost = db\n";
  }
  auto c = load_main_config(path);
  std::remove(path);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->path, path);
  EXPECT_EQ(c->main.port, 4000);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0],
            std::string(path) + ":3: unknown key 'bogus' in section [pgquay] (ignored)");
}

}  // namespace
}  // namespace pgquay::config
