// What a worker inherits from the main process when it is forked: the configuration snapshot and
// the shared-memory segment. Read-only in the worker except for the slot it holds.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pgquay/common/fd.hpp"
#include "pgquay/config/config.hpp"
#include "pgquay/config/databases.hpp"
#include "pgquay/config/hba.hpp"
#include "pgquay/net/address.hpp"
#include "pgquay/pool/shared_state.hpp"
#include "pgquay/security/credentials.hpp"

namespace pgquay::worker {

struct Context {
  std::string hba_path;
  std::string databases_path;  // empty: no limits file
  config::Config config;
  std::vector<config::HbaRule> hba;
  config::DatabasesConfig databases;
  security::CredentialFiles credential_files;  // users, frontend users, admins ("" = not used)
  std::string home;                            // where the master key is looked for
  security::Credentials credentials;
  pool::SharedState* shared = nullptr;
};

// A client handed from the main process to a worker.
struct ClientHandoff {
  Fd client;
  net::SocketAddress peer;
  bool unix_socket = false;
};

// What a freshly forked worker starts with: its end of the control channel to main and, when it
// was forked for a client that had just arrived, that client (a pre-forked worker has none yet).
struct WorkerStart {
  Fd control;
  std::optional<ClientHandoff> client;
};

}  // namespace pgquay::worker
