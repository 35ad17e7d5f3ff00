// Test-only: where the committed fixtures live (tests/fixtures, see its
// README). MPC_FIXTURES_DIR overrides the directory baked in at configure
// time.
#pragma once

#include <cstdlib>
#include <string>

namespace mpc::testing {

inline std::string fixture_path(const std::string& relative) {
  const char* dir = std::getenv("MPC_FIXTURES_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : MPC_FIXTURES_DIR_DEFAULT) + "/" + relative;
}

}  // namespace mpc::testing
