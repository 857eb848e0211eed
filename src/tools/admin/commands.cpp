#include "commands.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

#include "pgquay/security/crypto.hpp"
#include "pgquay/security/master_key.hpp"
#include "pgquay/security/users_file.hpp"
#include "prompt.hpp"

namespace pgquay::admin {
namespace {

using security::MasterKey;
using security::UsersFile;

struct Secret {
  std::string text;
  bool generated = false;
  Secret() = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(Secret&&) noexcept = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { security::cleanse(text); }
};

const char* env_password() {
  const char* env = std::getenv("PGQUAY_PASSWORD");
  return env != nullptr && env[0] != '\0' ? env : nullptr;
}

Result<Secret> generated(std::size_t length) {
  auto text = security::random_password(length);
  if (!text) return Unexpected(text.error());
  Secret secret;
  secret.text = std::move(*text);
  secret.generated = true;
  return secret;
}

Result<Secret> given(std::string text) {
  Secret secret;
  secret.text = std::move(text);
  return secret;
}

// Explicit options beat the environment: -P, then -g, then PGQUAY_PASSWORD, then the terminal.
Result<Secret> user_password(const Options& options) {
  if (options.password) return given(*options.password);
  if (options.generate) return generated(options.length);
  if (const char* env = env_password()) return given(env);
  if (can_prompt()) {
    auto typed = read_new_secret("Password for " + options.user);
    if (!typed) return Unexpected(typed.error());
    return given(std::move(*typed));
  }
  return fail("no password: give -P, -g or PGQUAY_PASSWORD, or run on a terminal");
}

// A master key nobody has to type is better than a typed one, so without -P or PGQUAY_PASSWORD
// one is generated.
Result<Secret> master_key_text(const Options& options) {
  if (options.password) return given(*options.password);
  if (options.generate) return generated(options.length);
  if (const char* env = env_password()) return given(env);
  return generated(options.length);
}

Result<MasterKey> master_key() {
  auto home = security::home_directory();
  if (!home) return Unexpected(home.error());
  return security::find_master_key(*home);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 || errno != ENOENT;
}

Report user_report(const Options& options, const MasterKey& key) {
  Report report;
  report.fields["file"] = options.users_file;
  report.fields["master_key"] = key.path();
  if (!options.user.empty()) report.fields["user"] = options.user;
  return report;
}

Result<Report> run_master_key(const Options& options) {
  auto home = security::home_directory();
  if (!home) return Unexpected(home.error());
  auto text = master_key_text(options);
  if (!text) return Unexpected(text.error());
  auto path = security::create_master_key(*home, text->text);
  if (!path) return Unexpected(path.error());
  Report report;
  report.fields["path"] = *path;
  report.fields["generated"] = text->generated;
  report.lines.push_back("master key stored in " + *path);
  return report;
}

Result<Report> run_user_add(const Options& options) {
  if (auto ok = security::validate_user_name(options.user); !ok) return Unexpected(ok.error());
  auto key = master_key();
  if (!key) return Unexpected(key.error());
  UsersFile file;
  if (file_exists(options.users_file)) {
    auto read = UsersFile::read(options.users_file, *key);
    if (!read) return Unexpected(read.error());
    file = std::move(*read);
  }
  if (file.find(options.user) != nullptr) {
    return fail("user '" + options.user + "' already exists in " + options.users_file);
  }
  auto password = user_password(options);
  if (!password) return Unexpected(password.error());
  if (auto ok = file.add(options.user, password->text, *key); !ok) return Unexpected(ok.error());
  if (auto ok = file.write(options.users_file); !ok) return Unexpected(ok.error());
  Report report = user_report(options, *key);
  report.lines.push_back("user '" + options.user + "' added to " + options.users_file);
  if (password->generated) {
    report.fields["password"] = password->text;
    report.lines.push_back("password: " + password->text);
  }
  return report;
}

Result<Report> run_user_edit(const Options& options) {
  auto key = master_key();
  if (!key) return Unexpected(key.error());
  auto file = UsersFile::read(options.users_file, *key);
  if (!file) return Unexpected(file.error());
  if (file->find(options.user) == nullptr) {
    return fail("user '" + options.user + "' does not exist in " + options.users_file);
  }
  auto password = user_password(options);
  if (!password) return Unexpected(password.error());
  if (auto ok = file->set_password(options.user, password->text, *key); !ok) {
    return Unexpected(ok.error());
  }
  if (auto ok = file->write(options.users_file); !ok) return Unexpected(ok.error());
  Report report = user_report(options, *key);
  report.lines.push_back("password of user '" + options.user + "' changed in " +
                         options.users_file);
  if (password->generated) {
    report.fields["password"] = password->text;
    report.lines.push_back("password: " + password->text);
  }
  return report;
}

Result<Report> run_user_del(const Options& options) {
  auto key = master_key();
  if (!key) return Unexpected(key.error());
  auto file = UsersFile::read(options.users_file, *key);
  if (!file) return Unexpected(file.error());
  if (auto ok = file->remove(options.user); !ok) {
    return fail(ok.error().message + " in " + options.users_file);
  }
  if (auto ok = file->write(options.users_file); !ok) return Unexpected(ok.error());
  Report report = user_report(options, *key);
  report.lines.push_back("user '" + options.user + "' removed from " + options.users_file);
  return report;
}

// Decrypts every entry although only names are printed: listing doubles as a check that the
// file is intact and readable with this master key.
Result<Report> run_user_ls(const Options& options) {
  auto key = master_key();
  if (!key) return Unexpected(key.error());
  auto file = UsersFile::read(options.users_file, *key);
  if (!file) return Unexpected(file.error());
  Report report = user_report(options, *key);
  nlohmann::ordered_json users = nlohmann::ordered_json::array();
  for (const auto* entry : file->entries()) {
    users.push_back(entry->user);
    report.lines.push_back(entry->user);
  }
  report.fields["users"] = std::move(users);
  return report;
}

}  // namespace

Result<Report> run(const Options& options) {
  switch (options.command) {
    case Command::master_key:
      return run_master_key(options);
    case Command::user_add:
      return run_user_add(options);
    case Command::user_edit:
      return run_user_edit(options);
    case Command::user_del:
      return run_user_del(options);
    case Command::user_ls:
      return run_user_ls(options);
  }
  return fail("unknown command");
}

}  // namespace pgquay::admin
