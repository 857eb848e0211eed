#include "harness/postgres_environment.hpp"

#include "pgquay/common/check.hpp"

namespace pgquay::test {
namespace {

// Tests reach the environment's server through postgres(); GoogleTest owns the environment, so
// this pointer is the one place that links the two for the lifetime of the test run.
PostgresServer*& shared_server() {
  static PostgresServer* server = nullptr;
  return server;
}

}  // namespace

void PostgresEnvironment::SetUp() {
  auto server = PostgresServer::start(options_);
  if (!server) {
    FAIL() << "PostgreSQL 15 could not be started for the integration tests: "
           << server.error().message;
  }
  server_ = std::move(*server);
  shared_server() = server_.get();
}

void PostgresEnvironment::TearDown() {
  shared_server() = nullptr;
  server_.reset();
}

PostgresServer& postgres() {
  PGQ_CHECK(shared_server() != nullptr);
  return *shared_server();
}

}  // namespace pgquay::test
