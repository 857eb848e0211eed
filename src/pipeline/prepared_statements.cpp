#include "pgquay/pipeline/prepared_statements.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "pgquay/common/check.hpp"
#include "pgquay/proto/framing.hpp"

namespace pgquay::pipeline {

namespace {
// Closing a statement that does not exist is not an error: PostgreSQL answers CloseComplete.
constexpr std::string_view kNeverPrepared = "pgquay_none";

void write_parse(std::string& out, std::string_view name, std::string_view tail) {
  proto::MessageWriter(out).begin('P').cstr(name).bytes(tail).end();
}

void write_close_statement(std::string& out, std::string_view name) {
  proto::MessageWriter(out).begin('C').byte('S').cstr(name).end();
}

void write_original(std::string& out, char type, std::string_view body) {
  proto::MessageWriter(out).begin(type).bytes(body).end();
}
}  // namespace

StatementDigest statement_digest(std::string_view parse_tail) {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  PGQ_CHECK(
      EVP_Digest(parse_tail.data(), parse_tail.size(), hash, &length, EVP_sha256(), nullptr) == 1);
  StatementDigest digest;
  std::memcpy(digest.words.data(), hash, sizeof(digest.words));
  return digest;
}

std::string server_statement_name(const StatementDigest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "pgquay_";
  for (uint64_t word : digest.words) {
    for (int shift = 60; shift >= 0; shift -= 4) name += kHex[(word >> shift) & 0xf];
  }
  return name;
}

// ---- ServerStatements ----

ServerStatements::ServerStatements(pool::PreparedStatementCache& cache, size_t limit)
    : cache_(cache), limit_(std::min(limit, pool::kPreparedCapacity - pool::kPreparedMargin)) {}

bool ServerStatements::use(const StatementDigest& digest) {
  for (uint32_t i = 0; i < cache_.count; ++i) {
    auto& entry = cache_.entries[i];
    if (entry.digest[0] == digest.words[0] && entry.digest[1] == digest.words[1]) {
      entry.last_used = ++cache_.clock;
      return true;
    }
  }
  return false;
}

std::optional<StatementDigest> ServerStatements::add(const StatementDigest& digest) {
  std::optional<StatementDigest> evicted;
  if (cache_.count >= limit_ && cache_.count > 0) {
    uint32_t oldest = 0;
    for (uint32_t i = 1; i < cache_.count; ++i) {
      if (cache_.entries[i].last_used < cache_.entries[oldest].last_used) oldest = i;
    }
    evicted = StatementDigest{{cache_.entries[oldest].digest[0], cache_.entries[oldest].digest[1]}};
    cache_.entries[oldest] = cache_.entries[--cache_.count];
  }
  PGQ_CHECK(restore(digest));
  return evicted;
}

bool ServerStatements::restore(const StatementDigest& digest) {
  if (cache_.count >= pool::kPreparedCapacity) return false;
  cache_.entries[cache_.count++] = {{digest.words[0], digest.words[1]}, ++cache_.clock};
  return true;
}

void ServerStatements::remove(const StatementDigest& digest) {
  for (uint32_t i = 0; i < cache_.count; ++i) {
    auto& entry = cache_.entries[i];
    if (entry.digest[0] == digest.words[0] && entry.digest[1] == digest.words[1]) {
      entry = cache_.entries[--cache_.count];
      return;
    }
  }
}

void ServerStatements::clear() {
  cache_.count = 0;
}

// ---- PreparedStatements ----

void PreparedStatements::attach() {
  batches_sent_ = 0;
  batches_done_ = 0;
}

void PreparedStatements::from_client(char type, std::string_view body, ServerStatements& server,
                                     std::string& out) {
  proto::BodyReader reader(body);
  switch (type) {
    case 'P':
      return on_parse(body, server, out);
    case 'B': {
      auto portal = reader.cstr();
      auto name = reader.cstr();
      auto known = name ? statements_.find(std::string(*name)) : statements_.end();
      if (!name || name->empty() || known == statements_.end()) break;
      ensure_prepared(known->second, server, out);
      proto::MessageWriter(out)
          .begin('B')
          .cstr(*portal)
          .cstr(server_statement_name(known->second.digest))
          .bytes(body.substr(body.size() - reader.remaining()))
          .end();
      return;
    }
    case 'D': {
      auto kind = reader.byte();
      auto name = reader.cstr();
      if (kind != 'S' || !name || name->empty()) break;
      auto known = statements_.find(std::string(*name));
      if (known == statements_.end()) break;
      ensure_prepared(known->second, server, out);
      proto::MessageWriter(out)
          .begin('D')
          .byte('S')
          .cstr(server_statement_name(known->second.digest))
          .end();
      return;
    }
    case 'C': {
      auto kind = reader.byte();
      auto name = reader.cstr();
      Pending pending{Kind::client_close, batches_sent_, {}, 0, {}, {}};
      if (kind == 'S' && name && !name->empty()) {
        auto known = statements_.find(std::string(*name));
        if (known != statements_.end()) {
          pending.client_name = known->first;
          pending.forgotten = std::move(known->second);
          statements_.erase(known);
        }
      }
      closes_.push_back(std::move(pending));
      write_original(out, type, body);
      return;
    }
    default:
      break;
  }
  write_original(out, type, body);
}

void PreparedStatements::on_parse(std::string_view body, ServerStatements& server,
                                  std::string& out) {
  proto::BodyReader reader(body);
  auto name = reader.cstr();
  if (!name || name->empty()) {
    // The unnamed statement lives only until the next Parse, within one batch: sent as it is.
    parses_.push_back({Kind::client_parse, batches_sent_, {}, 0, {}, {}});
    return write_original(out, 'P', body);
  }
  std::string_view tail = body.substr(body.size() - reader.remaining());
  Statement statement = make_statement(tail);
  std::string client_name(*name);
  // A name the client prepares again without closing it first is replaced (PostgreSQL would
  // refuse with 42P05; clients that track their statements never do this).
  if (server.use(statement.digest)) {
    closes_.push_back({Kind::parse_by_close, batches_sent_, statement.digest, 0, client_name, {}});
    write_close_statement(out, kNeverPrepared);
  } else {
    add_to_server(statement.digest, server, out);
    parses_.push_back({Kind::client_parse,
                       batches_sent_,
                       statement.digest,
                       statement.known_key,
                       client_name,
                       {}});
    write_parse(out, server_statement_name(statement.digest), tail);
  }
  statements_.insert_or_assign(std::move(client_name), std::move(statement));
}

PreparedStatements::Statement PreparedStatements::make_statement(std::string_view tail) const {
  Statement statement{statement_digest(tail), std::string(tail), 0};
  if (known_) {
    std::string scoped = scope_;
    scoped += '\0';
    scoped.append(tail);
    statement.known_key = statement_digest(scoped).words[0];
  }
  return statement;
}

bool PreparedStatements::is_known(std::string_view parse_body) const {
  if (!known_) return false;
  proto::BodyReader reader(parse_body);
  auto name = reader.cstr();
  if (!name || name->empty()) return false;
  return known_->contains(
      make_statement(parse_body.substr(parse_body.size() - reader.remaining())).known_key);
}

bool PreparedStatements::prepare_without_server(std::string_view parse_body) {
  if (!is_known(parse_body)) return false;
  proto::BodyReader reader(parse_body);
  auto name = reader.cstr();
  Statement statement = make_statement(parse_body.substr(parse_body.size() - reader.remaining()));
  statements_.insert_or_assign(std::string(*name), std::move(statement));
  return true;
}

void PreparedStatements::ensure_prepared(const Statement& statement, ServerStatements& server,
                                         std::string& out) {
  if (server.use(statement.digest)) return;
  add_to_server(statement.digest, server, out);
  parses_.push_back(
      {Kind::injected_parse, batches_sent_, statement.digest, statement.known_key, {}, {}});
  write_parse(out, server_statement_name(statement.digest), statement.tail);
}

void PreparedStatements::add_to_server(const StatementDigest& digest, ServerStatements& server,
                                       std::string& out) {
  if (auto evicted = server.add(digest)) {
    closes_.push_back({Kind::eviction, batches_sent_, *evicted, 0, {}, {}});
    write_close_statement(out, server_statement_name(*evicted));
  }
}

PreparedStatements::Reply PreparedStatements::on_parse_complete() {
  if (parses_.empty()) return Reply::forward;  // not ours to judge: PostgreSQL sent it
  Kind kind = parses_.front().kind;
  if (known_ && parses_.front().known_key != 0) known_->insert(parses_.front().known_key);
  parses_.pop_front();
  return kind == Kind::injected_parse ? Reply::drop : Reply::forward;
}

PreparedStatements::Reply PreparedStatements::on_close_complete() {
  if (closes_.empty()) return Reply::forward;
  Kind kind = closes_.front().kind;
  closes_.pop_front();
  switch (kind) {
    case Kind::parse_by_close:
      return Reply::as_parse_complete;
    case Kind::eviction:
      return Reply::drop;
    default:
      return Reply::forward;
  }
}

void PreparedStatements::on_error(ServerStatements& server) {
  // Every entry of the failing batch is either the failed message or one PostgreSQL will skip.
  uint64_t failed = batches_done_;
  for (auto* queue : {&parses_, &closes_}) {
    for (auto it = queue->begin(); it != queue->end();) {
      if (it->batch != failed) {
        ++it;
        continue;
      }
      undo(*it, server);
      it = queue->erase(it);
    }
  }
}

void PreparedStatements::undo(Pending& pending, ServerStatements& server) {
  auto forget_client_name = [&] {
    auto known = statements_.find(pending.client_name);
    if (known != statements_.end() && known->second.digest == pending.digest)
      statements_.erase(known);
  };
  switch (pending.kind) {
    case Kind::client_parse:
      if (pending.client_name.empty()) return;
      server.remove(pending.digest);
      return forget_client_name();
    case Kind::injected_parse:
      return server.remove(pending.digest);
    case Kind::parse_by_close:
      return forget_client_name();
    case Kind::client_close:
      if (pending.forgotten)
        statements_.insert_or_assign(pending.client_name, std::move(*pending.forgotten));
      return;
    case Kind::eviction:
      // The statement is still on the server; if even the margin is full, the connection's
      // contents are no longer known and it will be closed instead of pooled.
      if (!server.restore(pending.digest)) server.mark_unknown();
      return;
  }
}

void PreparedStatements::on_deallocate_all(ServerStatements& server) {
  server.clear();
  statements_.clear();
}

}  // namespace pgquay::pipeline
