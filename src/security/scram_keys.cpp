#include <algorithm>
#include <charconv>

#include "pgquay/security/scram.hpp"

namespace pgquay::security::scram {
namespace {

constexpr std::string_view kVerifierPrefix = "SCRAM-SHA-256$";

Sha256 xor_of(const Sha256& a, std::span<const std::uint8_t> b) {
  Sha256 out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

Result<Sha256> decode_key(std::string_view text, const char* what) {
  auto bytes = base64_decode(text);
  if (!bytes) return fail(std::string(what) + ": " + bytes.error().message);
  if (bytes->size() != 32) return fail(std::string(what) + " is not 32 bytes");
  Sha256 out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace

Sha256 salted_password(std::string_view password, std::span<const std::uint8_t> salt,
                       int iterations) {
  return pbkdf2_sha256(as_bytes(password), salt, iterations);
}

Sha256 client_key(const Sha256& salted) {
  return hmac_sha256(salted, as_bytes("Client Key"));
}

Sha256 server_key(const Sha256& salted) {
  return hmac_sha256(salted, as_bytes("Server Key"));
}

Sha256 stored_key(const Sha256& client) {
  return sha256(client);
}

std::string auth_message(std::string_view client_first_bare, std::string_view server_first,
                         std::string_view client_final_without_proof) {
  std::string out;
  out.reserve(client_first_bare.size() + server_first.size() + client_final_without_proof.size() +
              2);
  out.append(client_first_bare).append(",").append(server_first).append(",");
  out.append(client_final_without_proof);
  return out;
}

Sha256 client_proof(const Sha256& client, const Sha256& stored, std::string_view auth) {
  Sha256 signature = hmac_sha256(stored, as_bytes(auth));
  Sha256 proof = xor_of(client, signature);
  cleanse(signature);
  return proof;
}

Sha256 server_signature(const Sha256& server, std::string_view auth) {
  return hmac_sha256(server, as_bytes(auth));
}

bool verify_client_proof(const Sha256& stored, std::string_view auth,
                         std::span<const std::uint8_t> proof) {
  if (proof.size() != 32) return false;
  Sha256 signature = hmac_sha256(stored, as_bytes(auth));
  Sha256 client = xor_of(signature, proof);
  Sha256 candidate = stored_key(client);
  bool ok = constant_time_equal(candidate, stored);
  cleanse(client);
  return ok;
}

Verifier compute_verifier(std::string_view password, std::span<const std::uint8_t> salt,
                          int iterations) {
  Sha256 salted = salted_password(password, salt, iterations);
  Sha256 client = client_key(salted);
  Verifier v;
  v.salt.assign(salt.begin(), salt.end());
  v.iterations = iterations;
  v.stored_key = stored_key(client);
  v.server_key = server_key(salted);
  cleanse(salted);
  cleanse(client);
  return v;
}

Result<Verifier> make_verifier(std::string_view password, int iterations) {
  auto salt = random_bytes(kSaltSize);
  if (!salt) return Unexpected(salt.error());
  return compute_verifier(password, *salt, iterations);
}

std::string format_verifier(const Verifier& v) {
  std::string out(kVerifierPrefix);
  out += std::to_string(v.iterations);
  out += ':';
  out += base64_encode(v.salt);
  out += '$';
  out += base64_encode(v.stored_key);
  out += ':';
  out += base64_encode(v.server_key);
  return out;
}

bool is_verifier(std::string_view text) {
  return text.starts_with(kVerifierPrefix);
}

Result<Verifier> parse_verifier(std::string_view text) {
  if (!is_verifier(text)) return fail("not a SCRAM-SHA-256 verifier");
  std::string_view rest = text.substr(kVerifierPrefix.size());
  auto dollar = rest.find('$');
  if (dollar == std::string_view::npos) return fail("SCRAM verifier: missing '$' before the keys");
  std::string_view params = rest.substr(0, dollar);
  std::string_view keys = rest.substr(dollar + 1);
  auto colon = params.find(':');
  auto key_colon = keys.find(':');
  if (colon == std::string_view::npos || key_colon == std::string_view::npos) {
    return fail("SCRAM verifier: expected iterations:salt$StoredKey:ServerKey");
  }
  Verifier v;
  std::string_view iterations = params.substr(0, colon);
  auto [end, ec] =
      std::from_chars(iterations.data(), iterations.data() + iterations.size(), v.iterations);
  if (ec != std::errc{} || end != iterations.data() + iterations.size() || v.iterations < 1) {
    return fail("SCRAM verifier: bad iteration count");
  }
  auto salt = base64_decode(params.substr(colon + 1));
  if (!salt || salt->empty()) return fail("SCRAM verifier: bad salt");
  v.salt = std::move(*salt);
  auto stored = decode_key(keys.substr(0, key_colon), "SCRAM verifier: StoredKey");
  if (!stored) return Unexpected(stored.error());
  auto server = decode_key(keys.substr(key_colon + 1), "SCRAM verifier: ServerKey");
  if (!server) return Unexpected(server.error());
  v.stored_key = *stored;
  v.server_key = *server;
  return v;
}

Verifier mock_verifier(std::string_view user, std::span<const std::uint8_t> secret) {
  auto derive = [&](std::string_view label) {
    std::string input(label);
    input += user;
    return hmac_sha256(secret, as_bytes(input));
  };
  Verifier v;
  Sha256 salt = derive("pgquay mock salt:");
  v.salt.assign(salt.begin(), salt.begin() + kSaltSize);
  v.iterations = kDefaultIterations;
  v.stored_key = derive("pgquay mock stored key:");
  v.server_key = derive("pgquay mock server key:");
  return v;
}

Result<std::string> generate_nonce() {
  auto bytes = random_bytes(18);
  if (!bytes) return Unexpected(bytes.error());
  return base64_encode(*bytes);
}

}  // namespace pgquay::security::scram
