#include "text_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "pgquay/common/fd.hpp"
#include "pgquay/config/values.hpp"

namespace pgquay::config::detail {
namespace {

// Configuration files are small; the cap keeps a mistaken path (a device, a huge log) from being
// read into memory.
constexpr std::size_t kMaxFileSize = 16 * 1024 * 1024;

}  // namespace

Result<std::string> read_text_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("cannot read " + path);
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("cannot read " + path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileSize) {
      return fail("cannot read " + path + ": larger than " + std::to_string(kMaxFileSize) +
                  " bytes, not a configuration file");
    }
  }
  return text;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  auto hash = line.find('#');
  if (hash != std::string_view::npos) line = line.substr(0, hash);
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

std::vector<std::string> split_list(std::string_view text, char separator) {
  std::vector<std::string> out;
  for (;;) {
    auto pos = text.find(separator);
    out.emplace_back(trim(text.substr(0, pos)));
    if (pos == std::string_view::npos) break;
    text = text.substr(pos + 1);
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

}  // namespace pgquay::config::detail
