// Runs the pgquay-admin binary (PGQUAY_ADMIN_BIN) with a throwaway HOME and checks its output,
// its exit status and the files it leaves, reading them back through the security library.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pgquay/security/master_key.hpp"
#include "pgquay/security/users_file.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace pgquay::security {
namespace {

using test::mode_of;
using test::read_file;
using test::TempDir;
using test::write_file;

struct AdminRun {
  int status = -1;
  std::string out;
  std::string err;
};

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("PGQUAY_ADMIN_BIN");
    if (bin == nullptr || *bin == '\0') GTEST_SKIP() << "PGQUAY_ADMIN_BIN is not set";
    bin_ = bin;
    home_ = home_dir_.path();
  }

  // Runs pgquay-admin with `args`, HOME = home_, stdin from /dev/null (no terminal), and
  // PGQUAY_PASSWORD only when given. Output goes through files (no pipe deadlock).
  AdminRun admin(const std::vector<std::string>& args, const std::string& env_password = "") {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("HOME=") || entry.starts_with("PGQUAY_PASSWORD=")) continue;
      env.emplace_back(entry);
    }
    env.push_back("HOME=" + home_);
    if (!env_password.empty()) env.push_back("PGQUAY_PASSWORD=" + env_password);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_text = {bin_};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::string out_path = io_.file("stdout");
    std::string err_path = io_.file("stderr");
    pid_t pid = ::fork();
    if (pid == 0) {
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::chdir(home_.c_str());
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    AdminRun run;
    int wstatus = 0;
    EXPECT_EQ(::waitpid(pid, &wstatus, 0), pid);
    run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    run.out = read_file(out_path);
    run.err = read_file(err_path);
    return run;
  }

  static nlohmann::json json_of(const AdminRun& run) {
    auto parsed = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << run.out;
    return parsed;
  }

  std::map<std::string, std::string> passwords(const std::string& file) {
    auto key = find_master_key(home_);
    EXPECT_TRUE(key) << key.error().message;
    auto users = UsersFile::read(file, *key);
    EXPECT_TRUE(users) << users.error().message;
    return users ? users->passwords() : std::map<std::string, std::string>{};
  }

  static void expect_one_error_line(const AdminRun& run, std::string_view part) {
    EXPECT_EQ(run.status, 1) << run.err;
    EXPECT_TRUE(contains(run.err, part)) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }

  TempDir home_dir_;
  TempDir io_;
  std::string bin_;
  std::string home_;
};

TEST_F(AdminTest, RoundTripText) {
  AdminRun key = admin({"master-key"});
  ASSERT_EQ(key.status, 0) << key.err;
  EXPECT_EQ(key.out, "master key stored in " + home_ + "/.pgquay/master.key\n");
  EXPECT_EQ(mode_of(home_ + "/.pgquay"), 0700u);
  EXPECT_EQ(mode_of(home_ + "/.pgquay/master.key"), 0600u);

  const std::string file = home_ + "/pgquay_users.conf";
  AdminRun add = admin({"-f", file, "-U", "alice", "-P", "alice-pw", "user", "add"});
  ASSERT_EQ(add.status, 0) << add.err;
  EXPECT_EQ(add.out, "user 'alice' added to " + file + "\n");
  EXPECT_EQ(mode_of(file), 0600u);
  ASSERT_EQ(admin({"-f", file, "-U", "bob", "user", "add"}, "bob-pw").status, 0);
  AdminRun ls = admin({"-f", file, "user", "ls"});
  ASSERT_EQ(ls.status, 0) << ls.err;
  EXPECT_EQ(ls.out, "alice\nbob\n");

  AdminRun edit = admin({"user", "edit", "-f", file, "-U", "alice", "-P", "alice-new"});
  ASSERT_EQ(edit.status, 0) << edit.err;
  EXPECT_EQ(passwords(file),
            (std::map<std::string, std::string>{{"alice", "alice-new"}, {"bob", "bob-pw"}}));
  AdminRun del = admin({"-f", file, "-U", "bob", "user", "del"});
  ASSERT_EQ(del.status, 0) << del.err;
  EXPECT_EQ(admin({"-f", file, "user", "ls"}).out, "alice\n");
  EXPECT_FALSE(contains(read_file(file), "alice-new"));
}

