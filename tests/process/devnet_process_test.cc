// mpc-devnet as a user runs it: create / up / down, and its clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>

#include "core/file_util.h"
#include "devnet/network.h"
#include "support/devnet/shamir_test_util.h"
#include "net/host_port.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "support/fixtures.h"
#include "support/process.h"

namespace mpc {
namespace {

namespace fs = std::filesystem;
using testsupport::run;

fs::path devnet_bin() { return testsupport::binary("apps/mpc-devnet"); }

class DevnetCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mpc-devnet-cli-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    run({devnet_bin().string(), "down", "--dir", (root_ / "net").string()});
    fs::remove_all(root_);
  }
  fs::path root_;
};

TEST_F(DevnetCli, CreateUpDownUpKeepsState) {
  const auto dir = (root_ / "net").string();
  auto c = run({devnet_bin().string(), "create", "--dir", dir, "--nodes", "2", "--threshold", "2", "--domains", "ed25519"});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "net/operators").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  {
    auto created = devnet::Devnet::load(dir);
    ASSERT_TRUE(created);
    EXPECT_EQ(created->rpc_addr, "127.0.0.1:0");  // every service binds its own port on the first `up`
    EXPECT_EQ(created->nodes[0].migration_addr, "127.0.0.1:0");
  }
  // Created without a dealer: `up` returns once the nodes generated the key.
  auto up = run({devnet_bin().string(), "up", "--dir", dir}, std::chrono::seconds(120));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_NE(up.output.find("node1"), std::string::npos) << up.output;
  EXPECT_NE(up.output.find("keys generated"), std::string::npos) << up.output;
  auto first = devnet::Devnet::load(dir);
  ASSERT_TRUE(first);
  EXPECT_NE(first->rpc_addr, "127.0.0.1:0");
  EXPECT_NE(first->nodes[1].migration_addr, "127.0.0.1:0");
  EXPECT_NE(first->nodes[1].metrics_addr, "127.0.0.1:0");
  auto status = run({devnet_bin().string(), "status", "--dir", dir});
  EXPECT_NE(status.output.find("pid"), std::string::npos) << status.output;
  auto down = run({devnet_bin().string(), "down", "--dir", dir});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_NE(down.output.find("stopped 3 process(es)"), std::string::npos) << down.output;
  // State survives: up again, the chain still has the generated keyset.
  up = run({devnet_bin().string(), "up", "--dir", dir}, std::chrono::seconds(60));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto net = devnet::Devnet::load(dir);
  ASSERT_TRUE(net);
  // The same ports as the first time: they are the devnet's.
  EXPECT_EQ(net->rpc_addr, first->rpc_addr);
  EXPECT_EQ(net->nodes[1].migration_addr, first->nodes[1].migration_addr);
  auto view = run({testsupport::binary("apps/mpc-sandbox").string(), "view", "state", "--rpc-url", net->rpc_url(), "--contract-id",
                   net->contract_id});
  ASSERT_EQ(view.exit_code, 0) << view.output;
  EXPECT_NE(view.output.find("near_public_key_compressed"), std::string::npos);
}

