// PostgreSQL's md5 password authentication (AuthenticationMD5Password, protocol 3.0).
// Kept for servers and clients that still use it; SCRAM-SHA-256 is the method to prefer.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::security {

using Md5Salt = std::array<std::uint8_t, 4>;

// "md5" + md5hex(password + user): what PostgreSQL stores in pg_authid.rolpassword.
std::string md5_password_hash(std::string_view user, std::string_view password);

// True for "md5" followed by 32 lower-case hex digits.
bool is_md5_password_hash(std::string_view text);

// The client's PasswordMessage for a given salt:
// "md5" + md5hex(md5hex(password + user) + salt).
std::string md5_response(std::string_view user, std::string_view password, const Md5Salt& salt);

// The same from a stored hash (md5_password_hash's output, e.g. read from pg_shadow), for when
// pgquay knows only the hash. Error when `stored_hash` is not an md5 hash.
Result<std::string> md5_response_from_hash(std::string_view stored_hash, const Md5Salt& salt);

// Compares an expected response with the client's in constant time.
bool md5_response_matches(std::string_view expected, std::string_view received);

// A fresh random salt for one authentication attempt.
Result<Md5Salt> md5_salt();

}  // namespace pgquay::security