TEST_F(AdminTest, RoundTripJson) {
  AdminRun key = admin({"-F", "json", "master-key", "-P", "my own master key"});
  ASSERT_EQ(key.status, 0) << key.err;
  auto key_json = json_of(key);
  EXPECT_EQ(key_json["command"], "master-key");
  EXPECT_EQ(key_json["status"], "ok");
  EXPECT_EQ(key_json["path"], home_ + "/.pgquay/master.key");
  EXPECT_EQ(key_json["generated"], false);
  EXPECT_EQ(find_master_key(home_)->text(), "my own master key");

  const std::string file = home_ + "/users.conf";
  for (std::string user : {"u1", "u2", "u3"}) {
    AdminRun add = admin({"-F", "json", "-f", file, "-U", user, "-P", user + "-pw", "user", "add"});
    ASSERT_EQ(add.status, 0) << add.err;
    auto json = json_of(add);
    EXPECT_EQ(json["command"], "user add");
    EXPECT_EQ(json["status"], "ok");
    EXPECT_EQ(json["user"], user);
    EXPECT_FALSE(json.contains("password"));  // only generated passwords are shown
  }
  ASSERT_EQ(admin({"-F", "json", "-f", file, "-U", "u2", "user", "del"}).status, 0);
  ASSERT_EQ(admin({"-F", "json", "-f", file, "-U", "u3", "-P", "x3", "user", "edit"}).status, 0);
  AdminRun ls = admin({"-F", "json", "-f", file, "user", "ls"});
  ASSERT_EQ(ls.status, 0) << ls.err;
  auto json = json_of(ls);
  EXPECT_EQ(json["command"], "user ls");
  EXPECT_EQ(json["status"], "ok");
  EXPECT_EQ(json["users"], nlohmann::json::array({"u1", "u3"}));
  EXPECT_FALSE(contains(ls.out, "-pw"));
  EXPECT_FALSE(contains(ls.out, "x3"));
  EXPECT_EQ(passwords(file)["u3"], "x3");

  AdminRun missing = admin({"-F", "json", "-f", file, "-U", "u2", "user", "del"});
  EXPECT_EQ(missing.status, 1);
  auto error = json_of(missing);
  EXPECT_EQ(error["status"], "error");
  EXPECT_TRUE(contains(error["error"].get<std::string>(), "does not exist"));
}

TEST_F(AdminTest, GeneratedPasswordOfGivenLength) {
  ASSERT_EQ(admin({"master-key"}).status, 0);
  const std::string file = home_ + "/users.conf";
  AdminRun add = admin({"-F", "json", "-f", file, "-U", "gen", "-g", "-l", "20", "user", "add"});
  ASSERT_EQ(add.status, 0) << add.err;
  std::string generated = json_of(add)["password"].get<std::string>();
  EXPECT_EQ(generated.size(), 20u);
  EXPECT_EQ(passwords(file)["gen"], generated);

  AdminRun edit = admin({"-f", file, "-U", "gen", "-g", "user", "edit"});
  ASSERT_EQ(edit.status, 0) << edit.err;
  auto line = edit.out.find("password: ");
  ASSERT_NE(line, std::string::npos) << edit.out;
  std::string again = edit.out.substr(line + 10, edit.out.find('\n', line) - line - 10);
  EXPECT_EQ(again.size(), kGeneratedMasterKeyLength);  // the default length, 64
  EXPECT_EQ(passwords(file)["gen"], again);
}

