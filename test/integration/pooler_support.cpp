#include "pooler_support.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness/child_process.hpp"
#include "harness/ports.hpp"
#include "harness/postgres_environment.hpp"

namespace pgquay::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr PoolerMode kModes[] = {
    {"io_uring", "performance"},
    {"io_uring", "session"},
    {"epoll", "performance"},
    {"epoll", "session"},
};

// Sanitizer reports in pgquay's output (any of its processes writes to the same file).
constexpr std::string_view kSanitizerMarkers[] = {
    "ERROR: AddressSanitizer",
    "runtime error:",
    "ERROR: LeakSanitizer",
};

std::string with_extra(std::string conninfo, std::string_view extra) {
  if (!extra.empty()) {
    conninfo += ' ';
    conninfo += extra;
  }
  return conninfo;
}

// The parent pid from /proc/<pid>/stat ("pid (comm) state ppid ..."); comm may hold spaces and
// parentheses, so parse after the last ')'.
std::optional<std::pair<char, pid_t>> state_and_parent(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  char state = '?';
  pid_t ppid = 0;
  if (!(rest >> state >> ppid)) return std::nullopt;
  return std::pair{state, ppid};
}

// Inodes of TCP sockets (in /proc/net/tcp and tcp6) whose local port is `local_port` and remote
// port `remote_port`.
std::vector<std::string> socket_inodes(int local_port, int remote_port) {
  std::vector<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
            timeout >> inode))
        continue;
      auto port_of = [](const std::string& address) {
        const auto colon = address.rfind(':');
        return colon == std::string::npos
                   ? -1
                   : static_cast<int>(std::strtol(address.c_str() + colon + 1, nullptr, 16));
      };
      if (port_of(local) == local_port && port_of(remote) == remote_port && inode != "0")
        inodes.push_back(inode);
    }
  }
  return inodes;
}

bool process_has_socket(pid_t pid, const std::string& inode) {
  const std::string wanted = "socket:[" + inode + "]";
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (std::filesystem::read_symlink(entry.path(), link_ec).string() == wanted) return true;
  }
  return false;
}

}  // namespace

// ---- modes and fixture ------------------------------------------------------------------------

std::vector<PoolerMode> all_pooler_modes() {
  return {std::begin(kModes), std::end(kModes)};
}

std::vector<PoolerMode> transaction_pooler_modes() {
  return {{"io_uring", "transaction"}, {"epoll", "transaction"}};
}

std::string pooler_mode_name(const ::testing::TestParamInfo<PoolerMode>& info) {
  return std::string(info.param.ev_backend) + "_" + std::string(info.param.pipeline);
}

void PrintTo(const PoolerMode& mode, std::ostream* os) {
  *os << "ev_backend=" << mode.ev_backend << " pipeline=" << mode.pipeline;
}

std::string PoolerTest::mode_name() const {
  return std::string(GetParam().ev_backend) + "_" + std::string(GetParam().pipeline);
}

Result<void> PoolerTest::start_pgquay(PoolerSettings settings) {
  pgquay_.reset();
  expect_running_ = true;
  // The pool settings every test shares; the test's own lines come later and win.
  std::string extra = "ev_backend = " + std::string(GetParam().ev_backend) +
                      "\npipeline = " + std::string(GetParam().pipeline) +
                      "\nlog_connections = on\nlog_disconnections = on\n" + settings.extra_conf;
  // free_port() can race with another process taking the port before pgquay binds it.
  constexpr int kAttempts = 3;
  Error last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto port = free_port();
    if (!port) return Unexpected(port.error());
    PgquayOptions options;
    options.port = *port;
    options.conf = basic_pgquay_conf(*port, postgres(), extra);
    options.hba = settings.hba;
    options.databases = settings.databases;
    options.env = settings.env;
    options.users = settings.users;
    options.frontend_users = settings.frontend_users;
    options.admins = settings.admins;
    options.users_mode = settings.users_mode;
    options.master_key = settings.master_key;
    auto started = PgquayProcess::start(std::move(options));
    if (started) {
      pgquay_ = std::move(*started);
      return {};
    }
    last = started.error();
    if (last.message.find("in use") == std::string::npos) break;
  }
  return Unexpected(last);
}

