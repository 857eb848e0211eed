// Thin, typed wrappers over OpenSSL for what the credentials code needs: base64, randomness,
// SHA-256, MD5, HMAC-SHA-256, PBKDF2 and constant-time comparison. Nothing here is hand-written
// cryptography; every function calls OpenSSL and only adapts types and errors.
//
// All functions are thread-safe and fork-safe (OpenSSL 3 reseeds its RNG after fork()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::security {

using Bytes = std::vector<std::uint8_t>;
using Sha256 = std::array<std::uint8_t, 32>;

// Views a string's bytes (passwords, messages) without copying.
inline std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Standard base64 (RFC 4648, with '=' padding, no line breaks).
std::string base64_encode(std::span<const std::uint8_t> data);
// Strict decoding: only the base64 alphabet, a length that is a multiple of 4 and at most two
// '=' at the end; whitespace is not skipped. The error says what is wrong ("not base64: ...").
Result<Bytes> base64_decode(std::string_view text);

// Cryptographically strong random bytes from OpenSSL's DRBG. Failure (an RNG that cannot seed)
// is an error value, never a silent weak fallback.
Result<Bytes> random_bytes(std::size_t count);

// Printable ASCII characters for generated passwords and master keys: letters, digits and
// punctuation that need no quoting in a shell single-quoted string or a configuration file
// (no quote, backslash, space, '#', ':' or '$').
inline constexpr std::string_view kPasswordAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!%&()*+,-./;<=>?@[]^_{|}~";
// `length` characters drawn uniformly from kPasswordAlphabet (rejection sampling, no modulo bias).
Result<std::string> random_password(std::size_t length);

Sha256 sha256(std::span<const std::uint8_t> data);
Sha256 hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
// PBKDF2-HMAC-SHA-256 with a 32-byte output; SCRAM's Hi() is exactly this.
Sha256 pbkdf2_sha256(std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                     int iterations);
// Lower-case hex MD5 of `data` (32 characters), as PostgreSQL's md5 authentication uses it.
std::string md5_hex(std::span<const std::uint8_t> data);

// Constant-time equality (CRYPTO_memcmp); unequal lengths compare unequal without looking at the
// contents. Use it for every comparison of a secret or a value derived from one.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// Overwrites the bytes with zeros in a way the compiler cannot drop (OPENSSL_cleanse).
void cleanse(std::span<std::uint8_t> data);
void cleanse(std::string& text);

// The oldest queued OpenSSL error as text ("" when the queue is empty); the queue is cleared.
std::string openssl_error();

}  // namespace pgquay::security
