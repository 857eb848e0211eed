#include "cli_text.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace pgquay::cli {
namespace {

using management::Json;

// Any JSON scalar as text; a missing key or null is "".
std::string text(const Json& object, std::string_view key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
  if (it->is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", it->get<double>());
    return buf;
  }
  return it->dump();
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(seconds);
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.1fs", seconds);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  }
  return buf;
}

std::string seconds_field(const Json& object, std::string_view key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? duration(it->get<double>()) : "";
}

// Columns padded to the widest cell, two spaces apart, indented by two.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  [[nodiscard]] std::string render() const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()), 0);
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line = " ";
      for (size_t i = 0; i < row.size(); ++i) {
        line += ' ';
        line += row[i];
        if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 1, ' ');
      }
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string join(const Json& array, std::string_view none) {
  if (!array.is_array() || array.empty()) return std::string(none);
  std::string out;
  for (const auto& item : array) {
    if (!out.empty()) out += ", ";
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

const Json& member(const Json& object, std::string_view key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string status_text(const Json& r, bool details) {
  std::string out = "pgquay " + text(r, "version") + ", pid " + text(r, "pid") + ", " +
                    text(r, "state") + ", up " + seconds_field(r, "uptime_seconds") + "\n";
  const Json& c = member(r, "connections");
  out += "connections: " + text(c, "active") + " active, " + text(c, "idle") + " idle, " +
         text(c, "total") + " of " + text(c, "max") + " in use\n";
  const Json& clients = member(r, "clients");
  out += "clients:     " + text(clients, "active") + " active, " + text(clients, "waiting") +
         " waiting\n";
  const Json& w = member(r, "workers");
  out += "workers:     " + text(w, "total") + " (" + text(w, "cache") + " idle in the cache, " +
         "target " + text(w, "cache_target") + ")\n";
  out += "disabled:    " + join(member(r, "disabled"), "none") + "\n";
  out += "servers:\n";
  Table servers({"NAME", "HOST", "PORT", "PRIMARY"});
  for (const auto& s : member(r, "servers"))
    servers.add({text(s, "name"), text(s, "host"), text(s, "port"), text(s, "primary")});
  out += servers.render();
  const Json& limits = member(r, "limits");
  if (limits.is_array() && !limits.empty()) {
    out += "limits:\n";
    Table table({"DATABASE", "USER", "MAX", "INITIAL", "MIN", "CONNECTIONS"});
    for (const auto& l : limits) {
      table.add({text(l, "database"), text(l, "user"), text(l, "max_size"), text(l, "initial_size"),
                 text(l, "min_size"), text(l, "connections")});
    }
    out += table.render();
  }
  if (!details) return out;
  out += "pools:\n";
  Table pools({"DATABASE", "USER", "ACTIVE", "IDLE", "OTHER", "WAITING", "MAX"});
  for (const auto& p : member(r, "pools")) {
    pools.add({text(p, "database"), text(p, "user"), text(p, "active"), text(p, "idle"),
               text(p, "other"), text(p, "waiting"), text(p, "max")});
  }
  out += pools.render();
  out += "slots:\n";
  Table slots(
      {"SLOT", "STATE", "DATABASE", "USER", "SERVER", "AGE", "IDLE", "BACKEND", "WORKER", "FLUSH"});
  for (const auto& s : member(r, "slots")) {
    std::string state = text(s, "state");
    slots.add({text(s, "slot"), state, text(s, "database"), text(s, "user"), text(s, "server"),
               seconds_field(s, "age_seconds"),
               state == "free" ? seconds_field(s, "idle_seconds") : "-", text(s, "backend_pid"),
               text(s, "worker_pid") == "0" ? "-" : text(s, "worker_pid"),
               member(s, "flush_pending") == true ? "pending" : "-"});
  }
  out += slots.render();
  out += "waiting clients:\n";
  Table waiting({"WORKER", "DATABASE", "USER", "WAITED"});
  for (const auto& c2 : member(r, "waiting_clients")) {
    waiting.add({text(c2, "worker_pid"), text(c2, "database"), text(c2, "user"),
                 seconds_field(c2, "waited_seconds")});
  }
  out += waiting.render();
  return out;
}

std::string reload_text(const Json& r) {
  std::string out = "reloaded " + join(member(r, "applied"), "nothing") + " (" +
                    text(r, "hba_rules") + " hba rules, " + text(r, "limits") + " limits)\n";
  for (const auto& change : member(r, "changed")) {
    out += "applied: " + text(change, "key") + " changed from '" + text(change, "old") + "' to '" +
           text(change, "new") + "'\n";
  }
  for (const auto& change : member(r, "restart_required")) {
    out += "restart required: " + text(change, "key") + " changed from '" + text(change, "old") +
           "' to '" + text(change, "new") + "'\n";
  }
  for (const auto& warning : member(r, "warnings"))
    out += "warning: " + (warning.is_string() ? warning.get<std::string>() : warning.dump()) + "\n";
  return out;
}

}  // namespace

std::string format_text(std::string_view command, const Json& r) {
  if (command == "ping") {
    return "pgquay " + text(r, "version") + " is " + text(r, "state") + " (pid " + text(r, "pid") +
           ")\n";
  }
  if (command == "status") return status_text(r, false);
  if (command == "status details") return status_text(r, true);
  if (command == "conf get" && r.contains("value")) return text(r, "value") + "\n";
  if (command == "conf ls" || command == "conf get") {
    std::string out;
    for (const auto& v : member(r, "values"))
      out += text(v, "key") + " = " + text(v, "value") + "\n";
    return out;
  }
  if (command == "conf reload") return reload_text(r);
  if (command == "conf set") {
    return text(r, "key") + " changed from '" + text(r, "old") + "' to '" + text(r, "new") +
           "' (in memory only: pgquay.conf is unchanged)\n";
  }
  if (command == "flush") {
    return "flush " + text(r, "mode") + " " + text(r, "database") + ": " + text(r, "closed") +
           " idle connection(s) closed, " + text(r, "marked") +
           " in use will close when released, " + text(r, "sessions_ended") + " session(s) ended\n";
  }
  if (command == "enable" || command == "disable") {
    std::string out = "database " + text(r, "database") + " " + std::string(command) + "d\n";
    out += "disabled: " + join(member(r, "disabled"), "none");
    const Json& exceptions = member(r, "enabled_exceptions");
    if (exceptions.is_array() && !exceptions.empty()) out += " except " + join(exceptions, "");
    return out + "\n";
  }
  if (command == "shutdown") {
    std::string mode = text(r, "mode");
    if (mode == "gracefully")
      return "shutting down gracefully: waiting for " + text(r, "sessions") + " session(s)\n";
    if (mode == "cancel") return "graceful shutdown cancelled\n";
    return "shutting down now\n";
  }
  if (command == "clear prometheus") return "prometheus counters cleared\n";
  return r.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace pgquay::cli
