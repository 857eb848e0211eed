// The text a key-table row shows in error messages and in the reference.
#include <chrono>
#include <string>

#include "key_table.hpp"
#include "pgquay/config/values.hpp"

namespace pgquay::config::detail {

using std::chrono::milliseconds;

template <typename S>
std::string accepted_text(const KeyDef<S>& def) {
  switch (def.binding.type) {
    case ValueType::boolean:
      return "a boolean: on, off, yes, no, true, false, 1 or 0";
    case ValueType::integer:
      return "an integer from " + std::to_string(def.min) + " to " + std::to_string(def.max);
    case ValueType::string:
      return "text";
    case ValueType::enumeration:
      return "one of: " + describe_enum_names(choices_of(def), false);
    case ValueType::duration: {
      std::string text = "a duration such as 30 (seconds), 500ms, 30s, 5m, 2h, 1d or 1w";
      if (def.min > 0 && def.max > 0) {
        text += ", from " + format_duration(milliseconds(def.min)) + " to " +
                format_duration(milliseconds(def.max));
      } else if (def.min > 0) {
        text += ", at least " + format_duration(milliseconds(def.min));
      }
      return text;
    }
    case ValueType::size:
      return "a size such as 0, 65536, 256K, 64MB or 1G";
    case ValueType::log_level:
      return "a log level: fatal, error, warn, info, debug, debug1 to debug5, trace";
  }
  return "a value";
}

template <typename S>
std::string type_text(const KeyDef<S>& def) {
  switch (def.binding.type) {
    case ValueType::boolean:
      return "bool";
    case ValueType::integer:
      return "int, " + std::to_string(def.min) + " to " + std::to_string(def.max);
    case ValueType::string:
      return "string";
    case ValueType::enumeration:
      return describe_enum_names(choices_of(def), true);
    case ValueType::duration:
      if (def.min > 0) return "duration, at least " + format_duration(milliseconds(def.min));
      return "duration";
    case ValueType::size:
      return "size";
    case ValueType::log_level:
      return "log level";
  }
  return "value";
}

template std::string accepted_text(const KeyDef<MainConfig>&);
template std::string accepted_text(const KeyDef<ServerConfig>&);
template std::string type_text(const KeyDef<MainConfig>&);
template std::string type_text(const KeyDef<ServerConfig>&);

}  // namespace pgquay::config::detail
