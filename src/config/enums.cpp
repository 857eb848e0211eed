#include "pgquay/config/enums.hpp"

#include <string>

#include "pgquay/config/values.hpp"

namespace pgquay::config {
namespace {

template <typename E>
constexpr EnumName n(std::string_view name, E value) {
  return EnumName{name, static_cast<int>(value)};
}

constexpr EnumName kPipeline[] = {
    n("auto", Pipeline::automatic),
    n("performance", Pipeline::performance),
    n("session", Pipeline::session),
    n("transaction", Pipeline::transaction),
};

constexpr EnumName kEvBackend[] = {
    n("auto", EvBackend::automatic),   n("io_uring", EvBackend::io_uring),
    n("epoll", EvBackend::epoll),      n("kqueue", EvBackend::kqueue),
    n("iouring", EvBackend::io_uring),  // libev's spelling, as in older pgagroal files
};

// pgagroal's libev key named libev's backends; the ones pgquay lacks fall back to auto.
constexpr EnumName kLibev[] = {
    n("auto", EvBackend::automatic),     n("iouring", EvBackend::io_uring),
    n("epoll", EvBackend::epoll),        n("kqueue", EvBackend::kqueue),
    n("select", EvBackend::automatic),   n("poll", EvBackend::automatic),
    n("linuxaio", EvBackend::automatic), n("devpoll", EvBackend::automatic),
    n("port", EvBackend::automatic),     n("io_uring", EvBackend::io_uring),
};

constexpr EnumName kLogType[] = {
    n("console", LogType::console),
    n("file", LogType::file),
    n("syslog", LogType::syslog),
};

constexpr EnumName kLogMode[] = {
    n("append", LogMode::append),
    n("create", LogMode::create),
    n("a", LogMode::append),
    n("c", LogMode::create),
};

constexpr EnumName kValidation[] = {
    n("off", Validation::off),
    n("foreground", Validation::foreground),
    n("background", Validation::background),
};

constexpr EnumName kHugePage[] = {
    n("off", HugePage::off),
    n("try", HugePage::if_available),
    n("on", HugePage::on),
};

constexpr EnumName kUpdateProcessTitle[] = {
    n("never", UpdateProcessTitle::never),     n("strict", UpdateProcessTitle::strict),
    n("minimal", UpdateProcessTitle::minimal), n("verbose", UpdateProcessTitle::verbose),
    n("off", UpdateProcessTitle::never),       n("full", UpdateProcessTitle::verbose),
};

// True when `names[i]` is the first entry carrying its value, i.e. the canonical spelling.
bool is_canonical(std::span<const EnumName> names, std::size_t i) {
  for (std::size_t j = 0; j < i; ++j) {
    if (names[j].value == names[i].value) return false;
  }
  return true;
}

}  // namespace

template <>
std::span<const EnumName> enum_names<Pipeline>() {
  return kPipeline;
}
template <>
std::span<const EnumName> enum_names<EvBackend>() {
  return kEvBackend;
}
template <>
std::span<const EnumName> enum_names<LogType>() {
  return kLogType;
}
template <>
std::span<const EnumName> enum_names<LogMode>() {
  return kLogMode;
}
template <>
std::span<const EnumName> enum_names<Validation>() {
  return kValidation;
}
template <>
std::span<const EnumName> enum_names<HugePage>() {
  return kHugePage;
}
template <>
std::span<const EnumName> enum_names<UpdateProcessTitle>() {
  return kUpdateProcessTitle;
}
std::span<const EnumName> libev_names() {
  return kLibev;
}

std::string_view enum_name_of(std::span<const EnumName> names, int value) {
  for (const auto& e : names) {
    if (e.value == value) return e.name;
  }
  return "?";
}

Result<int> parse_enum_name(std::span<const EnumName> names, std::string_view text) {
  for (const auto& e : names) {
    if (iequals(e.name, text)) return e.value;
  }
  return fail("expected one of: " + describe_enum_names(names, false));
}

std::string describe_enum_names(std::span<const EnumName> names, bool with_aliases) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!is_canonical(names, i)) continue;
    if (!out.empty()) out += ", ";
    out += names[i].name;
    if (!with_aliases) continue;
    std::string aliases;
    for (std::size_t j = i + 1; j < names.size(); ++j) {
      if (names[j].value != names[i].value) continue;
      if (!aliases.empty()) aliases += ", ";
      aliases += names[j].name;
    }
    if (!aliases.empty()) out += " (or " + aliases + ")";
  }
  return out;
}

}  // namespace pgquay::config
