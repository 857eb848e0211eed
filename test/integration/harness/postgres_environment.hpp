// One PostgreSQL server per integration-test binary, started before the first test and stopped
// after the last one (also when tests fail or an ASSERT returns early), as a GoogleTest global
// environment. The harness's main() registers it, so every integration test can call postgres().
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "harness/postgres_server.hpp"

namespace pgquay::test {

class PostgresEnvironment : public ::testing::Environment {
 public:
  explicit PostgresEnvironment(PostgresOptions options = {}) : options_(std::move(options)) {}
  // Starts the server; if it cannot start, the failure (with the server log) fails the binary
  // and GoogleTest runs no test.
  void SetUp() override;
  void TearDown() override;

 private:
  PostgresOptions options_;
  std::unique_ptr<PostgresServer> server_;
};

// The shared server. Only valid while tests run (between the environment's SetUp and TearDown).
PostgresServer& postgres();

}  // namespace pgquay::test