// Every threshold subset of the nodes' stored shares reconstructs each
// domain's group key, as the contract's keyset shows it.
TEST_F(DevnetCli, NodeSharesReconstructTheGroupKeys) {
  devnet::DevnetSpec spec;
  spec.keys = devnet::DevnetSpec::Keys::kDealer;
  spec.nodes = 4;
  spec.threshold = 3;
  auto net = devnet::create_devnet(root_ / "net", spec);
  ASSERT_TRUE(net) << net.error().message;
  auto genesis = core::read_file(root_ / "net" / "chain.genesis.json");
  ASSERT_TRUE(genesis);
  auto state = model::parse_protocol_state(nlohmann::json::parse(*genesis)["contract_state"]["protocol_state"]);
  ASSERT_TRUE(state) << state.error().message;
  const auto keyset = state->running()->keyset;
  std::vector<std::vector<model::Keyshare>> held;
  for (const auto& n : net->nodes) {
    auto home = node::NodeHome::load(net->path(n.home));
    ASSERT_TRUE(home);
    auto store = node::KeyshareStore::open(home->keyshare_file(), home->local_storage_key.clone());
    ASSERT_TRUE(store);
    auto shares = (*store)->shares_for(keyset);
    ASSERT_TRUE(shares) << shares.error().message;
    held.push_back(std::move(*shares));
  }
  for (std::size_t d = 0; d < keyset.domains.size(); ++d) {
    const auto kind = keyset.domains[d].key.kind;
    int subsets = 0;
    for (unsigned mask = 0; mask < (1u << spec.nodes); ++mask) {
      if (__builtin_popcount(mask) != static_cast<int>(spec.threshold)) continue;
      std::vector<std::pair<std::uint64_t, const model::Keyshare*>> pick;
      for (std::size_t p = 0; p < spec.nodes; ++p)
        if (mask & (1u << p)) pick.push_back({p, &held[p][d]});
      auto secret = devnet::testing::reconstruct_secret(kind, pick);
      ASSERT_TRUE(secret);
      auto pk = devnet::testing::public_key_hex_of(kind, secret->reveal());
      ASSERT_TRUE(pk);
      EXPECT_EQ(*pk, held[0][d].public_key) << "domain " << d << " subset " << mask;
      ++subsets;
    }
    EXPECT_EQ(subsets, 4);
  }
}

// A network reproduced from known test vectors: the RFC 9591 FROST shares
// (identifier = participant id + 1) become the devnet's keyset.
TEST_F(DevnetCli, CreatesANetworkFromTheRfc9591Shares) {
  std::ifstream in(mpc::testing::fixture_path("frost/frost-ed25519-sha512.json"));
  ASSERT_TRUE(in) << "fixture frost/frost-ed25519-sha512.json not found";
  const auto vectors = nlohmann::json::parse(in);
  const auto& inputs = vectors["inputs"];
  const fs::path shares_dir = root_ / "shares";
  fs::create_directories(shares_dir);
  for (const auto& s : inputs["participant_shares"]) {
    const auto id = s["identifier"].get<std::uint64_t>() - 1;
    nlohmann::json share = {{"key_id", {{"epoch_id", 0}, {"domain_id", 0}, {"attempt_id", 0}}},
                            {"data", {{"Ed25519", {{"private_share", s["participant_share"]}, {"public_key", inputs["group_public_key"]}}}}}};
    ASSERT_TRUE(core::write_file_exclusive(shares_dir / (std::to_string(id) + ".json"),
                                           core::as_bytes(nlohmann::json::array({share}).dump()), 0600));
  }
  const auto dir = (root_ / "net").string();
  auto both = run({devnet_bin().string(), "create", "--dir", dir, "--nodes", "3", "--import-keyshares", shares_dir.string()});
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("excludes"), std::string::npos) << both.output;
  auto c = run({devnet_bin().string(), "create", "--dir", dir, "--threshold", "2", "--import-keyshares", shares_dir.string()});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto genesis = core::read_file(root_ / "net" / "chain.genesis.json");
  ASSERT_TRUE(genesis);
  const auto keyset = nlohmann::json::parse(*genesis)["contract_state"]["protocol_state"]["Running"]["keyset"];
  ASSERT_EQ(keyset["domains"].size(), 1u) << keyset;
  const auto point = keyset["domains"][0]["key"]["Ed25519"]["edwards_point"];
  std::string hex;
  for (const auto& b : point) hex += core::hex_encode(std::vector<std::uint8_t>{b.get<std::uint8_t>()});
  EXPECT_EQ(hex, inputs["group_public_key"].get<std::string>());
}

TEST_F(DevnetCli, RefusesAnExistingOrHalfCreatedDirectory) {
  const auto dir = root_ / "net";
  fs::create_directories(dir);
  ASSERT_TRUE(core::write_file_exclusive(dir / "leftover", core::as_bytes(std::string("x"))));
  auto c = run({devnet_bin().string(), "create", "--dir", dir.string()});
  EXPECT_NE(c.exit_code, 0);
  EXPECT_NE(c.output.find("not an empty directory"), std::string::npos) << c.output;
  auto up = run({devnet_bin().string(), "up", "--dir", dir.string()});
  EXPECT_NE(up.exit_code, 0);
  EXPECT_NE(up.output.find("is not a devnet"), std::string::npos) << up.output;
}

