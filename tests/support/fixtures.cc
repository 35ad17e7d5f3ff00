#include "support/fixtures.h"

#include <cstdlib>

namespace mpc::testing {

std::string fixture_path(const std::string& relative) {
  const char* dir = std::getenv("MPC_FIXTURES_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : MPC_FIXTURES_DIR_DEFAULT) + "/" + relative;
}

}  // namespace mpc::testing
