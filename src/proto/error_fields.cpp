#include "pgquay/proto/error_fields.hpp"

#include "pgquay/common/check.hpp"
#include "pgquay/proto/framing.hpp"
#include "pgquay/proto/messages.hpp"

namespace pgquay::proto {

namespace {

constexpr std::string_view kFatal = "FATAL";

// The one table of the fields ErrorFields names, in the order PostgreSQL writes them (send_message_
// to_frontend in elog.c), so that build after parse reproduces the server's bytes.
struct NamedField {
  char code;
  std::string ErrorFields::*member;
  bool always;  // written even when empty (required by the protocol)
};
constexpr NamedField kNamed[] = {
    {'S', &ErrorFields::severity, true},  {'V', &ErrorFields::severity_nonlocalized, false},
    {'C', &ErrorFields::sqlstate, true},  {'M', &ErrorFields::message, true},
    {'D', &ErrorFields::detail, false},   {'H', &ErrorFields::hint, false},
    {'P', &ErrorFields::position, false},
};

const NamedField* named_field(char code) {
  for (const NamedField& f : kNamed) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

void build_fields(std::string& out, char type, const ErrorFields& fields) {
  MessageWriter w(out);
  w.begin(type);
  for (const NamedField& f : kNamed) {
    const std::string& value = fields.*f.member;
    if (f.always || !value.empty()) w.byte(f.code).cstr(value);
  }
  for (const auto& [code, value] : fields.other) {
    PGQ_CHECK(code != '\0' && named_field(code) == nullptr);
    w.byte(code).cstr(value);
  }
  w.byte('\0').end();
}

}  // namespace

const std::string* ErrorFields::find(char code) const {
  if (const NamedField* f = named_field(code)) {
    const std::string& value = this->*f->member;
    return value.empty() ? nullptr : &value;
  }
  for (const auto& [c, value] : other) {
    if (c == code) return value.empty() ? nullptr : &value;
  }
  return nullptr;
}

void build_error_response(std::string& out, const ErrorFields& fields) {
  build_fields(out, msg::kErrorResponse, fields);
}

void build_notice_response(std::string& out, const ErrorFields& fields) {
  build_fields(out, msg::kNoticeResponse, fields);
}

void build_fatal(std::string& out, std::string_view sqlstate, std::string_view message,
                 std::string_view detail) {
  ErrorFields fields;
  fields.severity = kFatal;
  fields.severity_nonlocalized = kFatal;
  fields.sqlstate = sqlstate;
  fields.message = message;
  fields.detail = detail;
  build_error_response(out, fields);
}

void build_fatal(std::string& out, const ProtoError& error) {
  ErrorFields fields;
  fields.severity = kFatal;
  fields.severity_nonlocalized = kFatal;
  fields.sqlstate = error.sqlstate;
  fields.message = error.message;
  fields.detail = error.detail;
  fields.hint = error.hint;
  build_error_response(out, fields);
}

ProtoResult<ErrorFields> parse_error_fields(std::string_view body) {
  ErrorFields fields;
  BodyReader r(body);
  for (;;) {
    const auto code = r.byte();
    if (!code) {
      return std::unexpected(ProtoError::protocol_violation("invalid error or notice message",
                                                            "the terminating NUL byte is missing"));
    }
    if (*code == '\0') break;
    const auto value = r.cstr();
    if (!value) {
      return std::unexpected(ProtoError::protocol_violation("invalid error or notice message",
                                                            "a field value is not NUL-terminated"));
    }
    if (const NamedField* f = named_field(*code)) {
      fields.*f->member = *value;
    } else {
      fields.other.emplace_back(*code, *value);
    }
  }
  if (!r.done()) {
    return std::unexpected(ProtoError::protocol_violation("invalid error or notice message",
                                                          "bytes follow the terminating NUL byte"));
  }
  return fields;
}

bool is_fatal_or_panic(const ErrorFields& fields) {
  const std::string& severity =
      fields.severity_nonlocalized.empty() ? fields.severity : fields.severity_nonlocalized;
  return severity == kFatal || severity == "PANIC";
}

ErrorFields as_fatal(ErrorFields fields) {
  fields.severity = kFatal;
  fields.severity_nonlocalized = kFatal;
  return fields;
}

ProtoResult<void> reencode_error_as_fatal(std::string& out, std::string_view error_body) {
  auto fields = parse_error_fields(error_body);
  if (!fields) return std::unexpected(std::move(fields.error()));
  build_error_response(out, as_fatal(std::move(*fields)));
  return {};
}

}  // namespace pgquay::proto
