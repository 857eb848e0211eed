// Framing of typed protocol messages (type byte + int32 length that counts itself), big-endian
// integer helpers, a writer that appends one message to a byte string, and a bounds-checked reader
// for message bodies. Buffers are std::string (raw bytes, output) and std::string_view (input).
// Framing and reading never allocate (except to describe an error); the writer appends to the
// caller's string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgquay/proto/error.hpp"

namespace pgquay::proto {

// Default ceiling for a message's length word: 1 GiB, about PostgreSQL's own limit for a single
// message (MaxAllocSize). Anything larger is a corrupt or hostile stream, not data.
inline constexpr std::uint32_t kMaxMessageLength = 1U << 30;
// Smallest length word: the length counts only itself (e.g. Terminate, Sync).
inline constexpr std::uint32_t kMinMessageLength = 4;
// Type byte + length word.
inline constexpr std::size_t kHeaderSize = 5;

// Big-endian loads. Precondition (checked): offset + width <= buf.size().
std::int32_t read_i32(std::string_view buf, std::size_t offset = 0);
std::int16_t read_i16(std::string_view buf, std::size_t offset = 0);

struct MessageView {
  char type = 0;
  std::string_view body;  // the bytes after the length word; points into the caller's buffer
  std::size_t size = 0;   // the whole message: type byte + length word + body
};

// Frames the message at the start of buf. nullopt: buf does not hold the whole message yet.
// Error (08P01 "invalid message length") when the length word is below 4 or above max_length,
// which is known as soon as the five header bytes are there.
ProtoResult<std::optional<MessageView>> next_message(std::string_view buf,
                                                     std::uint32_t max_length = kMaxMessageLength);

// The error next_message and MessageScanner report for a bad length word.
ProtoError invalid_message_length(char type, std::uint32_t length, std::uint32_t max_length);

// Appends one message to `out`: begin(type) ... end(). end() patches the length word, so the body
// can be written piecewise without knowing its size. One message at a time (checked); strings
// written with cstr() must not contain NUL (checked: the peer would split them).
class MessageWriter {
 public:
  explicit MessageWriter(std::string& out) : out_(out) {}
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;
  ~MessageWriter();

  MessageWriter& begin(char type);
  // Startup-style packets (StartupMessage, SSLRequest, CancelRequest) have no type byte.
  MessageWriter& begin_untyped();
  MessageWriter& byte(char value);
  MessageWriter& i16(std::int16_t value);
  MessageWriter& i32(std::int32_t value);
  MessageWriter& cstr(std::string_view text);  // text + NUL
  MessageWriter& bytes(std::string_view data);
  void end();

 private:
  static constexpr std::size_t kClosed = static_cast<std::size_t>(-1);
  std::string& out_;
  std::size_t length_at_ = kClosed;  // offset of the length word of the open message
};

// Consumes a message body front to back; every read returns nullopt when the body is too short
// (or, for cstr, has no NUL left), leaving the reader where it was.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : rest_(body) {}

  std::optional<char> byte();
  std::optional<std::int16_t> i16();
  std::optional<std::int32_t> i32();
  std::optional<std::string_view> cstr();  // the text before the next NUL; consumes the NUL
  std::optional<std::string_view> bytes(std::size_t n);

  [[nodiscard]] std::size_t remaining() const { return rest_.size(); }
  [[nodiscard]] bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace pgquay::proto
