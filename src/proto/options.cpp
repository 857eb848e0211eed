#include "pgquay/proto/options.hpp"

namespace pgquay::proto {

namespace {

// PostgreSQL's isspace() in the C locale.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// pg_split_opts: words separated by unescaped whitespace; a backslash escapes the next byte and a
// trailing lone backslash disappears.
std::vector<std::string> split_options(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  for (;;) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i == text.size()) break;
    std::string word;
    bool escaped = false;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (!escaped && is_space(c)) break;
      if (!escaped && c == '\\') {
        escaped = true;
      } else {
        escaped = false;
        word.push_back(c);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

ProtoError invalid_argument(std::string_view word) {
  return ProtoError{std::string(sqlstate::kSyntaxError),
                    "invalid command-line argument for server process: " + std::string(word),
                    {},
                    "Try \"postgres --help\" for more information."};
}

// Switch letters of the backend's getopt string ("B:bc:C:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:")
// other than c: valid for PostgreSQL, not translated here.
bool is_other_backend_switch(char c) {
  return std::string_view("BbCDdEeFfhijklNnOPprSsTtvW").find(c) != std::string_view::npos;
}

}  // namespace

ProtoResult<std::vector<std::pair<std::string, std::string>>> parse_startup_options(
    std::string_view options) {
  const std::vector<std::string> words = split_options(options);
  std::vector<std::pair<std::string, std::string>> settings;
  bool switches_ended = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (switches_ended || word.size() < 2 || word[0] != '-') {
      return std::unexpected(invalid_argument(word));
    }
    if (word == "--") {  // getopt's end of switches; any word after it is an error
      switches_ended = true;
      continue;
    }
    std::string_view arg;
    const bool long_form = word[1] == '-';
    if (long_form) {
      arg = std::string_view(word).substr(2);
    } else if (word[1] == 'c') {
      if (word.size() > 2) {
        arg = std::string_view(word).substr(2);
      } else if (i + 1 < words.size()) {
        arg = words[++i];  // getopt takes the next word whatever it looks like
      } else {
        return std::unexpected(invalid_argument(word));
      }
    } else if (is_other_backend_switch(word[1])) {
      return std::unexpected(ProtoError{std::string(sqlstate::kFeatureNotSupported),
                                        "unsupported switch in startup option \"options\": " + word,
                                        {},
                                        "Use -c name=value or --name=value."});
    } else {
      return std::unexpected(invalid_argument(word));
    }

    const std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos) {
      return std::unexpected(
          ProtoError{std::string(sqlstate::kSyntaxError),
                     (long_form ? "--" : "-c ") + std::string(arg) + " requires a value",
                     {},
                     {}});
    }
    std::string name(arg.substr(0, eq));
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    if (name.empty()) {  // what SetConfigOption answers for "-c =value"
      return std::unexpected(ProtoError{std::string(sqlstate::kUndefinedObject),
                                        "unrecognized configuration parameter \"\"",
                                        {},
                                        {}});
    }
    settings.emplace_back(std::move(name), std::string(arg.substr(eq + 1)));
  }
  return settings;
}

}  // namespace pgquay::proto
