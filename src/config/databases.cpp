#include "pgquay/config/databases.hpp"

#include <algorithm>
#include <climits>
#include <map>

#include "pgquay/config/values.hpp"
#include "text_file.hpp"

namespace pgquay::config {
namespace {

constexpr const char* kColumns = "DATABASE[=ALIASES] USER MAX_SIZE [INITIAL_SIZE [MIN_SIZE]]";

bool is_all(std::string_view s) {
  return iequals(s, "all");
}

// pgagroal allows blanks around `=` and `,` in "db = a, b": glue those fields back together.
std::string database_column(const std::vector<std::string_view>& f, std::size_t& next) {
  std::string spec(f[0]);
  next = 1;
  while (next < f.size() && (spec.back() == '=' || spec.back() == ',' || f[next].front() == '=' ||
                             f[next].front() == ',')) {
    spec += f[next++];
  }
  return spec;
}

Result<int> parse_size_column(std::string_view text, std::string_view column, int min) {
  if (is_all(text)) return kAllConnections;
  auto v = parse_int(text, min, INT_MAX);
  if (!v) {
    return fail(std::string(column) + " '" + std::string(text) + "': expected " +
                (min > 0 ? "a positive" : "a non-negative") + " integer or all");
  }
  return static_cast<int>(*v);
}

class Parser {
 public:
  explicit Parser(std::string_view name) : name_(name) {}

  Result<DatabasesConfig> run(std::string_view text) {
    detail::for_each_line(text, [&](int line, std::string_view content) {
      auto fields = detail::split_fields(content);
      if (fields.empty()) return;
      line_ = line;
      if (auto r = entry(fields); !r) {
        error(r.error().message);
      } else {
        out_.limits.push_back(std::move(*r));
      }
    });
    check_aliases();
    if (!errors_.empty()) return fail(detail::join_lines(errors_));
    return std::move(out_);
  }

 private:
  Result<DatabaseLimit> entry(const std::vector<std::string_view>& f) {
    DatabaseLimit l;
    l.line = line_;
    std::size_t next = 0;
    std::string spec = database_column(f, next);
    if (f.size() - next < 2) {
      return fail(
          std::string(f.size() - next == 0 ? "missing USER and MAX_SIZE" : "missing MAX_SIZE") +
          ": expected " + kColumns);
    }
    if (f.size() - next > 4) {
      return fail("unexpected '" + std::string(f[next + 4]) +
                  "' after MIN_SIZE (a comment starts with #)");
    }
    auto db = aliases(spec, l);
    if (!db) return Unexpected(db.error());
    l.user = is_all(f[next]) ? "all" : std::string(f[next]);
    auto max = parse_size_column(f[next + 1], "MAX_SIZE", 1);
    if (!max) return Unexpected(max.error());
    l.max_size = *max;
    if (f.size() - next > 2) {
      auto initial = parse_size_column(f[next + 2], "INITIAL_SIZE", 0);
      if (!initial) return Unexpected(initial.error());
      l.initial_size = *initial;
    }
    if (f.size() - next > 3) {
      auto min = parse_size_column(f[next + 3], "MIN_SIZE", 0);
      if (!min) return Unexpected(min.error());
      l.min_size = *min;
    }
    if (l.max_size != kAllConnections) {
      if (auto r = fit(l); !r) return Unexpected(r.error());
    }
    return l;
  }

  // Splits "db=a,b" into the database and its aliases, checking the aliases of this entry.
  Result<void> aliases(const std::string& spec, DatabaseLimit& l) {
    auto eq = spec.find('=');
    std::string db = spec.substr(0, eq);
    if (db.empty()) return fail("DATABASE '" + spec + "': missing the database name before '='");
    l.database = is_all(db) ? "all" : db;
    if (eq == std::string::npos) return {};
    if (l.database == "all") return fail("DATABASE '" + spec + "': all cannot have aliases");
    l.aliases = detail::split_list(std::string_view(spec).substr(eq + 1), ',');
    if (l.aliases.size() > kMaxAliases) {
      return fail("DATABASE '" + spec + "': " + std::to_string(l.aliases.size()) +
                  " aliases; at most " + std::to_string(kMaxAliases) + " are allowed");
    }
    for (std::size_t i = 0; i < l.aliases.size(); ++i) {
      const auto& a = l.aliases[i];
      if (a.empty()) return fail("DATABASE '" + spec + "': empty alias");
      if (is_all(a)) return fail("DATABASE '" + spec + "': all cannot be an alias");
      if (a == l.database)
        return fail("DATABASE '" + spec + "': alias '" + a + "' is the database itself");
      if (std::find(l.aliases.begin(), l.aliases.begin() + static_cast<long>(i), a) !=
          l.aliases.begin() + static_cast<long>(i)) {
        return fail("DATABASE '" + spec + "': alias '" + a + "' is listed twice");
      }
    }
    return {};
  }

