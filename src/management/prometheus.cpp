#include "pgquay/management/prometheus.hpp"

#include <charconv>
#include <cmath>

namespace pgquay::management {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Counts and gauges are whole numbers almost always: print them without an exponent.
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape_help(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  write_sample(name, std::span<const Label>(labels.begin(), labels.size()), {}, {}, value);
}

void Exposition::write_sample(std::string_view name, std::span<const Label> labels,
                              std::string_view extra_name, std::string_view extra_value,
                              double value) {
  text_ += name;
  if (!labels.empty() || !extra_name.empty()) {
    text_ += '{';
    bool first = true;
    auto add = [&](std::string_view label, std::string_view label_value) {
      if (!first) text_ += ',';
      first = false;
      text_ += label;
      text_ += "=\"";
      text_ += escape_label_value(label_value);
      text_ += '"';
    };
    for (const auto& [label, label_value] : labels) add(label, label_value);
    if (!extra_name.empty()) add(extra_name, extra_value);
    text_ += '}';
  }
  text_ += ' ';
  text_ += format_sample_value(value);
  text_ += '\n';
}

void Exposition::histogram(std::string_view name, std::string_view help,
                           std::span<const double> bounds, std::span<const uint64_t> counts,
                           double sum) {
  family(name, "histogram", help);
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    write_sample(bucket, {}, "le", format_sample_value(bounds[i]), static_cast<double>(cumulative));
  }
  if (counts.size() > bounds.size()) cumulative += counts[bounds.size()];
  write_sample(bucket, {}, "le", "+Inf", static_cast<double>(cumulative));
  write_sample(std::string(name) + "_sum", {}, {}, {}, sum);
  write_sample(std::string(name) + "_count", {}, {}, {}, static_cast<double>(cumulative));
}

}  // namespace pgquay::management
