// conf get / conf set, the key list, the reload diff and the derived values.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "key_table.hpp"  // private: checks the table's own invariants
#include "pgquay/config/config.hpp"

namespace pgquay::config {
namespace {

using namespace std::chrono_literals;

Config load(const std::string& text) {
  auto c = parse_main_config_string(text, "pgquay.conf");
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return c ? *c : Config{};
}

Config basic() {
  return load("[pgquay]\nport = 2345\n[primary]\nhost = db1\nport = 5432\n[replica]\nhost = db2\n");
}

// Every main key pgagroal knows (its configuration.c and doc/CONFIGURATION.md).
const std::vector<std::string> kPgagroalKeys = {"host",
                                                "port",
                                                "unix_socket_dir",
                                                "metrics",
                                                "metrics_cache_max_age",
                                                "metrics_cache_max_size",
                                                "metrics_cert_file",
                                                "metrics_key_file",
                                                "metrics_ca_file",
                                                "management",
                                                "log_type",
                                                "log_level",
                                                "log_path",
                                                "log_rotation_age",
                                                "log_rotation_size",
                                                "log_line_prefix",
                                                "log_mode",
                                                "log_connections",
                                                "log_disconnections",
                                                "blocking_timeout",
                                                "idle_timeout",
                                                "rotate_frontend_password_timeout",
                                                "rotate_frontend_password_length",
                                                "max_connection_age",
                                                "validation",
                                                "background_interval",
                                                "max_retries",
                                                "max_connections",
                                                "allow_unknown_users",
                                                "authentication_timeout",
                                                "pipeline",
                                                "auth_query",
                                                "failover",
                                                "failover_script",
                                                "tls",
                                                "tls_cert_file",
                                                "tls_key_file",
                                                "tls_ca_file",
                                                "ev_backend",
                                                "keep_alive",
                                                "nodelay",
                                                "non_blocking",
                                                "backlog",
                                                "hugepage",
                                                "tracker",
                                                "track_prepared_statements",
                                                "pidfile",
                                                "update_process_title",
                                                "disconnect_client",
                                                "disconnect_client_force",
                                                "buffer_size"};

const std::vector<std::string> kPgquayKeys = {"prefork_workers",        "worker_max_clients",
                                              "max_client_connections", "idle_transaction_timeout",
                                              "query_timeout",          "server_connect_timeout",
                                              "max_prepared_statements"};

TEST(KeyTable, EveryPgagroalAndPgquayKeyIsListed) {
  auto keys = list_keys();
  std::set<std::string> listed(keys.begin(), keys.end());
  EXPECT_EQ(listed.size(), keys.size()) << "a key is listed twice";
  for (const auto& k : kPgagroalKeys) EXPECT_TRUE(listed.count(k)) << k;
  for (const auto& k : kPgquayKeys) EXPECT_TRUE(listed.count(k)) << k;
  EXPECT_EQ(keys.size(), kPgagroalKeys.size() + kPgquayKeys.size());
  EXPECT_FALSE(listed.count("libev"));  // an alias of ev_backend, still accepted
  EXPECT_TRUE(get_value(Config{}, "libev").has_value());
  EXPECT_EQ(list_server_keys(),
            (std::vector<std::string>{"host", "port", "primary", "tls", "tls_cert_file",
                                      "tls_key_file", "tls_ca_file"}));
}

TEST(KeyTable, DefaultTextIsCanonicalAndDocumented) {
  Config c;
  for (const auto& def : detail::main_keys()) {
    if (def.kind == detail::KeyKind::alias) continue;
    EXPECT_EQ(get_value(c, def.name), std::string(def.default_text)) << def.name;
    EXPECT_FALSE(def.doc.empty()) << def.name;
  }
  ServerConfig s;
  for (const auto& def : detail::server_keys()) {
    EXPECT_EQ(def.binding.get(s, def), std::string(def.default_text)) << def.name;
  }
}

TEST(GetValue, KeyForms) {
  Config c = basic();
  EXPECT_EQ(get_value(c, "port"), "2345");
  EXPECT_EQ(get_value(c, "pgquay.port"), "2345");
  EXPECT_EQ(get_value(c, "pgagroal.port"), "2345");
  EXPECT_EQ(get_value(c, "PORT"), "2345");
  EXPECT_EQ(get_value(c, "blocking_timeout"), "30s");
  EXPECT_EQ(get_value(c, "background_interval"), "5m");
  EXPECT_EQ(get_value(c, "metrics_cache_max_size"), "256K");
  EXPECT_EQ(get_value(c, "allow_unknown_users"), "on");
  EXPECT_EQ(get_value(c, "log_level"), "info");
  EXPECT_EQ(get_value(c, "hugepage"), "try");
  EXPECT_EQ(get_value(c, "pipeline"), "auto");
  EXPECT_EQ(get_value(c, "server.primary.host"), "db1");
  EXPECT_EQ(get_value(c, "server.replica.port"), "5432");
  EXPECT_EQ(get_value(c, "server.replica.primary"), "off");
  EXPECT_EQ(get_value(c, "nope"), std::nullopt);
  EXPECT_EQ(get_value(c, "other.port"), std::nullopt);
  EXPECT_EQ(get_value(c, "server.missing.host"), std::nullopt);
  EXPECT_EQ(get_value(c, "server.primary.nope"), std::nullopt);
  EXPECT_EQ(get_value(c, "server.primary"), std::nullopt);
}

TEST(SetValue, ParsesStoresAndPrintsBack) {
  Config c = basic();
  ASSERT_TRUE(set_value(c, "log_level", "debug1"));
  EXPECT_EQ(c.main.log_level, log::Level::debug);
  ASSERT_TRUE(set_value(c, "pgagroal.blocking_timeout", "90"));
  EXPECT_EQ(c.main.blocking_timeout, 90s);
  EXPECT_EQ(get_value(c, "blocking_timeout"), "90s");
  ASSERT_TRUE(set_value(c, "log_line_prefix", "\"%H # x\""));
  EXPECT_EQ(c.main.log_line_prefix, "%H # x");  // conf set keeps # (no comments on a CLI)
  ASSERT_TRUE(set_value(c, "server.replica.host", "db3"));
  EXPECT_EQ(c.servers[1].host, "db3");
  ASSERT_TRUE(set_value(c, "libev", "epoll"));
  EXPECT_EQ(c.main.ev_backend, EvBackend::epoll);
}

TEST(SetValue, ErrorsLeaveTheConfigUnchanged) {
  Config c = basic();
  auto bad = set_value(c, "max_connections", "abc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "max_connections = 'abc': expected an integer from 1 to 100000");
  EXPECT_EQ(set_value(c, "nope", "1").error().message, "unknown key 'nope'");
  EXPECT_EQ(set_value(c, "x.y", "1").error().message, "unknown key 'x.y'");
  EXPECT_EQ(set_value(c, "server.missing.host", "h").error().message, "unknown server [missing]");
  EXPECT_EQ(set_value(c, "server.primary.nope", "h").error().message,
            "unknown key 'server.primary.nope'");
  // Valid on its own, but the configuration as a whole would be wrong.
  auto cross = set_value(c, "tls", "on");
  ASSERT_FALSE(cross);
  EXPECT_EQ(cross.error().message, "pgquay.conf: tls = on requires tls_cert_file and tls_key_file");
  EXPECT_FALSE(c.main.tls);
  auto primaries = set_value(c, "server.replica.primary", "on");
  ASSERT_TRUE(primaries);
  EXPECT_FALSE(set_value(c, "server.primary.primary", "on"));
  EXPECT_FALSE(c.servers[0].primary);
  EXPECT_EQ(c.main.max_connections, 100);
}

TEST(IsReloadable, FollowsTheTable) {
  EXPECT_EQ(is_reloadable("log_level"), true);
  EXPECT_EQ(is_reloadable("blocking_timeout"), true);
  EXPECT_EQ(is_reloadable("port"), false);
  EXPECT_EQ(is_reloadable("max_connections"), false);
  EXPECT_EQ(is_reloadable("pipeline"), false);
  EXPECT_EQ(is_reloadable("ev_backend"), false);
  EXPECT_EQ(is_reloadable("server.x.host"), false);
  EXPECT_EQ(is_reloadable("server.x.primary"), false);  // shared memory, set at start
  EXPECT_EQ(is_reloadable("nope"), std::nullopt);
}

TEST(Diff, ReportsChangedKeysAndServers) {
  Config old_config = basic();
  Config fresh = load(
      "[pgquay]\nport = 2346\nlog_level = debug5\n"
      "[primary]\nhost = db1\nport = 5433\n[standby]\nhost = db4\n");
  auto changes = diff(old_config, fresh);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0].key, "port");
  EXPECT_EQ(changes[0].old_value, "2345");
  EXPECT_EQ(changes[0].new_value, "2346");
  EXPECT_FALSE(changes[0].reloadable);
  EXPECT_EQ(changes[1].key, "log_level");
  EXPECT_EQ(changes[1].old_value, "info");
  EXPECT_EQ(changes[1].new_value, "debug5");
  EXPECT_TRUE(changes[1].reloadable);
  EXPECT_EQ(changes[2].key, "server.primary.port");
  EXPECT_EQ(changes[2].old_value, "5432");
  EXPECT_EQ(changes[2].new_value, "5433");
  EXPECT_FALSE(changes[2].reloadable);
  EXPECT_EQ(changes[3].key, "server.standby");
  EXPECT_EQ(changes[3].old_value, "");
  EXPECT_EQ(changes[3].new_value, "db4:5432");
  EXPECT_TRUE(changes[3].reloadable);
  EXPECT_EQ(changes[4].key, "server.replica");
  EXPECT_EQ(changes[4].old_value, "db2:5432");
  EXPECT_EQ(changes[4].new_value, "");
  EXPECT_FALSE(changes[4].reloadable);
  EXPECT_TRUE(diff(fresh, fresh).empty());
}

TEST(PlanReload, AppliesLiveKeysAndKeepsRestartKeys) {
  Config running = basic();
  Config fresh = load(
      "[pgquay]\nport = 2346\nlog_level = debug\nblocking_timeout = 1\n"
      "[primary]\nhost = db1\nport = 5433\n[standby]\nhost = db4\n");
  auto plan = plan_reload(running, fresh);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->config.main.port, running.main.port);
  EXPECT_EQ(plan->config.main.log_level, log::Level::debug);
  EXPECT_EQ(plan->config.main.blocking_timeout, std::chrono::seconds(1));
  ASSERT_EQ(plan->applied.size(), 2u);
  EXPECT_EQ(plan->applied[0].key, "log_level");
  EXPECT_EQ(plan->applied[1].key, "blocking_timeout");
  // port, and every server change (even an added server): restart.
  ASSERT_EQ(plan->restart_required.size(), 4u);
  EXPECT_EQ(plan->restart_required[0].key, "port");
  for (const auto& change : plan->restart_required) EXPECT_FALSE(change.reloadable);
  EXPECT_EQ(plan->config.servers.size(), running.servers.size());
  EXPECT_TRUE(diff(running, plan->config).size() == 2u);
}

