#include "pgquay/pipeline/parameter_sync.hpp"

#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "pgquay/proto/quote.hpp"

namespace pgquay::pipeline {

namespace {
bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

template <typename Pairs>
const std::string* find_value(const Pairs& list, std::string_view name) {
  for (const auto& [key, value] : list) {
    if (same_name(key, name)) return &value;
  }
  return nullptr;
}

std::string lowercase(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}
}  // namespace

bool is_fixed_parameter(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kFixed = {
      "server_version", "server_encoding",       "integer_datetimes", "is_superuser",
      "in_hot_standby", "session_authorization", "scram_iterations"};
  return std::any_of(kFixed.begin(), kFixed.end(),
                     [&](std::string_view fixed) { return same_name(fixed, name); });
}

std::string encode_applied(const ParameterList& applied) {
  std::string out;
  for (const auto& [name, value] : applied) {
    out += name;
    out += '\0';
    out += value;
    out += '\0';
  }
  return out;
}

ParameterList decode_applied(std::string_view bytes) {
  ParameterList out;
  while (!bytes.empty()) {
    size_t name_end = bytes.find('\0');
    if (name_end == std::string_view::npos) break;
    size_t value_end = bytes.find('\0', name_end + 1);
    if (value_end == std::string_view::npos) break;
    out.emplace_back(bytes.substr(0, name_end),
                     bytes.substr(name_end + 1, value_end - name_end - 1));
    bytes.remove_prefix(value_end + 1);
  }
  return out;
}

ParameterSync plan_parameter_sync(const ParameterMap& client_view,
                                  const ParameterMap& server_reported,
                                  const ParameterList& client_settings,
                                  const ParameterList& server_applied) {
  ParameterSync plan;
  std::string sets;
  auto set = [&](std::string_view name, std::string_view value) {
    sets += sets.empty() ? "SELECT " : ", ";
    sets += "pg_catalog.set_config(" + proto::quote_literal(name) + ", " +
            proto::quote_literal(value) + ", false)";
  };
  for (const auto& [name, startup_value] : client_settings) {
    if (is_fixed_parameter(name)) continue;
    // A reported setting the client changed since its login is wanted at its new value.
    const std::string* told = find_value(client_view, name);
    const std::string& wanted = told ? *told : startup_value;
    const std::string* current = find_value(server_reported, name);
    if (!current) current = find_value(server_applied, name);
    if (!current || *current != wanted) set(name, wanted);
    plan.applied.emplace_back(name, wanted);
  }
  for (const auto& [name, value] : client_view) {
    if (is_fixed_parameter(name) || find_value(client_settings, name)) continue;
    const std::string* current = find_value(server_reported, name);
    if (!current || *current != value) set(name, value);
  }
  std::string resets;
  for (const auto& [name, value] : server_applied) {
    if (find_value(client_settings, name) || find_value(client_view, name)) continue;
    resets += resets.empty() ? "" : ", ";
    resets += proto::quote_literal(lowercase(name));
  }
  plan.sql = sets;
  if (!resets.empty()) {
    if (!plan.sql.empty()) plan.sql += "; ";
    // The value the setting has without any SET: the server's or the role's default.
    plan.sql +=
        "SELECT pg_catalog.set_config(s.name, s.reset_val, false) FROM pg_catalog.pg_settings s "
        "WHERE s.name IN (" +
        resets + ")";
  }
  return plan;
}

}  // namespace pgquay::pipeline