void PoolerTest::TearDown() {
  if (!pgquay_) return;
  if (expect_running_) {
    EXPECT_TRUE(pgquay_->running()) << "pgquay's main process is gone";
  }
  const int status = pgquay_->stop();
  const std::string log = pgquay_->log_text();
  for (auto marker : kSanitizerMarkers) {
    if (log.find(marker) != std::string::npos) {
      ADD_FAILURE() << "sanitizer report in pgquay's output (" << marker << ")";
      break;
    }
  }
  // PGQUAY_TEST_SHOW_LOG=1 shows the log of passing tests too (for warnings nobody asserts on).
  const char* show = std::getenv("PGQUAY_TEST_SHOW_LOG");
  if (HasFailure() || (show != nullptr && *show == '1')) {
    std::cerr << "---- pgquay (" << mode_name() << ", main " << describe_wait_status(status)
              << ") log tail ----\n"
              << tail_lines(log, 80) << "\n---- end of pgquay log ----\n";
  }
  pgquay_.reset();
}

std::string PoolerTest::unix_socket_path() const {
  return pgquay_->socket_dir() + "/.s.PGSQL." + std::to_string(pgquay_->port());
}

std::string PoolerTest::pooled_conninfo(std::string_view user, std::string_view password,
                                        std::string_view dbname, std::string_view extra) const {
  return with_extra(make_conninfo(pgquay_->host(), pgquay_->port(), user, password, dbname), extra);
}

std::string PoolerTest::socket_conninfo(std::string_view user, std::string_view password,
                                        std::string_view dbname, std::string_view extra) const {
  return with_extra(make_conninfo(pgquay_->socket_dir(), pgquay_->port(), user, password, dbname),
                    extra);
}

DbResult<PgConnPtr> PoolerTest::connect_pooled(std::string_view user, std::string_view password,
                                               std::string_view dbname, std::string_view extra,
                                               std::chrono::milliseconds timeout) const {
  return connect(pooled_conninfo(user, password, dbname, extra), timeout);
}

// ---- external programs ------------------------------------------------------------------------

std::string pg_program(std::string_view name) {
  const char* env = std::getenv("PGQUAY_TEST_PG_BINDIR");
  const std::string dir =
      (env != nullptr && *env != '\0') ? std::string(env) : "/usr/lib/postgresql/15/bin";
  return dir + "/" + std::string(name);
}

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

bool ProgramRun::exited_ok() const {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string ProgramRun::describe() const {
  return describe_wait_status(status) + "; output:\n" + tail_lines(output, 30);
}

Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               std::chrono::milliseconds timeout, std::vector<std::string> env) {
  TempDir::remove_abandoned("pgquay-itest-");
  auto dir = TempDir::create("pgquay-itest-");
  if (!dir) return Unexpected(dir.error());
  SpawnOptions spawn;
  spawn.argv = argv;
  spawn.output_path = dir->file("output");
  // psql and pgbench must not pick up a developer's ~/.psqlrc or ~/.pgpass; a pooler that never
  // answers must fail the program, not hang it until the test's timeout.
  env.push_back("HOME=" + dir->path());
  env.push_back("PGCONNECT_TIMEOUT=30");
  spawn.env = std::move(env);
  spawn.parent_death_signal = SIGKILL;
  auto child = ChildProcess::spawn(spawn);
  if (!child) return Unexpected(child.error());
  auto status = child->wait(timeout);
  if (!status) {
    child->stop(SIGKILL, 5s);
    return fail(argv[0] + ": " + status.error().message + "; output:\n" +
                tail_file(spawn.output_path, 30));
  }
  auto output = read_file(spawn.output_path);
  if (!output) return Unexpected(output.error());
  return ProgramRun{*status, std::move(*output)};
}

