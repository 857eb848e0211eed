// Errors are values: every runtime failure is returned as Result<T>; exceptions never cross the
// data path or a C callback.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace pgquay {

struct Error {
  int code = 0;         // errno value when the failure came from the OS, 0 otherwise
  std::string message;  // what failed, for an operator: "bind 127.0.0.1:2345: Address in use"

  static Error from_errno(std::string what, int err = errno) {
    return Error{err, std::move(what) + ": " + std::strerror(err)};
  }
  static Error msg(std::string what) { return Error{0, std::move(what)}; }
};

template <typename T>
using Result = std::expected<T, Error>;

using Unexpected = std::unexpected<Error>;

inline Unexpected fail(std::string what) {
  return Unexpected(Error::msg(std::move(what)));
}
inline Unexpected fail_errno(std::string what, int err = errno) {
  return Unexpected(Error::from_errno(std::move(what), err));
}

}  // namespace pgquay
