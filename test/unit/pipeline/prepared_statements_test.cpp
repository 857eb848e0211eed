// Prepared statements in the transaction pipeline: what goes to the server for each client
// message, and what the client gets back for each server reply.
#include "pgquay/pipeline/prepared_statements.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pgquay/proto/framing.hpp"

namespace pgquay::pipeline {
namespace {

using Reply = PreparedStatements::Reply;

std::string parse_body(std::string_view name, std::string_view query) {
  std::string body(name);
  body += '\0';
  body += query;
  body += '\0';
  body.append("\0\0", 2);  // no parameter types
  return body;
}

std::string bind_body(std::string_view statement) {
  std::string body("\0", 1);  // unnamed portal
  body += statement;
  body += '\0';
  body.append("\0\0\0\0\0\0", 6);  // no formats, no parameters, no result formats
  return body;
}

std::string statement_body(char kind, std::string_view name) {
  std::string body(1, kind);
  body += name;
  body += '\0';
  return body;
}

// The messages in `bytes` as "type:first-name" strings, e.g. "P:pgquay_..." or "C:pgquay_none".
std::vector<std::string> summarize(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    auto next = proto::next_message(bytes);
    EXPECT_TRUE(next && *next);
    if (!next || !*next) break;
    const auto& m = **next;
    std::string_view body = m.body;
    if (m.type == 'C' || m.type == 'D') body.remove_prefix(1);
    if (m.type == 'B') body.remove_prefix(body.find('\0') + 1);  // skip the portal
    out.push_back(std::string(1, m.type) + ":" + std::string(body.substr(0, body.find('\0'))));
    bytes.remove_prefix(m.size);
  }
  return out;
}

class PreparedStatementsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = std::make_unique<pool::PreparedStatementCache>();
    server_.emplace(*cache_, 2);
  }
  // Switches to another server connection (empty cache).
  void new_server() {
    other_ = std::make_unique<pool::PreparedStatementCache>();
    server_.emplace(*other_, 2);
    statements_.attach();
  }
  std::vector<std::string> send(char type, const std::string& body) {
    std::string out;
    statements_.from_client(type, body, *server_, out);
    return summarize(out);
  }

  std::unique_ptr<pool::PreparedStatementCache> cache_;
  std::unique_ptr<pool::PreparedStatementCache> other_;
  std::optional<ServerStatements> server_;
  PreparedStatements statements_;
};

std::string name_of(std::string_view query) {
  return server_statement_name(statement_digest(parse_body("", query).substr(1)));
}

TEST_F(PreparedStatementsTest, NamedParseIsRenamedAndItsReplyForwarded) {
  EXPECT_EQ(send('P', parse_body("S1", "SELECT 1")),
            std::vector<std::string>{"P:" + name_of("SELECT 1")});
  EXPECT_EQ(statements_.on_parse_complete(), Reply::forward);
  EXPECT_EQ(server_->size(), 1u);
  EXPECT_TRUE(statements_.settled());
}

TEST_F(PreparedStatementsTest, UnnamedParseAndPortalsPassUnchanged) {
  EXPECT_EQ(send('P', parse_body("", "SELECT 1")), std::vector<std::string>{"P:"});
  EXPECT_EQ(send('B', bind_body("")), std::vector<std::string>{"B:"});
  EXPECT_EQ(send('D', statement_body('P', "portal")), std::vector<std::string>{"D:portal"});
  EXPECT_EQ(statements_.on_parse_complete(), Reply::forward);
  EXPECT_EQ(server_->size(), 0u);
}

TEST_F(PreparedStatementsTest, ParseOfAStatementTheServerHasBecomesACloseAnsweredAsParseComplete) {
  send('P', parse_body("S1", "SELECT 1"));
  statements_.on_parse_complete();
  EXPECT_EQ(send('P', parse_body("S2", "SELECT 1")), std::vector<std::string>{"C:pgquay_none"});
  EXPECT_EQ(statements_.on_close_complete(), Reply::as_parse_complete);
}

TEST_F(PreparedStatementsTest, BindOnAnotherConnectionPreparesFirstAndDropsThatReply) {
  send('P', parse_body("S1", "SELECT 1"));
  statements_.on_parse_complete();
  new_server();
  std::string name = name_of("SELECT 1");
  EXPECT_EQ(send('B', bind_body("S1")), (std::vector<std::string>{"P:" + name, "B:" + name}));
  EXPECT_EQ(send('D', statement_body('S', "S1")), std::vector<std::string>{"D:" + name});
  EXPECT_EQ(statements_.on_parse_complete(), Reply::drop);
}

