#include "pgquay/proto/scanner.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "pgquay/common/check.hpp"

namespace pgquay::proto {

namespace {

bool forwards(Disposition d) {
  return d == Disposition::pass || d == Disposition::inspect;
}
bool buffers(Disposition d) {
  return d == Disposition::inspect || d == Disposition::capture;
}

// Passes chunk[run, end) on, if not empty, and starts the next run at end.
void flush_run(std::string_view chunk, std::size_t& run, std::size_t end,
               MessageScanner::Visitor& visitor) {
  if (end > run) visitor.on_forward(chunk.substr(run, end - run));
  run = end;
}

}  // namespace

MessageScanner::MessageScanner(std::uint32_t max_length) : max_length_(max_length) {
  PGQ_CHECK(max_length <= static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()));
}

void MessageScanner::reset() {
  error_.reset();
  header_len_ = 0;
  in_body_ = false;
  remaining_ = 0;
  body_.clear();
}

ProtoResult<void> MessageScanner::feed(std::string_view chunk, Visitor& visitor) {
  if (error_) return std::unexpected(*error_);
  std::size_t pos = 0;
  std::size_t run = 0;  // forwarded bytes not yet given to the visitor: chunk[run, pos)
  while (pos < chunk.size()) {
    if (in_body_) {
      consume_body(chunk, pos, run, visitor);
      continue;
    }

    const std::size_t header_begin = pos;
    const std::size_t held = header_len_;  // header bytes kept from earlier chunks
    std::string_view header;
    if (held == 0 && chunk.size() - pos >= kHeaderSize) {
      header = chunk.substr(pos, kHeaderSize);  // the hot path: no copy
      pos += kHeaderSize;
    } else {
      if (held == 0) header_store_ ^= 1;  // see the Lifetimes note in the header
      auto& store = header_[header_store_];
      const std::size_t take = std::min(kHeaderSize - held, chunk.size() - pos);
      std::memcpy(store.data() + held, chunk.data() + pos, take);
      header_len_ += take;
      pos += take;
      if (header_len_ < kHeaderSize) {
        // The chunk ends inside a header. Its bytes are held back: whether they are forwarded
        // depends on the visitor's decision, which needs the whole header.
        flush_run(chunk, run, header_begin, visitor);
        run = pos;
        break;
      }
      header = std::string_view(store.data(), kHeaderSize);
    }

    const char type = header[0];
    const auto length = static_cast<std::uint32_t>(read_i32(header, 1));
    if (length < kMinMessageLength || length > max_length_) {
      flush_run(chunk, run, header_begin, visitor);
      error_ = invalid_message_length(type, length, max_length_);
      return std::unexpected(*error_);
    }
    const Disposition disposition = visitor.on_header(type, length + 1);

    if (held > 0) {
      // Only the first header of a chunk can have held bytes, so nothing of this chunk has been
      // forwarded yet: the held part goes first, the rest of the header is in the current run.
      header_len_ = 0;
      if (forwards(disposition)) {
        visitor.on_forward(std::string_view(header_[header_store_].data(), held));
      } else {
        run = pos;
      }
    } else if (!forwards(disposition)) {
      flush_run(chunk, run, header_begin, visitor);
      run = pos;
    }

    in_body_ = true;
    type_ = type;
    disposition_ = disposition;
    remaining_ = length - 4;
    body_.clear();
    consume_body(chunk, pos, run, visitor);  // completes an empty body at once
  }
  flush_run(chunk, run, pos, visitor);
  return {};
}

void MessageScanner::consume_body(std::string_view chunk, std::size_t& pos, std::size_t& run,
                                  Visitor& visitor) {
  const std::size_t take = std::min<std::size_t>(remaining_, chunk.size() - pos);
  const bool keep = buffers(disposition_);
  // A body wholly inside this chunk is handed over in place; only a split one is copied.
  const bool in_place = keep && body_.empty() && take == remaining_;
  const std::string_view piece = chunk.substr(pos, take);
  if (keep && !in_place) body_.append(piece);
  pos += take;
  remaining_ -= static_cast<std::uint32_t>(take);
  if (!forwards(disposition_)) run = pos;
  if (remaining_ > 0) return;

  in_body_ = false;
  if (keep) {
    flush_run(chunk, run, pos, visitor);  // the ordering contract: forwarded bytes first
    visitor.on_message(type_, in_place ? piece : std::string_view(body_));
    body_.clear();
  }
}

}  // namespace pgquay::proto
