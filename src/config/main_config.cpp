// Reading pgquay.conf with inih.
//
// inih walks the file's structure (sections, key lines, a UTF-8 BOM) and calls us back per key,
// but its C handler gets no line number, it would cut a quoted value at " ;", and its line buffer
// is short. So our reader callback hands inih one line at a time, counts lines, validates the
// shape of each line and gives inih a normalised copy ("[section]" or "key="), keeping the raw
// line; the key handler then takes the value from the raw line and cleans it by our rules
// (quotes, `#`/`;` comments). Every message therefore names the file and the line.
#include <ini.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "key_table.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/values.hpp"
#include "text_file.hpp"

namespace pgquay::config {
namespace {

bool is_main_section(std::string_view name) {
  return iequals(name, "pgquay") || iequals(name, "pgagroal");
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view name) : rest_(text), name_(name) {
    config_.path = name_;
  }

  Result<Config> run() {
    int rc = ini_parse_stream(&Parser::read_line, this, &Parser::on_key, this);
    // The reader already rejected every line inih could object to; this is a safety net.
    if (rc > 0 && errors_.empty()) error(rc, "syntax error");
    if (rc < 0) errors_.push_back(name_ + ": cannot parse (inih error " + std::to_string(rc) + ")");
    if (!main_line_) {
      errors_.push_back(name_ +
                        ": no [pgquay] section (a [pgagroal] section is read the same way)");
    }
    if (errors_.empty()) {
      if (auto v = validate(config_); !v) errors_.push_back(v.error().message);
    }
    if (!errors_.empty()) return fail(detail::join_lines(errors_));
    return std::move(config_);
  }

 private:
  static char* read_line(char* buf, int size, void* self) noexcept {
    return static_cast<Parser*>(self)->next_line(buf, static_cast<std::size_t>(size));
  }
  static int on_key(void* self, const char* section, const char*, const char*) noexcept {
    static_cast<Parser*>(self)->key(trim(section));
    return 1;  // problems are recorded by us, with their line
  }

