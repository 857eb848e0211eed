// The master key: the secret that encrypts the passwords in users files.
//
// Location: ~/.pgquay/master.key of the user running pgquay (HOME, else the password database).
// pgagroal's ~/.pgagroal/master.key is used when ours does not exist, so a pgagroal installation's
// users files work unchanged. Both are one line: the key text, base64-encoded. The file must be a
// regular file of ours with mode 0600 (no group/other bits) inside a directory with mode 0700;
// anything looser is refused with a message naming the path, like ssh does for private keys.
//
// The key text is what the operator chose or what `pgquay-admin master-key` generated (64
// printable characters, ~410 bits). pgagroal uses the text itself; pgquay's own entries use a
// 256-bit key derived from it (see users_file_key()).
#pragma once

#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/security/crypto.hpp"

namespace pgquay::security {

enum class KeySource { pgquay, pgagroal };

inline constexpr std::size_t kMinMasterKeyLength = 8;  // what pgagroal-admin requires too
inline constexpr std::size_t kGeneratedMasterKeyLength = 64;

// PBKDF2-HMAC-SHA-256 parameters for users_file_key(). The salt is fixed (a domain separator):
// entries must decrypt with nothing but the master key, and a per-entry salt would repeat the
// stretching for every user at startup. The stretching matters only for a weak operator-chosen
// key; a generated key has far more entropy than any search can cover.
inline constexpr std::string_view kUsersFileKdfSalt = "pgquay users file v1";
inline constexpr int kUsersFileKdfIterations = 100'000;

// Move-only: the key text and the derived key are wiped when the object dies.
class MasterKey {
 public:
  // `text` must be at least 1 byte and contain no NUL (checked by the readers and create).
  MasterKey(std::string text, KeySource source, std::string path);
  MasterKey(MasterKey&& other) noexcept;
  MasterKey& operator=(MasterKey&& other) noexcept;
  MasterKey(const MasterKey&) = delete;
  MasterKey& operator=(const MasterKey&) = delete;
  ~MasterKey();

  // The key as stored (decoded from base64); pgagroal-format entries derive their key from it.
  [[nodiscard]] const std::string& text() const { return text_; }
  // AES-256 key for pgquay's own entries: PBKDF2-HMAC-SHA-256(text, kUsersFileKdfSalt,
  // kUsersFileKdfIterations), computed once here.
  [[nodiscard]] const Sha256& users_file_key() const { return users_file_key_; }
  [[nodiscard]] KeySource source() const { return source_; }
  // The file it came from ("" for a key made in memory).
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string text_;
  Sha256 users_file_key_{};
  KeySource source_ = KeySource::pgquay;
  std::string path_;
};

// $HOME when set and absolute, else the home directory of the effective user from the password
// database. Error when neither exists.
Result<std::string> home_directory();

// <home>/.pgquay or <home>/.pgagroal
std::string master_key_directory(const std::string& home, KeySource source);
// <home>/.pgquay/master.key or <home>/.pgagroal/master.key
std::string master_key_path(const std::string& home, KeySource source);

// Reads one master key file with the permission checks described above.
Result<MasterKey> read_master_key(const std::string& home, KeySource source);

// pgquay's key when its file exists (errors in it are reported, never skipped), else pgagroal's
// when that exists, else an error naming both paths and how to create a key.
Result<MasterKey> find_master_key(const std::string& home);

// Creates <home>/.pgquay (0700) if needed and writes <home>/.pgquay/master.key (0600) holding
// base64(text). Refuses an existing key file: replacing the key would make every users file
// encrypted with it unreadable. Also refuses a key shorter than kMinMasterKeyLength or with a NUL
// byte or a line break, and an existing directory with loose permissions. Returns the file's path.
Result<std::string> create_master_key(const std::string& home, std::string_view text);

}  // namespace pgquay::security
