#include "options.hpp"

#include <getopt.h>

#include <charconv>
#include <cstdio>
#include <string_view>
#include <vector>

#include "pgquay/build_config.hpp"

namespace pgquay::admin {
namespace {

struct CommandWords {
  std::vector<std::string_view> words;
  Command command;
};

// Our names, then pgagroal-admin's, so its scripts keep working.
const CommandWords kCommands[] = {
    {{"master-key"}, Command::master_key},  {{"user", "add"}, Command::user_add},
    {{"user", "edit"}, Command::user_edit}, {{"user", "del"}, Command::user_del},
    {{"user", "ls"}, Command::user_ls},     {{"add-user"}, Command::user_add},
    {{"update-user"}, Command::user_edit},  {{"remove-user"}, Command::user_del},
    {{"list-users"}, Command::user_ls},
};

std::optional<Command> find_command(const std::vector<std::string_view>& words) {
  for (const auto& candidate : kCommands) {
    if (candidate.words == words) return candidate.command;
  }
  return std::nullopt;
}

}  // namespace

const char* command_name(Command command) {
  switch (command) {
    case Command::master_key:
      return "master-key";
    case Command::user_add:
      return "user add";
    case Command::user_edit:
      return "user edit";
    case Command::user_del:
      return "user del";
    case Command::user_ls:
      return "user ls";
  }
  return "?";
}

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "pgquay-admin %s: master key and users files for pgquay\n\n"
               "Usage: pgquay-admin [-f USERS_FILE] [-U USER] [-P PASSWORD] [-g] [-l LENGTH]\n"
               "                    [-F text|json] COMMAND\n\n"
               "Commands:\n"
               "  master-key   create ~/.pgquay/master.key (key from -P or PGQUAY_PASSWORD,\n"
               "               else generated)\n"
               "  user add     add USER to USERS_FILE (created if missing)\n"
               "  user edit    change USER's password\n"
               "  user del     remove USER\n"
               "  user ls      list the users (never the passwords)\n\n"
               "Options:\n"
               "  -f, --file FILE        the users file (required by the user commands)\n"
               "  -U, --user USER        the user name\n"
               "  -P, --password TEXT    the password or master key (visible to other local\n"
               "                         users in ps; prefer PGQUAY_PASSWORD or the prompt)\n"
               "  -g, --generate         generate the password (printed once)\n"
               "  -l, --length N         length of a generated password or key (%zu..%zu,\n"
               "                         default %zu)\n"
               "  -F, --format FORMAT    output: text (default) or json\n"
               "  -V, --version          print the version\n"
               "  -?, --help             this text\n\n"
               "Password source: -P, else -g, else PGQUAY_PASSWORD, else a prompt on the\n"
               "terminal (twice, without echo).\n"
               "Exit status: 0 success, 1 the command failed, 2 bad command line.\n",
               PGQUAY_VERSION, kMinLength, kMaxLength, kDefaultLength);
}

Result<Parsed> parse_options(int argc, char** argv) {
  static const option long_options[] = {{"file", required_argument, nullptr, 'f'},
                                        {"user", required_argument, nullptr, 'U'},
                                        {"password", required_argument, nullptr, 'P'},
                                        {"generate", no_argument, nullptr, 'g'},
                                        {"length", required_argument, nullptr, 'l'},
                                        {"format", required_argument, nullptr, 'F'},
                                        {"version", no_argument, nullptr, 'V'},
                                        {"help", no_argument, nullptr, '?'},
                                        {nullptr, 0, nullptr, 0}};
  Options options;
  opterr = 0;  // we report problems ourselves, as one line
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":f:U:P:gl:F:V?", long_options, nullptr)) != -1) {
    switch (c) {
      case 'f':
        options.users_file = optarg;
        break;
      case 'U':
        options.user = optarg;
        break;
      case 'P':
        options.password = std::string(optarg);
        break;
      case 'g':
        options.generate = true;
        break;
      case 'l': {
        std::string_view text(optarg);
        std::size_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc{} || end != text.data() + text.size() || value < kMinLength ||
            value > kMaxLength) {
          return fail("-l wants a length from " + std::to_string(kMinLength) + " to " +
                      std::to_string(kMaxLength) + ", not '" + std::string(text) + "'");
        }
        options.length = value;
        break;
      }
      case 'F': {
        std::string_view text(optarg);
        if (text == "text") {
          options.format = Format::text;
        } else if (text == "json") {
          options.format = Format::json;
        } else {
          return fail("-F wants text or json, not '" + std::string(text) + "'");
        }
        break;
      }
      case 'V':
        return ShowVersion{};
      case ':':
        return fail(
            std::string("option ") +
            (optopt != 0 ? std::string("-") + char(optopt) : std::string(argv[optind - 1])) +
            " needs a value");
      case '?': {
        // '?' is both our help option and getopt's answer to an unknown option: optopt holds
        // the unknown short option, or 0 for an unknown long one (then argv names it).
        std::string_view arg = argv[optind - 1];
        if (optopt != 0 && optopt != '?') {
          return fail(std::string("unknown option -") + char(optopt));
        }
        if (optopt == 0 && arg != "--help" && arg != "-?") {
          return fail("unknown option " + std::string(arg));
        }
        return ShowHelp{};
      }
      default:
        return fail("cannot parse the command line");
    }
  }
  std::vector<std::string_view> words(argv + optind, argv + argc);
  if (words.empty()) return fail("no command (try --help)");
  auto command = find_command(words);
  if (!command) {
    std::string joined;
    for (auto w : words) joined += (joined.empty() ? "" : " ") + std::string(w);
    return fail("unknown command '" + joined + "' (try --help)");
  }
  options.command = *command;
  if (options.password && options.generate) return fail("-P and -g exclude each other");
  if (options.command != Command::master_key) {
    if (options.users_file.empty()) {
      return fail(std::string(command_name(options.command)) + " needs -f USERS_FILE");
    }
    if (options.command != Command::user_ls && options.user.empty()) {
      return fail(std::string(command_name(options.command)) + " needs -U USER");
    }
  }
  return options;
}

}  // namespace pgquay::admin
