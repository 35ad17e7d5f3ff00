#include "devnet/network.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "core/file_util.h"
#include "devnet/dealer.h"
#include "node/home.h"
#include "node/keyshare_store.h"
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
  spec.domains = {model::CurveKind::kEd25519};
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

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("mpc-devnet-import-" + core::hex_encode(core::random_bytes(6)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

model::json shares_json(const std::vector<model::Keyshare>& shares) {
  model::json out = model::json::array();
  for (const auto& s : shares) out.push_back(to_json(s));
  return out;
}

void write_shares(const fs::path& dir, std::size_t id, const std::vector<model::Keyshare>& shares) {
  auto text = shares_json(shares).dump();
  ASSERT_TRUE(core::write_file_exclusive(dir / (std::to_string(id) + ".json"), core::as_bytes(text), 0600));
}

TEST(CreateDevnet, ImportedSharesBecomeTheKeysetAndEachNodeHoldsItsOwn) {
  TempDir tmp;
  const std::vector<DomainToDeal> domains = {{0, model::CurveKind::kEd25519, 0}, {4, model::CurveKind::kSecp256k1, 2}};
  const std::vector<std::uint64_t> ids = {0, 1, 2, 3};
  auto dealt = deal_keyset(domains, ids, 3, 0);
  ASSERT_TRUE(dealt) << dealt.error().message;
  fs::create_directories(tmp.path / "shares");
  for (std::size_t i = 0; i < ids.size(); ++i) write_shares(tmp.path / "shares", i, dealt->shares[i]);

  DevnetSpec spec;
  spec.threshold = 3;
  spec.import_keyshares = tmp.path / "shares";
  auto net = create_devnet(tmp.path / "net", spec);
  ASSERT_TRUE(net) << net.error().message;
  ASSERT_EQ(net->nodes.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    auto home = node::NodeHome::load(net->path(net->nodes[i].home));
    ASSERT_TRUE(home) << home.error().message;
    auto store = node::KeyshareStore::open(net->path(net->nodes[i].home) / "keyshares.enc", home->local_storage_key.clone());
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_TRUE((*store)->holds(dealt->keyset)) << "node " << i;
    auto held = (*store)->shares_for(dealt->keyset);
    ASSERT_TRUE(held);
    EXPECT_EQ(shares_json(*held), shares_json(dealt->shares[i]));
  }
  auto genesis = core::read_file(tmp.path / "net" / "chain.genesis.json");
  ASSERT_TRUE(genesis);
  const auto state = model::json::parse(*genesis)["contract_state"]["protocol_state"]["Running"];
  EXPECT_EQ(state["keyset"], to_json(dealt->keyset));
  EXPECT_EQ(state["domains"]["next_domain_id"], 5);
  EXPECT_EQ(state["parameters"]["threshold"], 3);
}

TEST(CreateDevnet, InconsistentOrMisnamedShareFilesAreRefusedAndNothingIsCreated) {
  TempDir tmp;
  auto dealt = deal(model::CurveKind::kEd25519, 0, 3, 2, 0, 0);
  ASSERT_TRUE(dealt);
  fs::create_directories(tmp.path / "shares");
  for (std::size_t i = 0; i < 3; ++i) {
    std::vector<model::Keyshare> one;
    one.push_back(dealt->shares[i == 2 ? 1 : i].clone());  // participant 2 got participant 1's share
    write_shares(tmp.path / "shares", i, one);
  }
  DevnetSpec spec;
  spec.import_keyshares = tmp.path / "shares";
  auto net = create_devnet(tmp.path / "net", spec);
  ASSERT_FALSE(net);
  EXPECT_NE(net.error().message.find("participant 2's share does not lie on the polynomial"), std::string::npos) << net.error().message;
  EXPECT_FALSE(fs::exists(tmp.path / "net"));

  ASSERT_TRUE(core::write_file_exclusive(tmp.path / "shares" / "node3.json", core::as_bytes("[]"), 0600));
  net = create_devnet(tmp.path / "net", spec);
  ASSERT_FALSE(net);
  EXPECT_NE(net.error().message.find("node3.json is not named <participant id>.json"), std::string::npos) << net.error().message;
  fs::remove(tmp.path / "shares" / "node3.json");
  fs::remove(tmp.path / "shares" / "1.json");
  net = create_devnet(tmp.path / "net", spec);
  ASSERT_FALSE(net);
  EXPECT_NE(net.error().message.find("the files must be 0.json .. 1.json"), std::string::npos) << net.error().message;
  EXPECT_FALSE(fs::exists(tmp.path / "net"));
}

}  // namespace
}  // namespace mpc::devnet
