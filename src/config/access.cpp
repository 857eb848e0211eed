// `conf get`, `conf set`, the key list and the reload diff, all read from the key tables.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "key_table.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/values.hpp"

namespace pgquay::config {
namespace {

// A key as written by an operator: "log_level", "pgquay.log_level", "pgagroal.log_level" or
// "server.<name>.<key>" (the server name may itself contain dots: the key follows the last one).
struct KeyRef {
  std::optional<std::string> server;
  std::string key;
};

std::optional<KeyRef> parse_key(std::string_view text) {
  constexpr std::string_view kServerPrefix = "server.";
  if (text.size() > kServerPrefix.size() &&
      iequals(text.substr(0, kServerPrefix.size()), kServerPrefix)) {
    std::string_view rest = text.substr(kServerPrefix.size());
    auto dot = rest.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return std::nullopt;
    return KeyRef{std::string(rest.substr(0, dot)), std::string(rest.substr(dot + 1))};
  }
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return KeyRef{std::nullopt, std::string(text)};
  std::string_view section = text.substr(0, dot);
  if (!iequals(section, "pgquay") && !iequals(section, "pgagroal")) return std::nullopt;
  return KeyRef{std::nullopt, std::string(text.substr(dot + 1))};
}

// Works on const and mutable server lists alike.
template <typename Servers>
auto* find_server(Servers& servers, std::string_view name) {
  auto it = std::find_if(servers.begin(), servers.end(),
                         [&](const ServerConfig& s) { return s.name == name; });
  return it == servers.end() ? nullptr : &*it;
}

// `conf set` values come from a command line, not a file: trim and drop one level of matching
// quotes, but keep `#` and `;` (there is no comment to strip).
std::string_view unquote(std::string_view value) {
  value = trim(value);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

template <typename S>
Result<void> set_field(S& target, const detail::KeyDef<S>& def, std::string_view value) {
  if (auto r = def.binding.set(target, def, value); !r) {
    return fail(std::string(def.name) + " = '" + std::string(value) + "': " + r.error().message);
  }
  return {};
}

std::string server_summary(const ServerConfig& s) {
  return s.host + ":" + std::to_string(s.port);
}

}  // namespace

std::optional<std::string> get_value(const Config& config, std::string_view key) {
  auto ref = parse_key(key);
  if (!ref) return std::nullopt;
  if (!ref->server) {
    const auto* def = detail::find_main_key(ref->key);
    if (def == nullptr) return std::nullopt;
    return def->binding.get(config.main, *def);
  }
  const ServerConfig* server = find_server(config.servers, *ref->server);
  const auto* def = detail::find_server_key(ref->key);
  if (server == nullptr || def == nullptr) return std::nullopt;
  return def->binding.get(*server, *def);
}

Result<void> set_value(Config& config, std::string_view key, std::string_view value) {
  auto ref = parse_key(key);
  if (!ref) return fail("unknown key '" + std::string(key) + "'");
  Config changed = config;
  std::string_view v = unquote(value);
  if (!ref->server) {
    const auto* def = detail::find_main_key(ref->key);
    if (def == nullptr) return fail("unknown key '" + std::string(key) + "'");
    if (auto r = set_field(changed.main, *def, v); !r) return r;
  } else {
    ServerConfig* server = find_server(changed.servers, *ref->server);
    if (server == nullptr) return fail("unknown server [" + *ref->server + "]");
    const auto* def = detail::find_server_key(ref->key);
    if (def == nullptr) return fail("unknown key '" + std::string(key) + "'");
    if (auto r = set_field(*server, *def, v); !r) return r;
  }
  if (auto r = validate(changed); !r) return r;
  config = std::move(changed);
  return {};
}

std::vector<std::string> list_keys() {
  std::vector<std::string> keys;
  for (const auto& def : detail::main_keys()) {
    if (def.kind != detail::KeyKind::alias) keys.emplace_back(def.name);
  }
  return keys;
}

std::vector<std::string> list_server_keys() {
  std::vector<std::string> keys;
  for (const auto& def : detail::server_keys()) keys.emplace_back(def.name);
  return keys;
}

std::optional<bool> is_reloadable(std::string_view key) {
  auto ref = parse_key(key);
  if (!ref) return std::nullopt;
  if (!ref->server) {
    const auto* def = detail::find_main_key(ref->key);
    if (def == nullptr) return std::nullopt;
    return def->apply == detail::Apply::reload;
  }
  const auto* def = detail::find_server_key(ref->key);
  if (def == nullptr) return std::nullopt;
  return def->apply == detail::Apply::reload;
}

std::vector<KeyChange> diff(const Config& old_config, const Config& new_config) {
  std::vector<KeyChange> changes;
  for (const auto& def : detail::main_keys()) {
    if (def.kind == detail::KeyKind::alias) continue;
    std::string a = def.binding.get(old_config.main, def);
    std::string b = def.binding.get(new_config.main, def);
    if (a != b) {
      changes.push_back({std::string(def.name), a, b, def.apply == detail::Apply::reload});
    }
  }
  for (const auto& fresh : new_config.servers) {
    const ServerConfig* old = find_server(old_config.servers, fresh.name);
    if (old == nullptr) {
      // pgagroal adds servers on reload; removing or changing one needs a restart.
      changes.push_back({"server." + fresh.name, "", server_summary(fresh), true});
      continue;
    }
    for (const auto& def : detail::server_keys()) {
      std::string a = def.binding.get(*old, def);
      std::string b = def.binding.get(fresh, def);
      if (a != b) {
        changes.push_back({"server." + fresh.name + "." + std::string(def.name), a, b,
                           def.apply == detail::Apply::reload});
      }
    }
  }
  for (const auto& old : old_config.servers) {
    if (find_server(new_config.servers, old.name) == nullptr) {
      changes.push_back({"server." + old.name, server_summary(old), "", false});
    }
  }
  return changes;
}

}  // namespace pgquay::config
