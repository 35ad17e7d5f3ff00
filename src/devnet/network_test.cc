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
  EXPECT_EQ(state["domains"]["domains"][0]["protocol"], "Frost");
  EXPECT_EQ(state["domains"]["domains"][1]["protocol"], "DamgardEtAl");
  // Threshold 3 needs 5 signers: the imported secp256k1 domain (id 4) is held, not signed.
  ASSERT_EQ(net->warnings.size(), 1u);
  EXPECT_NE(net->warnings[0].find("secp256k1 domain 4 (DamgardEtAl) cannot be signed"), std::string::npos) << net->warnings[0];
}

// New secp256k1 domains are threshold ECDSA (DamgardEtAl) domains, Ed25519
// ones Frost, whether the nodes generate the keys or a dealer deals them.
TEST(CreateDevnet, Secp256k1DomainsAreDamgardEtAlAndEd25519DomainsFrost) {
  TempDir tmp;
  for (auto keys : {DevnetSpec::Keys::kGenerate, DevnetSpec::Keys::kDealer}) {
    const bool dealt = keys == DevnetSpec::Keys::kDealer;
    SCOPED_TRACE(dealt ? "dealer" : "generate");
    DevnetSpec spec;
    spec.keys = keys;
    spec.domains = {model::CurveKind::kSecp256k1, model::CurveKind::kEd25519, model::CurveKind::kSecp256k1};
    const fs::path dir = tmp.path / (dealt ? "dealt" : "generated");
    auto net = create_devnet(dir, spec);
    ASSERT_TRUE(net) << net.error().message;
    EXPECT_TRUE(net->warnings.empty()) << net->warnings.front();  // 3 nodes, threshold 2: 3 signers
    auto genesis = core::read_file(dir / "chain.genesis.json");
    ASSERT_TRUE(genesis);
    const auto state = model::json::parse(*genesis)["contract_state"]["protocol_state"];
    const auto& domains = state[dealt ? "Running" : "Initializing"]["domains"]["domains"];
    ASSERT_EQ(domains.size(), 3u) << state.dump();
    EXPECT_EQ(domains[0]["protocol"], "DamgardEtAl");
    EXPECT_EQ(domains[1]["protocol"], "Frost");
    EXPECT_EQ(domains[2]["protocol"], "DamgardEtAl");
    if (!dealt) {
      EXPECT_EQ(state["Initializing"]["generating_key"]["domain"]["protocol"], "DamgardEtAl");
    }
  }
  EXPECT_STREQ(domain_protocol(model::CurveKind::kSecp256k1), "DamgardEtAl");
  EXPECT_STREQ(domain_protocol(model::CurveKind::kEd25519), "Frost");
}

model::DomainConfig domain(std::uint64_t id, const std::string& protocol) {
  model::DomainConfig d;
  d.id = id;
  d.protocol = protocol;
  d.purpose = "Sign";
  return d;
}

// Threshold ECDSA signs with 2T - 1 participants: a warning exactly when
// there are fewer, naming the DamgardEtAl domains only.
TEST(SigningWarnings, DamgardEtAlDomainsWarnWhenTwiceTheThresholdMinusOneExceedsTheParticipants) {
  const std::vector<model::DomainConfig> both = {domain(0, "DamgardEtAl"), domain(1, "Frost")};
  EXPECT_TRUE(signing_warnings(3, 2, both).empty());
  EXPECT_TRUE(signing_warnings(5, 3, both).empty());
  EXPECT_TRUE(signing_warnings(63, 32, both).empty());
  EXPECT_TRUE(signing_warnings(4, 4, {domain(1, "Frost")}).empty());
  EXPECT_TRUE(signing_warnings(4, 4, {domain(1, "CaitSith")}).empty());  // never signed here anyway

  auto w = signing_warnings(4, 3, both);  // 5 signers needed
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "secp256k1 domain 0 (DamgardEtAl) cannot be signed: threshold 3 needs 2*threshold-1 = 5 participants in every "
            "threshold ECDSA signature, and this network has 4. The keys are still generated, held, backed up and migrated; "
            "signing with them needs a threshold of at most 2 or at least 5 participants.");
  w = signing_warnings(2, 2, {domain(0, "DamgardEtAl"), domain(1, "Frost"), domain(4, "DamgardEtAl")});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("secp256k1 domains 0, 4 (DamgardEtAl) cannot be signed: threshold 2 needs 2*threshold-1 = 3"),
            std::string::npos)
      << w[0];
  // No threshold of at least 2 fits 2 participants.
  EXPECT_NE(w[0].find("signing with them needs at least 3 participants."), std::string::npos) << w[0];
  w = signing_warnings(6, 4, both);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("threshold of at most 3 or at least 7 participants"), std::string::npos) << w[0];
}

// The warning reaches create's caller, and the devnet is created all the
// same: its keys can be held and backed up. Candidates are not participants.
TEST(CreateDevnet, AThresholdTooHighForThresholdEcdsaWarnsAndStillCreates) {
  TempDir tmp;
  DevnetSpec spec;
  spec.keys = DevnetSpec::Keys::kDealer;
  spec.nodes = 4;
  spec.candidates = 2;
  spec.threshold = 3;
  auto net = create_devnet(tmp.path / "net", spec);
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_EQ(net->nodes.size(), 6u);
  ASSERT_EQ(net->warnings.size(), 1u);
  EXPECT_NE(net->warnings[0].find("secp256k1 domain 0 (DamgardEtAl) cannot be signed: threshold 3 needs 2*threshold-1 = 5"),
            std::string::npos)
      << net->warnings[0];
  EXPECT_NE(net->warnings[0].find("this network has 4."), std::string::npos) << net->warnings[0];
  EXPECT_TRUE(Devnet::load(tmp.path / "net"));
  EXPECT_TRUE(Devnet::load(tmp.path / "net")->warnings.empty());  // not saved

  spec.domains = {model::CurveKind::kEd25519};
  net = create_devnet(tmp.path / "ed25519-only", spec);
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_TRUE(net->warnings.empty());
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