TEST_F(PreparedStatementsTest, UnknownStatementNamesPassUnchangedForPostgresToRefuse) {
  EXPECT_EQ(send('B', bind_body("nope")), std::vector<std::string>{"B:nope"});
  EXPECT_EQ(send('D', statement_body('S', "nope")), std::vector<std::string>{"D:nope"});
}

TEST_F(PreparedStatementsTest, CloseForgetsTheClientNameButTheServerKeepsTheStatement) {
  send('P', parse_body("S1", "SELECT 1"));
  statements_.on_parse_complete();
  EXPECT_EQ(send('C', statement_body('S', "S1")), std::vector<std::string>{"C:S1"});
  EXPECT_EQ(statements_.on_close_complete(), Reply::forward);
  EXPECT_EQ(statements_.client_statements(), 0u);
  EXPECT_EQ(server_->size(), 1u);
  EXPECT_EQ(send('B', bind_body("S1")), std::vector<std::string>{"B:S1"});
}

TEST_F(PreparedStatementsTest, AnErrorUndoesTheSkippedRestOfTheBatch) {
  // Batch 0: Parse S1 fails; Parse S2 and Close S0 are skipped by PostgreSQL.
  send('P', parse_body("S0", "SELECT 0"));
  statements_.batch_sent();
  statements_.on_parse_complete();
  statements_.on_ready();
  send('P', parse_body("S1", "SELEC 1"));
  send('P', parse_body("S2", "SELECT 2"));
  send('C', statement_body('S', "S0"));
  statements_.batch_sent();
  statements_.on_error(*server_);
  statements_.on_ready();
  EXPECT_TRUE(statements_.settled());
  EXPECT_EQ(server_->size(), 1u);                  // only S0's statement
  EXPECT_EQ(statements_.client_statements(), 1u);  // S0 survived its skipped Close
  EXPECT_EQ(send('B', bind_body("S2")), std::vector<std::string>{"B:S2"});
}

TEST_F(PreparedStatementsTest, TheLeastRecentlyUsedStatementIsClosedToMakeRoom) {
  for (auto [name, query] : {std::pair{"A", "SELECT 'a'"}, {"B", "SELECT 'b'"}}) {
    send('P', parse_body(name, query));
    statements_.on_parse_complete();
  }
  send('B', bind_body("A"));  // A is now more recent than B
  EXPECT_EQ(send('P', parse_body("C", "SELECT 'c'")),
            (std::vector<std::string>{"C:" + name_of("SELECT 'b'"), "P:" + name_of("SELECT 'c'")}));
  EXPECT_EQ(statements_.on_close_complete(), Reply::drop);
  EXPECT_EQ(statements_.on_parse_complete(), Reply::forward);
  EXPECT_EQ(server_->size(), 2u);
  // B is still the client's: binding it prepares it again (evicting A, now the oldest).
  EXPECT_EQ(send('B', bind_body("B")).size(), 3u);
}

TEST_F(PreparedStatementsTest, DeallocateAllForgetsEverything) {
  send('P', parse_body("S1", "SELECT 1"));
  statements_.on_parse_complete();
  statements_.on_deallocate_all(*server_);
  EXPECT_EQ(server_->size(), 0u);
  EXPECT_EQ(send('B', bind_body("S1")), std::vector<std::string>{"B:S1"});
}

TEST_F(PreparedStatementsTest, OnlyStatementsThatPreparedCleanlyAreAnsweredWithoutAServer) {
  pool::KnownStatements known;
  statements_.set_known(&known, std::string("db\0user", 7));
  EXPECT_FALSE(statements_.prepare_without_server(parse_body("S1", "SELECT 1")));
  send('P', parse_body("S1", "SELECT 1"));
  statements_.on_parse_complete();

  PreparedStatements other_client;
  other_client.set_known(&known, std::string("db\0user", 7));
  EXPECT_TRUE(other_client.prepare_without_server(parse_body("X", "SELECT 1")));
  EXPECT_FALSE(other_client.prepare_without_server(parse_body("Y", "SELECT 2")));
  EXPECT_FALSE(other_client.prepare_without_server(parse_body("", "SELECT 1")));  // unnamed
  PreparedStatements other_user;
  other_user.set_known(&known, std::string("db\0someone", 10));
  EXPECT_FALSE(other_user.prepare_without_server(parse_body("X", "SELECT 1")));
}

}  // namespace
}  // namespace pgquay::pipeline