// ---- processes --------------------------------------------------------------------------------

void expect_clean_run(const Result<ProgramRun>& run, int expected_transactions) {
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->exited_ok()) << run->describe();
  std::smatch match;
  static const std::regex kProcessed(R"(number of transactions actually processed: (\d+)/(\d+))");
  ASSERT_TRUE(std::regex_search(run->output, match, kProcessed)) << run->output;
  EXPECT_EQ(match[1].str(), std::to_string(expected_transactions)) << run->output;
  EXPECT_EQ(match[2].str(), std::to_string(expected_transactions)) << run->output;
  static const std::regex kFailed(R"(number of failed transactions: (\d+))");
  ASSERT_TRUE(std::regex_search(run->output, match, kFailed)) << run->output;
  EXPECT_EQ(match[1].str(), "0") << run->output;
}

std::vector<pid_t> child_processes(pid_t parent) {
  std::vector<pid_t> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto stat = state_and_parent(static_cast<pid_t>(pid));
    if (stat && stat->second == parent && stat->first != 'Z')
      children.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return children;
}

bool process_alive(pid_t pid) {
  auto stat = state_and_parent(pid);
  return stat && stat->first != 'Z' && stat->first != 'X';
}

Result<pid_t> worker_serving(pid_t pgquay_main, int pgquay_port, PGconn* client) {
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (::getsockname(PQsocket(client), reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return fail_errno("getsockname of the libpq socket");
  if (local.ss_family != AF_INET) return fail("the libpq connection is not TCP over IPv4");
  const int client_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
  const auto inodes = socket_inodes(pgquay_port, client_port);
  if (inodes.empty())
    return fail("no socket 127.0.0.1:" + std::to_string(pgquay_port) + " <- port " +
                std::to_string(client_port) + " in /proc/net/tcp");
  for (pid_t child : child_processes(pgquay_main)) {
    for (const auto& inode : inodes) {
      if (process_has_socket(child, inode)) return child;
    }
  }
  return fail("no child of pgquay (pid " + std::to_string(pgquay_main) +
              ") holds the client's socket (inode " + inodes.front() + ")");
}

// ---- raw protocol -----------------------------------------------------------------------------

Result<RawReply> send_raw(int port, std::string_view bytes, std::chrono::milliseconds timeout) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return fail_errno("connect 127.0.0.1:" + std::to_string(port));
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    // The server may close on the first bad bytes before the rest is sent: that is an answer.
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return RawReply{"", true};
    if (n < 0) return fail_errno("send");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  RawReply reply;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (reply.bytes.size() < (1U << 20)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fd.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail_errno("poll");
    if (ready == 0) break;
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      reply.closed = true;
      break;
    }
    if (n < 0) return fail_errno("recv");
    reply.bytes.append(buf, static_cast<std::size_t>(n));
  }
  return reply;
}

std::string be32(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string be16(std::uint16_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string describe(const DbError& error) {
  return (error.sqlstate.empty() ? "(no SQLSTATE)" : error.sqlstate) + " " + error.message;
}

// ---- libpq ------------------------------------------------------------------------------------

std::string scalar_or_error(PGconn* conn, std::string_view sql) {
  auto value = exec_scalar(conn, sql);
  return value ? *value : "error: " + describe(value.error());
}

std::string parameter(PGconn* conn, const char* name) {
  const char* value = PQparameterStatus(conn, name);
  return value ? value : "(not reported)";
}

DbResult<PgResultPtr> next_result(PGconn* conn, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (PQisBusy(conn)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::unexpected(DbError{"", "no result in time"});
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) > 0 && PQconsumeInput(conn) == 0)
      return std::unexpected(DbError{"", PQerrorMessage(conn)});
  }
  return PgResultPtr(PQgetResult(conn));
}

std::string result_sqlstate(const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return state ? state : "";
}

}  // namespace pgquay::test