TEST(PlanReload, NothingChangedIsAnEmptyPlan) {
  Config running = basic();
  auto plan = plan_reload(running, running);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->applied.empty());
  EXPECT_TRUE(plan->restart_required.empty());
}

TEST(Validate, ConfigBuiltInCode) {
  Config c;
  auto r = validate(c);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "pgquay.conf: no server section: add one, e.g. [primary] with host = localhost and "
            "port = 5432");
  ServerConfig s;
  s.name = "pg";
  s.host = "localhost";
  c.servers.push_back(s);
  EXPECT_TRUE(validate(c));
}

TEST(Derived, Values) {
  MainConfig m;
  EXPECT_EQ(effective_pidfile(m), "/tmp/pgquay.2345.pid");
  m.pidfile = "/run/pgquay.pid";
  EXPECT_EQ(effective_pidfile(m), "/run/pgquay.pid");

  EXPECT_EQ(effective_backlog(m), 25);  // max_connections 100 / 4
  m.max_connections = 10;
  EXPECT_EQ(effective_backlog(m), 16);
  m.backlog = 4;
  EXPECT_EQ(effective_backlog(m), 16);
  m.backlog = 512;
  EXPECT_EQ(effective_backlog(m), 512);

  EXPECT_EQ(effective_prefork_workers(m, 2), 4);
  EXPECT_EQ(effective_prefork_workers(m, 64), 16);
  EXPECT_EQ(effective_prefork_workers(m, 0), 2);
  m.prefork_workers = -1;
  EXPECT_EQ(effective_prefork_workers(m, 8), 0);
  m.prefork_workers = 3;
  EXPECT_EQ(effective_prefork_workers(m, 8), 3);

  EXPECT_EQ(effective_pipeline(m), Pipeline::performance);
  m.disconnect_client = 60s;
  EXPECT_EQ(effective_pipeline(m), Pipeline::session);
  m.pipeline = Pipeline::transaction;
  EXPECT_EQ(effective_pipeline(m), Pipeline::transaction);
}

}  // namespace
}  // namespace pgquay::config
