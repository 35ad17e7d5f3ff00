// Test-only: where the committed fixtures live (tests/fixtures, see its
// README). MPC_FIXTURES_DIR overrides the directory baked in at configure
// time (in fixtures.cc only, so that the test sources do not carry the
// checkout's path and a fresh clone reuses their compiled objects).
#pragma once

#include <string>

namespace mpc::testing {

std::string fixture_path(const std::string& relative);

}  // namespace mpc::testing
