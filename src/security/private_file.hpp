// Files that hold secrets (master key, users files): reading with permission checks and atomic
// replacement. Private to the security module.
#pragma once

#include <string>
#include <string_view>

#include "pgquay/common/result.hpp"

namespace pgquay::security::detail {

struct PrivateFileRules {
  // Refuse a file that grants any permission to group or others (like ssh does for keys).
  bool owner_only = true;
  // Refuse a file not owned by the effective user (for files under our own home directory).
  bool owned_by_us = false;
};

// Reads a regular file after checking it with fstat() on the opened descriptor (no race between
// the check and the read). Symbolic links are followed for users files (configuration directories
// often link them) but not for the master key: pass follow_links = false there.
// Errors name the path: "cannot read X: ...", "X has mode 0644; ...".
Result<std::string> read_private_file(const std::string& path, const PrivateFileRules& rules,
                                      bool follow_links);

// Checks that `path` is a directory with no group/other permissions and owned by us.
Result<void> check_private_directory(const std::string& path);

// Writes `contents` to a new temporary file in the target's directory with mode 0600, syncs it and
// renames it over `path` (readers see the old file or the new one, never a mix). With
// exclusive = true the target must not exist (link() instead of rename(), so two writers cannot
// both win).
Result<void> write_private_file(const std::string& path, std::string_view contents, bool exclusive);

// "0644"
std::string mode_text(unsigned mode);

}  // namespace pgquay::security::detail
