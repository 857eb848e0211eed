// psql through pgquay, over TCP and over the Unix socket: scripts with errors inside
// transactions, notices, COPY in both directions and a 100 MB result. Everything psql prints
// through pgquay must be exactly what it prints when connected to PostgreSQL directly.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness/files.hpp"
#include "harness/postgres_environment.hpp"
#include "pooler_support.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;

class PsqlTest : public PoolerTest {
 protected:
  // psql -X -v ON_ERROR_STOP=0 against host (an address or a socket directory) and port.
  static std::vector<std::string> psql(const std::string& host, int port,
                                       std::vector<std::string> args) {
    std::vector<std::string> argv = {pg_program("psql"),
                                     "-X",
                                     "-v",
                                     "ON_ERROR_STOP=0",
                                     "-h",
                                     host,
                                     "-p",
                                     std::to_string(port),
                                     "-U",
                                     "trust_user",
                                     "-d",
                                     std::string(PostgresServer::kDatabase)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::vector<std::string> psql_pooled_tcp(std::vector<std::string> args) const {
    return psql(pgquay().host(), pgquay().port(), std::move(args));
  }
  std::vector<std::string> psql_pooled_socket(std::vector<std::string> args) const {
    return psql(pgquay().socket_dir(), pgquay().port(), std::move(args));
  }
  static std::vector<std::string> psql_direct(std::vector<std::string> args) {
    return psql(postgres().host(), postgres().port(), std::move(args));
  }

  // Runs the same psql arguments directly and through pgquay; expects the same exit status and
  // the same output, and returns the output.
  std::string expect_same_as_direct(const std::vector<std::string>& pooled_argv,
                                    const std::vector<std::string>& args) {
    auto direct = run_program(psql_direct(args), 120s);
    EXPECT_TRUE(direct) << direct.error().message;
    auto pooled = run_program(pooled_argv, 120s);
    EXPECT_TRUE(pooled) << pooled.error().message;
    if (!direct || !pooled) return {};
    EXPECT_EQ(describe_wait_status(pooled->status), describe_wait_status(direct->status));
    EXPECT_EQ(pooled->output, direct->output) << "psql output through pgquay differs";
    return pooled->output;
  }
};
INSTANTIATE_POOLER_TEST_SUITE(PsqlTest);

// COPY text-format rows in canonical form (as COPY TO prints them), so they round-trip byte for
// byte: tabs and backslashes escaped, NULL as \N.
std::string copy_rows(int count) {
  std::string rows;
  for (int i = 1; i <= count; ++i) {
    rows += std::to_string(i) + "\tlabel " + std::to_string(i) + " with\\ttab and \\\\ slash\t" +
            std::to_string(i * 3 / 2) + "." + (i % 2 ? "50" : "00") + "\t" +
            (i % 7 == 0 ? std::string("\\N") : "note " + std::to_string(i % 13)) + "\n";
  }
  return rows;
}

constexpr int kCopyRows = 3000;

std::string script_text() {
  return R"(select 1 as one, 'two' as two, null as three;
set client_min_messages = warning;
drop table if exists psql_items;
drop table if exists psql_copy;
reset client_min_messages;
create table psql_items (id int primary key, label text not null, amount numeric(10,2));
insert into psql_items select g, 'item ' || g, g * 1.5 from generate_series(1, 20) g;
select count(*), sum(amount) from psql_items;
select 'first' as a; select 'second' as b;
begin;
update psql_items set amount = 0 where id = 1;
select 1 / 0;
select 'skipped because the transaction is aborted';
rollback;
select amount from psql_items where id = 1;
do $$ begin raise notice 'notice from plpgsql: %', 6 * 7; end $$;
select 'gset value' as x \gset
\echo psql variable: :x
create table psql_copy (id int primary key, label text, amount numeric(10,2), note text);
copy psql_copy from stdin;
)" + copy_rows(kCopyRows) +
         R"(\.
select count(*), sum(id), count(note), md5(string_agg(label, ',' order by id)) from psql_copy;
copy (select * from psql_copy order by id) to stdout;
\x on
select * from psql_items where id <= 2 order by id;
\x off
insert into psql_items values (1, 'duplicate', 0);
select id, label, amount from psql_items order by id desc limit 3;
begin;
insert into psql_items values (100, 'committed', 1);
commit;
select label from psql_items where id = 100;
select 'end of script';
)";
}

TEST_P(PsqlTest, ScriptOverTcpPrintsWhatPostgresPrints) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  const std::string script = pgquay().dir() + "/script.sql";
  ASSERT_TRUE(write_file(script, script_text()));
  const std::string output = expect_same_as_direct(psql_pooled_tcp({"-f", script}), {"-f", script});

  // And what it prints is what the script is about.
  for (std::string_view expected :
       {"NOTICE:  notice from plpgsql: 42", "ERROR:  division by zero",
        "ERROR:  current transaction is aborted", "ROLLBACK", "psql variable: gset value",
        "COPY 3000", "ERROR:  duplicate key value violates unique constraint", "end of script"})
    EXPECT_NE(output.find(expected), std::string::npos) << "missing: " << expected;
  EXPECT_NE(output.find(copy_rows(kCopyRows)), std::string::npos)
      << "COPY TO STDOUT did not return the rows COPY FROM STDIN stored";
}

TEST_P(PsqlTest, ScriptOverUnixSocketPrintsWhatPostgresPrints) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(unix_socket_path()); }, 5s))
      << unix_socket_path() << " never appeared";
  const std::string script = pgquay().dir() + "/script.sql";
  ASSERT_TRUE(write_file(script, script_text()));
  const std::string output =
      expect_same_as_direct(psql_pooled_socket({"-f", script}), {"-f", script});
  EXPECT_NE(output.find(copy_rows(kCopyRows)), std::string::npos);
  EXPECT_NE(output.find("end of script"), std::string::npos);
}

TEST_P(PsqlTest, CommandOptionsPrintWhatPostgresPrints) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  // Several statements in one -c are one simple Query message with several results.
  const std::vector<std::string> args = {
      "-c", "select 1 as a; select 'two' as b; select now() is not null as c",
      "-c", "select 1 / 0",
      "-c", "select 'after the error'",
      "-c", "begin; select 1; select * from no_such_table; commit",
      "-c", "select 'x' as tail"};
  const std::string output = expect_same_as_direct(psql_pooled_tcp(args), args);
  EXPECT_NE(output.find("after the error"), std::string::npos);
  EXPECT_NE(output.find("relation \"no_such_table\" does not exist"), std::string::npos);

  const std::vector<std::string> tuples = {"-At", "-c",
                                           "select g, md5(g::text) from "
                                           "generate_series(1, 2000) g"};
  expect_same_as_direct(psql_pooled_socket(tuples), tuples);
  const std::vector<std::string> list = {"-l"};
  expect_same_as_direct(psql_pooled_tcp(list), list);
}

TEST_P(PsqlTest, HundredMegabyteResultArrivesComplete) {
  auto started = start_pgquay();
  ASSERT_TRUE(started) << started.error().message;
  std::string command;
  for (const auto& arg : psql_pooled_tcp(
           {"-At", "-c", "select repeat('x', 1024 * 1024) from generate_series(1, 100)"}))
    command += shell_quote(arg) + " ";
  auto run = run_program({"/bin/sh", "-c", command + "| wc -c"}, 180s);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->exited_ok()) << run->describe();
  // 100 rows of 1 MiB, each followed by a newline; anything else (an error) changes the output.
  EXPECT_EQ(run->output, std::to_string(100 * (1024 * 1024 + 1)) + "\n");
}

}  // namespace
}  // namespace pgquay::test
