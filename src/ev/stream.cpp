#include "pgquay/ev/stream.hpp"

#include <cerrno>
#include <cstring>

#include "pgquay/common/check.hpp"

namespace pgquay::ev {
namespace {
constexpr uint32_t kTagRecv = 1;
constexpr uint32_t kTagSend = 2;
constexpr size_t kReceiveChunk = 16 * 1024;
}  // namespace

void InputBuffer::consume(size_t n) {
  PGQ_CHECK(n <= size());
  start_ += n;
  if (start_ == end_ && !receiving_) start_ = end_ = 0;
}

char* InputBuffer::prepare(size_t min, size_t* room) {
  if (data_.size() - end_ < min) {
    // Move the unconsumed tail to the front before growing: most of the time that is enough.
    if (start_ > 0) {
      std::memmove(data_.data(), data_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    if (data_.size() - end_ < min) data_.resize(end_ + std::max(min, data_.size()));
  }
  *room = data_.size() - end_;
  receiving_ = true;
  return data_.data() + end_;
}

// Everything an in-flight request may point at lives here, shared with the loop's keep-alive.
struct Stream::State {
  InputBuffer input;
  std::string inflight;  // bytes handed to the kernel by the current send
  size_t inflight_sent = 0;
  std::string pending;  // bytes written since that send started
  bool alive = true;    // false once the Stream object is gone
  bool closed = false;
  bool want_read = true;
  bool quiescing = false;
};

Stream::Stream(Loop& loop, Fd fd, StreamEvents& events, bool socket_ready)
    : loop_(loop), fd_(std::move(fd)), events_(events), state_(std::make_shared<State>()) {
  if (!socket_ready) loop_.prepare_socket(fd_.get());
  arm_receive();
}

Stream::~Stream() {
  state_->alive = false;
  loop_.abandon(recv_op_);
  loop_.abandon(send_op_);
  if (fd_) loop_.forget_fd(fd_.get());
}

InputBuffer& Stream::input() {
  return state_->input;
}
size_t Stream::output_pending() const {
  return state_->pending.size() + state_->inflight.size() - state_->inflight_sent;
}
bool Stream::closed() const {
  return state_->closed;
}
bool Stream::reading() const {
  return state_->want_read;
}

void Stream::write(std::string_view bytes) {
  if (state_->closed || bytes.empty()) return;
  state_->pending.append(bytes);
  if (!send_op_.valid()) arm_send();
}

void Stream::pause_reading() {
  state_->want_read = false;
  // A receive already in flight is left alone: it completes normally and the bytes are kept.
}

void Stream::resume_reading() {
  if (state_->want_read) return;
  state_->want_read = true;
  if (!state_->input.empty() && !recv_op_.valid()) {
    // Bytes that arrived while paused were not consumed yet; offer them again.
    auto guard = state_;
    events_.on_stream_data(*this);
    if (!guard->alive) return;
  }
  arm_receive();
}

void Stream::quiesce() {
  state_->want_read = false;
  if (!recv_op_.valid()) {
    events_.on_stream_quiet(*this, true);
    return;
  }
  state_->quiescing = true;
  loop_.cancel(recv_op_);
}

Fd Stream::release() {
  PGQ_CHECK(!recv_op_.valid() && !send_op_.valid());
  loop_.forget_fd(fd_.get());
  state_->closed = true;
  return std::move(fd_);
}

void Stream::arm_receive() {
  State& st = *state_;
  if (recv_op_.valid() || st.closed || !st.want_read) return;
  if (loop_.fork_epoch() != epoch_) return;  // inherited by a forked child: inert
  size_t room = 0;
  char* at = st.input.prepare(kReceiveChunk, &room);
  Op op{OpKind::recv, fd_.get(), at, room, nullptr, 0};
  recv_op_ = loop_.submit(op, this, kTagRecv, state_);
}

void Stream::arm_send() {
  State& st = *state_;
  if (st.closed || loop_.fork_epoch() != epoch_) return;
  if (st.inflight_sent == st.inflight.size()) {
    if (st.pending.empty()) return;
    st.inflight.clear();
    st.inflight_sent = 0;
    std::swap(st.inflight, st.pending);
  }
  Op op{OpKind::send,
        fd_.get(),
        st.inflight.data() + st.inflight_sent,
        st.inflight.size() - st.inflight_sent,
        nullptr,
        0};
  send_op_ = loop_.submit(op, this, kTagSend, state_);
}

void Stream::on_op_complete(uint32_t tag, int result) {
  if (tag == kTagRecv) {
    recv_op_.clear();
    handle_receive(result);
  } else {
    send_op_.clear();
    handle_send(result);
  }
}

void Stream::handle_receive(int result) {
  auto guard = state_;
  State& st = *guard;
  if (st.quiescing) {
    st.quiescing = false;
    bool clean = result == -ECANCELED;
    if (result > 0) st.input.commit(static_cast<size_t>(result));
    if (result == 0 || (result < 0 && result != -ECANCELED)) st.closed = true;
    events_.on_stream_quiet(*this, clean);
    return;
  }
  if (st.closed) return;
  if (result == -ECANCELED) return;
  if (result <= 0) {
    fail(result == 0 ? 0 : -result);
    return;
  }
  st.input.commit(static_cast<size_t>(result));
  if (st.want_read) {
    events_.on_stream_data(*this);
    if (!guard->alive) return;
  }
  arm_receive();
}

void Stream::handle_send(int result) {
  auto guard = state_;
  State& st = *guard;
  if (st.closed) return;
  if (result < 0) {
    if (result == -ECANCELED) return;
    fail(-result);
    return;
  }
  st.inflight_sent += static_cast<size_t>(result);
  arm_send();
  if (!send_op_.valid()) {
    events_.on_stream_drained(*this);
  }
}

void Stream::fail(int error) {
  state_->closed = true;
  state_->want_read = false;
  events_.on_stream_closed(*this, error);
}

}  // namespace pgquay::ev
