// pgquay-admin's commands. Each returns what to print; main() prints it as text or JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "options.hpp"
#include "pgquay/common/result.hpp"

namespace pgquay::admin {

struct Report {
  // JSON members besides "command" and "status", in output order.
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  std::vector<std::string> lines;  // the text output
};

// Runs options.command. The master key comes from ~/.pgquay/master.key, else
// ~/.pgagroal/master.key; HOME decides where ~ is.
Result<Report> run(const Options& options);

}  // namespace pgquay::admin