  char* next_line(char* buf, std::size_t size) {
    if (rest_.empty()) return nullptr;
    auto end = rest_.find('\n');
    std::string_view raw = rest_.substr(0, end);
    rest_ = end == std::string_view::npos ? std::string_view{} : rest_.substr(end + 1);
    ++line_;
    if (line_ == 1 && raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);
    std::string_view t = trim(raw);
    // Leading whitespace is never passed on: inih would read an indented line as the
    // continuation of the previous value.
    std::string out;
    if (t.empty() || t.front() == '#' || t.front() == ';') {
      // blank or comment: inih gets an empty line
    } else if (t.front() == '[') {
      out = section_line(t);
    } else {
      auto sep = t.find_first_of("=:");
      if (sep == std::string_view::npos) {
        error(line_, "expected 'key = value' or '[section]', found '" + std::string(t) + "'");
      } else if (trim(t.substr(0, sep)).empty()) {
        error(line_, "missing key name before '" + std::string(1, t[sep]) + "'");
      } else {
        key_ = trim(t.substr(0, sep));
        value_ = t.substr(sep + 1);
        out = std::string(key_) + "=";
        if (out.size() + 2 > size) {
          error(line_, "key name '" + std::string(key_) + "' is too long");
          out.clear();
        }
      }
    }
    std::size_t n = std::min(out.size(), size - 2);
    std::memcpy(buf, out.data(), n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
  }

  // Returns what inih should see for a section header; "[]" (no section) after an error so the
  // keys that follow are not silently filed under the previous section.
  std::string section_line(std::string_view t) {
    // inih keeps at most 49 characters of a section name.
    constexpr std::size_t kMaxSectionName = 49;
    auto close = t.find(']');
    if (close == std::string_view::npos) {
      error(line_, "section header without closing ']'");
      return "[]";
    }
    std::string_view after = trim(t.substr(close + 1));
    if (!after.empty() && after.front() != '#' && after.front() != ';') {
      error(line_, "unexpected text '" + std::string(after) + "' after the section header");
    }
    std::string_view name = trim(t.substr(1, close - 1));
    if (name.empty()) {
      error(line_, "empty section name");
      return "[]";
    }
    if (name.size() > kMaxSectionName) {
      error(line_, "section name '" + std::string(name) + "' is longer than " +
                       std::to_string(kMaxSectionName) + " characters");
      return "[]";
    }
    section_header(name);
    // Built step by step: GCC 12 at -O3 reports a false -Wrestrict for "[" + std::string + "]".
    std::string bracketed = "[";
    bracketed.append(name);
    bracketed.push_back(']');
    return bracketed;
  }

  void section_header(std::string_view name) {
    if (is_main_section(name)) {
      if (main_line_) {
        error(line_, "duplicate section [" + std::string(name) +
                         "] (the main section starts at line " + std::to_string(*main_line_) + ")");
      } else {
        main_line_ = line_;
      }
      return;
    }
    if (const ServerConfig* s = find_server(name)) {
      error(line_, "duplicate section [" + std::string(name) + "] (first at line " +
                       std::to_string(s->line) + ")");
      return;
    }
    ServerConfig server;
    server.name = std::string(name);
    server.line = line_;
    config_.servers.push_back(std::move(server));
    server_key_lines_.emplace_back();
  }

  void key(std::string_view section) {
    std::string key = to_lower(key_);
    if (section.empty()) {
      warning(line_, "key '" + key + "' outside of any section (ignored)");
      return;
    }
    if (is_main_section(section)) {
      const auto* def = detail::find_main_key(key);
      if (def == nullptr) return unknown(key, section);
      store(*def, config_.main, config_.key_lines);
      return;
    }
    auto it = std::find_if(config_.servers.begin(), config_.servers.end(),
                           [&](const ServerConfig& s) { return s.name == section; });
    if (it == config_.servers.end()) return;  // a rejected header; already reported
    const auto* def = detail::find_server_key(key);
    if (def == nullptr) return unknown(key, section);
    store(*def, *it, server_key_lines_[static_cast<std::size_t>(it - config_.servers.begin())]);
  }

  template <typename S, typename Lines>
  void store(const detail::KeyDef<S>& def, S& target, Lines& lines) {
    std::string name(def.name);
    auto [it, fresh] = lines.try_emplace(name, line_);
    if (!fresh) {
      warning(line_, "duplicate key '" + name + "' (also set at line " +
                         std::to_string(it->second) + "); the last value wins");
      it->second = line_;
    }
    auto value = clean_value(value_);
    if (!value) {
      error(line_, name + ": " + value.error().message);
      return;
    }
    if (auto r = def.binding.set(target, def, *value); !r) {
      error(line_, name + " = '" + *value + "': " + r.error().message);
    }
  }

  void unknown(const std::string& key, std::string_view section) {
    warning(line_, "unknown key '" + key + "' in section [" + std::string(section) + "] (ignored)");
  }

  const ServerConfig* find_server(std::string_view name) const {
    for (const auto& s : config_.servers) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  std::string at(int line) const { return name_ + ":" + std::to_string(line); }
  void error(int line, const std::string& msg) { errors_.push_back(at(line) + ": " + msg); }
  void warning(int line, const std::string& msg) {
    config_.warnings.push_back(at(line) + ": " + msg);
  }

  std::string_view rest_;   // text not yet handed to inih
  int line_ = 0;            // number of the line inih is parsing
  std::string_view key_;    // its key, as written
  std::string_view value_;  // its raw value (right of the separator)
  std::string name_;
  Config config_;
  std::vector<std::string> errors_;
  std::optional<int> main_line_;
  std::vector<std::map<std::string, int>> server_key_lines_;  // parallel to config_.servers
};

}  // namespace

Result<Config> parse_main_config_string(std::string_view text, std::string_view name) {
  return Parser(text, name).run();
}

Result<Config> load_main_config(const std::string& path) {
  auto text = detail::read_text_file(path);
  if (!text) return Unexpected(text.error());
  return parse_main_config_string(*text, path);
}

}  // namespace pgquay::config
