// Shared pieces of the management tests (management_test.cpp, management_metrics_test.cpp): a
// pgquay with its metrics endpoint on, pgquay-cli runs, raw management and HTTP exchanges.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pooler_support.hpp"

namespace pgquay::test {

using Json = nlohmann::json;

inline constexpr std::string_view kUser = "trust_user";
inline constexpr std::string_view kDatabase = PostgresServer::kDatabase;
// The labels of the test pool, without the closing brace: kPoolKey + ",state=\"idle\"}".
inline const std::string kPoolKey = "{database=\"pgquay_test\",user=\"trust_user\"";

// Connects to a stream socket, sends `bytes`, half-closes, and reads until the peer closes.
Result<std::string> exchange(const sockaddr* address, socklen_t length, std::string_view bytes);
// The same with 127.0.0.1:port.
Result<std::string> http_exchange(int port, std::string_view request);
int http_status(const std::string& response);  // -1 when not an HTTP/1.1 response
std::string http_body(const std::string& response);

// A scrape: "name{labels}" -> value, and the families announced by TYPE lines.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  [[nodiscard]] double value(const std::string& key) const;  // -1 when absent
};
Scrape parse_exposition(const std::string& text);

// A management frame around `json`, and the JSON document of a reply frame.
std::string frame(std::string_view json);
Result<Json> unframe(const std::string& reply);

// Server connections PostgreSQL has for `user` (pg_stat_activity).
std::string backends_of(std::string_view user);

class ManagementTest : public PoolerTest {
 protected:
  // Starts pgquay with the metrics endpoint on a free port.
  [[nodiscard]] Result<void> start(PoolerSettings settings = {});

  [[nodiscard]] std::string config_path() const { return pgquay().dir() + "/pgquay.conf"; }
  [[nodiscard]] std::string admin_socket() const;

  // pgquay-cli -c <pgquay.conf> ARGS...
  [[nodiscard]] Result<ProgramRun> cli(std::vector<std::string> args) const;
  // pgquay-cli -F json ARGS...: the response's result, when the command succeeded.
  [[nodiscard]] Result<Json> cli_json(std::vector<std::string> args) const;
  // Raw bytes to the management socket; the reply bytes.
  [[nodiscard]] Result<std::string> raw_admin(std::string_view bytes) const;
  [[nodiscard]] Result<Scrape> scrape() const;
  // The test pool's connections as `status details` sees them: {active, idle}.
  [[nodiscard]] std::pair<int, int> pool_use() const;

  int metrics_port_ = 0;
};

}  // namespace pgquay::test
