// Prometheus text exposition format 0.0.4: builds the body of a /metrics response.
//
// Each metric family is announced once (HELP and TYPE lines) before its samples; label values are
// escaped per the format (backslash, double quote, line feed), HELP text likewise (backslash,
// line feed). Counters are named ..._total by the caller; histograms get their _bucket, _sum and
// _count samples from histogram().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgquay::management {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

using Label = std::pair<std::string_view, std::string_view>;

std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view text);
// Integers as integers, others in the shortest form that reads back the same; NaN, +Inf, -Inf
// as the format spells them.
std::string format_sample_value(double value);

class Exposition {
 public:
  // Starts a family: `type` is counter, gauge, histogram (or untyped).
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);

  // A whole histogram family. `bounds` are the upper bounds (seconds) in increasing order;
  // `counts` holds one non-cumulative count per bound plus one for +Inf (counts.size() ==
  // bounds.size() + 1). The buckets are written cumulatively, ending with le="+Inf" = count.
  void histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                 std::span<const uint64_t> counts, double sum);

  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] std::string take() { return std::move(text_); }

 private:
  void write_sample(std::string_view name, std::span<const Label> labels,
                    std::string_view extra_name, std::string_view extra_value, double value);
  std::string text_;
};

}  // namespace pgquay::management
