#include "pgquay/common/fd.hpp"

#include <unistd.h>

namespace pgquay {

void Fd::reset(int fd) {
  if (fd_ >= 0) {
    // close() may report EINTR but the descriptor is released either way on Linux; never retry.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace pgquay
