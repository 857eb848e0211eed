// pgquay_hba.conf: parsing, error messages and matching.
#include "pgquay/config/hba.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace pgquay::config {
namespace {

std::vector<HbaRule> rules(const std::string& text) {
  auto r = parse_hba_string(text, "pgquay_hba.conf");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : std::vector<HbaRule>{};
}

std::string error_of(const std::string& text) {
  auto r = parse_hba_string(text, "pgquay_hba.conf");
  EXPECT_FALSE(r.has_value()) << text;
  return r ? std::string() : r.error().message;
}

// A client address, IPv4 or IPv6.
struct Peer {
  sockaddr_storage storage{};
  explicit Peer(const char* text) {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
    } else {
      EXPECT_EQ(inet_pton(AF_INET6, text, &in6->sin6_addr), 1) << text;
      in6->sin6_family = AF_INET6;
    }
  }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// The line of the matching rule, 0 for no match.
int line_of(const std::vector<HbaRule>& r, ConnKind kind, const char* db, const char* user,
            const char* peer) {
  Peer p(peer ? peer : "0.0.0.0");
  const HbaRule* rule = match(r, kind, db, user, peer ? p.get() : nullptr);
  return rule ? rule->line : 0;
}

TEST(HbaParse, Fields) {
  auto r = rules(
      "# TYPE  DATABASE USER ADDRESS METHOD\n"
      "\n"
      "host    all      all   all      trust   # everyone\n"
      "HOSTSSL sales,hr alice,bob 10.1.2.3/8 SCRAM-SHA-256\n"
      "hostnossl db  u  ::1  md5\n"
      "local all postgres trust\n"
      "local all all all password\n"
      "hostssl all all all cert\n");
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].type, HbaType::host);
  EXPECT_TRUE(r[0].databases.empty());
  EXPECT_TRUE(r[0].users.empty());
  EXPECT_TRUE(r[0].address.any);
  EXPECT_EQ(r[0].method, HbaMethod::trust);
  EXPECT_EQ(r[0].line, 3);
  EXPECT_EQ(r[1].type, HbaType::hostssl);
  EXPECT_EQ(r[1].databases, (std::vector<std::string>{"sales", "hr"}));
  EXPECT_EQ(r[1].users, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(r[1].address.family, AF_INET);
  EXPECT_EQ(r[1].address.prefix, 8);
  EXPECT_EQ(r[1].address.network[0], 10);
  EXPECT_EQ(r[1].address.network[1], 0);  // host bits cleared
  EXPECT_EQ(r[1].method, HbaMethod::scram_sha_256);
  EXPECT_EQ(r[2].type, HbaType::hostnossl);
  EXPECT_EQ(r[2].address.family, AF_INET6);
  EXPECT_EQ(r[2].address.prefix, 128);
  EXPECT_EQ(r[3].type, HbaType::local);
  EXPECT_TRUE(r[3].address.any);
  EXPECT_EQ(r[3].users, (std::vector<std::string>{"postgres"}));
  EXPECT_EQ(r[4].method, HbaMethod::password);
  EXPECT_EQ(r[5].method, HbaMethod::cert);
  EXPECT_EQ(to_string(r[1].method), "scram-sha-256");
  EXPECT_EQ(to_string(r[2].type), "hostnossl");
}

TEST(HbaParse, ErrorsNameFileLineAndField) {
  EXPECT_EQ(error_of("host all all all trust\nhots all all all trust\n"),
            "pgquay_hba.conf:2: TYPE 'hots': expected one of host, hostssl, hostnossl, local");
  EXPECT_EQ(error_of("host all all all trusted\n"),
            "pgquay_hba.conf:1: METHOD 'trusted': expected one of trust, reject, password, md5, "
            "scram-sha-256, all, cert");
  const char* address_help =
      "': expected all, or an IPv4 or IPv6 address with an optional /prefix (0-32 for IPv4, "
      "0-128 for IPv6)";
  EXPECT_EQ(error_of("host all all 10.0.0.0/33 md5\n"),
            std::string("pgquay_hba.conf:1: ADDRESS '10.0.0.0/33") + address_help);
  EXPECT_EQ(error_of("host all all ::/129 md5\n"),
            std::string("pgquay_hba.conf:1: ADDRESS '::/129") + address_help);
  EXPECT_EQ(error_of("host all all 300.1.1.1 md5\n"),
            std::string("pgquay_hba.conf:1: ADDRESS '300.1.1.1") + address_help);
  EXPECT_EQ(error_of("host all all 10.0.0.0/x md5\n"),
            std::string("pgquay_hba.conf:1: ADDRESS '10.0.0.0/x") + address_help);
  EXPECT_EQ(error_of("host all all all\n"),
            "pgquay_hba.conf:1: missing METHOD: expected TYPE DATABASE USER ADDRESS METHOD");
  EXPECT_EQ(error_of("host all all\n"),
            "pgquay_hba.conf:1: expected TYPE DATABASE USER ADDRESS METHOD, found only 3 fields");
  EXPECT_EQ(error_of("host all all all md5 extra\n"),
            "pgquay_hba.conf:1: unexpected 'extra' after METHOD (a comment starts with #)");
  EXPECT_EQ(error_of("host a,,b all all md5\n"),
            "pgquay_hba.conf:1: DATABASE 'a,,b': empty name in list (expected all, a name, or "
            "names separated by commas)");
  EXPECT_EQ(error_of("host all bob, all md5\n"),
            "pgquay_hba.conf:1: USER 'bob,': empty name in list (expected all, a name, or names "
            "separated by commas)");
  EXPECT_EQ(error_of("local all all 127.0.0.1 trust\n"),
            "pgquay_hba.conf:1: ADDRESS '127.0.0.1': a local rule has no address (write all, or "
            "leave the column out)");
  EXPECT_EQ(error_of("host all all all cert\n"),
            "pgquay_hba.conf:1: METHOD cert needs TYPE hostssl: only a TLS client has a "
            "certificate");
  EXPECT_EQ(error_of("host all all all foo\n\nlocal all\n"),
            "pgquay_hba.conf:1: METHOD 'foo': expected one of trust, reject, password, md5, "
            "scram-sha-256, all, cert\n"
            "pgquay_hba.conf:3: expected TYPE DATABASE USER ADDRESS METHOD, found only 2 fields");
  EXPECT_EQ(error_of("# nothing but comments\n\n"),
            "pgquay_hba.conf: no rules, so every client would be rejected; add e.g. 'host all all "
            "all trust'");
}

