// Reading a secret from the terminal without echo. Private to pgquay-admin.
#pragma once

#include <string>

#include "pgquay/common/result.hpp"

namespace pgquay::admin {

// True when standard input is a terminal, so a prompt can be answered.
bool can_prompt();

// Writes `prompt` to stderr (stdout may carry JSON), reads one line from the terminal on stdin
// with echo turned off (restored on every path, including errors), and returns it without the
// line end. Error on end of input or a read failure.
Result<std::string> read_secret(const std::string& prompt);

// Asks twice and compares; error when the two differ.
Result<std::string> read_new_secret(const std::string& what);

}  // namespace pgquay::admin
