#include "pgquay/security/master_key.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>
#include <vector>

#include "private_file.hpp"

namespace pgquay::security {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

MasterKey::MasterKey(std::string text, KeySource source, std::string path)
    : text_(std::move(text)), source_(source), path_(std::move(path)) {
  users_file_key_ =
      pbkdf2_sha256(as_bytes(text_), as_bytes(kUsersFileKdfSalt), kUsersFileKdfIterations);
}

MasterKey::MasterKey(MasterKey&& other) noexcept
    : text_(std::move(other.text_)),
      users_file_key_(other.users_file_key_),
      source_(other.source_),
      path_(std::move(other.path_)) {
  cleanse(other.text_);
  cleanse(other.users_file_key_);
}

MasterKey& MasterKey::operator=(MasterKey&& other) noexcept {
  if (this != &other) {
    cleanse(text_);
    text_ = std::move(other.text_);
    users_file_key_ = other.users_file_key_;
    source_ = other.source_;
    path_ = std::move(other.path_);
    cleanse(other.text_);
    cleanse(other.users_file_key_);
  }
  return *this;
}

MasterKey::~MasterKey() {
  cleanse(text_);
  cleanse(users_file_key_);
}

Result<std::string> home_directory() {
  const char* env = std::getenv("HOME");
  if (env != nullptr && env[0] == '/') return std::string(env);
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<std::size_t>(size) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = ::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0)
    return fail_errno("cannot look up the home directory of uid " + std::to_string(::geteuid()),
                      rc);
  if (found == nullptr || found->pw_dir == nullptr || found->pw_dir[0] != '/') {
    return fail("no home directory for uid " + std::to_string(::geteuid()) + " (set HOME)");
  }
  return std::string(found->pw_dir);
}

std::string master_key_directory(const std::string& home, KeySource source) {
  return home + (source == KeySource::pgquay ? "/.pgquay" : "/.pgagroal");
}

std::string master_key_path(const std::string& home, KeySource source) {
  return master_key_directory(home, source) + "/master.key";
}

Result<MasterKey> read_master_key(const std::string& home, KeySource source) {
  std::string dir = master_key_directory(home, source);
  std::string path = master_key_path(home, source);
  if (auto ok = detail::check_private_directory(dir); !ok) {
    return fail("master key " + path + ": " + ok.error().message);
  }
  auto text = detail::read_private_file(path, {.owner_only = true, .owned_by_us = true},
                                        /*follow_links=*/false);
  if (!text) return fail("master key: " + text.error().message);
  auto decoded = base64_decode(trim(*text));
  cleanse(*text);
  if (!decoded) return fail("master key " + path + ": " + decoded.error().message);
  std::string key(as_text(*decoded));
  cleanse(*decoded);
  if (key.empty()) return fail("master key " + path + " is empty");
  if (key.find('\0') != std::string::npos) return fail("master key " + path + " holds a NUL byte");
  return MasterKey(std::move(key), source, path);
}

Result<MasterKey> find_master_key(const std::string& home) {
  if (exists(master_key_path(home, KeySource::pgquay))) {
    return read_master_key(home, KeySource::pgquay);
  }
  if (exists(master_key_path(home, KeySource::pgagroal))) {
    return read_master_key(home, KeySource::pgagroal);
  }
  return fail("no master key: neither " + master_key_path(home, KeySource::pgquay) + " nor " +
              master_key_path(home, KeySource::pgagroal) +
              " exists (create one with `pgquay-admin master-key`)");
}

Result<std::string> create_master_key(const std::string& home, std::string_view text) {
  if (text.size() < kMinMasterKeyLength) {
    return fail("master key too short: at least " + std::to_string(kMinMasterKeyLength) +
                " characters");
  }
  if (text.find_first_of(std::string_view("\0\n\r", 3)) != std::string_view::npos) {
    return fail("master key must not contain a NUL byte or a line break");
  }
  std::string dir = master_key_directory(home, KeySource::pgquay);
  std::string path = master_key_path(home, KeySource::pgquay);
  if (exists(path)) {
    return fail(path +
                " already exists; refusing to replace it (every users file encrypted with it "
                "would become unreadable). Remove it first if that is really intended");
  }
  if (!exists(dir) && ::mkdir(dir.c_str(), S_IRWXU) != 0 && errno != EEXIST) {
    return fail_errno("cannot create " + dir);
  }
  if (auto ok = detail::check_private_directory(dir); !ok) return Unexpected(ok.error());
  // No trailing newline: the same file then also works as ~/.pgagroal/master.key.
  std::string encoded = base64_encode(as_bytes(text));
  auto written = detail::write_private_file(path, encoded, /*exclusive=*/true);
  cleanse(encoded);
  if (!written) return Unexpected(written.error());
  return path;
}

}  // namespace pgquay::security
