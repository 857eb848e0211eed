// Stream: the worker flavour of I/O watcher. Owns a connected socket (rcv_fd / snd_fd), keeps the
// bytes received until the owner consumes whole protocol messages, and keeps bytes written until
// the kernel took all of them. Nothing ever blocks and no byte is dropped.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "pgquay/common/fd.hpp"
#include "pgquay/ev/loop.hpp"

namespace pgquay::ev {

class Stream;

class StreamEvents {
 public:
  // New bytes are in stream.input(); consume what forms whole messages, leave the rest.
  virtual void on_stream_data(Stream& stream) = 0;
  // The peer closed (error == 0) or the socket failed (error = errno). No more events follow
  // except on_stream_quiet. The owner may destroy the stream inside this call.
  virtual void on_stream_closed(Stream& stream, int error) = 0;
  // Everything written so far has reached the kernel.
  virtual void on_stream_drained(Stream&) {}
  // After quiesce(): no receive is in flight any more (see quiesce()).
  virtual void on_stream_quiet(Stream&, bool clean) { (void)clean; }
  virtual ~StreamEvents() = default;
};

// Received bytes not yet consumed. Consuming from the front is O(1); the space is compacted
// before the next receive.
class InputBuffer {
 public:
  [[nodiscard]] std::string_view view() const {
    return std::string_view(data_).substr(start_, end_ - start_);
  }
  [[nodiscard]] size_t size() const { return end_ - start_; }
  [[nodiscard]] bool empty() const { return start_ == end_; }
  void consume(size_t n);
  void clear() { consume(size()); }

  // For Stream: room to receive into, at least `min` bytes. Until commit(), a receive may be
  // writing there, so consuming everything does not rewind the buffer to its start.
  char* prepare(size_t min, size_t* room);
  void commit(size_t n) {
    end_ += n;
    receiving_ = false;
  }

 private:
  std::string data_;
  size_t start_ = 0;
  size_t end_ = 0;
  bool receiving_ = false;
};

class Stream final : private OpHandler {
 public:
  // Takes ownership of a connected socket; starts receiving at once.
  // socket_ready: the socket's blocking mode already suits this loop's backend (a pooled socket
  // prepared by the process that created it), so Loop::prepare_socket's check is skipped.
  Stream(Loop& loop, Fd fd, StreamEvents& events, bool socket_ready = false);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] InputBuffer& input();

  // Queues bytes; they go out as the socket accepts them.
  void write(std::string_view bytes);
  [[nodiscard]] size_t output_pending() const;
  [[nodiscard]] bool closed() const;

  // Flow control: a relay pauses reading one side while the other side's output is backed up.
  void pause_reading();
  void resume_reading();
  [[nodiscard]] bool reading() const;

  // Stops receiving and reports on_stream_quiet once no receive is in flight. `clean` is false when
  // a receive that was being cancelled delivered bytes or an error: those bytes stay in input(),
  // and a pooled server connection in that state must not be reused. Used before a borrowed
  // server socket is handed back: an io_uring receive left behind would steal the next user's
  // bytes.
  void quiesce();

  // Ends the stream without closing the fd: the caller must have quiesced it and flushed output.
  [[nodiscard]] Fd release();

 private:
  struct State;
  void on_op_complete(uint32_t tag, int result) override;
  void arm_receive();
  void arm_send();
  void handle_receive(int result);
  void handle_send(int result);
  void fail(int error);

  Loop& loop_;
  Fd fd_;
  StreamEvents& events_;
  std::shared_ptr<State> state_;
  OpId recv_op_;
  OpId send_op_;
  uint32_t epoch_ = loop_.fork_epoch();
};

}  // namespace pgquay::ev
