// pgquay-admin's command line. Private to the tool.
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <variant>

#include "pgquay/common/result.hpp"

namespace pgquay::admin {

enum class Command { master_key, user_add, user_edit, user_del, user_ls };
enum class Format { text, json };

inline constexpr std::size_t kDefaultLength = 64;
inline constexpr std::size_t kMinLength = 8;
inline constexpr std::size_t kMaxLength = 1024;

struct Options {
  Command command = Command::user_ls;
  std::string users_file;               // -f
  std::string user;                     // -U
  std::optional<std::string> password;  // -P
  bool generate = false;                // -g
  std::size_t length = kDefaultLength;  // -l
  Format format = Format::text;         // -F
};

struct ShowHelp {};
struct ShowVersion {};
using Parsed = std::variant<Options, ShowHelp, ShowVersion>;

// Errors are usage errors (exit status 2): unknown option or command, a missing -f/-U, -l out
// of range, -P together with -g.
Result<Parsed> parse_options(int argc, char** argv);

// "master-key", "user add", ...
const char* command_name(Command command);

void print_usage(std::FILE* out);

}  // namespace pgquay::admin
