// pgquay-cli's human-readable output: one function per command's result.
#pragma once

#include <string>
#include <string_view>

#include "pgquay/management/protocol.hpp"

namespace pgquay::cli {

// The text pgquay-cli prints for a successful `command` (the protocol's command words). Unknown
// shapes fall back to indented JSON, so a newer server never makes the CLI fail.
std::string format_text(std::string_view command, const management::Json& result);

}  // namespace pgquay::cli
