// pgquay-admin: creates the master key and manages encrypted users files
// (doc/CLI.md, "pgquay-admin").
#include <cstdio>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands.hpp"
#include "options.hpp"
#include "pgquay/build_config.hpp"

namespace {

using namespace pgquay::admin;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void print_json(const char* command, const char* status, nlohmann::ordered_json fields) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["command"] = command;
  out["status"] = status;
  for (auto& [name, value] : fields.items()) out[name] = std::move(value);
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "pgquay-admin: %s\n", parsed.error().message.c_str());
    return kExitUsage;
  }
  if (std::holds_alternative<ShowHelp>(*parsed)) {
    print_usage(stdout);
    return 0;
  }
  if (std::holds_alternative<ShowVersion>(*parsed)) {
    std::printf("pgquay-admin %s\n", PGQUAY_VERSION);
    return 0;
  }
  const Options& options = std::get<Options>(*parsed);
  const char* command = command_name(options.command);

  auto report = run(options);
  if (!report) {
    std::fprintf(stderr, "pgquay-admin: %s: %s\n", command, report.error().message.c_str());
    if (options.format == Format::json) {
      print_json(command, "error", {{"error", report.error().message}});
    }
    return kExitFailed;
  }
  if (options.format == Format::json) {
    print_json(command, "ok", std::move(report->fields));
  } else {
    for (const auto& line : report->lines) std::printf("%s\n", line.c_str());
  }
  return 0;
}
