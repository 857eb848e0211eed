#include "pgquay/security/md5.hpp"

#include "pgquay/security/crypto.hpp"

namespace pgquay::security {
namespace {

constexpr std::string_view kPrefix = "md5";

std::string salted(std::string_view inner_hex, const Md5Salt& salt) {
  std::string input(inner_hex);
  input.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  std::string out(kPrefix);
  out += md5_hex(as_bytes(input));
  cleanse(input);
  return out;
}

}  // namespace

std::string md5_password_hash(std::string_view user, std::string_view password) {
  std::string input(password);
  input += user;
  std::string out(kPrefix);
  out += md5_hex(as_bytes(input));
  cleanse(input);
  return out;
}

bool is_md5_password_hash(std::string_view text) {
  if (text.size() != kPrefix.size() + 32 || !text.starts_with(kPrefix)) return false;
  for (char c : text.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string md5_response(std::string_view user, std::string_view password, const Md5Salt& salt) {
  std::string hash = md5_password_hash(user, password);
  std::string out = salted(std::string_view(hash).substr(kPrefix.size()), salt);
  cleanse(hash);
  return out;
}

Result<std::string> md5_response_from_hash(std::string_view stored_hash, const Md5Salt& salt) {
  if (!is_md5_password_hash(stored_hash)) return fail("not an md5 password hash");
  return salted(stored_hash.substr(kPrefix.size()), salt);
}

bool md5_response_matches(std::string_view expected, std::string_view received) {
  return constant_time_equal(as_bytes(expected), as_bytes(received));
}

Result<Md5Salt> md5_salt() {
  auto bytes = random_bytes(4);
  if (!bytes) return Unexpected(bytes.error());
  Md5Salt salt{};
  std::copy(bytes->begin(), bytes->end(), salt.begin());
  return salt;
}

}  // namespace pgquay::security
