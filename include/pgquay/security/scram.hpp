// SCRAM-SHA-256 building blocks (RFC 5802, RFC 7677) as PostgreSQL uses them: key derivation,
// stored verifiers, and the four messages. The state machines for one exchange are in
// scram_exchange.hpp.
//
// Passwords are used as given, without SASLprep (RFC 4013): no Debian-packaged library offers it
// to us. This is exact for ASCII passwords (SASLprep leaves printable ASCII unchanged) and matches
// what PostgreSQL and libpq do for passwords that SASLprep rejects; a non-ASCII password that
// SASLprep would normalise differs from what PostgreSQL computes, so use ASCII passwords (all
// generated ones are) or the normalised (NFKC) form.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/security/crypto.hpp"

namespace pgquay::security::scram {

inline constexpr std::string_view kMechanism = "SCRAM-SHA-256";
inline constexpr std::string_view kMechanismPlus = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kChannelBindingType = "tls-server-end-point";
inline constexpr int kDefaultIterations = 4096;  // PostgreSQL's default scram_iterations
inline constexpr std::size_t kSaltSize = 16;     // PostgreSQL's SCRAM_DEFAULT_SALT_LEN
// A server that asks for more makes each login a denial of service; PostgreSQL's own default is
// 4096 and nobody needs ten million.
inline constexpr int kMaxIterations = 10'000'000;

// --- keys (RFC 5802 section 3) ---

Sha256 salted_password(std::string_view password, std::span<const std::uint8_t> salt,
                       int iterations);            // Hi(password, salt, i)
Sha256 client_key(const Sha256& salted_password);  // HMAC(SaltedPassword, "Client Key")
Sha256 server_key(const Sha256& salted_password);  // HMAC(SaltedPassword, "Server Key")
Sha256 stored_key(const Sha256& client_key);       // H(ClientKey)
// client-first-message-bare + "," + server-first-message + "," + client-final-message-without-proof
std::string auth_message(std::string_view client_first_bare, std::string_view server_first,
                         std::string_view client_final_without_proof);
// ClientKey XOR HMAC(StoredKey, AuthMessage)
Sha256 client_proof(const Sha256& client_key, const Sha256& stored_key,
                    std::string_view auth_message);
// HMAC(ServerKey, AuthMessage)
Sha256 server_signature(const Sha256& server_key, std::string_view auth_message);
// Recovers ClientKey = proof XOR HMAC(StoredKey, AuthMessage) and compares H(ClientKey) with
// StoredKey in constant time.
bool verify_client_proof(const Sha256& stored_key, std::string_view auth_message,
                         std::span<const std::uint8_t> proof);

// --- stored verifiers ---

// What a server keeps instead of the password.
struct Verifier {
  Bytes salt;
  int iterations = kDefaultIterations;
  Sha256 stored_key{};
  Sha256 server_key{};
};

Verifier compute_verifier(std::string_view password, std::span<const std::uint8_t> salt,
                          int iterations);
// With a fresh random kSaltSize-byte salt; fails only if the RNG fails.
Result<Verifier> make_verifier(std::string_view password, int iterations = kDefaultIterations);
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>", the form of
// pg_authid.rolpassword.
std::string format_verifier(const Verifier& verifier);
Result<Verifier> parse_verifier(std::string_view text);
bool is_verifier(std::string_view text);  // starts with "SCRAM-SHA-256$"

// A verifier for a user pgquay does not know, so the exchange runs to its end and fails the same
// way as a wrong password (no user enumeration): the salt is stable per user for a given secret,
// and no password matches the keys.
Verifier mock_verifier(std::string_view user, std::span<const std::uint8_t> secret);

// 18 random bytes, base64 (24 printable characters without ','), like PostgreSQL's.
Result<std::string> generate_nonce();

// --- messages (RFC 5802 section 7) ---

// saslname escaping: ',' -> "=2C", '=' -> "=3D".
std::string escape_name(std::string_view name);
Result<std::string> unescape_name(std::string_view name);

struct ClientFirst {
  char cbind_flag = 'n';   // 'n': no binding, 'y': client could bind, 'p': binds (cbind_name)
  std::string cbind_name;  // for 'p', e.g. "tls-server-end-point"
  std::string authzid;     // "a=" (PostgreSQL rejects a non-empty one, and so do we)
  std::string user;        // unescaped; PostgreSQL clients send "" and the startup user counts
  std::string nonce;       // c-nonce
  std::string gs2_header;  // as sent, e.g. "n,,"
  std::string bare;        // client-first-message-bare as sent
};
Result<ClientFirst> parse_client_first(std::string_view message);
// "n,," / "y,," / "p=<name>,,"
std::string gs2_header(char cbind_flag, std::string_view cbind_name = {});
// "n=<escaped user>,r=<nonce>"
std::string client_first_bare(std::string_view user, std::string_view nonce);

struct ServerFirst {
  std::string nonce;  // c-nonce + s-nonce
  Bytes salt;
  int iterations = 0;
};
// Checks iterations in 1..kMaxIterations and a non-empty salt.
Result<ServerFirst> parse_server_first(std::string_view message);
std::string format_server_first(const ServerFirst& first);

struct ClientFinal {
  Bytes channel_binding;  // decoded c=: gs2 header (+ binding data for 'p')
  std::string nonce;
  Bytes proof;                // decoded p=
  std::string without_proof;  // client-final-message-without-proof as sent
};
Result<ClientFinal> parse_client_final(std::string_view message);
// "c=<base64 channel binding>,r=<nonce>"
std::string client_final_without_proof(std::span<const std::uint8_t> channel_binding,
                                       std::string_view nonce);
// without_proof + ",p=<base64 proof>"
std::string format_client_final(std::string_view without_proof, const Sha256& proof);

struct ServerFinal {
  std::optional<Bytes> signature;  // v=
  std::string error;               // e= (when signature is empty)
};
Result<ServerFinal> parse_server_final(std::string_view message);
std::string format_server_final(const Sha256& signature);  // "v=<base64>"
std::string format_server_error(std::string_view error);   // "e=<error>", e.g. "invalid-proof"

}  // namespace pgquay::security::scram
