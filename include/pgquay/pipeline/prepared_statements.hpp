// Protocol-level prepared statements in the transaction pipeline.
//
// A client prepares named statements (Parse "S1") once and binds them for the rest of its
// session, but each of its transactions may run on a different server connection. So pgquay keeps
// the client's statements itself and prepares them on the server connections under names of its
// own, derived from a digest of the statement (text and parameter types): `pgquay_<32 hex>`. Each
// server connection's set of such names lives in its slot (pool::PreparedStatementCache, bounded,
// least recently used evicted with a Close), so the next holder knows what exists there.
//
// Client -> server, per captured message (Parse, Bind, Describe, Close):
//   Parse S        remembered; sent as Parse pgquay_<d> unless the connection has it already, in
//                  which case a Close of a name that never exists takes its place and its
//                  CloseComplete goes to the client as ParseComplete (same position, one reply)
//   Bind/Describe  S is renamed; a Parse pgquay_<d> goes first when the connection lacks it, and
//                  its ParseComplete is dropped
//   Close S        forgotten (the server keeps pgquay_<d> for other clients); sent unchanged, so
//                  PostgreSQL answers CloseComplete for a statement it does not have
// Unnamed statements, portals and statement names pgquay does not know pass unchanged (a name
// the client never prepared gets PostgreSQL's own "does not exist" error).
//
// Server -> client: every ParseComplete and CloseComplete answers one Parse or Close in the order
// they were sent, so two queues say what to do with each. PostgreSQL skips the rest of a batch
// (up to Sync) after an error: the entries of that batch are then undone (a skipped Parse created
// nothing, a skipped Close closed nothing).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgquay/pool/known_statements.hpp"
#include "pgquay/pool/slot.hpp"

namespace pgquay::pipeline {

struct StatementDigest {
  std::array<uint64_t, 2> words{};
  bool operator==(const StatementDigest&) const = default;
};

// SHA-256 (truncated to 128 bits) of a Parse body after its statement name.
StatementDigest statement_digest(std::string_view parse_tail);
// pgquay_ + 32 hex digits: the name of the statement on server connections.
std::string server_statement_name(const StatementDigest& digest);

// One server connection's statements, kept in its slot.
class ServerStatements {
 public:
  // limit: max_prepared_statements (at most kPreparedCapacity - kPreparedMargin).
  ServerStatements(pool::PreparedStatementCache& cache, size_t limit);
  // True if the connection has it; marks it recently used.
  bool use(const StatementDigest& digest);
  // Records it; returns the statement to close first when the cache was full.
  std::optional<StatementDigest> add(const StatementDigest& digest);
  // Records one again without evicting (undo of a skipped eviction); false when there is no room.
  bool restore(const StatementDigest& digest);
  void remove(const StatementDigest& digest);
  void clear();
  void mark_unknown() { cache_.unknown = true; }
  [[nodiscard]] size_t size() const { return cache_.count; }

 private:
  pool::PreparedStatementCache& cache_;
  size_t limit_;
};

class PreparedStatements {
 public:
  enum class Reply { forward, drop, as_parse_complete };

  // Statements that prepared cleanly are recorded in `known` under a key that includes `scope`
  // (the database and user: a statement valid for one need not be for another).
  void set_known(pool::KnownStatements* known, std::string scope) {
    known_ = known;
    scope_ = std::move(scope);
  }
  // A named Parse outside any transaction, with no server connection: if the statement is known
  // to prepare cleanly here, it is remembered and true returned (the caller answers
  // ParseComplete); false: it must go to a server.
  bool prepare_without_server(std::string_view parse_body);
  // Whether prepare_without_server would accept it.
  [[nodiscard]] bool is_known(std::string_view parse_body) const;

  // A Parse, Bind, Describe or Close from the client: appends what goes to the server to `out`.
  void from_client(char type, std::string_view body, ServerStatements& server, std::string& out);
  // A Sync, Query or FunctionCall went to the server: later messages belong to the next batch.
  void batch_sent() { ++batches_sent_; }

  Reply on_parse_complete();
  Reply on_close_complete();
  // ErrorResponse: PostgreSQL skips the rest of the current batch.
  void on_error(ServerStatements& server);
  // ReadyForQuery ends a batch.
  void on_ready() { ++batches_done_; }
  // DEALLOCATE ALL or DISCARD ALL ran: the connection has no prepared statements, and the client
  // (whose statements these were, as far as it knows) has none either.
  void on_deallocate_all(ServerStatements& server);

  // No reply is outstanding: the server connection may be switched.
  [[nodiscard]] bool settled() const { return parses_.empty() && closes_.empty(); }
  // A new server connection: batches are counted afresh (precondition: settled()).
  void attach();
  [[nodiscard]] size_t client_statements() const { return statements_.size(); }

 private:
  struct Statement {
    StatementDigest digest;
    std::string tail;  // the Parse body after the name: query NUL, parameter count and types
    uint64_t known_key = 0;
  };
  enum class Kind {
    client_parse,    // the client's Parse, renamed: reply forwarded
    injected_parse,  // prepares a statement before its Bind/Describe: reply dropped
    parse_by_close,  // stands for a Parse the connection needs not run: reply = ParseComplete
    client_close,    // the client's Close: reply forwarded
    eviction,        // closes the least recently used statement: reply dropped
  };
  struct Pending {
    Kind kind;
    uint64_t batch;
    StatementDigest digest;
    uint64_t known_key;                  // client_parse, injected_parse: recorded on success
    std::string client_name;             // client_parse, parse_by_close, client_close
    std::optional<Statement> forgotten;  // client_close: restored when the Close is skipped
  };

  void on_parse(std::string_view body, ServerStatements& server, std::string& out);
  // Makes sure the connection has `statement`, preparing it first if needed.
  void ensure_prepared(const Statement& statement, ServerStatements& server, std::string& out);
  void add_to_server(const StatementDigest& digest, ServerStatements& server, std::string& out);
  void undo(Pending& pending, ServerStatements& server);
  [[nodiscard]] Statement make_statement(std::string_view tail) const;

  pool::KnownStatements* known_ = nullptr;
  std::string scope_;

  std::unordered_map<std::string, Statement> statements_;
  std::deque<Pending> parses_;
  std::deque<Pending> closes_;
  uint64_t batches_sent_ = 0;
  uint64_t batches_done_ = 0;
};

}  // namespace pgquay::pipeline
