// Logging for operators: one line per event. Format strings are printf-style and checked by the
// compiler. Never call from a signal handler (signals reach the program through the event loop).
#pragma once

#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::log {

enum class Level { debug5 = 0, debug, info, warn, error, fatal };

// Parses "debug5".."debug1", "debug", "info", "warn", "error", "fatal" (pgagroal's names).
Result<Level> parse_level(std::string_view text);
const char* level_name(Level level);

void set_level(Level level);
Level level();
// Prefix every line with this process's role, e.g. "main" or "worker".
void set_process_role(std::string_view role);
// Sends lines to this fd (default stderr). The fd is not owned.
void set_output_fd(int fd);
int output_fd();

bool enabled(Level level);
void write(Level level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace pgquay::log

#define PGQ_LOG(level, ...)                                         \
  do {                                                              \
    if (::pgquay::log::enabled(level))                              \
      ::pgquay::log::write(level, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define PGQ_DEBUG(...) PGQ_LOG(::pgquay::log::Level::debug, __VA_ARGS__)
#define PGQ_INFO(...) PGQ_LOG(::pgquay::log::Level::info, __VA_ARGS__)
#define PGQ_WARN(...) PGQ_LOG(::pgquay::log::Level::warn, __VA_ARGS__)
#define PGQ_ERROR(...) PGQ_LOG(::pgquay::log::Level::error, __VA_ARGS__)
#define PGQ_FATAL(...) PGQ_LOG(::pgquay::log::Level::fatal, __VA_ARGS__)
