#include "prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "pgquay/security/crypto.hpp"

namespace pgquay::admin {
namespace {

// Turns terminal echo off for its lifetime.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      // TCSAFLUSH drops anything typed ahead, which the terminal may already have echoed.
      active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  ~EchoOff() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace

bool can_prompt() {
  return ::isatty(STDIN_FILENO) == 1;
}

Result<std::string> read_secret(const std::string& prompt) {
  // Echo goes off before the prompt appears, so nothing typed in answer to it is ever shown.
  EchoOff quiet;
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      security::cleanse(line);
      return fail_errno("cannot read from the terminal");
    }
    if (n == 0) {
      security::cleanse(line);
      return fail("no input on the terminal");
    }
    if (c == '\n') break;
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> read_new_secret(const std::string& what) {
  auto first = read_secret(what + ": ");
  if (!first) return first;
  auto second = read_secret("Again: ");
  if (!second) {
    security::cleanse(*first);
    return second;
  }
  bool same = *first == *second;
  security::cleanse(*second);
  if (!same) {
    security::cleanse(*first);
    return fail("the two entries differ");
  }
  return first;
}

}  // namespace pgquay::admin
