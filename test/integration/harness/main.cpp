// main() of every integration-test binary: GoogleTest plus the shared PostgreSQL server.
#include <gtest/gtest.h>

#include "harness/postgres_environment.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // GoogleTest takes ownership of the environment and deletes it after TearDown().
  ::testing::AddGlobalTestEnvironment(new pgquay::test::PostgresEnvironment());
  return RUN_ALL_TESTS();
}
