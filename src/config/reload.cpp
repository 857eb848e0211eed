// What a reload of pgquay.conf changes: the running configuration with the keys that may change
// live taken from the freshly read file, and the keys that wait for a restart.
#include <string>
#include <utility>

#include "key_table.hpp"
#include "pgquay/config/config.hpp"

namespace pgquay::config {

Result<ReloadPlan> plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  plan.config = running;
  plan.config.warnings = fresh.warnings;
  plan.config.key_lines = fresh.key_lines;
  for (auto& change : diff(running, fresh)) {
    // Server sections live in shared memory filled at start: every change to them waits for a
    // restart, whatever the key table says about the key.
    bool server = change.key.starts_with("server.");
    if (!change.reloadable || server) {
      change.reloadable = false;
      plan.restart_required.push_back(std::move(change));
      continue;
    }
    const auto* def = detail::find_main_key(change.key);
    // The value was printed by the same row from a parsed config: it parses again.
    if (def == nullptr) return fail("reload: no key table row for " + change.key);
    if (auto r = def->binding.set(plan.config.main, *def, change.new_value); !r) {
      return fail(change.key + " = '" + change.new_value + "': " + r.error().message);
    }
    plan.applied.push_back(std::move(change));
  }
  // The mix of old restart keys and new live keys is a configuration no file held: check it.
  if (auto r = validate(plan.config); !r) return Unexpected(r.error());
  return plan;
}

}  // namespace pgquay::config