TEST_F(AdminTest, RefusalsAndUsageErrors) {
  const std::string file = home_ + "/users.conf";
  expect_one_error_line(admin({"-f", file, "user", "ls"}), "no master key");
  ASSERT_EQ(admin({"master-key"}).status, 0);
  expect_one_error_line(admin({"master-key", "-P", "another key"}), "already exists");
  ASSERT_EQ(admin({"-f", file, "-U", "alice", "-P", "pw", "user", "add"}).status, 0);
  expect_one_error_line(admin({"-f", file, "-U", "alice", "-P", "pw", "user", "add"}),
                        "user 'alice' already exists");
  expect_one_error_line(admin({"-f", file, "-U", "nobody", "-P", "pw", "user", "edit"}),
                        "user 'nobody' does not exist");
  expect_one_error_line(admin({"-f", file, "-U", "nobody", "user", "del"}),
                        "user 'nobody' does not exist");
  // No -P, -g or PGQUAY_PASSWORD, and stdin is not a terminal.
  expect_one_error_line(admin({"-f", file, "-U", "bob", "user", "add"}), "no password");
  expect_one_error_line(admin({"-f", file, "-U", "#bob", "-P", "pw", "user", "add"}),
                        "user name starts with '#'");
  expect_one_error_line(admin({"-f", home_ + "/missing.conf", "user", "ls"}), "missing.conf");

  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"user"},
           {"user", "rename"},
           {"user", "ls"},
           {"-f", file, "user", "add", "-P", "pw"},
           {"-f", file, "-U", "x", "-P", "pw", "-g", "user", "add"},
           {"-f", file, "-U", "x", "-g", "-l", "7", "user", "add"},
           {"-f", file, "-U", "x", "-g", "-l", "20x", "user", "add"},
           {"-F", "yaml", "-f", file, "user", "ls"},
           {"--no-such-option", "user", "ls"},
       }) {
    AdminRun run = admin(args);
    EXPECT_EQ(run.status, 2) << testing::PrintToString(args) << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  }
  EXPECT_EQ(admin({"--help"}).status, 0);
  EXPECT_TRUE(admin({"-V"}).out.starts_with("pgquay-admin "));
}

TEST_F(AdminTest, WrongMasterKeyRefused) {
  ASSERT_EQ(admin({"master-key", "-P", "key A, the right one"}).status, 0);
  const std::string file = io_.file("users.conf");
  ASSERT_EQ(admin({"-f", file, "-U", "alice", "-P", "pw", "user", "add"}).status, 0);
  std::string before = read_file(file);

  // Another HOME with another master key, same users file.
  TempDir other_home;
  home_ = other_home.path();
  ASSERT_EQ(admin({"master-key", "-P", "key B, the wrong one"}).status, 0);
  expect_one_error_line(admin({"-f", file, "user", "ls"}),
                        file + ":1: user 'alice': cannot decrypt");
  expect_one_error_line(admin({"-f", file, "-U", "bob", "-P", "pw", "user", "add"}),
                        "wrong master key");
  EXPECT_EQ(read_file(file), before);  // nothing was written
}

TEST_F(AdminTest, LooseMasterKeyAndUsersFileRefused) {
  ASSERT_EQ(admin({"master-key"}).status, 0);
  const std::string file = home_ + "/users.conf";
  ASSERT_EQ(admin({"-f", file, "-U", "alice", "-P", "pw", "user", "add"}).status, 0);
  const std::string key = home_ + "/.pgquay/master.key";

  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  expect_one_error_line(admin({"-f", file, "user", "ls"}), key + " has mode 0644");
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  ASSERT_EQ(::chmod((home_ + "/.pgquay").c_str(), 0755), 0);
  expect_one_error_line(admin({"-f", file, "user", "ls"}), home_ + "/.pgquay has mode 0755");
  ASSERT_EQ(::chmod((home_ + "/.pgquay").c_str(), 0700), 0);

  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  expect_one_error_line(admin({"-f", file, "user", "ls"}), file + " has mode 0644");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  EXPECT_EQ(admin({"-f", file, "user", "ls"}).status, 0);
}

