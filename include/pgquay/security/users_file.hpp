// Users files (pgquay_users.conf, pgquay_frontend_users.conf, pgquay_admins.conf and pgagroal's
// equivalents): one `user:FIELD` per line, FIELD an encrypted password (users_cipher.hpp). Blank
// lines and lines whose first character is '#' or ';' are comments. A user name is everything
// before the first ':'; it may not be empty, start with a blank, '#' or ';', or contain ':' or a
// control character. Passwords are bytes without NUL or line breaks, at least one byte.
//
// The file holds secrets: reading refuses a file that grants any permission to group or others,
// and writing replaces it atomically with mode 0600.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/result.hpp"
#include "pgquay/security/master_key.hpp"
#include "pgquay/security/users_cipher.hpp"

namespace pgquay::security {

struct UserEntry {
  std::string user;
  std::string password;  // decrypted
  std::string field;     // as stored (kept for entries that are not changed)
  EntryFormat format = EntryFormat::pgquay_gcm;
  int line = 0;  // 1-based line in the file it was read from; 0 for a new entry
};

// Checks a user name or a password against the rules above; the error says what is wrong.
Result<void> validate_user_name(std::string_view user);
Result<void> validate_password(std::string_view password);

// A parsed users file. Comments and the order of lines are kept, so rewriting a file after one
// change alters only that user's line. Move-only: passwords are wiped on destruction.
class UsersFile {
 public:
  UsersFile() = default;
  UsersFile(UsersFile&&) noexcept = default;
  UsersFile& operator=(UsersFile&&) noexcept = default;
  UsersFile(const UsersFile&) = delete;
  UsersFile& operator=(const UsersFile&) = delete;
  ~UsersFile();

  // Parses `text`; `path` is used only in messages. Errors name "path:line: what":
  // missing ':', bad user name, bad base64, decryption failure ("wrong master key?"), duplicate
  // user (with the line of the first one), empty or invalid password. The first problem is
  // reported.
  static Result<UsersFile> parse(std::string_view text, const std::string& path,
                                 const MasterKey& key);
  // Reads and parses `path` after the permission checks. A missing file is an error.
  static Result<UsersFile> read(const std::string& path, const MasterKey& key);

  [[nodiscard]] const UserEntry* find(std::string_view user) const;
  // Entries in file order.
  [[nodiscard]] std::vector<const UserEntry*> entries() const;
  [[nodiscard]] std::size_t size() const;
  // user -> password, for the pooler.
  [[nodiscard]] std::map<std::string, std::string> passwords() const;

  // Appends a new user; fails when the user exists or the name/password is invalid.
  Result<void> add(std::string_view user, std::string_view password, const MasterKey& key);
  // Re-encrypts the user's password in pgquay's format; fails when the user is missing.
  Result<void> set_password(std::string_view user, std::string_view password, const MasterKey& key);
  // Fails when the user is missing.
  Result<void> remove(std::string_view user);

  // The file's text: kept comment lines, `user:FIELD` lines, each ending with '\n'.
  [[nodiscard]] std::string text() const;
  // Atomically replaces `path` with text(), mode 0600.
  Result<void> write(const std::string& path) const;

 private:
  struct Line {
    std::string comment;  // verbatim when entry is empty
    std::optional<UserEntry> entry;
  };
  UserEntry* find_mutable(std::string_view user);

  std::vector<Line> lines_;
};

}  // namespace pgquay::security
