#include "pgquay/net/address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "pgquay/net/socket.hpp"

namespace pgquay::net {
namespace {

SocketAddress ipv4(const char* text, int port) {
  SocketAddress address;
  auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
  in->sin_family = AF_INET;
  in->sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(inet_pton(AF_INET, text, &in->sin_addr), 1);
  address.length = sizeof(sockaddr_in);
  return address;
}

SocketAddress ipv6(const char* text, int port) {
  SocketAddress address;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
  address.length = sizeof(sockaddr_in6);
  return address;
}

SocketAddress unix_named(const std::string& path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return address;
}

TEST(Address, ToStringForms) {
  EXPECT_EQ(to_string(ipv4("127.0.0.1", 5432)), "127.0.0.1:5432");
  EXPECT_EQ(to_string(ipv6("::1", 5432)), "[::1]:5432");
  EXPECT_EQ(to_string(ipv6("2001:db8::7", 6432)), "[2001:db8::7]:6432");
  EXPECT_EQ(to_string(unix_named("/tmp/.s.PGSQL.5432")), "unix:/tmp/.s.PGSQL.5432");
  EXPECT_EQ(to_string(SocketAddress{}), "[unknown]");
}

TEST(Address, UnnamedUnixPeerIsLocal) {
  SocketAddress address;
  address.storage.ss_family = AF_UNIX;
  address.length = sizeof(sa_family_t);
  EXPECT_EQ(address.family(), AF_UNIX);
  EXPECT_EQ(to_string(address), "[local]");
  EXPECT_EQ(host_string(address), "[local]");
}

TEST(Address, HostStringForms) {
  EXPECT_EQ(host_string(ipv4("10.1.2.3", 5432)), "10.1.2.3");
  EXPECT_EQ(host_string(ipv6("::1", 5432)), "::1");
  EXPECT_EQ(host_string(unix_named("/tmp/.s.PGSQL.5432")), "[local]");
  EXPECT_EQ(host_string(SocketAddress{}), "[unknown]");
}

TEST(Address, EmptyAddressHasNoFamily) {
  EXPECT_EQ(SocketAddress{}.family(), AF_UNSPEC);
}

TEST(Address, ResolveLocalhost) {
  auto addresses = resolve("localhost", 5432);
  ASSERT_TRUE(addresses.has_value()) << addresses.error().message;
  ASSERT_FALSE(addresses->empty());
  for (const auto& address : *addresses) {
    const auto text = to_string(address);
    EXPECT_TRUE(text == "127.0.0.1:5432" || text == "[::1]:5432") << text;
  }
}

TEST(Address, ResolveNumeric) {
  auto v4 = resolve("127.0.0.1", 6432);
  ASSERT_TRUE(v4.has_value()) << v4.error().message;
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ((*v4)[0].family(), AF_INET);
  EXPECT_EQ(to_string((*v4)[0]), "127.0.0.1:6432");

  auto v6 = resolve("::1", 6432);
  ASSERT_TRUE(v6.has_value()) << v6.error().message;
  ASSERT_EQ(v6->size(), 1u);
  EXPECT_EQ(to_string((*v6)[0]), "[::1]:6432");
}

TEST(Address, ResolveUnixDirectory) {
  auto addresses = resolve("/tmp", 5432);
  ASSERT_TRUE(addresses.has_value()) << addresses.error().message;
  ASSERT_EQ(addresses->size(), 1u);
  EXPECT_EQ((*addresses)[0].family(), AF_UNIX);
  EXPECT_EQ(to_string((*addresses)[0]), "unix:/tmp/.s.PGSQL.5432");
  auto trailing = resolve("/tmp/", 5432);
  ASSERT_TRUE(trailing.has_value());
  EXPECT_EQ(to_string((*trailing)[0]), "unix:/tmp/.s.PGSQL.5432");
}

TEST(Address, ResolveFailures) {
  auto unknown = resolve("no-such-host.invalid", 5432);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("no-such-host.invalid"), std::string::npos);

  EXPECT_FALSE(resolve("", 5432).has_value());
  EXPECT_FALSE(resolve("localhost", 70000).has_value());
  EXPECT_FALSE(resolve("localhost", -1).has_value());
  // sun_path holds 107 bytes plus the NUL.
  auto too_long = resolve("/" + std::string(120, 'd'), 5432);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().message.find("too long"), std::string::npos);
}

TEST(Address, UnixSocketPath) {
  EXPECT_EQ(unix_socket_path("/tmp", 5432), "/tmp/.s.PGSQL.5432");
  EXPECT_EQ(unix_socket_path("/var/run/postgresql/", 6432), "/var/run/postgresql/.s.PGSQL.6432");
}

}  // namespace
}  // namespace pgquay::net
