#include "pgquay/security/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>

#include "pgquay/common/check.hpp"

namespace pgquay::security {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> data) {
  PGQ_CHECK(data.size() < INT_MAX / 2);
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock writes a NUL
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  PGQ_CHECK(n >= 0);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips blanks, accepts '=' in the middle and reports the padding as zero
  // bytes; validate the exact shape first so a damaged entry is an error, not wrong bytes.
  if (text.size() % 4 != 0) {
    return fail("not base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  }
  if (text.size() > INT_MAX / 2) return fail("not base64: too long");
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size() || (i + 2 == text.size() && text.back() != '=')) {
        return fail("not base64: '=' before the end");
      }
      ++padding;
    } else if (!is_base64_char(c)) {
      return fail("not base64: unexpected character at offset " + std::to_string(i));
    }
  }
  Bytes out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return fail("not base64");
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

Result<Bytes> random_bytes(std::size_t count) {
  PGQ_CHECK(count < INT_MAX);
  Bytes out(count);
  if (count > 0 && RAND_bytes(out.data(), static_cast<int>(count)) != 1) {
    return fail("random number generator failed: " + openssl_error());
  }
  return out;
}

Result<std::string> random_password(std::size_t length) {
  constexpr std::size_t kAlphabet = kPasswordAlphabet.size();
  // Accept a byte only below the largest multiple of the alphabet size, so every character is
  // equally likely.
  constexpr std::size_t kLimit = 256 / kAlphabet * kAlphabet;
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    auto chunk = random_bytes(length - out.size() + 16);
    if (!chunk) return Unexpected(chunk.error());
    for (std::uint8_t b : *chunk) {
      if (b < kLimit && out.size() < length) out.push_back(kPasswordAlphabet[b % kAlphabet]);
    }
    cleanse(*chunk);
  }
  return out;
}

Sha256 sha256(std::span<const std::uint8_t> data) {
  Sha256 out{};
  unsigned int len = 0;
  PGQ_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) == 1);
  PGQ_CHECK(len == out.size());
  return out;
}

Sha256 hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  PGQ_CHECK(key.size() < INT_MAX);
  Sha256 out{};
  unsigned int len = 0;
  // An empty key needs a non-null pointer: HMAC() treats a null key as "reuse the last key".
  static constexpr std::uint8_t kEmpty = 0;
  const std::uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  PGQ_CHECK(HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), data.data(), data.size(),
                 out.data(), &len) != nullptr);
  PGQ_CHECK(len == out.size());
  return out;
}

Sha256 pbkdf2_sha256(std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                     int iterations) {
  PGQ_CHECK(iterations > 0 && password.size() < INT_MAX && salt.size() < INT_MAX);
  Sha256 out{};
  PGQ_CHECK(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()),
                              static_cast<int>(password.size()), salt.data(),
                              static_cast<int>(salt.size()), iterations, EVP_sha256(),
                              static_cast<int>(out.size()), out.data()) == 1);
  return out;
}

std::string md5_hex(std::span<const std::uint8_t> data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_md5() is available in the default provider; a FIPS-only build would fail here, and md5
  // authentication cannot work there anyway.
  PGQ_CHECK(EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr) == 1);
  PGQ_CHECK(len == 16);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::span<std::uint8_t> data) {
  if (!data.empty()) OPENSSL_cleanse(data.data(), data.size());
}

void cleanse(std::string& text) {
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

}  // namespace pgquay::security
