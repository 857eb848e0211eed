#include "pgquay/proto/error.hpp"

namespace pgquay::proto {

Error to_error(const ProtoError& error) {
  std::string text = error.sqlstate + ": " + error.message;
  if (!error.detail.empty()) text += " (" + error.detail + ")";
  return Error::msg(std::move(text));
}

}  // namespace pgquay::proto
