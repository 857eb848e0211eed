// pgquay_databases.conf: per database/user pool limits and database aliases.
//
// pgagroal's format, one entry per line, `#` starts a comment:
//   DATABASE[=ALIAS1,ALIAS2,...]  USER  MAX_SIZE  [INITIAL_SIZE  [MIN_SIZE]]
// DATABASE and USER may be `all`; MAX_SIZE, INITIAL_SIZE and MIN_SIZE may be `all`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "pgquay/common/result.hpp"

namespace pgquay::config {

// A size written as `all`. For MAX_SIZE: every connection of max_connections not claimed by the
// entries above it; for INITIAL_SIZE and MIN_SIZE: the entry's MAX_SIZE. resolve_sizes() turns
// it into a number once max_connections is known.
inline constexpr int kAllConnections = -1;
inline constexpr std::size_t kMaxAliases = 8;

struct DatabaseLimit {
  std::string database;              // the real database name, or "all"
  std::vector<std::string> aliases;  // other names clients may use for `database`
  std::string user;                  // or "all"
  int max_size = 0;                  // > 0, or kAllConnections
  int initial_size = 0;              // connections to open at start-up (0..max_size)
  int min_size = 0;                  // connections kept open (0..max_size)
  int line = 0;
};

struct DatabasesConfig {
  std::vector<DatabaseLimit> limits;  // in file order
  std::vector<std::string> warnings;  // e.g. INITIAL_SIZE raised to MIN_SIZE
};

// Parses entries. Errors (file:line, one line per problem): a bad or missing column, INITIAL_SIZE
// or MIN_SIZE above MAX_SIZE, more than kMaxAliases aliases, an empty alias, an alias on `all`, an
// alias that repeats or collides with another entry's database or alias. An empty file is fine.
Result<DatabasesConfig> parse_databases_string(std::string_view text, std::string_view name);
Result<DatabasesConfig> load_databases_file(const std::string& path);

// Replaces every kAllConnections by a number and checks that the MAX_SIZEs together do not exceed
// max_connections (pgagroal's rule). `name` is the file name for messages.
Result<void> resolve_sizes(std::vector<DatabaseLimit>& limits, int max_connections,
                           std::string_view name);

// The real database name for `database`: the entry's name when `database` is one of its aliases,
// otherwise `database` itself.
std::string resolve_alias(const std::vector<DatabaseLimit>& limits, std::string_view database);

// The entry that governs (database, user), after alias resolution; pgagroal's order:
// 1. database and user both match exactly, 2. user matches and DATABASE is `all`,
// 3. database matches and USER is `all`, 4. `all all`. nullptr when none applies.
const DatabaseLimit* find_limit(const std::vector<DatabaseLimit>& limits, std::string_view database,
                                std::string_view user);

}  // namespace pgquay::config
