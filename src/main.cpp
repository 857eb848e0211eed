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
#include "pgquay/server/server.hpp"
#include "pgquay/worker/worker.hpp"

namespace {

using namespace pgquay;

struct Options {
  std::string config_path = PGQUAY_SYSCONFDIR "/pgquay.conf";
  std::string hba_path = PGQUAY_SYSCONFDIR "/pgquay_hba.conf";
  std::string databases_path;
  bool daemon = false;
};

void usage(FILE* out) {
  std::fprintf(out,
               "pgquay %s: a pre-forking connection pooler for PostgreSQL\n\n"
               "Usage: pgquay [-c pgquay.conf] [-a pgquay_hba.conf] [-l pgquay_databases.conf] "
               "[-d]\n\n"
               "  -c, --config FILE      main configuration (default %s/pgquay.conf)\n"
               "  -a, --hba FILE         client access rules (default %s/pgquay_hba.conf)\n"
               "  -l, --limit FILE       per database/user limits (optional)\n"
               "  -d, --daemon           run in the background\n"
               "  -V, --version          print the version\n"
               "  -?, --help             this text\n",
               PGQUAY_VERSION, PGQUAY_SYSCONFDIR, PGQUAY_SYSCONFDIR);
}

std::optional<Options> parse_arguments(int argc, char** argv) {
  static const option long_options[] = {{"config", required_argument, nullptr, 'c'},
                                        {"hba", required_argument, nullptr, 'a'},
                                        {"limit", required_argument, nullptr, 'l'},
                                        {"daemon", no_argument, nullptr, 'd'},
                                        {"version", no_argument, nullptr, 'V'},
                                        {"help", no_argument, nullptr, '?'},
                                        {nullptr, 0, nullptr, 0}};
  Options options;
  int c;
  while ((c = getopt_long(argc, argv, "c:a:l:dV?", long_options, nullptr)) != -1) {
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
  if (options.databases_path.empty()) {
    // Like the other files, the limits file has a default location; there it is optional.
    std::string fallback = PGQUAY_SYSCONFDIR "/pgquay_databases.conf";
    if (::access(fallback.c_str(), F_OK) == 0) options.databases_path = fallback;
  }
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
