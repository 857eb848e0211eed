#include "management_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"

namespace pgquay::test {

using namespace std::chrono_literals;

// Connects to a stream socket, sends `bytes`, reads until the peer closes (or 10 s).
Result<std::string> exchange(const sockaddr* address, socklen_t length, std::string_view bytes) {
  Fd fd(::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  if (::connect(fd.get(), address, length) != 0) return fail_errno("connect");
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (size_t sent = 0; sent < bytes.size();) {
    ssize_t n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return fail_errno("send");
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd.get(), SHUT_WR);  // the request is complete (pgquay must still answer)
  std::string reply;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) return reply;
    if (n < 0) return fail_errno("recv (after " + std::to_string(reply.size()) + " bytes)");
    reply.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> http_exchange(int port, std::string_view request) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return exchange(reinterpret_cast<sockaddr*>(&addr), sizeof(addr), request);
}

int http_status(const std::string& response) {
  if (!response.starts_with("HTTP/1.1 ")) return -1;
  return std::atoi(response.c_str() + 9);
}

std::string http_body(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

Scrape parse_exposition(const std::string& text) {
  Scrape scrape;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("# TYPE ")) {
      std::istringstream fields(line.substr(7));
      std::string name, type;
      fields >> name >> type;
      scrape.types[name] = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    scrape.samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return scrape;
}

std::string frame(std::string_view json) {
  return be32(static_cast<uint32_t>(json.size())) + std::string(json);
}

// The JSON document of a management reply frame.
Result<Json> unframe(const std::string& reply) {
  if (reply.size() < 4) return fail("short reply (" + std::to_string(reply.size()) + " bytes)");
  uint32_t length = (static_cast<uint32_t>(static_cast<unsigned char>(reply[0])) << 24) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(reply[1])) << 16) |
                    (static_cast<uint32_t>(static_cast<unsigned char>(reply[2])) << 8) |
                    static_cast<uint32_t>(static_cast<unsigned char>(reply[3]));
  if (reply.size() != 4 + length) return fail("reply length does not match its header");
  Json document = Json::parse(reply.substr(4), nullptr, false);
  if (document.is_discarded()) return fail("reply is not JSON: " + reply.substr(4));
  return document;
}

std::string backends_of(std::string_view user) {
  return postgres()
      .query_scalar("select count(*) from pg_stat_activity where usename = '" + std::string(user) +
                    "' and pid <> pg_backend_pid()")
      .value_or("?");
}

double Scrape::value(const std::string& key) const {
  auto it = samples.find(key);
  return it == samples.end() ? -1 : it->second;
}

Result<void> ManagementTest::start(PoolerSettings settings) {
  // free_port() can race with another process taking the port before pgquay binds it.
  Error last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto port = free_port();
    if (!port) return Unexpected(port.error());
    metrics_port_ = *port;
    PoolerSettings with_metrics = settings;
    with_metrics.extra_conf += "metrics = " + std::to_string(metrics_port_) + "\n";
    auto started = start_pgquay(std::move(with_metrics));
    if (started) return {};
    last = started.error();
    if (last.message.find("in use") == std::string::npos) break;
  }
  return Unexpected(last);
}

std::string ManagementTest::admin_socket() const {
  return pgquay().socket_dir() + "/.s.pgquay." + std::to_string(pgquay().port()) + ".admin";
}

Result<ProgramRun> ManagementTest::cli(std::vector<std::string> args) const {
  const char* binary = std::getenv("PGQUAY_CLI_BIN");
  if (binary == nullptr || *binary == '\0') return fail("PGQUAY_CLI_BIN is not set");
  std::vector<std::string> argv{binary, "-c", config_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, 30s);
}

Result<Json> ManagementTest::cli_json(std::vector<std::string> args) const {
  args.insert(args.begin(), {"-F", "json"});
  auto run = cli(args);
  if (!run) return Unexpected(run.error());
  if (!run->exited_ok()) return fail("pgquay-cli failed: " + run->describe());
  Json document = Json::parse(run->output, nullptr, false);
  if (document.is_discarded()) return fail("pgquay-cli printed no JSON: " + run->output);
  if (document.value("status", "") != "ok") return fail("not ok: " + run->output);
  return document["result"];
}

Result<std::string> ManagementTest::raw_admin(std::string_view bytes) const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = admin_socket();
  if (path.size() >= sizeof(addr.sun_path)) return fail("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return exchange(reinterpret_cast<sockaddr*>(&addr), sizeof(addr), bytes);
}

Result<Scrape> ManagementTest::scrape() const {
  auto response = http_exchange(metrics_port_, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  if (!response) return Unexpected(response.error());
  if (http_status(*response) != 200) return fail("HTTP " + response->substr(0, 40));
  return parse_exposition(http_body(*response));
}

std::pair<int, int> ManagementTest::pool_use() const {
  auto status = cli_json({"status", "details"});
  if (!status) return {-1, -1};
  for (const auto& pool : (*status)["pools"]) {
    if (pool["user"] == kUser && pool["database"] == kDatabase)
      return {pool["active"].get<int>(), pool["idle"].get<int>()};
  }
  return {0, 0};
}

}  // namespace pgquay::test
