// pgquay: the pooler's entry point. Reads the files, becomes a daemon if asked, creates the
// shared memory and the main loop, runs the main process — and, in a forked worker, the worker.
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include "pgquay/build_config.hpp"
#include "pgquay/common/log.hpp"
#include "pgquay/common/process.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/ev/loop.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/security/credentials.hpp"
#include "pgquay/security/master_key.hpp"
#include "pgquay/server/server.hpp"
#include "pgquay/worker/worker.hpp"

namespace {

using namespace pgquay;

struct Options {
  std::string config_path = PGQUAY_SYSCONFDIR "/pgquay.conf";
  std::string hba_path = PGQUAY_SYSCONFDIR "/pgquay_hba.conf";
  std::string databases_path;
  security::CredentialFiles credentials;
  bool daemon = false;
};

void usage(FILE* out) {
  std::fprintf(out,
               "pgquay %s: a pre-forking connection pooler for PostgreSQL\n\n"
               "Usage: pgquay [-c pgquay.conf] [-a pgquay_hba.conf] [-l pgquay_databases.conf]\n"
               "              [-u pgquay_users.conf] [-F pgquay_frontend_users.conf]\n"
               "              [-A pgquay_admins.conf] [-d]\n\n"
               "  -c, --config FILE          main configuration (default %s/pgquay.conf)\n"
               "  -a, --hba FILE             client access rules (default %s/pgquay_hba.conf)\n"
               "  -l, --limit FILE           per database/user limits (optional)\n"
               "  -u, --users FILE           passwords for PostgreSQL and clients (optional)\n"
               "  -F, --frontend-users FILE  passwords clients give pgquay (optional)\n"
               "  -A, --admins FILE          management users (optional)\n"
               "  -d, --daemon               run in the background\n"
               "  -V, --version              print the version\n"
               "  -?, --help                 this text\n\n"
               "The optional files are read from %s when they exist there and are not given.\n"
               "Users files are decrypted with ~/.pgquay/master.key (or ~/.pgagroal/master.key).\n",
               PGQUAY_VERSION, PGQUAY_SYSCONFDIR, PGQUAY_SYSCONFDIR, PGQUAY_SYSCONFDIR);
}

std::optional<Options> parse_arguments(int argc, char** argv) {
  static const option long_options[] = {{"config", required_argument, nullptr, 'c'},
                                        {"hba", required_argument, nullptr, 'a'},
                                        {"limit", required_argument, nullptr, 'l'},
                                        {"users", required_argument, nullptr, 'u'},
                                        {"frontend-users", required_argument, nullptr, 'F'},
                                        {"admins", required_argument, nullptr, 'A'},
                                        {"daemon", no_argument, nullptr, 'd'},
                                        {"version", no_argument, nullptr, 'V'},
                                        {"help", no_argument, nullptr, '?'},
                                        {nullptr, 0, nullptr, 0}};
  Options options;
  int c;
  while ((c = getopt_long(argc, argv, "c:a:l:u:F:A:dV?", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        options.config_path = optarg;
        break;
      case 'a':
        options.hba_path = optarg;
        break;
      case 'l':
        options.databases_path = optarg;
        break;
      case 'u':
        options.credentials.users = optarg;
        break;
      case 'F':
        options.credentials.frontend_users = optarg;
        break;
      case 'A':
        options.credentials.admins = optarg;
        break;
      case 'd':
        options.daemon = true;
        break;
      case 'V':
        std::printf("pgquay %s\n", PGQUAY_VERSION);
        std::exit(0);
      case '?':
        usage(optopt ? stderr : stdout);
        std::exit(optopt ? 2 : 0);
      default:
        usage(stderr);
        std::exit(2);
    }
  }
  // Like the other files, the optional ones have a default location; there they are optional
  // (as in pgagroal), while a file named on the command line must exist.
  auto fallback = [](std::string& path, const char* name) {
    if (!path.empty()) return;
    std::string candidate = std::string(PGQUAY_SYSCONFDIR "/") + name;
    if (::access(candidate.c_str(), F_OK) == 0) path = candidate;
  };
  fallback(options.databases_path, "pgquay_databases.conf");
  fallback(options.credentials.users, "pgquay_users.conf");
  fallback(options.credentials.frontend_users, "pgquay_frontend_users.conf");
  fallback(options.credentials.admins, "pgquay_admins.conf");
  if (optind < argc) {
    std::fprintf(stderr, "pgquay: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return std::nullopt;
  }
  return options;
}

Result<worker::Context> load_files(const Options& options) {
  worker::Context context;
  context.hba_path = options.hba_path;
  context.databases_path = options.databases_path;
  context.credential_files = options.credentials;
  auto config = config::load_main_config(options.config_path);
  if (!config) return Unexpected(config.error());
  context.config = std::move(*config);
  for (const auto& warning : context.config.warnings) PGQ_WARN("%s", warning.c_str());
  auto hba = config::load_hba_file(options.hba_path);
  if (!hba) return Unexpected(hba.error());
  context.hba = std::move(*hba);
  if (!options.databases_path.empty()) {
    auto databases = config::load_databases_file(options.databases_path);
    if (!databases) return Unexpected(databases.error());
    context.databases = std::move(*databases);
    for (const auto& warning : context.databases.warnings) PGQ_WARN("%s", warning.c_str());
    auto sized = config::resolve_sizes(context.databases.limits,
                                       context.config.main.max_connections, options.databases_path);
    if (!sized) return Unexpected(sized.error());
  }
  if (context.credential_files.any()) {
    auto home = security::home_directory();
    if (!home) return Unexpected(home.error());
    context.home = std::move(*home);
  }
  auto secret = security::Credentials::make_secret();
  if (!secret) return Unexpected(secret.error());
  auto credentials = security::Credentials::load(context.credential_files, context.home, *secret);
  if (!credentials) return Unexpected(credentials.error());
  context.credentials = std::move(*credentials);
  return context;
}

Result<void> fill_servers(const config::Config& config, pool::SharedState& shared) {
  if (config.servers.size() > pool::kMaxServers)
    return fail("too many server sections (at most " + std::to_string(pool::kMaxServers) + ")");
  for (size_t i = 0; i < config.servers.size(); ++i) {
    const auto& server = config.servers[i];
    auto addresses = net::resolve(server.host, server.port);
    if (!addresses) return Unexpected(addresses.error());
    if (addresses->empty())
      return fail("server " + server.name + ": no address for " + server.host);
    pool::ServerEntry& entry = shared.servers[i];
    pool::copy_name(entry.name, server.name);
    std::snprintf(entry.host, sizeof(entry.host), "%s", server.host.c_str());
    entry.port = server.port;
    entry.primary = server.primary;
    entry.address = addresses->front().storage;
    entry.address_length = addresses->front().length;
  }
  shared.server_count = static_cast<int32_t>(config.servers.size());
  return {};
}

Result<void> open_log(const config::MainConfig& main) {
  log::set_level(main.log_level);
  if (main.log_type == config::LogType::file && !main.log_path.empty()) {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (main.log_mode == config::LogMode::create) flags = (flags & ~O_APPEND) | O_TRUNC;
    int fd = ::open(main.log_path.c_str(), flags, 0640);
    if (fd < 0) return fail_errno("could not open log file " + main.log_path);
    log::set_output_fd(fd);  // kept open for the life of the process
  }
  return {};
}

Result<void> daemonize() {
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("fork");
  if (pid > 0) std::_Exit(0);
  if (::setsid() < 0) return fail_errno("setsid");
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
  return {};
}

ev::BackendKind to_backend_kind(config::EvBackend backend) {
  switch (backend) {
    case config::EvBackend::io_uring:
      return ev::BackendKind::io_uring;
    case config::EvBackend::epoll:
      return ev::BackendKind::epoll;
    case config::EvBackend::kqueue:
      return ev::BackendKind::kqueue;
    case config::EvBackend::automatic:
      break;
  }
  return ev::BackendKind::automatic;
}

int fail_startup(const Error& error) {
  PGQ_FATAL("%s", error.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  process::init_title(argc, argv);
  auto options = parse_arguments(argc, argv);
  if (!options) return 2;
  // A client that vanishes must not kill the process that writes to it.
  ::signal(SIGPIPE, SIG_IGN);

  auto context = load_files(*options);
  if (!context) return fail_startup(context.error());
  if (auto ok = open_log(context->config.main); !ok) return fail_startup(ok.error());
  if (context->credential_files.any()) {
    PGQ_INFO("credentials: %zu user(s), %zu frontend user(s), %zu admin(s)",
             context->credentials.user_count(), context->credentials.frontend_user_count(),
             context->credentials.admins().size());
  }
  if (options->daemon) {
    if (auto ok = daemonize(); !ok) return fail_startup(ok.error());
  }
  auto segment = pool::SharedSegment::create(context->config.main.max_connections);
  if (!segment) return fail_startup(segment.error());
  context->shared = &segment->state();
  if (auto ok = fill_servers(context->config, *context->shared); !ok)
    return fail_startup(ok.error());

  auto loop = ev::Loop::create(to_backend_kind(context->config.main.ev_backend));
  if (!loop) return fail_startup(loop.error());

  std::optional<worker::WorkerStart> worker_start;
  {
    server::Server server(**loop, *context);
    if (auto ok = server.start(); !ok) return fail_startup(ok.error());
    if (auto ok = server.run(worker_start); !ok) return fail_startup(ok.error());
  }
  if (!worker_start) {
    PGQ_INFO("pgquay stopped");
    return 0;
  }
  // A worker: drop everything inherited from the main process that the Server did not own.
  std::vector<int> keep = (*loop)->descriptors();
  keep.insert(keep.end(), {worker_start->control.get(), log::output_fd()});
  if (worker_start->client) keep.push_back(worker_start->client->client.get());
  process::close_inherited_fds(keep);
  return worker::run_worker(**loop, *context, std::move(*worker_start));
}
