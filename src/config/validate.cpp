// Checks that need more than one key, and the values derived from several keys.
#include <algorithm>
#include <string>
#include <vector>

#include "pgquay/config/config.hpp"
#include "pgquay/config/values.hpp"
#include "text_file.hpp"

namespace pgquay::config {
namespace {

class Checker {
 public:
  // A Config built in code has no path; messages then name the default file name.
  explicit Checker(const Config& c)
      : c_(c), m_(c.main), file_(c.path.empty() ? "pgquay.conf" : c.path) {}

  Result<void> run() {
    listening();
    tls();
    failover();
    pipeline();
    servers();
    if (errors_.empty()) return {};
    return fail(detail::join_lines(errors_));
  }

 private:
  // "file:line" of the line that set `key`, or just "file" when it kept its default.
  std::string at(std::string_view key) const {
    auto it = c_.key_lines.find(key);
    if (it == c_.key_lines.end()) return file_;
    return file_ + ":" + std::to_string(it->second);
  }
  std::string at(const ServerConfig& s) const {
    return s.line > 0 ? file_ + ":" + std::to_string(s.line) : file_;
  }
  std::string server_ref(const ServerConfig& s) const {
    return "[" + s.name + "]" + (s.line > 0 ? " (line " + std::to_string(s.line) + ")" : "");
  }
  void error(const std::string& where, const std::string& msg) {
    errors_.push_back(where + ": " + msg);
  }

  void listening() {
    if (trim(m_.host).empty()) error(at("host"), "host is empty: use * to listen on every address");
    if (m_.unix_socket_dir.empty()) error(at("unix_socket_dir"), "unix_socket_dir is empty");
    auto same_port = [&](std::string_view key, int value) {
      if (value != 0 && value == m_.port) {
        error(at(key), std::string(key) + " = " + std::to_string(value) +
                           " is the client port; choose another port");
      }
    };
    same_port("metrics", m_.metrics);
    same_port("management", m_.management);
    if (m_.metrics != 0 && m_.metrics == m_.management) {
      error(at("management"), "management and metrics both use port " + std::to_string(m_.metrics) +
                                  "; choose different ports");
    }
  }

  // A certificate without its key (or the reverse) is always a mistake.
  void pair(std::string_view cert_key, const std::string& cert, std::string_view key_key,
            const std::string& key) {
    if (cert.empty() == key.empty()) return;
    error(at(cert.empty() ? key_key : cert_key),
          std::string(cert_key) + " and " + std::string(key_key) + " must be set together");
  }

  void tls() {
    if (m_.tls && (m_.tls_cert_file.empty() || m_.tls_key_file.empty())) {
      error(at("tls"), "tls = on requires tls_cert_file and tls_key_file");
    } else {
      pair("tls_cert_file", m_.tls_cert_file, "tls_key_file", m_.tls_key_file);
    }
    pair("metrics_cert_file", m_.metrics_cert_file, "metrics_key_file", m_.metrics_key_file);
  }

  void failover() {
    if (!m_.failover) return;
    if (m_.failover_script.empty()) error(at("failover"), "failover = on requires failover_script");
    if (c_.servers.size() < 2) {
      error(at("failover"), "failover = on requires at least two server sections");
    }
  }

  void pipeline() {
    bool client_tls = m_.tls && (!m_.tls_cert_file.empty() || !m_.tls_key_file.empty());
    bool disconnect = m_.disconnect_client.count() > 0;
    if (m_.pipeline == Pipeline::performance) {
      auto unsupported = [&](std::string_view what, std::string_view key) {
        error(at("pipeline"), "pipeline = performance does not support " + std::string(what) +
                                  " (set at " + at(key) + "); use session or transaction");
      };
      if (client_tls) unsupported("tls", "tls");
      if (m_.failover) unsupported("failover", "failover");
      if (disconnect) unsupported("disconnect_client", "disconnect_client");
    }
    if (m_.pipeline == Pipeline::transaction) {
      if (disconnect) {
        error(at("pipeline"), "pipeline = transaction does not support disconnect_client (set at " +
                                  at("disconnect_client") + ")");
      }
      for (const auto& s : c_.servers) {
        if (s.tls) {
          error(at(s),
                "server [" + s.name + "]: tls = on is not supported with pipeline = transaction");
        }
      }
    }
  }

  void servers() {
    if (c_.servers.empty()) {
      error(file_,
            "no server section: add one, e.g. [primary] with host = localhost and port = 5432");
      return;
    }
    const ServerConfig* primary = nullptr;
    for (std::size_t i = 0; i < c_.servers.size(); ++i) {
      const auto& s = c_.servers[i];
      if (s.host.empty()) error(at(s), "server [" + s.name + "] has no host");
      if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
        error(at(s),
              "server [" + s.name + "]: tls_cert_file and tls_key_file must be set together");
      }
      if (s.primary) {
        if (primary != nullptr) {
          error(at(s), "servers " + server_ref(*primary) + " and [" + s.name +
                           "] both have primary = on; at most one server can be the primary");
        } else {
          primary = &s;
        }
      }
      for (std::size_t j = 0; j < i; ++j) {
        const auto& o = c_.servers[j];
        if (!s.host.empty() && o.host == s.host && o.port == s.port) {
          error(at(s), "servers " + server_ref(o) + " and [" + s.name + "] both point to " +
                           s.host + ":" + std::to_string(s.port));
        }
      }
    }
  }

  const Config& c_;
  const MainConfig& m_;
  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace

Result<void> validate(const Config& config) {
  return Checker(config).run();
}

std::string effective_pidfile(const MainConfig& main) {
  if (!main.pidfile.empty()) return main.pidfile;
  return main.unix_socket_dir + "/pgquay." + std::to_string(main.port) + ".pid";
}

int effective_backlog(const MainConfig& main) {
  int backlog = main.backlog > 0 ? main.backlog : main.max_connections / 4;
  return std::max(backlog, 16);
}

int effective_prefork_workers(const MainConfig& main, unsigned cores) {
  if (main.prefork_workers < 0) return 0;
  if (main.prefork_workers > 0) return main.prefork_workers;
  int automatic = 2 * static_cast<int>(std::max(cores, 1U));
  return std::min(automatic, 16);
}

Pipeline effective_pipeline(const MainConfig& main) {
  if (main.pipeline != Pipeline::automatic) return main.pipeline;
  bool tls = main.tls && (!main.tls_cert_file.empty() || !main.tls_key_file.empty());
  if (tls || main.failover || main.disconnect_client.count() > 0) return Pipeline::session;
  return Pipeline::performance;
}

}  // namespace pgquay::config
