// A private directory under $TMPDIR (or /tmp), removed with its content at scope exit.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pgquay::net::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    // Unix socket paths are limited to 107 bytes: keep the directory short.
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pgq-net-XXXXXX";
    if (pattern.size() > 60) pattern = "/tmp/pgq-net-XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgquay::net::test
