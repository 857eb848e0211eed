// Encryption of one password in a users file line `user:FIELD`.
//
// pgquay's format (written by pgquay-admin):  FIELD = "pgq1$" base64(iv[12] || ciphertext ||
// tag[16])
//   AES-256-GCM with a fresh random 12-byte IV per entry, key = MasterKey::users_file_key(), and
//   the associated data "pgq1$" + user name. GCM is authenticated: a wrong master key, a damaged
//   or edited entry, or an entry copied onto another user's line fails to decrypt with an error
//   instead of yielding a wrong password (CBC without a MAC decrypts to garbage in these cases and
//   passes its padding check about once in 256 tries). The "pgq1$" marker cannot start a base64
//   string ('$' is not in the alphabet), so the reader tells the two formats apart without
//   guessing, and the "1" leaves room for a later format.
//
// pgagroal's format (read, never written):     FIELD = base64(AES-256-CBC(password))
//   key and IV from EVP_BytesToKey(AES-256-CBC, SHA-1, no salt, master key text, 1 round),
//   PKCS#7 padding: the same key and IV for every entry, no integrity check. It is what
//   `openssl enc -aes-256-cbc -md sha1 -nosalt -pass pass:KEY -base64 -A` produces. We decrypt it
//   so pgagroal users files keep working; pgquay-admin re-encrypts an entry in pgquay's format
//   when it changes it.
#pragma once

#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/security/master_key.hpp"

namespace pgquay::security {

enum class EntryFormat { pgquay_gcm, pgagroal_cbc };

inline constexpr std::string_view kEntryPrefix = "pgq1$";

const char* entry_format_name(EntryFormat format);  // "pgquay" / "pgagroal"

// FIELD in pgquay's format for `password` of `user`. Fails only if the RNG fails.
Result<std::string> encrypt_password(std::string_view user, std::string_view password,
                                     const MasterKey& key);

struct DecryptedPassword {
  std::string password;
  EntryFormat format = EntryFormat::pgquay_gcm;
};

// Decrypts FIELD of either format. Errors (no path or line; the caller adds them):
// "not base64: ...", "too short to be an encrypted password", "cannot decrypt: wrong master key,
// or the entry was altered or belongs to another user".
Result<DecryptedPassword> decrypt_password(std::string_view user, std::string_view field,
                                           const MasterKey& key);

// pgagroal's encryption of `password`, for tests and for migrating tools; pgquay-admin never
// writes it.
Result<std::string> encrypt_password_pgagroal(std::string_view password, std::string_view key_text);

}  // namespace pgquay::security
