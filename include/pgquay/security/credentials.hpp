// What the pooler knows about passwords: the users files named on the command line, decrypted with
// the master key, and the SCRAM verifiers pgquay checks clients against.
//
//   users file (-u)           user -> the password pgquay uses to log in to PostgreSQL, and (when
//                             the frontend file does not name the user) the one clients must give
//   frontend users file (-F)  user -> a different password clients give pgquay
//   admins file (-A)          management users (read and validated here; used by management)
//
// Loaded by the main process at startup and on SIGHUP; workers inherit the object when forked and
// only read it. Every SCRAM verifier is computed here, once per load, so no login pays for the
// key stretching. A verifier's salt is derived from the user name and a per-process secret, the
// same way scram::mock_verifier() derives the salt it shows for an unknown user: the salt a client
// sees is stable for the life of the process and looks alike for known and unknown users.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/security/crypto.hpp"
#include "pgquay/security/scram.hpp"

namespace pgquay::security {

struct CredentialFiles {
  std::string users;           // "" = none
  std::string frontend_users;  // "" = none
  std::string admins;          // "" = none
  [[nodiscard]] bool any() const {
    return !users.empty() || !frontend_users.empty() || !admins.empty();
  }
};

// Move-only: passwords are wiped on destruction.
class Credentials {
 public:
  Credentials() = default;
  Credentials(Credentials&&) noexcept = default;
  // Wipes the passwords it replaces (a reload assigns the new credentials over the old).
  Credentials& operator=(Credentials&& other) noexcept;
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;
  ~Credentials();

  // Reads the named files. The master key is looked for (find_master_key() under `home`) only
  // when a file is named. Errors name the file and line (or the master key's path). `secret`
  // (at least 16 bytes) keys the salts of verifiers and mock verifiers; pass the same one on
  // every reload (secret()) so salts do not change.
  static Result<Credentials> load(const CredentialFiles& files, const std::string& home,
                                  std::span<const std::uint8_t> secret);
  // The same, for files already read (tests, and load() itself).
  static Credentials from_maps(std::map<std::string, std::string> users,
                               std::map<std::string, std::string> frontend_users,
                               std::map<std::string, std::string> admins,
                               std::span<const std::uint8_t> secret);

  // A fresh random secret for load().
  static Result<Bytes> make_secret();

  // The password pgquay logs in to PostgreSQL with (users file), or nullptr.
  [[nodiscard]] const std::string* server_password(std::string_view user) const;
  // The password a client must give pgquay: the frontend file's, else the users file's; nullptr
  // for a user pgquay does not know.
  [[nodiscard]] const std::string* client_password(std::string_view user) const;
  // SCRAM verifier of client_password(user), or nullptr for an unknown user.
  [[nodiscard]] const scram::Verifier* client_verifier(std::string_view user) const;
  // What an unknown user's SCRAM exchange runs against (it never succeeds).
  [[nodiscard]] scram::Verifier unknown_verifier(std::string_view user) const;

  [[nodiscard]] const std::map<std::string, std::string, std::less<>>& admins() const {
    return admins_;
  }
  [[nodiscard]] std::size_t user_count() const { return users_.size(); }
  [[nodiscard]] std::size_t frontend_user_count() const { return frontend_users_.size(); }
  [[nodiscard]] const Bytes& secret() const { return secret_; }

 private:
  void wipe();

  std::map<std::string, std::string, std::less<>> users_;
  std::map<std::string, std::string, std::less<>> frontend_users_;
  std::map<std::string, std::string, std::less<>> admins_;
  std::map<std::string, scram::Verifier, std::less<>> verifiers_;
  Bytes secret_;
};

}  // namespace pgquay::security
