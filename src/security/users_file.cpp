#include "pgquay/security/users_file.hpp"

#include <utility>

#include "private_file.hpp"

namespace pgquay::security {
namespace {

std::string_view strip_line_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line;
}

bool is_comment_or_blank(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i == line.size() || line[i] == '#' || line[i] == ';';
}

std::string at(const std::string& path, int line) {
  return path + ":" + std::to_string(line) + ": ";
}

}  // namespace

Result<void> validate_user_name(std::string_view user) {
  if (user.empty()) return fail("empty user name");
  if (user.front() == ' ' || user.front() == '\t') return fail("user name starts with a blank");
  if (user.front() == '#' || user.front() == ';') {
    return fail("user name starts with '" + std::string(1, user.front()) +
                "' (that line would be a comment)");
  }
  for (char c : user) {
    if (c == ':') return fail("user name contains ':' (the separator of a users file)");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return fail("user name contains a control character");
    }
  }
  return {};
}

Result<void> validate_password(std::string_view password) {
  if (password.empty()) return fail("empty password");
  if (password.find_first_of(std::string_view("\0\n\r", 3)) != std::string_view::npos) {
    return fail("password contains a NUL byte or a line break");
  }
  return {};
}

UsersFile::~UsersFile() {
  for (auto& line : lines_) {
    if (line.entry) cleanse(line.entry->password);
  }
}

Result<UsersFile> UsersFile::parse(std::string_view text, const std::string& path,
                                   const MasterKey& key) {
  UsersFile file;
  int number = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    std::string_view line = strip_line_end(raw);
    if (is_comment_or_blank(line)) {
      file.lines_.push_back(Line{std::string(line), std::nullopt});
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return fail(at(path, number) + "expected user:encrypted-password");
    }
    std::string_view user = line.substr(0, colon);
    std::string_view field = line.substr(colon + 1);
    if (auto ok = validate_user_name(user); !ok) return fail(at(path, number) + ok.error().message);
    if (field.empty()) return fail(at(path, number) + "no encrypted password after ':'");
    if (const UserEntry* first = file.find(user)) {
      return fail(at(path, number) + "duplicate user '" + std::string(user) + "' (first on line " +
                  std::to_string(first->line) + ")");
    }
    auto decrypted = decrypt_password(user, field, key);
    if (!decrypted) {
      return fail(at(path, number) + "user '" + std::string(user) +
                  "': " + decrypted.error().message);
    }
    if (auto ok = validate_password(decrypted->password); !ok) {
      cleanse(decrypted->password);
      return fail(at(path, number) + "user '" + std::string(user) + "': " + ok.error().message);
    }
    file.lines_.push_back(Line{{},
                               UserEntry{std::string(user), std::move(decrypted->password),
                                         std::string(field), decrypted->format, number}});
  }
  return file;
}

Result<UsersFile> UsersFile::read(const std::string& path, const MasterKey& key) {
  auto text = detail::read_private_file(path, {.owner_only = true, .owned_by_us = false},
                                        /*follow_links=*/true);
  if (!text) return fail("users file: " + text.error().message);
  return parse(*text, path, key);
}

const UserEntry* UsersFile::find(std::string_view user) const {
  for (const auto& line : lines_) {
    if (line.entry && line.entry->user == user) return &*line.entry;
  }
  return nullptr;
}

UserEntry* UsersFile::find_mutable(std::string_view user) {
  return const_cast<UserEntry*>(std::as_const(*this).find(user));
}

std::vector<const UserEntry*> UsersFile::entries() const {
  std::vector<const UserEntry*> out;
  for (const auto& line : lines_) {
    if (line.entry) out.push_back(&*line.entry);
  }
  return out;
}

std::size_t UsersFile::size() const {
  return entries().size();
}

std::map<std::string, std::string> UsersFile::passwords() const {
  std::map<std::string, std::string> out;
  for (const auto& line : lines_) {
    if (line.entry) out.emplace(line.entry->user, line.entry->password);
  }
  return out;
}

Result<void> UsersFile::add(std::string_view user, std::string_view password,
                            const MasterKey& key) {
  if (auto ok = validate_user_name(user); !ok) return ok;
  if (auto ok = validate_password(password); !ok) return ok;
  if (find(user) != nullptr) return fail("user '" + std::string(user) + "' already exists");
  auto field = encrypt_password(user, password, key);
  if (!field) return Unexpected(field.error());
  lines_.push_back(Line{{},
                        UserEntry{std::string(user), std::string(password), std::move(*field),
                                  EntryFormat::pgquay_gcm, 0}});
  return {};
}

Result<void> UsersFile::set_password(std::string_view user, std::string_view password,
                                     const MasterKey& key) {
  if (auto ok = validate_password(password); !ok) return ok;
  UserEntry* entry = find_mutable(user);
  if (entry == nullptr) return fail("user '" + std::string(user) + "' does not exist");
  auto field = encrypt_password(user, password, key);
  if (!field) return Unexpected(field.error());
  cleanse(entry->password);
  entry->password = std::string(password);
  entry->field = std::move(*field);
  entry->format = EntryFormat::pgquay_gcm;
  return {};
}

Result<void> UsersFile::remove(std::string_view user) {
  for (auto it = lines_.begin(); it != lines_.end(); ++it) {
    if (it->entry && it->entry->user == user) {
      cleanse(it->entry->password);
      lines_.erase(it);
      return {};
    }
  }
  return fail("user '" + std::string(user) + "' does not exist");
}

std::string UsersFile::text() const {
  std::string out;
  for (const auto& line : lines_) {
    if (line.entry) {
      out += line.entry->user;
      out += ':';
      out += line.entry->field;
    } else {
      out += line.comment;
    }
    out += '\n';
  }
  return out;
}

Result<void> UsersFile::write(const std::string& path) const {
  return detail::write_private_file(path, text(), /*exclusive=*/false);
}

}  // namespace pgquay::security
