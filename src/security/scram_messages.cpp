#include <charconv>

#include "pgquay/security/scram.hpp"

namespace pgquay::security::scram {
namespace {

// Reads "x=value" attributes separated by ',' in order.
class Attributes {
 public:
  explicit Attributes(std::string_view text) : rest_(text) {}

  [[nodiscard]] bool at_end() const { return done_; }
  [[nodiscard]] bool next_is(char name) const {
    return !done_ && rest_.size() >= 2 && rest_[0] == name && rest_[1] == '=';
  }
  // The value of the next attribute, which must be `name`.
  Result<std::string_view> take(char name) {
    if (!next_is(name)) return fail(std::string("expected attribute '") + name + "='");
    auto comma = rest_.find(',');
    std::string_view value = rest_.substr(2, comma == std::string_view::npos ? comma : comma - 2);
    if (comma == std::string_view::npos) {
      done_ = true;
      rest_ = {};
    } else {
      rest_ = rest_.substr(comma + 1);
    }
    return value;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

Result<void> check_nonce(std::string_view nonce) {
  if (nonce.empty()) return fail("empty nonce");
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return fail("nonce has a character outside printable");
  }
  return {};
}

Result<void> refuse_mandatory_extension(const Attributes& attrs) {
  if (attrs.next_is('m')) return fail("mandatory extension 'm=' is not supported");
  return {};
}

std::string with_context(const char* message, const Error& error) {
  return std::string(message) + ": " + error.message;
}

}  // namespace

std::string escape_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> unescape_name(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == ',') return fail("',' in a name");
    if (name[i] != '=') {
      out += name[i];
      continue;
    }
    std::string_view code = name.substr(i + 1, 2);
    if (code == "2C") {
      out += ',';
    } else if (code == "3D") {
      out += '=';
    } else {
      return fail("bad '=' escape in a name");
    }
    i += 2;
  }
  return out;
}

std::string gs2_header(char cbind_flag, std::string_view cbind_name) {
  if (cbind_flag == 'p') return "p=" + std::string(cbind_name) + ",,";
  return std::string(1, cbind_flag) + ",,";
}

std::string client_first_bare(std::string_view user, std::string_view nonce) {
  return "n=" + escape_name(user) + ",r=" + std::string(nonce);
}

Result<ClientFirst> parse_client_first(std::string_view message) {
  constexpr const char* kWhat = "malformed SCRAM client-first-message";
  ClientFirst out;
  std::size_t pos = 0;
  if (message.starts_with("n,") || message.starts_with("y,")) {
    out.cbind_flag = message[0];
    pos = 2;
  } else if (message.starts_with("p=")) {
    auto comma = message.find(',');
    if (comma == std::string_view::npos) return fail(std::string(kWhat) + ": no gs2 header");
    out.cbind_flag = 'p';
    out.cbind_name = std::string(message.substr(2, comma - 2));
    if (out.cbind_name.empty()) return fail(std::string(kWhat) + ": empty channel binding name");
    pos = comma + 1;
  } else {
    return fail(std::string(kWhat) + ": bad channel binding flag");
  }
  std::string_view rest = message.substr(pos);
  auto comma = rest.find(',');
  if (comma == std::string_view::npos) return fail(std::string(kWhat) + ": no gs2 header end");
  std::string_view authzid = rest.substr(0, comma);
  if (!authzid.empty()) {
    if (!authzid.starts_with("a=")) return fail(std::string(kWhat) + ": bad authzid");
    auto name = unescape_name(authzid.substr(2));
    if (!name) return fail(with_context(kWhat, name.error()));
    out.authzid = std::move(*name);
  }
  pos += comma + 1;
  out.gs2_header = std::string(message.substr(0, pos));
  out.bare = std::string(message.substr(pos));

  Attributes attrs(out.bare);
  if (auto ok = refuse_mandatory_extension(attrs); !ok)
    return fail(with_context(kWhat, ok.error()));
  auto user = attrs.take('n');
  if (!user) return fail(with_context(kWhat, user.error()));
  auto name = unescape_name(*user);
  if (!name) return fail(with_context(kWhat, name.error()));
  out.user = std::move(*name);
  auto nonce = attrs.take('r');
  if (!nonce) return fail(with_context(kWhat, nonce.error()));
  if (auto ok = check_nonce(*nonce); !ok) return fail(with_context(kWhat, ok.error()));
  out.nonce = std::string(*nonce);
  return out;  // further attributes are extensions, which RFC 5802 says to ignore
}

