#include "pgquay/proto/quote.hpp"

#include "pgquay/common/check.hpp"

namespace pgquay::proto {

namespace {

std::string quote_with(std::string_view text, char quote, bool double_backslash) {
  std::string out;
  out.reserve(text.size() + 3);
  out.push_back(quote);
  for (const char c : text) {
    PGQ_CHECK(c != '\0');
    if (c == quote || (double_backslash && c == '\\')) out.push_back(c);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string quote_literal(std::string_view value) {
  if (value.find('\\') == std::string_view::npos) return quote_with(value, '\'', false);
  // With standard_conforming_strings off a backslash in '...' would be an escape; in E'...' it is
  // one in both modes, so doubling it is right in both.
  return 'E' + quote_with(value, '\'', true);
}

std::string quote_ident(std::string_view name) {
  return quote_with(name, '"', false);
}

}  // namespace pgquay::proto
