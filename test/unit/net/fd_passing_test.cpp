#include "pgquay/net/fd_passing.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pgquay/net/socket.hpp"

namespace pgquay::net {
namespace {

struct Pipe {
  Fd read_end;
  Fd write_end;
};

Pipe make_pipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return {Fd(fds[0]), Fd(fds[1])};
}

bool is_open(int fd) {
  return fcntl(fd, F_GETFD) != -1;
}

TEST(FdPassing, PipeEndTravelsWithTheMessage) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  Pipe pipe = make_pipe();

  const std::string message = "take this";
  EXPECT_EQ(send_message(pair->first.get(), message.data(), message.size(), pipe.write_end.get()),
            static_cast<int>(message.size()));
  // The sender's copy is still its own: closing it must not affect the receiver.
  pipe.write_end.reset();

  char buf[64];
  Fd received;
  const int n = receive_message(pair->second.get(), buf, sizeof(buf), &received);
  ASSERT_EQ(n, static_cast<int>(message.size()));
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), message);
  ASSERT_TRUE(received.valid());
  EXPECT_NE(fcntl(received.get(), F_GETFD) & FD_CLOEXEC, 0);

  ASSERT_EQ(write(received.get(), "ping", 4), 4);
  char out[8];
  ASSERT_EQ(read(pipe.read_end.get(), out, sizeof(out)), 4);
  EXPECT_EQ(std::string(out, 4), "ping");
}

TEST(FdPassing, MessagesWithoutDescriptorKeepBoundaries) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  ASSERT_EQ(send_message(pair->first.get(), "one", 3), 3);
  ASSERT_EQ(send_message(pair->first.get(), "three", 5), 5);

  char buf[64];
  Pipe stale = make_pipe();
  Fd received = std::move(stale.read_end);  // must be emptied: no descriptor comes
  ASSERT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 3);
  EXPECT_EQ(std::string(buf, 3), "one");
  EXPECT_FALSE(received.valid());
  ASSERT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 5);
  EXPECT_EQ(std::string(buf, 5), "three");
  EXPECT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), -EAGAIN);
}

TEST(FdPassing, EndOfFile) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  ASSERT_EQ(send_message(pair->first.get(), "last", 4), 4);
  pair->first.reset();
  char buf[16];
  Fd received;
  // Queued messages are still delivered before the end.
  EXPECT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 4);
  EXPECT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 0);
  EXPECT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 0);
}

TEST(FdPassing, SendToClosedPeerIsEpipeNotSignal) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  pair->second.reset();
  EXPECT_EQ(send_message(pair->first.get(), "x", 1), -EPIPE);
}

TEST(FdPassing, FullQueueIsEagain) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  const std::string chunk(4096, 'q');
  int rc = 0;
  for (int i = 0; i < 100000 && rc >= 0; ++i) {
    rc = send_message(pair->first.get(), chunk.data(), chunk.size());
  }
  EXPECT_EQ(rc, -EAGAIN);
}

TEST(FdPassing, DescriptorWithNullOutIsClosed) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  Pipe pipe = make_pipe();
  ASSERT_EQ(send_message(pair->first.get(), "x", 1, pipe.write_end.get()), 1);
  pipe.write_end.reset();
  char buf[4];
  ASSERT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), nullptr), 1);
  // Every write end is closed now, so the read end sees EOF rather than blocking.
  ASSERT_EQ(fcntl(pipe.read_end.get(), F_SETFL, O_NONBLOCK), 0);
  char out[1];
  EXPECT_EQ(read(pipe.read_end.get(), out, 1), 0);
}

TEST(FdPassing, OversizedMessageIsDiscarded) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  Pipe pipe = make_pipe();
  const std::string big(100, 'b');
  ASSERT_EQ(send_message(pair->first.get(), big.data(), big.size(), pipe.write_end.get()), 100);
  pipe.write_end.reset();
  char buf[10];
  Fd received;
  EXPECT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), -EMSGSIZE);
  EXPECT_FALSE(received.valid());
  ASSERT_EQ(fcntl(pipe.read_end.get(), F_SETFL, O_NONBLOCK), 0);
  char out[1];
  EXPECT_EQ(read(pipe.read_end.get(), out, 1), 0);  // the passed write end was closed
}

TEST(FdPassing, ExtraDescriptorsAreClosed) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value());
  Pipe first = make_pipe();
  Pipe second = make_pipe();
  // Two descriptors in one message, as a confused peer might send.
  int fds[2] = {first.write_end.get(), second.write_end.get()};
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
  ASSERT_EQ(sendmsg(pair->first.get(), &msg, 0), 1);
  first.write_end.reset();
  second.write_end.reset();

  char buf[4];
  Fd received;
  ASSERT_EQ(receive_message(pair->second.get(), buf, sizeof(buf), &received), 1);
  ASSERT_TRUE(received.valid());
  ASSERT_EQ(fcntl(second.read_end.get(), F_SETFL, O_NONBLOCK), 0);
  char out[1];
  EXPECT_EQ(read(second.read_end.get(), out, 1), 0);  // the extra one was closed
  ASSERT_EQ(write(received.get(), "k", 1), 1);
  EXPECT_EQ(read(first.read_end.get(), out, 1), 1);
  EXPECT_TRUE(is_open(received.get()));
}

}  // namespace
}  // namespace pgquay::net
