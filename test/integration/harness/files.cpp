#include "harness/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

#include "pgquay/common/fd.hpp"

namespace pgquay::test {
namespace {

constexpr std::string_view kOwnerFile = ".pgquay-test-owner";

std::string temp_base() {
  if (geteuid() == 0) return "/tmp";
  const char* env = std::getenv("TMPDIR");
  return (env != nullptr && *env != '\0') ? env : "/tmp";
}

Result<void> write_all(const std::string& path, std::string_view text, int flags) {
  Fd fd(::open(path.c_str(), flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("open " + path);
  while (!text.empty()) {
    ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write " + path);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

Result<TempDir> TempDir::create(std::string_view prefix) {
  std::string pattern = temp_base() + "/" + std::string(prefix) + "XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return fail_errno("mkdtemp " + pattern);
  TempDir dir{std::string(buf.data())};
  if (auto r = write_file(dir.file(kOwnerFile), std::to_string(::getpid())); !r)
    return Unexpected(r.error());
  return dir;
}

void TempDir::remove_abandoned(std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(temp_base(), ec)) {
    if (!entry.path().filename().string().starts_with(prefix)) continue;
    // No owner file yet means another process is creating it right now: leave it alone.
    auto owner = read_file(entry.path().string() + "/" + std::string(kOwnerFile));
    if (!owner) continue;
    const long pid = std::strtol(owner->c_str(), nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove_all(entry.path(), ec);
  }
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

TempDir::~TempDir() {
  remove();
}

void TempDir::remove() {
  if (path_.empty()) return;
  std::error_code ignored;  // best effort: a leftover directory in /tmp must not fail a test
  std::filesystem::remove_all(path_, ignored);
  path_.clear();
}

std::string TempDir::file(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

Result<void> TempDir::chown_to(uid_t uid, gid_t gid) const {
  if (::chown(path_.c_str(), uid, gid) != 0) return fail_errno("chown " + path_);
  return {};
}

Result<void> write_file(const std::string& path, std::string_view text) {
  return write_all(path, text, O_TRUNC);
}

Result<void> append_file(const std::string& path, std::string_view text) {
  return write_all(path, text, O_APPEND);
}

Result<std::string> read_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open " + path);
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + path);
    if (n == 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
  }
}

std::string tail_lines(std::string_view text, std::size_t lines) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  std::size_t pos = text.size();
  for (std::size_t i = 0; i < lines && pos != std::string_view::npos && pos > 0; ++i)
    pos = text.rfind('\n', pos - 1);
  if (pos == std::string_view::npos || pos == 0 || lines == 0)
    return lines == 0 ? std::string() : std::string(text);
  return std::string(text.substr(pos + 1));
}

std::string tail_file(const std::string& path, std::size_t lines) {
  auto text = read_file(path);
  if (!text) return "(" + text.error().message + ")";
  if (text->empty()) return "(" + path + " is empty)";
  return tail_lines(*text, lines);
}

}  // namespace pgquay::test
