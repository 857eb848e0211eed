#include "pgquay/proto/messages.hpp"

#include "pgquay/proto/framing.hpp"

namespace pgquay::proto {

void build_authentication_ok(std::string& out) {
  MessageWriter w(out);
  w.begin(msg::kAuthentication).i32(0).end();  // 0 = AuthenticationOk
}

void build_parameter_status(std::string& out, std::string_view name, std::string_view value) {
  MessageWriter w(out);
  w.begin(msg::kParameterStatus).cstr(name).cstr(value).end();
}

void build_backend_key_data(std::string& out, BackendKey key) {
  MessageWriter w(out);
  w.begin(msg::kBackendKeyData).i32(key.pid).i32(key.secret).end();
}

void build_ready_for_query(std::string& out, TxStatus status) {
  MessageWriter w(out);
  w.begin(msg::kReadyForQuery).byte(static_cast<char>(status)).end();
}

void build_query(std::string& out, std::string_view sql) {
  MessageWriter w(out);
  w.begin(msg::kQuery).cstr(sql).end();
}

void build_terminate(std::string& out) {
  MessageWriter w(out);
  w.begin(msg::kTerminate).end();
}

std::optional<TxStatus> parse_ready_for_query(std::string_view body) {
  if (body.size() != 1) return std::nullopt;
  switch (body[0]) {
    case 'I':
      return TxStatus::idle;
    case 'T':
      return TxStatus::in_transaction;
    case 'E':
      return TxStatus::failed;
    default:
      return std::nullopt;
  }
}

std::optional<std::pair<std::string_view, std::string_view>> parse_parameter_status(
    std::string_view body) {
  BodyReader r(body);
  const auto name = r.cstr();
  const auto value = r.cstr();
  if (!name || !value || !r.done()) return std::nullopt;
  return std::pair{*name, *value};
}

std::optional<BackendKey> parse_backend_key_data(std::string_view body) {
  if (body.size() != 8) return std::nullopt;
  return BackendKey{read_i32(body, 0), read_i32(body, 4)};
}

}  // namespace pgquay::proto
