#include "private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "pgquay/common/fd.hpp"

namespace pgquay::security::detail {
namespace {

// Secret files are a line or a few thousand users; the cap keeps a mistaken path (a device, a
// log) out of memory.
constexpr std::size_t kMaxFileSize = 16 * 1024 * 1024;

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<void> check_mode(const std::string& path, const struct stat& st,
                        const PrivateFileRules& rules) {
  if (!S_ISREG(st.st_mode)) return fail(path + " is not a regular file");
  if (rules.owned_by_us && st.st_uid != ::geteuid()) {
    return fail(path + " is owned by uid " + std::to_string(st.st_uid) +
                ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  if (rules.owner_only && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(path + " has mode " + mode_text(st.st_mode) +
                "; it holds secrets and must not be accessible by group or others (chmod 600 " +
                path + ")");
  }
  return {};
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Removes the temporary file unless the write succeeded and it was renamed or linked.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void keep() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

std::string mode_text(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
  return buf;
}

Result<std::string> read_private_file(const std::string& path, const PrivateFileRules& rules,
                                      bool follow_links) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | (follow_links ? 0 : O_NOFOLLOW);
  Fd fd(::open(path.c_str(), flags));
  if (!fd) {
    if (errno == ELOOP && !follow_links) return fail(path + " is a symbolic link; refusing it");
    return fail_errno("cannot read " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("cannot stat " + path);
  if (auto ok = check_mode(path, st, rules); !ok) return Unexpected(ok.error());
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
    if (text.size() > kMaxFileSize) return fail("cannot read " + path + ": file is too large");
  }
  return text;
}

Result<void> check_private_directory(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail_errno("cannot use directory " + path);
  if (!S_ISDIR(st.st_mode)) return fail(path + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    return fail(path + " is owned by uid " + std::to_string(st.st_uid) +
                ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(path + " has mode " + mode_text(st.st_mode) +
                "; it holds secrets and must not be accessible by group or others (chmod 700 " +
                path + ")");
  }
  return {};
}

Result<void> write_private_file(const std::string& path, std::string_view contents,
                                bool exclusive) {
  std::string dir = directory_of(path);
  std::string pattern = path + ".tmp.XXXXXX";
  // mkstemp() creates the file with mode 0600 and O_EXCL.
  Fd fd(::mkstemp(pattern.data()));
  if (!fd) return fail_errno("cannot create a temporary file next to " + path);
  TempFile temp(pattern);
  if (::fchmod(fd.get(), S_IRUSR | S_IWUSR) != 0) return fail_errno("cannot chmod " + pattern);
  if (!write_all(fd.get(), contents)) return fail_errno("cannot write " + pattern);
  if (::fsync(fd.get()) != 0) return fail_errno("cannot sync " + pattern);
  fd.reset();
  if (exclusive) {
    if (::link(pattern.c_str(), path.c_str()) != 0) {
      if (errno == EEXIST) return fail(path + " already exists; refusing to overwrite it");
      return fail_errno("cannot create " + path);
    }
    // The temporary name is unlinked by TempFile; the data stays under `path`.
  } else {
    if (::rename(pattern.c_str(), path.c_str()) != 0) return fail_errno("cannot replace " + path);
    temp.keep();
  }
  // Make the new directory entry durable too.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) (void)::fsync(dir_fd.get());
  return {};
}

}  // namespace pgquay::security::detail
