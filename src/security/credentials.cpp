#include "pgquay/security/credentials.hpp"

#include "pgquay/security/master_key.hpp"
#include "pgquay/security/users_file.hpp"

namespace pgquay::security {
namespace {

constexpr std::size_t kSecretSize = 32;

template <typename Map>
void wipe_passwords(Map& map) {
  for (auto& [user, password] : map) cleanse(password);
}

Result<std::map<std::string, std::string>> read_users(const std::string& path,
                                                      const MasterKey& key) {
  if (path.empty()) return std::map<std::string, std::string>{};
  auto file = UsersFile::read(path, key);
  if (!file) return Unexpected(file.error());
  return file->passwords();
}

}  // namespace

Credentials::~Credentials() {
  wipe();
}

void Credentials::wipe() {
  wipe_passwords(users_);
  wipe_passwords(frontend_users_);
  wipe_passwords(admins_);
}

Credentials& Credentials::operator=(Credentials&& other) noexcept {
  if (this == &other) return *this;
  wipe();
  // Moving a map moves its nodes: no copy of a password is left behind.
  users_ = std::move(other.users_);
  frontend_users_ = std::move(other.frontend_users_);
  admins_ = std::move(other.admins_);
  verifiers_ = std::move(other.verifiers_);
  secret_ = std::move(other.secret_);
  return *this;
}

Result<Bytes> Credentials::make_secret() {
  return random_bytes(kSecretSize);
}

Result<Credentials> Credentials::load(const CredentialFiles& files, const std::string& home,
                                      std::span<const std::uint8_t> secret) {
  if (!files.any()) return from_maps({}, {}, {}, secret);
  auto key = find_master_key(home);
  if (!key) return Unexpected(key.error());
  auto users = read_users(files.users, *key);
  if (!users) return Unexpected(users.error());
  auto frontend = read_users(files.frontend_users, *key);
  if (!frontend) return Unexpected(frontend.error());
  auto admins = read_users(files.admins, *key);
  if (!admins) return Unexpected(admins.error());
  return from_maps(std::move(*users), std::move(*frontend), std::move(*admins), secret);
}

Credentials Credentials::from_maps(std::map<std::string, std::string> users,
                                   std::map<std::string, std::string> frontend_users,
                                   std::map<std::string, std::string> admins,
                                   std::span<const std::uint8_t> secret) {
  Credentials c;
  c.secret_.assign(secret.begin(), secret.end());
  // Moved node by node so no copy of a password is left behind unwiped.
  auto move_into = [](auto& from, auto& to) {
    while (!from.empty()) to.insert(from.extract(from.begin()));
  };
  move_into(users, c.users_);
  move_into(frontend_users, c.frontend_users_);
  move_into(admins, c.admins_);
  auto add_verifier = [&c](const std::string& user, const std::string& password) {
    // The mock verifier's salt: a client cannot tell a known user from an unknown one by it.
    scram::Verifier mock = scram::mock_verifier(user, c.secret_);
    c.verifiers_[user] = scram::compute_verifier(password, mock.salt, mock.iterations);
  };
  for (const auto& [user, password] : c.frontend_users_) add_verifier(user, password);
  for (const auto& [user, password] : c.users_) {
    if (!c.frontend_users_.contains(user)) add_verifier(user, password);
  }
  return c;
}

const std::string* Credentials::server_password(std::string_view user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

const std::string* Credentials::client_password(std::string_view user) const {
  if (auto it = frontend_users_.find(user); it != frontend_users_.end()) return &it->second;
  return server_password(user);
}

const scram::Verifier* Credentials::client_verifier(std::string_view user) const {
  auto it = verifiers_.find(user);
  return it == verifiers_.end() ? nullptr : &it->second;
}

scram::Verifier Credentials::unknown_verifier(std::string_view user) const {
  return scram::mock_verifier(user, secret_);
}

}  // namespace pgquay::security
