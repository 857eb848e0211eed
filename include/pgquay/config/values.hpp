// The value types of pgquay.conf: parsing a value's text and printing it back.
//
// Contract shared by every parse_* function: the input is an already cleaned value (see
// clean_value); on failure the error message is only the phrase naming what is accepted, e.g.
// "expected an integer from 1 to 100". Callers prefix it with file, line, key and value.
// Every format_* output parses back to the same value.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "pgquay/common/log.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay::config {

std::string_view trim(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view text);

// Turns the raw text right of `=` into the value: surrounding whitespace is trimmed, a comment
// starting with `#` or `;` outside quotes is dropped, and a value wrapped in "..." or '...' is
// unquoted (inside quotes `#`, `;` and spaces are literal). Errors: an unterminated quote, or text
// after the closing quote.
Result<std::string> clean_value(std::string_view raw);

// on/off, yes/no, true/false, 1/0 (case-insensitive).
Result<bool> parse_bool(std::string_view text);
// A decimal integer (optional sign) within [min, max].
Result<long long> parse_int(std::string_view text, long long min, long long max);
// A non-negative number with an optional unit: none or `s` = seconds, `ms` = milliseconds,
// `m` = minutes, `h` = hours, `d` = days, `w` = weeks (case-insensitive; `M` is minutes).
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// A non-negative number of bytes with an optional unit B, K/KB, M/MB, G/GB (powers of 1024,
// case-insensitive).
Result<std::uint64_t> parse_size(std::string_view text);
// pgagroal's level names: fatal, error, warn, info, debug, debug1..debug5, trace (= debug5).
Result<log::Level> parse_log_level(std::string_view text);

std::string format_bool(bool value);                        // "on" / "off"
std::string format_duration(std::chrono::milliseconds ms);  // largest exact unit: "5m", "1500ms"
std::string format_size(std::uint64_t bytes);               // largest exact unit: "256K", "1000"
std::string format_log_level(log::Level level);             // lower case: "info", "debug5"

}  // namespace pgquay::config
