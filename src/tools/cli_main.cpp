// pgquay-cli: sends one management command to a running pgquay over its Unix socket and prints
// the answer. Exit status: 0 success, 1 pgquay answered with an error, 2 pgquay could not be
// reached (or the command line was wrong).
#include <getopt.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cli_text.hpp"
#include "pgquay/build_config.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/management/client.hpp"
#include "pgquay/management/protocol.hpp"

namespace {

using namespace pgquay;
using management::Json;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUnreachable = 2;

struct Options {
  std::string config_path = PGQUAY_SYSCONFDIR "/pgquay.conf";
  bool config_given = false;
  std::optional<std::string> socket_dir;
  std::optional<int> port;
  bool json = false;
  int timeout_seconds = 30;
  std::vector<std::string> words;
};

void usage(FILE* out) {
  std::fprintf(
      out,
      "pgquay-cli %s: manage a running pgquay\n\n"
      "Usage: pgquay-cli [-c pgquay.conf] [-s socket_dir -p port] [-F text|json] COMMAND\n\n"
      "Options:\n"
      "  -c, --config FILE      find the socket from unix_socket_dir and port (default %s/"
      "pgquay.conf)\n"
      "  -s, --socket-dir DIR   the unix_socket_dir of pgquay (overrides the file)\n"
      "  -p, --port PORT        the port of pgquay (overrides the file)\n"
      "  -F, --format FORMAT    text (default) or json\n"
      "  -t, --timeout SECONDS  give up waiting for an answer (default 30)\n"
      "  -V, --version          print the version\n"
      "  -?, --help             this text\n\n"
      "Commands:\n"
      "  ping                                   is pgquay running?\n"
      "  status [details]                       pool, clients, workers (details: every "
      "connection)\n"
      "  conf ls | conf get [KEY] | conf reload configuration in effect; reload files\n"
      "  conf set KEY VALUE                     change a live key in memory (not in the file)\n"
      "  flush [idle|gracefully|all] [DB|*]     close pooled connections (default gracefully "
      "*)\n"
      "  enable [DB|*] | disable [DB|*]         accept or refuse new clients of a database\n"
      "  shutdown [gracefully|immediate|cancel] stop pgquay (default gracefully)\n"
      "  clear prometheus                       reset the metrics counters\n\n"
      "Exit status: 0 success, 1 pgquay reported an error, 2 pgquay could not be reached or a\n"
      "bad command line.\n",
      PGQUAY_VERSION, PGQUAY_SYSCONFDIR);
}

int bad_usage(const std::string& message) {
  std::fprintf(stderr, "pgquay-cli: %s\nTry pgquay-cli --help.\n", message.c_str());
  return kExitUnreachable;
}

std::optional<int> parse_number(const char* text, int min, int max) {
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) return std::nullopt;
  return static_cast<int>(value);
}

// The protocol request for the command words, or an error message for a bad command line.
Result<Json> build_request(const std::vector<std::string>& words) {
  if (words.empty()) return fail("no command given");
  const std::string& verb = words[0];
  auto arg = [&](size_t i) { return i < words.size() ? words[i] : std::string(); };
  auto at_most = [&](size_t n) -> Result<void> {
    if (words.size() > n) return fail("too many arguments for " + verb);
    return {};
  };
  Json args = Json::object();
  std::string command = verb;
  if (verb == "ping" || (verb == "status" && words.size() == 1)) {
    if (auto ok = at_most(1); !ok) return Unexpected(ok.error());
  } else if (verb == "status") {
    if (arg(1) != "details") return fail("status takes no argument but 'details'");
    if (auto ok = at_most(2); !ok) return Unexpected(ok.error());
    command = "status details";
  } else if (verb == "conf") {
    std::string sub = arg(1);
    if (sub == "ls" || sub == "reload") {
      if (auto ok = at_most(2); !ok) return Unexpected(ok.error());
    } else if (sub == "set") {
      if (words.size() != 4) return fail("conf set needs KEY VALUE");
      args["key"] = words[2];
      args["value"] = words[3];
    } else if (sub == "get") {
      if (auto ok = at_most(3); !ok) return Unexpected(ok.error());
      if (words.size() == 3) args["key"] = words[2];
    } else {
      return fail("conf needs ls, get [KEY], set KEY VALUE or reload");
    }
    command = "conf " + sub;
  } else if (verb == "flush") {
    if (auto ok = at_most(3); !ok) return Unexpected(ok.error());
    size_t next = 1;
    std::string mode = arg(1);
    if (mode == "idle" || mode == "gracefully" || mode == "all") {
      args["mode"] = mode;
      next = 2;
    } else if (words.size() == 3) {
      return fail("flush: unknown mode '" + mode + "' (idle, gracefully or all)");
    }
    if (next < words.size()) args["database"] = words[next];
  } else if (verb == "enable" || verb == "disable") {
    if (auto ok = at_most(2); !ok) return Unexpected(ok.error());
    if (words.size() == 2) args["database"] = words[1];
  } else if (verb == "shutdown") {
    if (auto ok = at_most(2); !ok) return Unexpected(ok.error());
    if (words.size() == 2) {
      if (words[1] != "gracefully" && words[1] != "immediate" && words[1] != "cancel")
        return fail("shutdown: unknown mode '" + words[1] + "' (gracefully, immediate or cancel)");
      args["mode"] = words[1];
    }
  } else if (verb == "clear") {
    if (arg(1) != "prometheus") return fail("clear needs 'prometheus'");
    if (auto ok = at_most(2); !ok) return Unexpected(ok.error());
    command = "clear prometheus";
  } else {
    return fail("unknown command '" + verb + "'");
  }
  return management::make_request(command, std::move(args));
}

