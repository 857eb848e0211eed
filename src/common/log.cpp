#include "pgquay/common/log.hpp"

#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace pgquay::log {
namespace {

// Per-process logging state: set once at start-up (and after fork), read on every log call.
struct State {
  Level level = Level::info;
  int fd = STDERR_FILENO;
  char role[16] = "main";
};
State& state() {
  static State s;
  return s;
}

constexpr std::array<const char*, 6> kNames = {"DEBUG5", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

}  // namespace

Result<Level> parse_level(std::string_view text) {
  struct Entry {
    const char* name;
    Level level;
  };
  static constexpr Entry entries[] = {
      {"debug5", Level::debug5}, {"debug4", Level::debug5}, {"debug3", Level::debug5},
      {"debug2", Level::debug},  {"debug1", Level::debug},  {"debug", Level::debug},
      {"info", Level::info},     {"warn", Level::warn},     {"warning", Level::warn},
      {"error", Level::error},   {"fatal", Level::fatal},
  };
  for (const auto& e : entries) {
    if (text.size() == std::strlen(e.name) && strncasecmp(text.data(), e.name, text.size()) == 0)
      return e.level;
  }
  return fail("unknown log level '" + std::string(text) +
              "' (accepted: debug5..debug1, info, warn, error, fatal)");
}

const char* level_name(Level level) {
  return kNames[static_cast<int>(level)];
}

void set_level(Level level) {
  state().level = level;
}
Level level() {
  return state().level;
}
void set_output_fd(int fd) {
  state().fd = fd;
}
int output_fd() {
  return state().fd;
}
void set_process_role(std::string_view role) {
  auto& r = state().role;
  size_t n = std::min(role.size(), sizeof(r) - 1);
  role.copy(r, n);
  r[n] = '\0';
}

bool enabled(Level lvl) {
  return lvl >= state().level;
}

void write(Level lvl, const char* file, int line, const char* fmt, ...) {
  char buf[2048];
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm tm_now{};
  localtime_r(&tv.tv_sec, &tm_now);
  int n = static_cast<int>(strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm_now));
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  n += std::snprintf(buf + n, sizeof(buf) - n, ".%03ld %-5s [%s %d] ",
                     static_cast<long>(tv.tv_usec / 1000), kNames[static_cast<int>(lvl)],
                     state().role, static_cast<int>(getpid()));
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
  va_end(ap);
  n = (m < 0 || n + m >= static_cast<int>(sizeof(buf)) - 1) ? static_cast<int>(sizeof(buf)) - 2
                                                            : n + m;
  if (lvl <= Level::debug) {
    n += std::snprintf(buf + n, sizeof(buf) - n, " (%s:%d)", base, line);
    if (n >= static_cast<int>(sizeof(buf)) - 1) n = static_cast<int>(sizeof(buf)) - 2;
  }
  buf[n++] = '\n';
  // One write() per line so lines from many processes sharing the fd never interleave.
  ssize_t ignored = ::write(state().fd, buf, static_cast<size_t>(n));
  (void)ignored;
}

}  // namespace pgquay::log
