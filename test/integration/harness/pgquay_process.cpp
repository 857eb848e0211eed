#include "harness/pgquay_process.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "harness/ports.hpp"
#include "harness/postgres_server.hpp"
#include "pgquay/security/master_key.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string substitute_dir(std::string text, const std::string& dir) {
  static constexpr std::string_view kPlaceholder = "@DIR@";
  for (auto pos = text.find(kPlaceholder); pos != std::string::npos;
       pos = text.find(kPlaceholder, pos + dir.size()))
    text.replace(pos, kPlaceholder.size(), dir);
  return text;
}

Result<std::string> binary_path(const PgquayOptions& options) {
  if (!options.binary.empty()) return options.binary;
  const char* env = std::getenv("PGQUAY_BIN");
  if (env == nullptr || *env == '\0')
    return fail(
        "PGQUAY_BIN is not set: test/integration/meson.build sets it once the pgquay "
        "executable target (pgquay_exe) exists");
  return std::string(env);
}

}  // namespace

std::string basic_pgquay_conf(int port, const PostgresServer& postgres, std::string_view extra) {
  std::string conf =
      "[pgquay]\n"
      "host = 127.0.0.1\n"
      "port = " +
      std::to_string(port) +
      "\n"
      "unix_socket_dir = @DIR@\n"
      "log_type = file\n"
      "log_path = @DIR@/pgquay.log\n"
      "log_level = info\n";
  conf += extra;
  if (!conf.ends_with('\n')) conf += '\n';
  conf += "\n[primary]\nhost = " + postgres.host() + "\nport = " + std::to_string(postgres.port()) +
          "\n";
  return conf;
}

std::string pass_through_hba() {
  return "host all all all all\n";
}

PgquayProcess::PgquayProcess(Key /*key*/, TempDir dir, int port)
    : dir_(std::move(dir)), port_(port) {}

PgquayProcess::~PgquayProcess() {
  stop();
}

Result<std::unique_ptr<PgquayProcess>> PgquayProcess::start(PgquayOptions options) {
  auto binary = binary_path(options);
  if (!binary) return Unexpected(binary.error());
  if (options.port <= 0) return fail("PgquayOptions::port must be set (see free_port())");
  std::optional<RunAs> run_as;
  if (options.drop_root) {
    auto user = unprivileged_user_if_root();
    if (!user) return Unexpected(user.error());
    run_as = *user;
  }
  TempDir::remove_abandoned("pgquay-run-");
  auto dir = TempDir::create("pgquay-run-");
  if (!dir) return Unexpected(dir.error());
  if (run_as) {
    if (auto owned = dir->chown_to(run_as->uid, run_as->gid); !owned)
      return Unexpected(owned.error());
  }

  SpawnOptions spawn;
  spawn.argv = {*binary};
  auto add_file = [&](std::string_view flag, std::string_view name,
                      const std::string& text) -> Result<void> {
    const std::string path = dir->file(name);
    if (auto r = write_file(path, substitute_dir(text, dir->path())); !r) return r;
    spawn.argv.emplace_back(flag);
    spawn.argv.push_back(path);
    return {};
  };
  if (auto r = add_file("-c", "pgquay.conf", options.conf); !r) return Unexpected(r.error());
  if (auto r = add_file("-a", "pgquay_hba.conf", options.hba); !r) return Unexpected(r.error());
  if (!options.databases.empty()) {
    if (auto r = add_file("-l", "pgquay_databases.conf", options.databases); !r)
      return Unexpected(r.error());
  }
  auto give = [&](const std::string& path) -> Result<void> {
    if (run_as && ::chown(path.c_str(), run_as->uid, run_as->gid) != 0)
      return fail_errno("chown " + path);
    return {};
  };
  auto add_users_file = [&](std::string_view flag, std::string_view name,
                            const std::string& text) -> Result<void> {
    if (text.empty()) return {};
    if (auto r = add_file(flag, name, text); !r) return r;
    const std::string path = dir->file(name);
    if (::chmod(path.c_str(), options.users_mode) != 0) return fail_errno("chmod " + path);
    return give(path);
  };
  if (auto r = add_users_file("-u", "pgquay_users.conf", options.users); !r)
    return Unexpected(r.error());
  if (auto r = add_users_file("-F", "pgquay_frontend_users.conf", options.frontend_users); !r)
    return Unexpected(r.error());
  if (auto r = add_users_file("-A", "pgquay_admins.conf", options.admins); !r)
    return Unexpected(r.error());
  if (!options.master_key.empty()) {
    auto path = security::create_master_key(dir->path(), options.master_key);
    if (!path) return Unexpected(path.error());
    if (auto r = give(security::master_key_directory(dir->path(), security::KeySource::pgquay)); !r)
      return Unexpected(r.error());
    if (auto r = give(*path); !r) return Unexpected(r.error());
  }
  for (auto& arg : options.extra_args) spawn.argv.push_back(std::move(arg));
  spawn.env = std::move(options.env);
  if (std::ranges::none_of(spawn.env, [](const std::string& e) { return e.starts_with("HOME="); }))
    spawn.env.push_back("HOME=" + dir->path());
  spawn.output_path = dir->file("pgquay.out");
  spawn.run_as = run_as;
  // SIGKILL, not SIGTERM: a test that died must not leave a (possibly hung) pooler behind; its
  // workers lose their clients with the test and exit on their own.
  spawn.parent_death_signal = SIGKILL;

  auto process = std::make_unique<PgquayProcess>(Key{}, std::move(*dir), options.port);
  auto child = ChildProcess::spawn(spawn);
  if (!child) return Unexpected(child.error());
  process->child_.emplace(std::move(*child));
  if (auto ready = process->wait_ready(options.ready_timeout); !ready) {
    process->stop(2s);
    return fail(ready.error().message + "; pgquay output:\n" + tail_lines(process->log_text(), 40));
  }
  return process;
}

Result<void> PgquayProcess::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!child_->running())
      return fail("pgquay " + describe_wait_status(child_->wait_status().value_or(0)) +
                  " before listening on 127.0.0.1:" + std::to_string(port_));
    if (port_accepts(host(), port_)) return {};
    std::this_thread::sleep_for(20ms);
  }
  return fail("pgquay did not accept connections on 127.0.0.1:" + std::to_string(port_) +
              " within " + std::to_string(timeout.count()) + " ms");
}

std::string PgquayProcess::log_text() const {
  std::string text;
  if (auto out = read_file(dir_.file("pgquay.out")); out) text += *out;
  if (auto log = read_file(dir_.file("pgquay.log")); log) {
    if (!text.empty() && !text.ends_with('\n')) text += '\n';
    text += *log;
  }
  return text;
}

int PgquayProcess::stop(std::chrono::milliseconds grace) {
  if (!child_) return 0;
  return child_->stop(SIGTERM, grace);
}

}  // namespace pgquay::test
