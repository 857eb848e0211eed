// The control channel between the main process and one worker: a SOCK_SEQPACKET socketpair, one
// fixed-size message per packet, server sockets attached with SCM_RIGHTS.
//
//   worker -> main  acquire      user, database, reuse_allowed: I need a server connection
//   main -> worker  grant_pooled slot + socket: a logged-in connection for that user/database
//   main -> worker  grant_create slot: create a connection yourself in this (init) slot
//   main -> worker  deny         reason: none within blocking_timeout / over the limits /
//                                shutting down / database disabled
//   worker -> main  established  slot + socket: the connection I created is logged in
//   worker -> main  release      slot, clean or broken: I am done with it
//   main -> worker  shutdown     stop now (immediate shutdown), or: an idle worker is not needed
//   main -> worker  client       socket: serve this client (a pre-forked or reused worker)
//   worker -> main  idle         my client left cleanly: I can take another one
#pragma once

#include <cstdint>

#include "pgquay/pool/slot.hpp"

namespace pgquay::pool {

enum class ControlType : uint32_t {
  acquire = 1,
  grant_pooled,
  grant_create,
  deny,
  established,
  release,
  shutdown,
  client,
  idle,
};

// disabled: the database was disabled with `pgquay-cli disable`.
enum class DenyReason : uint32_t { none = 0, timeout, limit, shutting_down, disabled };

struct ControlMessage {
  ControlType type = ControlType::acquire;
  int32_t slot = -1;
  uint32_t reuse_allowed = 0;  // acquire: the client was verified for this user/database
  uint32_t clean = 0;          // release: the connection may be pooled again
  DenyReason reason = DenyReason::none;
  // acquire: a number the worker never reuses; grant/deny: the acquire they answer. A worker
  // ignores (and gives back) an answer to a request it no longer waits for.
  uint32_t request = 0;
  // acquire: the previous grant turned out dead; this client keeps its place at the queue's head.
  uint32_t retry = 0;
  char user[kNameLength]{};
  char database[kNameLength]{};
};

}  // namespace pgquay::pool