// On a terminal the password is asked twice without echo.
TEST_F(AdminTest, PromptsOnATerminalWithoutEcho) {
  int probe = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (probe < 0) GTEST_SKIP() << "no pseudo-terminals here";
  ::close(probe);
  ASSERT_EQ(admin({"master-key"}).status, 0);
  const std::string file = home_ + "/users.conf";
  auto typed = [&](const std::string& user, const std::string& first, const std::string& second,
                   std::string* screen) {
    std::string home_env = "HOME=" + home_;
    std::vector<std::string> argv_text = {bin_, "-f", file, "-U", user, "user", "add"};
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    int master = -1;
    pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    if (pid == 0) {
      ::unsetenv("PGQUAY_PASSWORD");
      ::putenv(home_env.data());
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    EXPECT_GT(pid, 0);
    // Answer each prompt when it appears; collect everything the terminal shows.
    std::string answers[] = {first + "\n", second + "\n"};
    int answered = 0;
    for (;;) {
      pollfd pfd{master, POLLIN, 0};
      if (::poll(&pfd, 1, 10000) <= 0) break;
      char buf[512];
      ssize_t n = ::read(master, buf, sizeof(buf));
      if (n <= 0) break;  // EIO once the child has exited
      screen->append(buf, static_cast<std::size_t>(n));
      std::size_t prompts = 0;
      for (std::size_t at = 0; (at = screen->find(": ", at)) != std::string::npos; at += 2) {
        ++prompts;
      }
      if (answered < 2 && prompts > static_cast<std::size_t>(answered)) {
        EXPECT_EQ(::write(master, answers[answered].data(), answers[answered].size()),
                  static_cast<ssize_t>(answers[answered].size()));
        ++answered;
      }
    }
    ::close(master);
    int wstatus = 0;
    EXPECT_EQ(::waitpid(pid, &wstatus, 0), pid);
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  };

  std::string screen;
  EXPECT_EQ(typed("typist", "typed secret", "typed secret", &screen), 0) << screen;
  EXPECT_TRUE(contains(screen, "Password for typist: ")) << screen;
  EXPECT_TRUE(contains(screen, "Again: ")) << screen;
  EXPECT_FALSE(contains(screen, "typed secret")) << "echoed: " << screen;
  EXPECT_EQ(passwords(file)["typist"], "typed secret");

  std::string mismatch;
  EXPECT_EQ(typed("sloppy", "one thing", "another", &mismatch), 1) << mismatch;
  EXPECT_TRUE(contains(mismatch, "the two entries differ")) << mismatch;
  EXPECT_EQ(passwords(file).count("sloppy"), 0u);
}

TEST_F(AdminTest, PgagroalHomeAndUsersFile) {
  // As pgagroal-admin leaves them (fixture from `openssl enc`, see users_file_test.cpp).
  ASSERT_EQ(::mkdir((home_ + "/.pgagroal").c_str(), 0700), 0);
  write_file(home_ + "/.pgagroal/master.key", "cGdhZ3JvYWwtbWFzdGVyLWtleS0xMjM=");
  const std::string file = home_ + "/pgagroal_users.conf";
  write_file(file, "alice:TRiNRbg093oXKbMEUtDU3A==\nbob:0JR2Ccl/388x0pUd/DxhRw==\n");
  AdminRun ls = admin({"-F", "json", "-f", file, "user", "ls"});
  ASSERT_EQ(ls.status, 0) << ls.err;
  EXPECT_EQ(json_of(ls)["users"], nlohmann::json::array({"alice", "bob"}));
  EXPECT_EQ(json_of(ls)["master_key"], home_ + "/.pgagroal/master.key");
  ASSERT_EQ(admin({"-f", file, "-U", "carol", "-P", "carol-pw", "user", "add"}).status, 0);
  EXPECT_EQ(passwords(file),
            (std::map<std::string, std::string>{
                {"alice", "secretpassword"}, {"bob", "another one!"}, {"carol", "carol-pw"}}));
  // pgagroal-admin's command names work too.
  EXPECT_EQ(admin({"-f", file, "list-users"}).out, "alice\nbob\ncarol\n");
}

}  // namespace
}  // namespace pgquay::security
