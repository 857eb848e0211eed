// Enumerated configuration values and their spellings in pgquay.conf.
//
// Each enum has one table of accepted names (enum_names<E>()). The first name listed for a value is
// its canonical spelling (what `conf get` and the reference print); later names with the same
// value are accepted aliases (pgagroal's spellings, e.g. `full` for `verbose`). Parsing is
// case-insensitive. All functions here are pure and safe to call from any process.
#pragma once

#include <span>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::config {

struct EnumName {
  std::string_view name;
  int value;
};

// How a worker relays traffic (see DESIGN.md, Pipelines). `automatic` picks session when the
// configuration needs it (TLS, failover, disconnect_client) and performance otherwise.
enum class Pipeline { automatic, performance, session, transaction };

// The event-loop backend. `automatic` = io_uring, else epoll, else kqueue. Which ones exist is the
// ev module's business; the configuration only records the choice.
enum class EvBackend { automatic, io_uring, epoll, kqueue };

enum class LogType { console, file, syslog };
enum class LogMode { append, create };
enum class Validation { off, foreground, background };
// `if_available` is pgagroal's `try`: use huge pages when the kernel has them, else fall back.
enum class HugePage { off, if_available, on };
enum class UpdateProcessTitle { never, strict, minimal, verbose };

// The accepted names of E, canonical names first (see above).
template <typename E>
std::span<const EnumName> enum_names();

template <>
std::span<const EnumName> enum_names<Pipeline>();
template <>
std::span<const EnumName> enum_names<EvBackend>();
template <>
std::span<const EnumName> enum_names<LogType>();
template <>
std::span<const EnumName> enum_names<LogMode>();
template <>
std::span<const EnumName> enum_names<Validation>();
template <>
std::span<const EnumName> enum_names<HugePage>();
template <>
std::span<const EnumName> enum_names<UpdateProcessTitle>();

// The names accepted by pgagroal's old `libev` key, mapped onto EvBackend (libev backends that
// pgquay does not have, such as select or poll, mean `auto`).
std::span<const EnumName> libev_names();

// Canonical name of `value` in `names`, or "?" when the value is not listed.
std::string_view enum_name_of(std::span<const EnumName> names, int value);
// Looks `text` up in `names` (case-insensitive). On failure the error message is the phrase
// "expected one of: a, b, c" listing the canonical names.
Result<int> parse_enum_name(std::span<const EnumName> names, std::string_view text);
// "a, b (alias), c" style list of canonical names with their aliases in parentheses.
std::string describe_enum_names(std::span<const EnumName> names, bool with_aliases);

template <typename E>
std::string_view to_string(E value) {
  return enum_name_of(enum_names<E>(), static_cast<int>(value));
}

template <typename E>
Result<E> parse_enum(std::string_view text) {
  auto v = parse_enum_name(enum_names<E>(), text);
  if (!v) return Unexpected(v.error());
  return static_cast<E>(*v);
}

inline Result<Pipeline> parse_pipeline(std::string_view text) {
  return parse_enum<Pipeline>(text);
}
inline Result<EvBackend> parse_ev_backend(std::string_view text) {
  return parse_enum<EvBackend>(text);
}

}  // namespace pgquay::config
