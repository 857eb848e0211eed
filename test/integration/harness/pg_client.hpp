// Small libpq helpers for tests: RAII handles and results that carry the SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace pgquay::test {

// A failed connection or statement. `sqlstate` is the server's five-character code (e.g. "28P01"
// for a wrong password), or empty when no server error was involved (refused, timeout, I/O).
struct DbError {
  std::string sqlstate;
  std::string message;
};

template <typename T>
using DbResult = std::expected<T, DbError>;

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// A libpq conninfo string; values are quoted, an empty password or dbname is left out.
std::string make_conninfo(std::string_view host, int port, std::string_view user,
                          std::string_view password, std::string_view dbname);

// Connects within `timeout` (non-blocking, so a pooler that never answers fails the test instead
// of hanging it). On failure the SQLSTATE of the server's ErrorResponse is reported when there
// was one.
[[nodiscard]] DbResult<PgConnPtr> connect(
    const std::string& conninfo, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Runs `sql` (simple query protocol). Succeeds for PGRES_COMMAND_OK and PGRES_TUPLES_OK.
[[nodiscard]] DbResult<PgResultPtr> exec(PGconn* conn, std::string_view sql);

// The first column of the first row ("" for NULL); an error when no row came back.
[[nodiscard]] DbResult<std::string> exec_scalar(PGconn* conn, std::string_view sql);

}  // namespace pgquay::test
