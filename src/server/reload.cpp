// Reload without downtime: SIGHUP / `conf reload` and `conf set`. Every file is read and checked
// before anything is applied; the running configuration is then replaced in the main process.
// Workers take the new values when they are forked: the cached idle workers are replaced, and a
// busy worker finishes its current session with the values it was forked with, then exits
// instead of going back to the cache.
#include <fcntl.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "pgquay/common/log.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/server/server.hpp"

namespace pgquay::server {

using management::Json;

namespace {

Json changes_json(const std::vector<config::KeyChange>& changes) {
  Json out = Json::array();
  for (const auto& change : changes) {
    out.push_back(Json{{"key", change.key}, {"old", change.old_value}, {"new", change.new_value}});
  }
  return out;
}

// log_type = file: a changed log_path or log_mode opens the new file; the old one is closed.
// On failure the old file stays in use (reported, the reload still succeeds).
void reopen_log(const config::MainConfig& old_main, const config::MainConfig& new_main) {
  if (new_main.log_type != config::LogType::file || new_main.log_path.empty()) return;
  if (old_main.log_type == new_main.log_type && old_main.log_path == new_main.log_path &&
      old_main.log_mode == new_main.log_mode) {
    return;
  }
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (new_main.log_mode == config::LogMode::create) flags = (flags & ~O_APPEND) | O_TRUNC;
  int fd = ::open(new_main.log_path.c_str(), flags, 0640);
  if (fd < 0) {
    PGQ_ERROR("reload: could not open log file %s; still logging to the old one",
              new_main.log_path.c_str());
    return;
  }
  int old_fd = log::output_fd();
  log::set_output_fd(fd);
  if (old_fd > STDERR_FILENO) ::close(old_fd);
}

}  // namespace

void Server::apply_config(config::Config next) {
  reopen_log(context_.config.main, next.main);
  std::string path = context_.config.path;
  context_.config = std::move(next);
  context_.config.path = std::move(path);
  log::set_level(context_.config.main.log_level);
  ++generation_;
  cache_target_ =
      config::effective_prefork_workers(context_.config.main, std::thread::hardware_concurrency());
  // Cached workers were forked with the old values: replace them.
  for (pid_t pid : idle_workers_) {
    auto it = workers_.find(pid);
    if (it != workers_.end()) {
      it->second.idle = false;
      tell_worker_to_exit(it->second);
    }
  }
  idle_workers_.clear();
  if (!graceful_) schedule_refill();
}

Result<Json> Server::reload() {
  auto refuse = [this](const Error& error) -> Result<Json> {
    context_.shared->stats.reload_failures.fetch_add(1);
    PGQ_ERROR("reload: %s; nothing was changed", error.message.c_str());
    return Unexpected(error);
  };
  auto main_config = config::load_main_config(context_.config.path);
  if (!main_config) return refuse(main_config.error());
  auto plan = config::plan_reload(context_.config, *main_config);
  if (!plan) return refuse(plan.error());
  auto hba = config::load_hba_file(context_.hba_path);
  if (!hba) return refuse(hba.error());
  config::DatabasesConfig databases;
  if (!context_.databases_path.empty()) {
    auto loaded = config::load_databases_file(context_.databases_path);
    if (!loaded) return refuse(loaded.error());
    databases = std::move(*loaded);
    auto sized = config::resolve_sizes(databases.limits, plan->config.main.max_connections,
                                       context_.databases_path);
    if (!sized) return refuse(sized.error());
  }
  auto credentials = security::Credentials::load(context_.credential_files, context_.home,
                                                 context_.credentials.secret());
  if (!credentials) return refuse(credentials.error());

  // Everything read and checked: apply.
  context_.hba = std::move(*hba);
  context_.databases = std::move(databases);
  context_.credentials = std::move(*credentials);
  std::vector<std::string> warnings = plan->config.warnings;
  apply_config(std::move(plan->config));
  context_.shared->stats.reloads.fetch_add(1);

  Json applied = Json::array({context_.config.path, context_.hba_path});
  if (!context_.databases_path.empty()) applied.push_back(context_.databases_path);
  for (const auto& change : plan->applied) {
    PGQ_INFO("reload: %s changed from '%s' to '%s'", change.key.c_str(), change.old_value.c_str(),
             change.new_value.c_str());
  }
  if (!plan->restart_required.empty()) {
    std::string keys;
    for (const auto& change : plan->restart_required) {
      keys += (keys.empty() ? "" : ", ") + change.key + " ('" + change.old_value + "' -> '" +
              change.new_value + "')";
    }
    PGQ_WARN("reload: %s: restart required for %s; the old value(s) stay in effect until then",
             context_.config.path.c_str(), keys.c_str());
  }
  for (const auto& warning : warnings) PGQ_WARN("reload: %s", warning.c_str());
  PGQ_INFO("reload: %s, %s%s%s reloaded (%zu key(s) applied, %zu hba rules)",
           context_.config.path.c_str(), context_.hba_path.c_str(),
           context_.databases_path.empty() ? "" : " and ", context_.databases_path.c_str(),
           plan->applied.size(), context_.hba.size());
  if (context_.credential_files.any()) {
    PGQ_INFO("reload: credentials reloaded (%zu user(s), %zu frontend user(s), %zu admin(s))",
             context_.credentials.user_count(), context_.credentials.frontend_user_count(),
             context_.credentials.admins().size());
  }
  return Json{{"applied", std::move(applied)},
              {"changed", changes_json(plan->applied)},
              {"hba_rules", context_.hba.size()},
              {"limits", context_.databases.limits.size()},
              {"restart_required", changes_json(plan->restart_required)},
              {"warnings", std::move(warnings)}};
}

Result<Json> Server::set_key(const std::string& key, const std::string& value) {
  auto reloadable = config::is_reloadable(key);
  if (!reloadable) return fail("conf set: unknown configuration key \"" + key + "\"");
  if (!*reloadable || key.starts_with("server.")) {
    return fail("conf set: " + key +
                " takes effect only after a restart: change it in pgquay.conf and restart "
                "pgquay");
  }
  config::Config next = context_.config;
  if (auto ok = config::set_value(next, key, value); !ok) {
    return fail("conf set: " + ok.error().message);
  }
  std::string old_value = config::get_value(context_.config, key).value_or("");
  std::string new_value = config::get_value(next, key).value_or("");
  apply_config(std::move(next));
  PGQ_INFO("management: conf set %s: changed from '%s' to '%s' (in memory only)", key.c_str(),
           old_value.c_str(), new_value.c_str());
  return Json{{"key", key},
              {"old", old_value},
              {"new", new_value},
              {"persistent", false},
              {"note",
               "applied in memory only; pgquay.conf is unchanged, so a reload or "
               "restart goes back to the file's value"}};
}

}  // namespace pgquay::server
