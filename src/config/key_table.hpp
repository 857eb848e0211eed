// The key tables: one row per configuration key with its type, default, reload behaviour,
// documentation and the typed field it fills. Parsing, defaults, validation of single values,
// get/set, the reload diff and doc/CONFIGURATION.md all read these rows; nothing else lists keys.
// Private to the config module.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/enums.hpp"

namespace pgquay::config::detail {

enum class ValueType { boolean, integer, string, enumeration, duration, size, log_level };

enum class Apply { reload, restart };

enum class KeyKind {
  normal,
  compat,  // a key of older pgagroal releases: accepted and validated, documented apart
  alias,   // another name for a key listed elsewhere (shares its field; not listed, not diffed)
};

template <typename S>
struct KeyDef;

// Reads and writes one typed field of S. Both are plain function pointers generated per field
// (see key_table.cpp) so the tables stay constant data.
template <typename S>
struct Binding {
  ValueType type = ValueType::string;
  // Parses a cleaned value and stores it. On failure the message is the "expected ..." phrase.
  Result<void> (*set)(S&, const KeyDef<S>&, std::string_view) = nullptr;
  std::string (*get)(const S&, const KeyDef<S>&) = nullptr;
  std::span<const EnumName> (*names)() = nullptr;  // enumerations: the enum's own names
};

template <typename S>
struct KeyDef {
  std::string_view name;
  std::string_view default_text;  // parsed into every default-constructed S
  Apply apply = Apply::reload;
  std::string_view doc;  // one line for the reference table
  Binding<S> binding;
  // Accepted range: integers as is, durations in milliseconds. For durations max 0 = unbounded.
  long long min = 0;
  long long max = 0;
  std::span<const EnumName> choices{};  // enumerations; empty = the enum's own names
  KeyKind kind = KeyKind::normal;
};

// The names an enumeration key accepts: the row's own list, else its enum's names.
template <typename S>
std::span<const EnumName> choices_of(const KeyDef<S>& def) {
  if (!def.choices.empty() || def.binding.names == nullptr) return def.choices;
  return def.binding.names();
}

std::span<const KeyDef<MainConfig>> main_keys();
std::span<const KeyDef<ServerConfig>> server_keys();
// Case-insensitive lookup; nullptr when unknown.
const KeyDef<MainConfig>* find_main_key(std::string_view name);
const KeyDef<ServerConfig>* find_server_key(std::string_view name);

// What a key accepts, for error messages and the reference ("an integer from 1 to 100", ...).
template <typename S>
std::string accepted_text(const KeyDef<S>& def);
// Short type column for the reference ("int, 1 to 100", "duration", "`auto`, `epoll`").
template <typename S>
std::string type_text(const KeyDef<S>& def);

}  // namespace pgquay::config::detail
