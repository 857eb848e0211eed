#include "pgquay/net/socket.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "pgquay/net/address.hpp"
#include "temp_dir.hpp"

namespace pgquay::net {
namespace {

using test::TempDir;

SocketAddress local_address(int fd) {
  SocketAddress address;
  address.length = sizeof(address.storage);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &address.length), 0);
  return address;
}

int port_of(int fd) {
  const auto address = local_address(fd);
  if (address.family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
}

bool nonblocking_cloexec(int fd) {
  return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

// A blocking connect; returns the connected client socket (invalid on failure).
Fd connect_to(const SocketAddress& address) {
  Fd fd(socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || connect(fd.get(), address.get(), address.length) != 0) return Fd();
  return fd;
}

bool ipv6_available() {
  Fd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  return bind(fd.get(), reinterpret_cast<sockaddr*>(&any), sizeof(any)) == 0;
}

int get_int_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof(value);
  EXPECT_EQ(getsockopt(fd, level, name, &value, &length), 0);
  return value;
}

TEST(ListenTcp, LoopbackPortZeroAccepts) {
  auto fds = listen_tcp("127.0.0.1", 0, 16);
  ASSERT_TRUE(fds.has_value()) << fds.error().message;
  ASSERT_EQ(fds->size(), 1u);
  const int listener = (*fds)[0].get();
  EXPECT_TRUE(nonblocking_cloexec(listener));
  EXPECT_EQ(get_int_option(listener, SOL_SOCKET, SO_REUSEADDR), 1);
  EXPECT_NE(port_of(listener), 0);

  Fd client = connect_to(local_address(listener));
  ASSERT_TRUE(client.valid()) << std::strerror(errno);
  Fd accepted(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << std::strerror(errno);
  EXPECT_EQ(host_string(peer_address(accepted.get())), "127.0.0.1");
  EXPECT_EQ(to_string(peer_address(accepted.get())), to_string(local_address(client.get())));
}

TEST(ListenTcp, PortInUseNamesTheAddress) {
  auto first = listen_tcp("127.0.0.1", 0, 16);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  const int port = port_of((*first)[0].get());
  auto second = listen_tcp("127.0.0.1", port, 16);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, EADDRINUSE);
  EXPECT_EQ(second.error().message, "could not listen on 127.0.0.1:" + std::to_string(port) + ": " +
                                        std::strerror(EADDRINUSE));
}

TEST(ListenTcp, StarListensOnIpv4AndIpv6) {
  auto fds = listen_tcp("*", 0, 16);
  ASSERT_TRUE(fds.has_value()) << fds.error().message;
  if (!ipv6_available()) {
    ASSERT_EQ(fds->size(), 1u);
    GTEST_SKIP() << "no IPv6 in this kernel";
  }
  ASSERT_EQ(fds->size(), 2u);
  EXPECT_EQ(local_address((*fds)[0].get()).family(), AF_INET);
  EXPECT_EQ(local_address((*fds)[1].get()).family(), AF_INET6);
  EXPECT_EQ(get_int_option((*fds)[1].get(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
  // Port 0: both sockets share the port the kernel gave the first one.
  EXPECT_EQ(port_of((*fds)[0].get()), port_of((*fds)[1].get()));
  EXPECT_EQ(host_string(local_address((*fds)[0].get())), "0.0.0.0");
  EXPECT_EQ(host_string(local_address((*fds)[1].get())), "::");
}

TEST(ListenTcp, ListOfHostsWithDuplicates) {
  auto fds = listen_tcp("localhost, 127.0.0.1", 0, 16);
  ASSERT_TRUE(fds.has_value()) << fds.error().message;
  // 127.0.0.1 is bound once although both entries name it.
  int ipv4_count = 0;
  for (const auto& fd : *fds) {
    if (local_address(fd.get()).family() == AF_INET) ++ipv4_count;
  }
  EXPECT_EQ(ipv4_count, 1);
}

TEST(ListenTcp, BadHosts) {
  EXPECT_FALSE(listen_tcp("", 0, 16).has_value());
  EXPECT_FALSE(listen_tcp(" , ", 0, 16).has_value());
  EXPECT_FALSE(listen_tcp("/tmp", 0, 16).has_value());
  auto unknown = listen_tcp("no-such-host.invalid", 0, 16);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("no-such-host.invalid"), std::string::npos);
}

TEST(ListenUnix, CreatesSocketFileWithMode0777) {
  TempDir dir;
  const mode_t old_umask = umask(077);
  auto listener = listen_unix(dir.path(), 5432, 16);
  umask(old_umask);
  ASSERT_TRUE(listener.has_value()) << listener.error().message;
  EXPECT_EQ(listener->path, dir.path() + "/.s.PGSQL.5432");
  EXPECT_TRUE(nonblocking_cloexec(listener->fd.get()));
  struct stat st {};
  ASSERT_EQ(lstat(listener->path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0777u);

  auto address = resolve(dir.path(), 5432);
  ASSERT_TRUE(address.has_value());
  Fd client = connect_to((*address)[0]);
  ASSERT_TRUE(client.valid()) << std::strerror(errno);
  Fd accepted(accept4(listener->fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  const auto peer = peer_address(accepted.get());
  EXPECT_EQ(peer.family(), AF_UNIX);
  EXPECT_EQ(host_string(peer), "[local]");
}

TEST(ListenUnix, ReplacesStaleSocketFile) {
  TempDir dir;
  {
    auto crashed = listen_unix(dir.path(), 6432, 16);
    ASSERT_TRUE(crashed.has_value()) << crashed.error().message;
    // Closing without unlinking leaves the file as a crashed process would.
  }
  auto listener = listen_unix(dir.path(), 6432, 16);
  ASSERT_TRUE(listener.has_value()) << listener.error().message;
  auto address = resolve(dir.path(), 6432);
  ASSERT_TRUE(address.has_value());
  Fd client = connect_to((*address)[0]);
  EXPECT_TRUE(client.valid()) << std::strerror(errno);
}

TEST(ListenUnix, RefusesLiveSocket) {
  TempDir dir;
  auto live = listen_unix(dir.path(), 7432, 16);
  ASSERT_TRUE(live.has_value()) << live.error().message;
  auto second = listen_unix(dir.path(), 7432, 16);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().message, "could not listen on unix:" + dir.path() +
                                        "/.s.PGSQL.7432: the socket is in use by another process");
  // The live listener's file is still there and still answers.
  auto address = resolve(dir.path(), 7432);
  ASSERT_TRUE(address.has_value());
  EXPECT_TRUE(connect_to((*address)[0]).valid());
}

TEST(ListenUnix, NeverRemovesARegularFile) {
  TempDir dir;
  const auto path = unix_socket_path(dir.path(), 8432);
  std::ofstream(path) << "precious";
  auto listener = listen_unix(dir.path(), 8432, 16);
  ASSERT_FALSE(listener.has_value());
  EXPECT_NE(listener.error().message.find("not a socket"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(ListenUnixAt, OwnModeAndStaleFileReplaced) {
  TempDir dir;
  const std::string path = dir.path() + "/.s.pgquay.5432.admin";
  {
    auto crashed = listen_unix_at(path, 16, 0600);
    ASSERT_TRUE(crashed.has_value()) << crashed.error().message;
  }
  auto listener = listen_unix_at(path, 16, 0600);
  ASSERT_TRUE(listener.has_value()) << listener.error().message;
  EXPECT_EQ(listener->path, path);
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = listen_unix_at(path, 16, 0600);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("in use by another process"), std::string::npos);
}

TEST(ListenUnix, MissingDirectory) {
  TempDir dir;
  auto listener = listen_unix(dir.path() + "/missing", 5432, 16);
  ASSERT_FALSE(listener.has_value());
  EXPECT_EQ(listener.error().code, ENOENT);
}

TEST(Socket, StreamSocketFlags) {
  for (int family : {AF_INET, AF_UNIX}) {
    auto fd = stream_socket(family);
    ASSERT_TRUE(fd.has_value()) << fd.error().message;
    EXPECT_TRUE(nonblocking_cloexec(fd->get()));
    EXPECT_EQ(get_int_option(fd->get(), SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  }
  EXPECT_FALSE(stream_socket(12345).has_value());
}

TEST(Socket, NodelayAndKeepaliveOnTcpOnly) {
  auto tcp = stream_socket(AF_INET);
  ASSERT_TRUE(tcp.has_value());
  set_nodelay(tcp->get(), true);
  set_keepalive(tcp->get(), true);
  EXPECT_EQ(get_int_option(tcp->get(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(get_int_option(tcp->get(), SOL_SOCKET, SO_KEEPALIVE), 1);
  set_nodelay(tcp->get(), false);
  set_keepalive(tcp->get(), false);
  EXPECT_EQ(get_int_option(tcp->get(), IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_EQ(get_int_option(tcp->get(), SOL_SOCKET, SO_KEEPALIVE), 0);

  auto local = stream_socket(AF_UNIX);
  ASSERT_TRUE(local.has_value());
  set_nodelay(local->get(), true);
  set_keepalive(local->get(), true);
  EXPECT_EQ(get_int_option(local->get(), SOL_SOCKET, SO_KEEPALIVE), 0);
}

TEST(Socket, SeqpacketPair) {
  auto pair = seqpacket_pair();
  ASSERT_TRUE(pair.has_value()) << pair.error().message;
  for (const Fd* fd : {&pair->first, &pair->second}) {
    EXPECT_TRUE(nonblocking_cloexec(fd->get()));
    EXPECT_EQ(get_int_option(fd->get(), SOL_SOCKET, SO_TYPE), SOCK_SEQPACKET);
  }
}

}  // namespace
}  // namespace pgquay::net
