// The configuration reference (doc/CONFIGURATION.md), generated from the key tables so the
// documentation cannot drift from what the parser accepts. `pgquay-config-doc` prints it; a unit
// test fails when the checked-in file differs.
#pragma once

#include <string>

namespace pgquay::config {

std::string render_configuration_reference();

}  // namespace pgquay::config
