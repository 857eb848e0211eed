#include "pgquay/security/users_cipher.hpp"

#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "pgquay/common/check.hpp"

namespace pgquay::security {
namespace {

constexpr std::size_t kIvSize = 12;   // GCM's natural nonce size
constexpr std::size_t kTagSize = 16;  // full-length tag

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  PGQ_CHECK(ctx != nullptr);
  return ctx;
}

std::string associated_data(std::string_view user) {
  std::string aad(kEntryPrefix);
  aad += user;
  return aad;
}

Result<DecryptedPassword> decrypt_gcm(std::string_view user, std::string_view encoded,
                                      const MasterKey& key) {
  auto raw = base64_decode(encoded);
  if (!raw) return Unexpected(raw.error());
  if (raw->size() < kIvSize + kTagSize) return fail("too short to be an encrypted password");
  const std::uint8_t* iv = raw->data();
  const std::uint8_t* ciphertext = iv + kIvSize;
  std::size_t ciphertext_size = raw->size() - kIvSize - kTagSize;
  const std::uint8_t* tag = ciphertext + ciphertext_size;
  std::string aad = associated_data(user);

  auto ctx = new_ctx();
  std::string plain(ciphertext_size, '\0');
  int len = 0;
  int total = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.users_file_key().data(), iv) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, as_bytes(aad).data(),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                              ciphertext, static_cast<int>(ciphertext_size)) == 1;
  total = len;
  ok = ok &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                           const_cast<std::uint8_t*>(tag)) == 1 &&
       EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + total,
                           &len) == 1;
  if (!ok) {
    cleanse(plain);
    openssl_error();  // drop the queued error: the tag mismatch is the expected cause
    return fail(
        "cannot decrypt: wrong master key, or the entry was altered or belongs to another user");
  }
  plain.resize(static_cast<std::size_t>(total + len));
  return DecryptedPassword{std::move(plain), EntryFormat::pgquay_gcm};
}

void pgagroal_key_iv(std::string_view key_text, unsigned char* key, unsigned char* iv) {
  PGQ_CHECK(key_text.size() < INT_MAX);
  PGQ_CHECK(EVP_BytesToKey(EVP_aes_256_cbc(), EVP_sha1(), nullptr,
                           reinterpret_cast<const unsigned char*>(key_text.data()),
                           static_cast<int>(key_text.size()), 1, key, iv) == 32);
}

Result<DecryptedPassword> decrypt_cbc(std::string_view encoded, const MasterKey& master) {
  auto raw = base64_decode(encoded);
  if (!raw) return Unexpected(raw.error());
  if (raw->empty() || raw->size() % 16 != 0) return fail("too short to be an encrypted password");
  unsigned char key[EVP_MAX_KEY_LENGTH];
  unsigned char iv[EVP_MAX_IV_LENGTH];
  pgagroal_key_iv(master.text(), key, iv);
  auto ctx = new_ctx();
  std::string plain(raw->size() + 16, '\0');
  int len = 0;
  int total = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key, iv) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                              raw->data(), static_cast<int>(raw->size())) == 1;
  total = len;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + total,
                                 &len) == 1;
  cleanse(std::span<std::uint8_t>(key, sizeof(key)));
  cleanse(std::span<std::uint8_t>(iv, sizeof(iv)));
  if (ok) plain.resize(static_cast<std::size_t>(total + len));
  // Without a MAC a wrong key shows only as bad padding, or (about 1 in 256) as valid padding
  // around garbage; pgagroal passwords are text, so control characters mean garbage too.
  bool text = ok && !plain.empty();
  for (char c : plain) text = text && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  if (!text) {
    cleanse(plain);
    openssl_error();
    return fail("cannot decrypt (pgagroal format): wrong master key, or the entry was altered");
  }
  return DecryptedPassword{std::move(plain), EntryFormat::pgagroal_cbc};
}

}  // namespace

const char* entry_format_name(EntryFormat format) {
  return format == EntryFormat::pgquay_gcm ? "pgquay" : "pgagroal";
}

Result<std::string> encrypt_password(std::string_view user, std::string_view password,
                                     const MasterKey& key) {
  PGQ_CHECK(password.size() < INT_MAX / 2 && user.size() < INT_MAX / 2);
  auto iv = random_bytes(kIvSize);
  if (!iv) return Unexpected(iv.error());
  std::string aad = associated_data(user);
  Bytes out(kIvSize + password.size() + kTagSize);
  std::copy(iv->begin(), iv->end(), out.begin());
  auto ctx = new_ctx();
  int len = 0;
  int total = 0;
  PGQ_CHECK(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1);
  PGQ_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvSize, nullptr) == 1);
  PGQ_CHECK(EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.users_file_key().data(),
                               iv->data()) == 1);
  PGQ_CHECK(EVP_EncryptUpdate(ctx.get(), nullptr, &len, as_bytes(aad).data(),
                              static_cast<int>(aad.size())) == 1);
  PGQ_CHECK(EVP_EncryptUpdate(ctx.get(), out.data() + kIvSize, &len, as_bytes(password).data(),
                              static_cast<int>(password.size())) == 1);
  total = len;
  PGQ_CHECK(EVP_EncryptFinal_ex(ctx.get(), out.data() + kIvSize + total, &len) == 1);
  total += len;
  PGQ_CHECK(static_cast<std::size_t>(total) == password.size());
  PGQ_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                                out.data() + kIvSize + total) == 1);
  std::string field(kEntryPrefix);
  field += base64_encode(out);
  return field;
}

Result<DecryptedPassword> decrypt_password(std::string_view user, std::string_view field,
                                           const MasterKey& key) {
  if (field.starts_with(kEntryPrefix)) {
    return decrypt_gcm(user, field.substr(kEntryPrefix.size()), key);
  }
  return decrypt_cbc(field, key);
}

Result<std::string> encrypt_password_pgagroal(std::string_view password,
                                              std::string_view key_text) {
  PGQ_CHECK(password.size() < INT_MAX / 2);
  unsigned char key[EVP_MAX_KEY_LENGTH];
  unsigned char iv[EVP_MAX_IV_LENGTH];
  pgagroal_key_iv(key_text, key, iv);
  auto ctx = new_ctx();
  Bytes out(password.size() + 16);
  int len = 0;
  int total = 0;
  PGQ_CHECK(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, key, iv) == 1);
  PGQ_CHECK(EVP_EncryptUpdate(ctx.get(), out.data(), &len, as_bytes(password).data(),
                              static_cast<int>(password.size())) == 1);
  total = len;
  PGQ_CHECK(EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) == 1);
  out.resize(static_cast<std::size_t>(total + len));
  cleanse(std::span<std::uint8_t>(key, sizeof(key)));
  cleanse(std::span<std::uint8_t>(iv, sizeof(iv)));
  return base64_encode(out);
}

}  // namespace pgquay::security
