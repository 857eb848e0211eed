#include "pgquay/config/values.hpp"

#include <strings.h>

#include <array>
#include <cctype>
#include <limits>

namespace pgquay::config {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Splits "123abc" into digits and suffix; fails when there are no digits or the number overflows.
struct NumberWithUnit {
  std::uint64_t number = 0;
  std::string_view unit;
};
bool split_number(std::string_view text, NumberWithUnit& out) {
  std::size_t i = 0;
  if (text.empty() || !is_digit(text[0])) return false;
  std::uint64_t v = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out.number = v;
  out.unit = trim(text.substr(i));
  return true;
}

struct Unit {
  std::string_view name;
  std::int64_t factor;
};

// Checked multiplication into the signed range used by std::chrono and our sizes.
bool scale(std::uint64_t number, std::int64_t factor, std::uint64_t limit, std::uint64_t& out) {
  auto f = static_cast<std::uint64_t>(factor);
  if (number > limit / f) return false;
  out = number * f;
  return true;
}

constexpr const char* kDurationExpected =
    "expected a duration such as 30 (seconds), 500ms, 30s, 5m, 2h, 1d or 1w";
constexpr const char* kSizeExpected = "expected a size such as 0, 65536, 256K, 64MB or 1G";

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::string> clean_value(std::string_view raw) {
  std::string_view v = trim(raw);
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    char quote = v.front();
    auto close = v.find(quote, 1);
    if (close == std::string_view::npos) {
      return fail(std::string("unterminated quote: expected a closing ") + quote);
    }
    std::string_view rest = trim(v.substr(close + 1));
    if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
      return fail("unexpected text '" + std::string(rest) +
                  "' after the closing quote (start a comment with # or ;)");
    }
    return std::string(v.substr(1, close - 1));
  }
  // pgagroal ends an unquoted value at the first comment sign; values holding # or ; are quoted.
  auto comment = v.find_first_of("#;");
  if (comment != std::string_view::npos) v = trim(v.substr(0, comment));
  return std::string(v);
}

Result<bool> parse_bool(std::string_view text) {
  static constexpr std::array<std::string_view, 4> yes = {"on", "yes", "true", "1"};
  static constexpr std::array<std::string_view, 4> no = {"off", "no", "false", "0"};
  for (auto w : yes) {
    if (iequals(text, w)) return true;
  }
  for (auto w : no) {
    if (iequals(text, w)) return false;
  }
  return fail("expected a boolean: on, off, yes, no, true, false, 1 or 0");
}

Result<long long> parse_int(std::string_view text, long long min, long long max) {
  auto expected = [&] {
    return fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
  };
  std::string_view t = text;
  bool negative = false;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || t.size() > 18) return expected();
  long long v = 0;
  for (char c : t) {
    if (!is_digit(c)) return expected();
    v = v * 10 + (c - '0');
  }
  if (negative) v = -v;
  if (v < min || v > max) return expected();
  return v;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  static constexpr std::array<Unit, 7> units = {{
      {"", 1000},
      {"ms", 1},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 3600 * 1000},
      {"d", 24LL * 3600 * 1000},
      {"w", 7LL * 24 * 3600 * 1000},
  }};
  NumberWithUnit nu;
  if (!split_number(text, nu)) return fail(kDurationExpected);
  for (const auto& u : units) {
    if (!iequals(nu.unit, u.name)) continue;
    std::uint64_t ms = 0;
    if (!scale(nu.number, u.factor, std::numeric_limits<std::int64_t>::max(), ms)) {
      return fail(kDurationExpected);
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  }
  return fail(kDurationExpected);
}

Result<std::uint64_t> parse_size(std::string_view text) {
  static constexpr std::array<Unit, 8> units = {{
      {"", 1},
      {"b", 1},
      {"k", 1024},
      {"kb", 1024},
      {"m", 1024 * 1024},
      {"mb", 1024 * 1024},
      {"g", 1024LL * 1024 * 1024},
      {"gb", 1024LL * 1024 * 1024},
  }};
  NumberWithUnit nu;
  if (!split_number(text, nu)) return fail(kSizeExpected);
  for (const auto& u : units) {
    if (!iequals(nu.unit, u.name)) continue;
    std::uint64_t bytes = 0;
    if (!scale(nu.number, u.factor, std::numeric_limits<std::int64_t>::max(), bytes)) {
      return fail(kSizeExpected);
    }
    return bytes;
  }
  return fail(kSizeExpected);
}

Result<log::Level> parse_log_level(std::string_view text) {
  // "trace" is pgagroal's synonym for debug5; the rest are the names log::parse_level knows.
  if (iequals(text, "trace")) return log::Level::debug5;
  auto level = log::parse_level(text);
  if (!level) {
    return fail("expected a log level: fatal, error, warn, info, debug, debug1 to debug5, trace");
  }
  return *level;
}

std::string format_bool(bool value) {
  return value ? "on" : "off";
}

std::string format_duration(std::chrono::milliseconds ms) {
  static constexpr std::array<Unit, 5> units = {{
      {"w", 7LL * 24 * 3600 * 1000},
      {"d", 24LL * 3600 * 1000},
      {"h", 3600 * 1000},
      {"m", 60 * 1000},
      {"s", 1000},
  }};
  auto v = ms.count();
  if (v == 0) return "0";
  for (const auto& u : units) {
    if (v % u.factor == 0) return std::to_string(v / u.factor) + std::string(u.name);
  }
  return std::to_string(v) + "ms";
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<Unit, 3> units = {{
      {"G", 1024LL * 1024 * 1024},
      {"M", 1024 * 1024},
      {"K", 1024},
  }};
  if (bytes == 0) return "0";
  for (const auto& u : units) {
    auto f = static_cast<std::uint64_t>(u.factor);
    if (bytes % f == 0) return std::to_string(bytes / f) + std::string(u.name);
  }
  return std::to_string(bytes);
}

std::string format_log_level(log::Level level) {
  return to_lower(log::level_name(level));
}

}  // namespace pgquay::config
