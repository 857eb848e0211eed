// Temporary directories and whole-file helpers for integration tests.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::test {

// A fresh, private directory (mkdtemp) that is removed with everything in it when the owner goes
// away. Move-only so exactly one owner removes it.
class TempDir {
 public:
  // Creates <base>/<prefix>XXXXXX where base is $TMPDIR (or /tmp). As root the base is always
  // /tmp: the directory is handed to an unprivileged user who must be able to reach it.
  // The directory records the creating process's pid (see remove_abandoned()).
  static Result<TempDir> create(std::string_view prefix);
  // Removes <base>/<prefix>* directories whose creating process no longer exists: a test that
  // crashed never ran its destructors, and a PostgreSQL data directory is ~40 MB.
  static void remove_abandoned(std::string_view prefix);

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  ~TempDir();

  [[nodiscard]] const std::string& path() const { return path_; }
  // Path of an entry inside the directory.
  [[nodiscard]] std::string file(std::string_view name) const;
  // Gives the directory to another user (for servers that refuse to run as root).
  [[nodiscard]] Result<void> chown_to(uid_t uid, gid_t gid) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void remove();

  std::string path_;
};

// Replaces the content of `path` (an existing file keeps its owner and mode).
[[nodiscard]] Result<void> write_file(const std::string& path, std::string_view text);
// Appends to `path`, creating it if needed.
[[nodiscard]] Result<void> append_file(const std::string& path, std::string_view text);
[[nodiscard]] Result<std::string> read_file(const std::string& path);
// The last `lines` lines of `text`, for error messages that quote a log.
std::string tail_lines(std::string_view text, std::size_t lines);
// tail_lines() of a file, or a note saying why it could not be read.
std::string tail_file(const std::string& path, std::size_t lines);

}  // namespace pgquay::test
