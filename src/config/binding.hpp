// How a key-table row reads and writes its typed field: one codec per field type (parse with
// the row's limits, print canonically) and field<&S::member>() to bind a row to a member.
// Private to the config module; included by key_table.cpp only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <type_traits>

#include "key_table.hpp"
#include "pgquay/config/values.hpp"

namespace pgquay::config::detail {

template <typename S>
Unexpected expected_error(const KeyDef<S>& def) {
  return fail("expected " + accepted_text(def));
}

// One codec per field type: how its text is parsed (with the row's limits) and printed.
template <typename T>
struct Codec;

template <>
struct Codec<bool> {
  static constexpr ValueType type = ValueType::boolean;
  template <typename S>
  static Result<bool> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_bool(t);
    if (!v) return expected_error(def);
    return *v;
  }
  template <typename S>
  static std::string format(bool v, const KeyDef<S>&) {
    return format_bool(v);
  }
};

template <>
struct Codec<int> {
  static constexpr ValueType type = ValueType::integer;
  template <typename S>
  static Result<int> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_int(t, def.min, def.max);
    if (!v) return expected_error(def);
    return static_cast<int>(*v);
  }
  template <typename S>
  static std::string format(int v, const KeyDef<S>&) {
    return std::to_string(v);
  }
};

template <>
struct Codec<std::string> {
  static constexpr ValueType type = ValueType::string;
  template <typename S>
  static Result<std::string> parse(std::string_view t, const KeyDef<S>&) {
    return std::string(t);
  }
  template <typename S>
  static std::string format(const std::string& v, const KeyDef<S>&) {
    return v;
  }
};

template <>
struct Codec<std::chrono::milliseconds> {
  static constexpr ValueType type = ValueType::duration;
  template <typename S>
  static Result<std::chrono::milliseconds> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_duration(t);
    if (!v || v->count() < def.min || (def.max > 0 && v->count() > def.max)) {
      return expected_error(def);
    }
    return *v;
  }
  template <typename S>
  static std::string format(std::chrono::milliseconds v, const KeyDef<S>&) {
    return format_duration(v);
  }
};

template <>
struct Codec<std::uint64_t> {
  static constexpr ValueType type = ValueType::size;
  template <typename S>
  static Result<std::uint64_t> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_size(t);
    if (!v) return expected_error(def);
    return *v;
  }
  template <typename S>
  static std::string format(std::uint64_t v, const KeyDef<S>&) {
    return format_size(v);
  }
};

template <>
struct Codec<log::Level> {
  static constexpr ValueType type = ValueType::log_level;
  template <typename S>
  static Result<log::Level> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_log_level(t);
    if (!v) return expected_error(def);
    return *v;
  }
  template <typename S>
  static std::string format(log::Level v, const KeyDef<S>&) {
    return format_log_level(v);
  }
};

template <typename E>
requires std::is_enum_v<E>
struct Codec<E> {
  static constexpr ValueType type = ValueType::enumeration;
  template <typename S>
  static Result<E> parse(std::string_view t, const KeyDef<S>& def) {
    auto v = parse_enum_name(choices_of(def), t);
    if (!v) return expected_error(def);
    return static_cast<E>(*v);
  }
  template <typename S>
  static std::string format(E v, const KeyDef<S>& def) {
    return std::string(enum_name_of(choices_of(def), static_cast<int>(v)));
  }
};

template <typename M>
struct MemberOf;
template <typename S, typename T>
struct MemberOf<T S::*> {
  using Owner = S;
  using Type = T;
};

// The binding of one field, e.g. field<&MainConfig::port>(): the codec follows from its type.
template <auto Member>
constexpr Binding<typename MemberOf<decltype(Member)>::Owner> field() {
  using S = typename MemberOf<decltype(Member)>::Owner;
  using T = typename MemberOf<decltype(Member)>::Type;
  Binding<S> b;
  b.type = Codec<T>::type;
  b.set = [](S& s, const KeyDef<S>& def, std::string_view text) -> Result<void> {
    auto v = Codec<T>::parse(text, def);
    if (!v) return Unexpected(v.error());
    s.*Member = std::move(*v);
    return {};
  };
  b.get = [](const S& s, const KeyDef<S>& def) { return Codec<T>::format(s.*Member, def); };
  if constexpr (Codec<T>::type == ValueType::enumeration) b.names = &enum_names<T>;
  return b;
}

}  // namespace pgquay::config::detail