TEST_F(DevnetCli, BusyPortIsNamed) {
  const auto dir = (root_ / "net").string();
  ASSERT_EQ(run({devnet_bin().string(), "create", "--dir", dir, "--nodes", "2", "--threshold", "2"}).exit_code, 0);
  // The first `up` gives node0 its migration port; then something else takes it.
  ASSERT_EQ(run({devnet_bin().string(), "up", "--dir", dir}, std::chrono::seconds(60)).exit_code, 0);
  ASSERT_EQ(run({devnet_bin().string(), "down", "--dir", dir}).exit_code, 0);
  auto net = devnet::Devnet::load(dir);
  ASSERT_TRUE(net);
  // Hold node0's migration port.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor hold(ioc);
  const auto port = net::HostPort::parse(net->nodes[0].migration_addr).value().port;
  hold.open(boost::asio::ip::tcp::v4());
  hold.bind({boost::asio::ip::make_address("127.0.0.1"), port});
  hold.listen();
  auto up = run({devnet_bin().string(), "up", "--dir", dir}, std::chrono::seconds(60));
  EXPECT_NE(up.exit_code, 0);
  EXPECT_NE(up.output.find(net->nodes[0].migration_addr), std::string::npos) << up.output;
  EXPECT_NE(up.output.find("not free"), std::string::npos) << up.output;
  // Nothing was left running.
  auto status = run({devnet_bin().string(), "status", "--dir", dir});
  EXPECT_EQ(status.output.find(" pid "), std::string::npos) << status.output;
}

TEST_F(DevnetCli, MissingBinaryIsNamed) {
  const auto dir = (root_ / "net").string();
  ASSERT_EQ(run({devnet_bin().string(), "create", "--dir", dir, "--nodes", "2", "--threshold", "2"}).exit_code, 0);
  ::setenv("MPC_BIN_DIR", (root_ / "nowhere").c_str(), 1);
  auto up = run({devnet_bin().string(), "up", "--dir", dir});
  ::unsetenv("MPC_BIN_DIR");
  EXPECT_NE(up.exit_code, 0);
  EXPECT_NE(up.output.find("binary not found"), std::string::npos) << up.output;
}

// Threshold ECDSA (DamgardEtAl) signs with 2*threshold-1 participants: a
// secp256k1 domain on fewer is created with a warning on stderr, not refused.
TEST_F(DevnetCli, CreateWarnsWhenSecp256k1DomainsCannotBeSignedWithTheThreshold) {
  const auto dir = (root_ / "net").string();
  auto c = run({devnet_bin().string(), "create", "--dir", dir, "--nodes", "4", "--threshold", "3", "--dealer"});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("created devnet"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("warning: secp256k1 domain 0 (DamgardEtAl) cannot be signed: threshold 3 needs 2*threshold-1 = 5 "
                          "participants"),
            std::string::npos)
      << c.output;
  EXPECT_TRUE(devnet::Devnet::load(dir));

  c = run({devnet_bin().string(), "create", "--dir", (root_ / "fits").string(), "--nodes", "5", "--threshold", "3", "--dealer"});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(c.output.find("warning"), std::string::npos) << c.output;
  c = run({devnet_bin().string(), "create", "--dir", (root_ / "eddsa").string(), "--nodes", "4", "--threshold", "3",
           "--domains", "ed25519", "--dealer"});
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_EQ(c.output.find("warning"), std::string::npos) << c.output;
}

TEST_F(DevnetCli, BadSpecIsAUsageError) {
  auto c = run({devnet_bin().string(), "create", "--dir", (root_ / "net").string(), "--nodes", "2", "--threshold", "3"});
  EXPECT_EQ(c.exit_code, 2) << c.output;
  c = run({devnet_bin().string(), "create", "--dir", (root_ / "net").string(), "--domains", "bls12381"});
  EXPECT_EQ(c.exit_code, 2) << c.output;
  EXPECT_FALSE(fs::exists(root_ / "net"));
}

}  // namespace
}  // namespace mpc
