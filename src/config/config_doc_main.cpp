// pgquay-config-doc: prints doc/CONFIGURATION.md (see reference.hpp).
//   ninja -C <build> pgquay-config-doc && <build>/src/config/pgquay-config-doc >
//   doc/CONFIGURATION.md
#include <cstdio>

#include "pgquay/config/reference.hpp"

int main() {
  std::string text = pgquay::config::render_configuration_reference();
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() ? 0 : 1;
}