std::optional<Options> parse_arguments(int argc, char** argv, int* exit_code) {
  static const option long_options[] = {
      {"config", required_argument, nullptr, 'c'},  {"socket-dir", required_argument, nullptr, 's'},
      {"port", required_argument, nullptr, 'p'},    {"format", required_argument, nullptr, 'F'},
      {"timeout", required_argument, nullptr, 't'}, {"version", no_argument, nullptr, 'V'},
      {"help", no_argument, nullptr, '?'},          {nullptr, 0, nullptr, 0}};
  Options options;
  int c;
  // '+': stop at the first non-option, so command words are never taken for options.
  while ((c = getopt_long(argc, argv, "+c:s:p:F:t:V?", long_options, nullptr)) != -1) {
    switch (c) {
      case 'c':
        options.config_path = optarg;
        options.config_given = true;
        break;
      case 's':
        options.socket_dir = optarg;
        break;
      case 'p':
        options.port = parse_number(optarg, 1, 65535);
        if (!options.port) {
          *exit_code = bad_usage(std::string("bad port '") + optarg + "'");
          return std::nullopt;
        }
        break;
      case 'F':
        if (std::string_view(optarg) == "json") {
          options.json = true;
        } else if (std::string_view(optarg) != "text") {
          *exit_code = bad_usage(std::string("bad format '") + optarg + "' (text or json)");
          return std::nullopt;
        }
        break;
      case 't': {
        auto seconds = parse_number(optarg, 1, 86400);
        if (!seconds) {
          *exit_code = bad_usage(std::string("bad timeout '") + optarg + "'");
          return std::nullopt;
        }
        options.timeout_seconds = *seconds;
        break;
      }
      case 'V':
        std::printf("pgquay-cli %s\n", PGQUAY_VERSION);
        *exit_code = kExitOk;
        return std::nullopt;
      case '?':
        usage(optopt ? stderr : stdout);
        *exit_code = optopt ? kExitUnreachable : kExitOk;
        return std::nullopt;
      default:
        usage(stderr);
        *exit_code = kExitUnreachable;
        return std::nullopt;
    }
  }
  for (int i = optind; i < argc; ++i) options.words.emplace_back(argv[i]);
  return options;
}

// pgquay.conf's unix_socket_dir and port, each overridden by -s / -p.
Result<std::string> find_socket(const Options& options) {
  if (options.socket_dir && options.port)
    return management::socket_path(*options.socket_dir, *options.port);
  auto config = config::load_main_config(options.config_path);
  if (!config) {
    return fail(config.error().message +
                (options.config_given ? "" : " (give -c pgquay.conf, or -s and -p)"));
  }
  return management::socket_path(options.socket_dir.value_or(config->main.unix_socket_dir),
                                 options.port.value_or(config->main.port));
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = kExitOk;
  auto options = parse_arguments(argc, argv, &exit_code);
  if (!options) return exit_code;
  auto request = build_request(options->words);
  if (!request) return bad_usage(request.error().message);
  auto path = find_socket(*options);
  if (!path) {
    std::fprintf(stderr, "pgquay-cli: %s\n", path.error().message.c_str());
    return kExitUnreachable;
  }
  auto response = management::call(*path, *request, std::chrono::seconds(options->timeout_seconds));
  if (!response) {
    std::fprintf(stderr, "pgquay-cli: %s\n", response.error().message.c_str());
    return kExitUnreachable;
  }
  const std::string command = (*request)["command"].get<std::string>();
  if (options->json) {
    Json document = response->ok ? management::ok_response(response->result)
                                 : management::error_response(response->error);
    std::printf("%s\n", document.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  } else if (response->ok) {
    std::fputs(pgquay::cli::format_text(command, response->result).c_str(), stdout);
  }
  if (!response->ok) {
    std::fprintf(stderr, "pgquay-cli: %s\n", response->error.c_str());
    return kExitError;
  }
  return kExitOk;
}
