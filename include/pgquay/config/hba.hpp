// pgquay_hba.conf: who may connect, from where, and how they authenticate.
//
// pgagroal's format (PostgreSQL-like), one rule per line, `#` starts a comment:
//   TYPE  DATABASE  USER  ADDRESS  METHOD
// The first rule that matches a connection decides; no match means the connection is rejected.
#pragma once

#include <sys/socket.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::config {

enum class HbaType {
  host,     // TCP with or without TLS; with ADDRESS `all` also Unix sockets (pgagroal has no local)
  hostssl,  // TCP with TLS only
  hostnossl,  // TCP without TLS only
  local,      // Unix socket only
};

enum class HbaMethod { trust, reject, password, md5, scram_sha_256, all, cert };

// How the client reached pgquay.
enum class ConnKind { unix_socket, tcp, tcp_tls };

struct HbaAddress {
  bool any = true;                          // `all`
  int family = 0;                           // AF_INET or AF_INET6 when !any
  std::array<unsigned char, 16> network{};  // host bits cleared
  int prefix = 0;                           // number of leading bits that must match
};

struct HbaRule {
  HbaType type = HbaType::host;
  std::vector<std::string> databases;  // empty = all
  std::vector<std::string> users;      // empty = all
  HbaAddress address;
  HbaMethod method = HbaMethod::reject;
  int line = 0;
};

std::string_view to_string(HbaType type);
std::string_view to_string(HbaMethod method);

// Parses rules; errors name file, line, the bad field and what it accepts (one line per problem).
// A file without any rule is an error: it would reject every client.
Result<std::vector<HbaRule>> parse_hba_string(std::string_view text, std::string_view name);
Result<std::vector<HbaRule>> load_hba_file(const std::string& path);

// The first rule matching the connection, or nullptr. `peer` is the client address for TCP
// (AF_INET or AF_INET6; an IPv4-mapped IPv6 address also matches IPv4 rules); it is ignored for
// Unix sockets and may be null, in which case only ADDRESS `all` matches. Names compare exactly.
const HbaRule* match(const std::vector<HbaRule>& rules, ConnKind kind, std::string_view database,
                     std::string_view user, const sockaddr* peer);

}  // namespace pgquay::config