TEST(HbaParse, MissingFile) {
  auto r = load_hba_file("/nonexistent/pgquay_hba.conf");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cannot read /nonexistent/pgquay_hba.conf: No such file or directory");
}

TEST(HbaMatch, Ipv4Cidr) {
  auto r = rules("host all all 192.168.1.0/24 md5\nhost all all 10.0.0.7 trust\n");
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "192.168.1.200"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp_tls, "db", "u", "192.168.1.0"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "192.168.2.1"), 0);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "10.0.0.7"), 2);  // no prefix: that host only
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "10.0.0.8"), 0);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "::ffff:192.168.1.9"), 1);  // IPv4-mapped
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "fe80::1"), 0);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", nullptr), 0);  // unknown peer
  auto odd = rules("host all all 172.16.0.0/12 md5\nhost all all 0.0.0.0/0 reject\n");
  EXPECT_EQ(line_of(odd, ConnKind::tcp, "db", "u", "172.31.255.255"), 1);
  EXPECT_EQ(line_of(odd, ConnKind::tcp, "db", "u", "172.32.0.1"), 2);
  EXPECT_EQ(line_of(odd, ConnKind::tcp, "db", "u", "::1"), 0);  // 0.0.0.0/0 is IPv4 only
}

TEST(HbaMatch, Ipv6Cidr) {
  auto r =
      rules("host all all 2001:db8::/32 md5\nhost all all ::1 trust\nhost all all ::/0 reject\n");
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "2001:db8:ffff::1"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "2001:db9::1"), 3);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "::1"), 2);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "u", "127.0.0.1"), 0);
  auto odd = rules("host all all fe80::/10 md5\n");
  EXPECT_EQ(line_of(odd, ConnKind::tcp, "db", "u", "febf::1"), 1);
  EXPECT_EQ(line_of(odd, ConnKind::tcp, "db", "u", "fec0::1"), 0);
}

TEST(HbaMatch, ConnectionKinds) {
  auto r = rules(
      "hostssl all tls_only all md5\n"
      "hostnossl all plain_only all md5\n"
      "local all sock_only trust\n"
      "host all net_only 10.0.0.0/8 md5\n"
      "host all anywhere all md5\n");
  // hostssl: TLS only
  EXPECT_EQ(line_of(r, ConnKind::tcp_tls, "db", "tls_only", "10.1.1.1"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "tls_only", "10.1.1.1"), 0);
  EXPECT_EQ(line_of(r, ConnKind::unix_socket, "db", "tls_only", nullptr), 0);
  // hostnossl: plain TCP only
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "plain_only", "10.1.1.1"), 2);
  EXPECT_EQ(line_of(r, ConnKind::tcp_tls, "db", "plain_only", "10.1.1.1"), 0);
  // local: Unix socket only
  EXPECT_EQ(line_of(r, ConnKind::unix_socket, "db", "sock_only", nullptr), 3);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "sock_only", "10.1.1.1"), 0);
  // host with an address: TCP only; host with all: TCP and (pgagroal) Unix sockets
  EXPECT_EQ(line_of(r, ConnKind::tcp_tls, "db", "net_only", "10.1.1.1"), 4);
  EXPECT_EQ(line_of(r, ConnKind::unix_socket, "db", "net_only", nullptr), 0);
  EXPECT_EQ(line_of(r, ConnKind::unix_socket, "db", "anywhere", nullptr), 5);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "db", "anywhere", "8.8.8.8"), 5);
}

TEST(HbaMatch, ListsAndFirstMatchWins) {
  auto r = rules(
      "host sales,hr alice,bob all reject\n"
      "host sales all all md5\n"
      "host all all all trust\n");
  EXPECT_EQ(line_of(r, ConnKind::tcp, "sales", "alice", "1.2.3.4"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "hr", "bob", "1.2.3.4"), 1);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "sales", "carol", "1.2.3.4"), 2);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "other", "alice", "1.2.3.4"), 3);
  EXPECT_EQ(line_of(r, ConnKind::tcp, "Sales", "alice", "1.2.3.4"), 3);  // names are exact
  auto none = rules("host sales alice all md5\n");
  EXPECT_EQ(line_of(none, ConnKind::tcp, "sales", "bob", "1.2.3.4"), 0);
  EXPECT_EQ(match(none, ConnKind::tcp, "sales", "bob", nullptr), nullptr);
}

}  // namespace
}  // namespace pgquay::config
