#include "pgquay/config/hba.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "pgquay/config/values.hpp"
#include "text_file.hpp"

namespace pgquay::config {
namespace {

struct TypeName {
  std::string_view name;
  HbaType type;
};
constexpr TypeName kTypes[] = {
    {"host", HbaType::host},
    {"hostssl", HbaType::hostssl},
    {"hostnossl", HbaType::hostnossl},
    {"local", HbaType::local},
};

struct MethodName {
  std::string_view name;
  HbaMethod method;
};
constexpr MethodName kMethods[] = {
    {"trust", HbaMethod::trust},
    {"reject", HbaMethod::reject},
    {"password", HbaMethod::password},
    {"md5", HbaMethod::md5},
    {"scram-sha-256", HbaMethod::scram_sha_256},
    {"all", HbaMethod::all},
    {"cert", HbaMethod::cert},
};

constexpr const char* kColumns = "TYPE DATABASE USER ADDRESS METHOD";

Result<HbaType> parse_type(std::string_view text) {
  for (const auto& t : kTypes) {
    if (iequals(t.name, text)) return t.type;
  }
  return fail("TYPE '" + std::string(text) + "': expected one of host, hostssl, hostnossl, local");
}

Result<HbaMethod> parse_method(std::string_view text) {
  for (const auto& m : kMethods) {
    if (iequals(m.name, text)) return m.method;
  }
  return fail("METHOD '" + std::string(text) +
              "': expected one of trust, reject, password, md5, scram-sha-256, all, cert");
}

// `all` -> empty list (matches everything); otherwise the comma-separated names.
Result<std::vector<std::string>> parse_names(std::string_view text, std::string_view column) {
  auto names = detail::split_list(text, ',');
  std::vector<std::string> out;
  for (auto& n : names) {
    if (n.empty()) {
      return fail(std::string(column) + " '" + std::string(text) +
                  "': empty name in list (expected all, a name, or names separated by commas)");
    }
    if (iequals(n, "all")) return std::vector<std::string>{};
    out.push_back(std::move(n));
  }
  return out;
}

void clear_host_bits(HbaAddress& a) {
  std::size_t bytes = a.family == AF_INET ? 4 : 16;
  for (std::size_t i = 0; i < bytes; ++i) {
    int bits = std::clamp(a.prefix - static_cast<int>(i * 8), 0, 8);
    a.network[i] &= static_cast<unsigned char>(0xFF00 >> bits);
  }
}

Result<HbaAddress> parse_address(std::string_view text) {
  auto invalid = [&] {
    return fail("ADDRESS '" + std::string(text) +
                "': expected all, or an IPv4 or IPv6 address with an optional /prefix "
                "(0-32 for IPv4, 0-128 for IPv6)");
  };
  HbaAddress a;
  if (iequals(text, "all")) return a;
  auto slash = text.find('/');
  std::string host(text.substr(0, slash));
  a.any = false;
  if (inet_pton(AF_INET, host.c_str(), a.network.data()) == 1) {
    a.family = AF_INET;
    a.prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), a.network.data()) == 1) {
    a.family = AF_INET6;
    a.prefix = 128;
  } else {
    return invalid();
  }
  if (slash != std::string_view::npos) {
    auto prefix = parse_int(text.substr(slash + 1), 0, a.prefix);
    if (!prefix) return invalid();
    a.prefix = static_cast<int>(*prefix);
  }
  clear_host_bits(a);
  return a;
}

Result<HbaRule> parse_rule(const std::vector<std::string_view>& f) {
  if (f.size() < 4) {
    return fail("expected " + std::string(kColumns) + ", found only " + std::to_string(f.size()) +
                " field" + (f.size() == 1 ? "" : "s"));
  }
  HbaRule rule;
  auto type = parse_type(f[0]);
  if (!type) return Unexpected(type.error());
  rule.type = *type;
  // PostgreSQL writes `local` rules without ADDRESS; pgagroal-style files write all five columns.
  bool four = rule.type == HbaType::local && f.size() == 4;
  if (!four && f.size() == 4) return fail("missing METHOD: expected " + std::string(kColumns));
  std::size_t expected = four ? 4 : 5;
  if (f.size() > expected) {
    return fail("unexpected '" + std::string(f[expected]) +
                "' after METHOD (a comment starts with #)");
  }
  auto dbs = parse_names(f[1], "DATABASE");
  if (!dbs) return Unexpected(dbs.error());
  rule.databases = std::move(*dbs);
  auto users = parse_names(f[2], "USER");
  if (!users) return Unexpected(users.error());
  rule.users = std::move(*users);
  if (!four) {
    auto address = parse_address(f[3]);
    if (!address) return Unexpected(address.error());
    rule.address = *address;
    if (rule.type == HbaType::local && !rule.address.any) {
      return fail("ADDRESS '" + std::string(f[3]) +
                  "': a local rule has no address (write all, or leave the column out)");
    }
  }
  auto method = parse_method(f[expected - 1]);
  if (!method) return Unexpected(method.error());
  rule.method = *method;
  if (rule.method == HbaMethod::cert && rule.type != HbaType::hostssl) {
    return fail("METHOD cert needs TYPE hostssl: only a TLS client has a certificate");
  }
  return rule;
}

