#include "devnet/network.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "support/fault_injection_env.h"

namespace mpc::devnet {
namespace {

namespace fs = std::filesystem;

// `create` stopped at every operation on its own directories and at its
// commit (the rename into place and the parent's sync), then a crash that
// drops what was not synced: DIR is a complete devnet or absent, and
// complete whenever create returned.
TEST(CreateDevnet, ACrashAtEveryStepLeavesACompleteDevnetOrNothing) {
  const fs::path root = fs::temp_directory_path() / ("mpc-devnet-crash-" + core::hex_encode(core::random_bytes(6)));
  fs::create_directories(root);
  DevnetSpec spec;
  spec.nodes = 2;
  spec.domains = {core::CurveKind::kEd25519};
  for (std::size_t n = 0;; ++n) {
    const fs::path dir = root / ("net" + std::to_string(n));
    testing::FaultInjectionEnv env;
    env.fail_after(n);
    const bool returned = create_devnet(dir, spec, env).has_value();
    const bool finished = !env.failed();
    env.crash();
    if (returned) {
      auto loaded = Devnet::load(dir);
      ASSERT_TRUE(loaded) << "crash after " << n << " operations: " << loaded.error().message;
      EXPECT_EQ(loaded->nodes.size(), 2u);
    } else if (fs::exists(dir)) {
      EXPECT_TRUE(Devnet::load(dir)) << "crash after " << n << " operations: a half-created devnet";
    }
    if (finished) break;
    ASSERT_LT(n, 200u);
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace mpc::devnet
