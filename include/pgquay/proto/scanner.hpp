// MessageScanner: follows message boundaries over a byte stream fed in arbitrary chunks, without
// waiting for whole messages, so a relay can pass a 100 MB DataRow stream on chunk by chunk while
// still seeing the few messages it cares about (ReadyForQuery, ErrorResponse, Terminate, ...).
//
// Per message the visitor decides, from the header alone, what happens to its bytes:
//   pass     forward the bytes as they arrive; the body is never copied (DataRow, CopyData, ...)
//   inspect  forward as they arrive and also buffer the body; on_message() once it is complete
//   drop     discard the bytes
//   capture  discard the bytes but buffer the body; on_message() once it is complete, where the
//            visitor may emit a replacement (or the message itself) in the right place
// Forwarded bytes reach on_forward() in stream order, coalesced into as few pieces as possible.
//
// Ordering contract: when on_message() runs, every forwarded byte before the message -- and the
// message itself for `inspect` -- has already gone to on_forward(). So bytes the visitor appends
// to its own output from on_message() land exactly where the message was. on_header() must not
// emit: pieces of earlier messages may still be pending.
//
// Lifetimes: a piece given to on_forward() points into the chunk passed to feed() or into the
// scanner's own header store, and stays valid until the next feed() call (so a relay may collect
// iovecs during feed() and write them after it returns). The body given to on_message() is valid
// only during the call.
//
// Cost: pass and drop touch only the five header bytes per message and never allocate. Bodies of
// inspected/captured messages are copied only when split across chunks; the buffer keeps its
// capacity. The visitor sees the size before choosing, so it can refuse to buffer a huge one.
//
// The startup packet has no type byte: start scanning after it. Not for use from several threads;
// callbacks must not call back into the scanner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgquay/proto/error.hpp"
#include "pgquay/proto/framing.hpp"

namespace pgquay::proto {

enum class Disposition : std::uint8_t { pass, inspect, drop, capture };

class MessageScanner {
 public:
  class Visitor {
   public:
    virtual ~Visitor() = default;
    // The type byte and the length word are known; size is the whole message (1 + length).
    virtual Disposition on_header(char type, std::uint32_t size) = 0;
    // The complete body of an inspected or captured message.
    virtual void on_message(char type, std::string_view body) = 0;
    // Bytes to pass on, in stream order.
    virtual void on_forward(std::string_view bytes) = 0;
  };

  // Length words below 4 or above max_length are protocol errors. max_length <= INT32_MAX
  // (checked): the length word is signed on the wire.
  explicit MessageScanner(std::uint32_t max_length = kMaxMessageLength);

  // Scans the next chunk of the stream. On a protocol error the bytes before the bad header have
  // been forwarded, the rest of the chunk is not, and every later feed() returns the same error:
  // the stream cannot be resynchronised, the caller closes the connection (after sending the
  // peer build_fatal(out, error) if it wants to).
  ProtoResult<void> feed(std::string_view chunk, Visitor& visitor);

  // True between messages: no header or body partly seen. A transaction pooler may switch server
  // connections only here.
  [[nodiscard]] bool at_boundary() const { return !error_ && !in_body_ && header_len_ == 0; }
  // Forgets any partial message and a previous error (for a fresh stream).
  void reset();

 private:
  // Consumes the body bytes of the current message available at chunk[pos...].
  void consume_body(std::string_view chunk, std::size_t& pos, std::size_t& run, Visitor& visitor);

  std::uint32_t max_length_;
  std::optional<ProtoError> error_;

  // A header split across chunks. Two stores, used in turn, so the bytes handed to on_forward()
  // from one store stay intact while the next split header fills the other (see Lifetimes).
  std::array<std::array<char, kHeaderSize>, 2> header_{};
  std::size_t header_store_ = 0;
  std::size_t header_len_ = 0;

  // The message whose body is being consumed.
  bool in_body_ = false;
  char type_ = 0;
  Disposition disposition_ = Disposition::pass;
  std::uint32_t remaining_ = 0;  // body bytes still to come
  std::string body_;             // inspected/captured body split across chunks
};

}  // namespace pgquay::proto
