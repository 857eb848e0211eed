#include "pgquay/proto/framing.hpp"

#include <cstdio>

#include "pgquay/common/check.hpp"

namespace pgquay::proto {

namespace {

std::uint32_t load_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         std::uint32_t{u[3]};
}

void store_be32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace

std::int32_t read_i32(std::string_view buf, std::size_t offset) {
  PGQ_CHECK(offset <= buf.size() && buf.size() - offset >= 4);
  return static_cast<std::int32_t>(load_be32(buf.data() + offset));
}

std::int16_t read_i16(std::string_view buf, std::size_t offset) {
  PGQ_CHECK(offset <= buf.size() && buf.size() - offset >= 2);
  const auto* u = reinterpret_cast<const unsigned char*>(buf.data() + offset);
  return static_cast<std::int16_t>((u[0] << 8) | u[1]);
}

ProtoError invalid_message_length(char type, std::uint32_t length, std::uint32_t max_length) {
  // The type byte is arbitrary binary in a corrupt stream: show it printable either way.
  char shown[8];
  const auto u = static_cast<unsigned char>(type);
  if (u >= 0x21 && u < 0x7f) {
    std::snprintf(shown, sizeof shown, "'%c'", type);
  } else {
    std::snprintf(shown, sizeof shown, "0x%02x", u);
  }
  // The length word is signed on the wire; a negative one reads as a huge unsigned value.
  const auto as_signed = static_cast<std::int32_t>(length);
  std::string detail = "message type " + std::string(shown) + " declares length " +
                       std::to_string(as_signed) + "; lengths from 4 to " +
                       std::to_string(max_length) + " are accepted";
  // "invalid message length" is PostgreSQL's own wording (pq_getmessage).
  return ProtoError::protocol_violation("invalid message length", std::move(detail));
}

ProtoResult<std::optional<MessageView>> next_message(std::string_view buf,
                                                     std::uint32_t max_length) {
  if (buf.size() < kHeaderSize) return std::optional<MessageView>{};
  const std::uint32_t length = load_be32(buf.data() + 1);
  // The length word is signed on the wire: one with the sign bit set is never valid.
  if (length < kMinMessageLength || length > max_length || length > 0x7fffffffU) {
    return std::unexpected(invalid_message_length(buf[0], length, max_length));
  }
  const std::size_t size = std::size_t{length} + 1;
  if (buf.size() < size) return std::optional<MessageView>{};
  return MessageView{buf[0], buf.substr(kHeaderSize, size - kHeaderSize), size};
}

MessageWriter::~MessageWriter() {
  // A message begun and never ended would leave a zero length word in the output.
  PGQ_CHECK(length_at_ == kClosed);
}

MessageWriter& MessageWriter::begin(char type) {
  PGQ_CHECK(length_at_ == kClosed);
  out_.push_back(type);
  return begin_untyped();
}

MessageWriter& MessageWriter::begin_untyped() {
  PGQ_CHECK(length_at_ == kClosed);
  length_at_ = out_.size();
  out_.append(4, '\0');
  return *this;
}

MessageWriter& MessageWriter::byte(char value) {
  PGQ_CHECK(length_at_ != kClosed);
  out_.push_back(value);
  return *this;
}

MessageWriter& MessageWriter::i16(std::int16_t value) {
  PGQ_CHECK(length_at_ != kClosed);
  const auto u = static_cast<std::uint16_t>(value);
  out_.push_back(static_cast<char>(u >> 8));
  out_.push_back(static_cast<char>(u));
  return *this;
}

MessageWriter& MessageWriter::i32(std::int32_t value) {
  PGQ_CHECK(length_at_ != kClosed);
  char be[4];
  store_be32(be, static_cast<std::uint32_t>(value));
  out_.append(be, sizeof be);
  return *this;
}

MessageWriter& MessageWriter::cstr(std::string_view text) {
  PGQ_CHECK(length_at_ != kClosed);
  PGQ_CHECK(text.find('\0') == std::string_view::npos);
  out_.append(text);
  out_.push_back('\0');
  return *this;
}

MessageWriter& MessageWriter::bytes(std::string_view data) {
  PGQ_CHECK(length_at_ != kClosed);
  out_.append(data);
  return *this;
}

void MessageWriter::end() {
  PGQ_CHECK(length_at_ != kClosed);
  const std::size_t length = out_.size() - length_at_;
  PGQ_CHECK(length <= kMaxMessageLength);
  store_be32(out_.data() + length_at_, static_cast<std::uint32_t>(length));
  length_at_ = kClosed;
}

std::optional<char> BodyReader::byte() {
  if (rest_.empty()) return std::nullopt;
  const char c = rest_.front();
  rest_.remove_prefix(1);
  return c;
}

std::optional<std::int16_t> BodyReader::i16() {
  if (rest_.size() < 2) return std::nullopt;
  const std::int16_t v = read_i16(rest_);
  rest_.remove_prefix(2);
  return v;
}

std::optional<std::int32_t> BodyReader::i32() {
  if (rest_.size() < 4) return std::nullopt;
  const std::int32_t v = read_i32(rest_);
  rest_.remove_prefix(4);
  return v;
}

std::optional<std::string_view> BodyReader::cstr() {
  const std::size_t nul = rest_.find('\0');
  if (nul == std::string_view::npos) return std::nullopt;
  const std::string_view text = rest_.substr(0, nul);
  rest_.remove_prefix(nul + 1);
  return text;
}

std::optional<std::string_view> BodyReader::bytes(std::size_t n) {
  if (rest_.size() < n) return std::nullopt;
  const std::string_view data = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return data;
}

}  // namespace pgquay::proto