bool kind_matches(const HbaRule& rule, ConnKind kind) {
  switch (rule.type) {
    case HbaType::host:
      // pgagroal has no `local`: its `host ... all` rules admit Unix socket clients too.
      return kind != ConnKind::unix_socket || rule.address.any;
    case HbaType::hostssl:
      return kind == ConnKind::tcp_tls;
    case HbaType::hostnossl:
      return kind == ConnKind::tcp;
    case HbaType::local:
      return kind == ConnKind::unix_socket;
  }
  return false;
}

bool name_matches(const std::vector<std::string>& names, std::string_view name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

bool prefix_matches(const unsigned char* net, const unsigned char* addr, int prefix) {
  for (int i = 0; prefix > 0; ++i, prefix -= 8) {
    auto mask = static_cast<unsigned char>(0xFF00 >> std::min(prefix, 8));
    if ((net[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

bool address_matches(const HbaAddress& a, const sockaddr* peer) {
  if (a.any) return true;
  if (peer == nullptr) return false;
  if (peer->sa_family == AF_INET) {
    if (a.family != AF_INET) return false;
    sockaddr_in in{};
    std::memcpy(&in, peer, sizeof(in));
    return prefix_matches(a.network.data(), reinterpret_cast<const unsigned char*>(&in.sin_addr),
                          a.prefix);
  }
  if (peer->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, peer, sizeof(in6));
    const auto* bytes = reinterpret_cast<const unsigned char*>(&in6.sin6_addr);
    if (a.family == AF_INET6) return prefix_matches(a.network.data(), bytes, a.prefix);
    // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      return prefix_matches(a.network.data(), bytes + 12, a.prefix);
    }
  }
  return false;
}

}  // namespace

std::string_view to_string(HbaType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "?";
}

std::string_view to_string(HbaMethod method) {
  for (const auto& m : kMethods) {
    if (m.method == method) return m.name;
  }
  return "?";
}

Result<std::vector<HbaRule>> parse_hba_string(std::string_view text, std::string_view name) {
  std::vector<HbaRule> rules;
  std::vector<std::string> errors;
  detail::for_each_line(text, [&](int line, std::string_view content) {
    auto fields = detail::split_fields(content);
    if (fields.empty()) return;
    auto rule = parse_rule(fields);
    if (!rule) {
      errors.push_back(std::string(name) + ":" + std::to_string(line) + ": " +
                       rule.error().message);
      return;
    }
    rule->line = line;
    rules.push_back(std::move(*rule));
  });
  if (errors.empty() && rules.empty()) {
    errors.push_back(std::string(name) +
                     ": no rules, so every client would be rejected; add e.g. "
                     "'host all all all trust'");
  }
  if (!errors.empty()) return fail(detail::join_lines(errors));
  return rules;
}

Result<std::vector<HbaRule>> load_hba_file(const std::string& path) {
  auto text = detail::read_text_file(path);
  if (!text) return Unexpected(text.error());
  return parse_hba_string(*text, path);
}

const HbaRule* match(const std::vector<HbaRule>& rules, ConnKind kind, std::string_view database,
                     std::string_view user, const sockaddr* peer) {
  for (const auto& rule : rules) {
    if (!kind_matches(rule, kind)) continue;
    if (!name_matches(rule.databases, database) || !name_matches(rule.users, user)) continue;
    if (kind != ConnKind::unix_socket && !address_matches(rule.address, peer)) continue;
    return &rule;
  }
  return nullptr;
}

}  // namespace pgquay::config