Result<ServerFirst> parse_server_first(std::string_view message) {
  constexpr const char* kWhat = "malformed SCRAM server-first-message";
  Attributes attrs(message);
  if (auto ok = refuse_mandatory_extension(attrs); !ok)
    return fail(with_context(kWhat, ok.error()));
  ServerFirst out;
  auto nonce = attrs.take('r');
  if (!nonce) return fail(with_context(kWhat, nonce.error()));
  if (auto ok = check_nonce(*nonce); !ok) return fail(with_context(kWhat, ok.error()));
  out.nonce = std::string(*nonce);
  auto salt = attrs.take('s');
  if (!salt) return fail(with_context(kWhat, salt.error()));
  auto decoded = base64_decode(*salt);
  if (!decoded) return fail(with_context(kWhat, decoded.error()));
  if (decoded->empty()) return fail(std::string(kWhat) + ": empty salt");
  out.salt = std::move(*decoded);
  auto iterations = attrs.take('i');
  if (!iterations) return fail(with_context(kWhat, iterations.error()));
  auto [end, ec] =
      std::from_chars(iterations->data(), iterations->data() + iterations->size(), out.iterations);
  if (ec != std::errc{} || end != iterations->data() + iterations->size() || out.iterations < 1 ||
      out.iterations > kMaxIterations) {
    return fail(std::string(kWhat) + ": iteration count must be 1.." +
                std::to_string(kMaxIterations));
  }
  return out;
}

std::string format_server_first(const ServerFirst& first) {
  return "r=" + first.nonce + ",s=" + base64_encode(first.salt) +
         ",i=" + std::to_string(first.iterations);
}

Result<ClientFinal> parse_client_final(std::string_view message) {
  constexpr const char* kWhat = "malformed SCRAM client-final-message";
  auto proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return fail(std::string(kWhat) + ": no proof");
  ClientFinal out;
  out.without_proof = std::string(message.substr(0, proof_at));
  auto proof = base64_decode(message.substr(proof_at + 3));
  if (!proof) return fail(with_context(kWhat, proof.error()));
  out.proof = std::move(*proof);

  Attributes attrs(out.without_proof);
  auto binding = attrs.take('c');
  if (!binding) return fail(with_context(kWhat, binding.error()));
  auto decoded = base64_decode(*binding);
  if (!decoded) return fail(with_context(kWhat, decoded.error()));
  out.channel_binding = std::move(*decoded);
  auto nonce = attrs.take('r');
  if (!nonce) return fail(with_context(kWhat, nonce.error()));
  out.nonce = std::string(*nonce);
  return out;
}

std::string client_final_without_proof(std::span<const std::uint8_t> channel_binding,
                                       std::string_view nonce) {
  return "c=" + base64_encode(channel_binding) + ",r=" + std::string(nonce);
}

std::string format_client_final(std::string_view without_proof, const Sha256& proof) {
  return std::string(without_proof) + ",p=" + base64_encode(proof);
}

Result<ServerFinal> parse_server_final(std::string_view message) {
  constexpr const char* kWhat = "malformed SCRAM server-final-message";
  Attributes attrs(message);
  ServerFinal out;
  if (attrs.next_is('e')) {
    auto error = attrs.take('e');
    out.error = std::string(*error);
    if (out.error.empty()) out.error = "unspecified error";
    return out;
  }
  auto verifier = attrs.take('v');
  if (!verifier) return fail(with_context(kWhat, verifier.error()));
  auto decoded = base64_decode(*verifier);
  if (!decoded) return fail(with_context(kWhat, decoded.error()));
  out.signature = std::move(*decoded);
  return out;
}

std::string format_server_final(const Sha256& signature) {
  return "v=" + base64_encode(signature);
}

std::string format_server_error(std::string_view error) {
  return "e=" + std::string(error);
}

}  // namespace pgquay::security::scram
