#include "harness/pg_client.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <regex>

namespace pgquay::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string quote(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// libpq only reports a connection failure as text. With PQERRORS_VERBOSE it reads
// "...failed: FATAL:  28P01: password authentication failed...", so the code can be found there.
DbError connection_error(PGconn* conn) {
  std::string message = trimmed(PQerrorMessage(conn));
  static const std::regex kSqlstate("(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): ");
  std::smatch match;
  std::string sqlstate;
  if (std::regex_search(message, match, kSqlstate)) sqlstate = match[1];
  return DbError{sqlstate, message};
}

}  // namespace

std::string make_conninfo(std::string_view host, int port, std::string_view user,
                          std::string_view password, std::string_view dbname) {
  std::string out =
      "host=" + quote(host) + " port=" + std::to_string(port) + " user=" + quote(user);
  if (!password.empty()) out += " password=" + quote(password);
  if (!dbname.empty()) out += " dbname=" + quote(dbname);
  return out;
}

DbResult<PgConnPtr> connect(const std::string& conninfo, std::chrono::milliseconds timeout) {
  PgConnPtr conn(PQconnectStart(conninfo.c_str()));
  if (!conn) return std::unexpected(DbError{"", "PQconnectStart: out of memory"});
  PQsetErrorVerbosity(conn.get(), PQERRORS_VERBOSE);
  if (PQstatus(conn.get()) == CONNECTION_BAD) return std::unexpected(connection_error(conn.get()));

  const auto deadline = Clock::now() + timeout;
  // libpq's protocol: behave as if the first poll asked to wait for writability.
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return std::unexpected(connection_error(conn.get()));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return std::unexpected(DbError{
          "", "connect timed out after " + std::to_string(timeout.count()) + " ms: " + conninfo});
    pollfd pfd{PQsocket(conn.get()),
               static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR)
      return std::unexpected(DbError{"", std::string("poll: ") + std::strerror(errno)});
    if (ready > 0) state = PQconnectPoll(conn.get());
  }
  return conn;
}

DbResult<PgResultPtr> exec(PGconn* conn, std::string_view sql) {
  PgResultPtr result(PQexec(conn, std::string(sql).c_str()));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (!result) return std::unexpected(DbError{"", trimmed(PQerrorMessage(conn))});
  const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
  return std::unexpected(DbError{sqlstate ? sqlstate : "",
                                 primary ? primary : trimmed(PQresultErrorMessage(result.get()))});
}

DbResult<std::string> exec_scalar(PGconn* conn, std::string_view sql) {
  auto result = exec(conn, sql);
  if (!result) return std::unexpected(result.error());
  if (PQntuples(result->get()) < 1 || PQnfields(result->get()) < 1)
    return std::unexpected(DbError{"", "no row returned by: " + std::string(sql)});
  return std::string(PQgetvalue(result->get(), 0, 0));
}

}  // namespace pgquay::test
