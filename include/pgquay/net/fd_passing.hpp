// One message (plus at most one descriptor) at a time over a Unix socket, normally a
// seqpacket_pair(). Both calls retry EINTR and never block on a non-blocking socket.
#pragma once

#include <cstddef>

#include "pgquay/common/fd.hpp"

namespace pgquay::net {

// Sends one message of `len` bytes (0 < len <= INT_MAX: an empty seqpacket message would read as
// EOF), with `fd` attached via SCM_RIGHTS when fd >= 0; `fd` stays owned by the caller (the
// receiver gets its own copy). MSG_NOSIGNAL: a closed peer gives -EPIPE, not SIGPIPE. Returns bytes
// sent, or -errno (-EAGAIN when the peer's queue is full).
int send_message(int sock, const void* data, size_t len, int fd = -1);

// Receives one message into buf (up to len). An attached descriptor is returned in *fd
// (close-on-exec via MSG_CMSG_CLOEXEC); *fd is emptied when none came. Extra descriptors are
// closed, as is any descriptor when fd is nullptr. Returns bytes received, 0 on EOF, or -errno
// (-EAGAIN when nothing is queued). A message longer than len is discarded (with its descriptor)
// and gives -EMSGSIZE: a control message is never processed half-read.
int receive_message(int sock, void* buf, size_t len, Fd* fd);

}  // namespace pgquay::net
