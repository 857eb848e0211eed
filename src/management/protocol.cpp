#include "pgquay/management/protocol.hpp"

namespace pgquay::management {

std::string encode_frame(const Json& document) {
  std::string body = document.dump(-1, ' ', false, Json::error_handler_t::replace);
  auto n = static_cast<uint32_t>(body.size());
  std::string frame;
  frame.reserve(kFrameHeaderSize + body.size());
  frame.push_back(static_cast<char>((n >> 24) & 0xff));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  frame += body;
  return frame;
}

Result<std::optional<Frame>> take_frame(std::string_view buffer, size_t max_size) {
  if (buffer.size() < kFrameHeaderSize) return std::optional<Frame>{};
  auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(buffer[i]));
  };
  size_t length = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  if (length == 0) return fail("empty management message");
  if (length > max_size) {
    return fail("management message of " + std::to_string(length) + " bytes exceeds the limit of " +
                std::to_string(max_size));
  }
  if (buffer.size() - kFrameHeaderSize < length) return std::optional<Frame>{};
  return std::optional<Frame>{
      Frame{buffer.substr(kFrameHeaderSize, length), kFrameHeaderSize + length}};
}

Result<Json> parse_document(std::string_view text) {
  Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return fail("malformed JSON");
  if (!document.is_object()) return fail("the message is not a JSON object");
  return document;
}

namespace {

Result<void> check_version(const Json& document) {
  auto it = document.find("version");
  if (it == document.end()) return fail("the message has no \"version\"");
  if (!it->is_number_integer()) return fail("\"version\" is not an integer");
  if (it->get<long long>() != kProtocolVersion) {
    return fail("unsupported management protocol version " + it->dump() + " (this is version " +
                std::to_string(kProtocolVersion) + ")");
  }
  return {};
}

}  // namespace

std::optional<std::string> Request::arg(std::string_view name) const {
  if (!args.is_object()) return std::nullopt;
  auto it = args.find(name);
  if (it == args.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Result<Request> parse_request(const Json& document) {
  if (!document.is_object()) return fail("the request is not a JSON object");
  if (auto ok = check_version(document); !ok) return Unexpected(ok.error());
  auto command = document.find("command");
  if (command == document.end() || !command->is_string() ||
      command->get_ref<const std::string&>().empty())
    return fail("the request has no \"command\" string");
  Request request;
  request.command = command->get<std::string>();
  if (auto args = document.find("args"); args != document.end() && !args->is_null()) {
    if (!args->is_object()) return fail("\"args\" is not an object");
    request.args = *args;
  }
  return request;
}

Json make_request(std::string_view command, Json args) {
  return Json{{"version", kProtocolVersion}, {"command", command}, {"args", std::move(args)}};
}

Json ok_response(Json result) {
  return Json{{"version", kProtocolVersion}, {"status", "ok"}, {"result", std::move(result)}};
}

Json error_response(std::string_view message) {
  return Json{{"version", kProtocolVersion}, {"status", "error"}, {"error", message}};
}

Result<Response> parse_response(const Json& document) {
  if (!document.is_object()) return fail("the response is not a JSON object");
  if (auto ok = check_version(document); !ok) return Unexpected(ok.error());
  auto status = document.find("status");
  if (status == document.end() || !status->is_string())
    return fail("the response has no \"status\" string");
  Response response;
  const auto& text = status->get_ref<const std::string&>();
  if (text == "ok") {
    response.ok = true;
    if (auto result = document.find("result"); result != document.end()) response.result = *result;
    return response;
  }
  if (text != "error") return fail("unknown response status \"" + text + "\"");
  auto error = document.find("error");
  response.error = error != document.end() && error->is_string() ? error->get<std::string>()
                                                                 : std::string("unknown error");
  return response;
}

std::string socket_path(std::string_view dir, int port) {
  std::string path(dir);
  if (path.empty()) path = ".";
  if (path.back() != '/') path += '/';
  return path + ".s.pgquay." + std::to_string(port) + ".admin";
}

}  // namespace pgquay::management