  // INITIAL_SIZE and MIN_SIZE within MAX_SIZE; `all` means MAX_SIZE.
  Result<void> fit(DatabaseLimit& l) {
    if (l.initial_size == kAllConnections) l.initial_size = l.max_size;
    if (l.min_size == kAllConnections) l.min_size = l.max_size;
    if (l.initial_size > l.max_size) {
      return fail("INITIAL_SIZE " + std::to_string(l.initial_size) + " is larger than MAX_SIZE " +
                  std::to_string(l.max_size));
    }
    if (l.min_size > l.max_size) {
      return fail("MIN_SIZE " + std::to_string(l.min_size) + " is larger than MAX_SIZE " +
                  std::to_string(l.max_size));
    }
    // pgagroal raises INITIAL_SIZE to MIN_SIZE rather than refusing the entry.
    if (l.initial_size != 0 && l.initial_size < l.min_size) {
      out_.warnings.push_back(where(l.line) + ": INITIAL_SIZE " + std::to_string(l.initial_size) +
                              " is below MIN_SIZE " + std::to_string(l.min_size) + "; using " +
                              std::to_string(l.min_size));
      l.initial_size = l.min_size;
    }
    return {};
  }

  // An alias must name one database only, and must not be another entry's database. The same
  // alias repeated on several entries of the same database (one per user) is consistent.
  void check_aliases() {
    std::map<std::string, const DatabaseLimit*> owner;  // alias -> first entry defining it
    for (const auto& l : out_.limits) {
      for (const auto& a : l.aliases) {
        auto [it, fresh] = owner.try_emplace(a, &l);
        if (!fresh && it->second->database != l.database) {
          errors_.push_back(where(l.line) + ": alias '" + a + "' already names database '" +
                            it->second->database + "' (line " + std::to_string(it->second->line) +
                            ")");
        }
      }
    }
    for (const auto& l : out_.limits) {
      auto it = owner.find(l.database);
      if (it != owner.end()) {
        errors_.push_back(where(it->second->line) + ": alias '" + l.database +
                          "' is also a database name (line " + std::to_string(l.line) + ")");
      }
    }
  }

  std::string where(int line) const { return name_ + ":" + std::to_string(line); }
  void error(const std::string& msg) { errors_.push_back(where(line_) + ": " + msg); }

  std::string name_;
  int line_ = 0;
  DatabasesConfig out_;
  std::vector<std::string> errors_;
};

}  // namespace

Result<DatabasesConfig> parse_databases_string(std::string_view text, std::string_view name) {
  return Parser(name).run(text);
}

Result<DatabasesConfig> load_databases_file(const std::string& path) {
  auto text = detail::read_text_file(path);
  if (!text) return Unexpected(text.error());
  return parse_databases_string(*text, path);
}

Result<void> resolve_sizes(std::vector<DatabaseLimit>& limits, int max_connections,
                           std::string_view name) {
  auto where = [&](int line) { return std::string(name) + ":" + std::to_string(line); };
  std::vector<std::string> errors;
  long long total = 0;
  for (auto& l : limits) {
    if (l.max_size == kAllConnections) {
      long long remaining = max_connections - total;
      if (remaining <= 0) {
        errors.push_back(where(l.line) +
                         ": MAX_SIZE all leaves no connections: the entries above "
                         "already use all max_connections = " +
                         std::to_string(max_connections));
        continue;
      }
      l.max_size = static_cast<int>(remaining);
      if (l.initial_size == kAllConnections) l.initial_size = l.max_size;
      if (l.min_size == kAllConnections) l.min_size = l.max_size;
      if (l.initial_size > l.max_size || l.min_size > l.max_size) {
        errors.push_back(where(l.line) + ": INITIAL_SIZE " + std::to_string(l.initial_size) +
                         " / MIN_SIZE " + std::to_string(l.min_size) +
                         " exceed MAX_SIZE all = " + std::to_string(l.max_size));
      }
    }
    total += l.max_size;
  }
  if (total > max_connections) {
    errors.push_back(std::string(name) + ": the MAX_SIZEs add up to " + std::to_string(total) +
                     ", more than max_connections = " + std::to_string(max_connections));
  }
  if (!errors.empty()) return fail(detail::join_lines(errors));
  return {};
}

std::string resolve_alias(const std::vector<DatabaseLimit>& limits, std::string_view database) {
  for (const auto& l : limits) {
    if (std::find(l.aliases.begin(), l.aliases.end(), database) != l.aliases.end()) {
      return l.database;
    }
  }
  return std::string(database);
}

const DatabaseLimit* find_limit(const std::vector<DatabaseLimit>& limits, std::string_view database,
                                std::string_view user) {
  std::string real = resolve_alias(limits, database);
  auto first = [&](auto&& pred) -> const DatabaseLimit* {
    auto it = std::find_if(limits.begin(), limits.end(), pred);
    return it == limits.end() ? nullptr : &*it;
  };
  if (auto* l = first([&](const DatabaseLimit& e) { return e.database == real && e.user == user; }))
    return l;
  if (auto* l =
          first([&](const DatabaseLimit& e) { return e.database == "all" && e.user == user; }))
    return l;
  if (auto* l =
          first([&](const DatabaseLimit& e) { return e.database == real && e.user == "all"; }))
    return l;
  return first([](const DatabaseLimit& e) { return e.database == "all" && e.user == "all"; });
}

}  // namespace pgquay::config
