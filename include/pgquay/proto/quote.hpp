// Quoting for the SQL a pooler writes itself (SET for startup parameters, DISCARD, ...).
#pragma once

#include <string>
#include <string_view>

namespace pgquay::proto {

// A string literal that means `value` whatever standard_conforming_strings is: E'...' with
// backslashes and quotes doubled when the value holds a backslash, '...' with quotes doubled
// otherwise (like PostgreSQL's quote_literal). Values must not contain NUL (checked; no protocol
// string can). Bytes are handled one by one, so the connection's client_encoding must be one in
// which no multibyte character contains the byte ' or \: true of every encoding PostgreSQL allows
// on the server side, false for the client-only SJIS, BIG5, GBK, UHC and GB18030.
std::string quote_literal(std::string_view value);

// A quoted identifier: always "..." with quotes doubled. Quoting every name means the same as
// PostgreSQL's quote_ident (which leaves plain lowercase non-keywords bare) without carrying its
// keyword list. Names must not contain NUL (checked).
std::string quote_ident(std::string_view name);

}  // namespace pgquay::proto
