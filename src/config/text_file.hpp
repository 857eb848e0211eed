// Small helpers shared by the three file parsers. Private to the config module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::config::detail {

// Reads a whole configuration file. Errors name the path and the errno text, e.g.
// "cannot read /etc/pgquay/pgquay.conf: No such file or directory".
Result<std::string> read_text_file(const std::string& path);

// Calls f(line_number, line) for each line (1-based, '\n' and a trailing '\r' removed).
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  int number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(++number, line);
  }
}

// The line without a `#` comment, split on blanks.
std::vector<std::string_view> split_fields(std::string_view line);

// "a, b, c" -> {"a", "b", "c"}; empty elements are kept (as "") so callers can reject them.
std::vector<std::string> split_list(std::string_view text, char separator);

// Joins messages one per line (several problems in one Error).
std::string join_lines(const std::vector<std::string>& lines);

}  // namespace pgquay::config::detail
