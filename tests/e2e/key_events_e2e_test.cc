// End-to-end key events over real processes (issue 14): the network
// generates its own keys (no dealer), adds a domain by votes, reshares to a
// new participant and threshold, and recovers from a node killed in the
// middle of a key event or one that does not answer. The nodes do all of it
// themselves; the operators only vote. After every key event the network
// signs with the new shares (OpenSSL and Python's `cryptography` check).
#include <gtest/gtest.h>

#include "core/file_util.h"
#include "core/key_derivation.h"
#include "devnet/supervisor.h"
#include "e2e_support.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "operator_steps.h"
#include "support/devnet/shamir_test_util.h"

namespace mpc::e2e {
namespace {

using namespace std::chrono_literals;

core::Bytes bytes_of(std::string_view s) { return core::Bytes(s.begin(), s.end()); }

// The Ed25519 domain of a devnet created with --domains secp256k1,ed25519.
constexpr std::uint64_t kEddsaDomain = 1;

devnet::DevnetSpec generated_spec(std::size_t nodes = 3, std::size_t threshold = 2, std::size_t candidates = 0) {
  devnet::DevnetSpec spec;
  spec.keys = devnet::DevnetSpec::Keys::kGenerate;
  spec.nodes = nodes;
  spec.threshold = threshold;
  spec.candidates = candidates;
  return spec;
}

// What node i stores for `keyset` (read from its encrypted store on disk,
// with its home's local key, as a test may; the node keeps running).
core::Result<std::vector<model::Keyshare>> stored_shares(Network& net, std::size_t i, const model::Keyset& keyset) {
  MPC_ASSIGN(auto home, node::NodeHome::load(net.devnet().path(net.node(i).home)));
  MPC_ASSIGN(auto store, node::KeyshareStore::open(home.keyshare_file(), home.local_storage_key.clone()));
  return store->shares_for(keyset);
}

bool holds(Network& net, std::size_t i, const model::Keyset& keyset) { return stored_shares(net, i, keyset).has_value(); }

// Every `threshold`-subset of the holders' stored shares reconstructs each
// domain's group key as the contract holds it (test helper only: no node
// ever computes the whole secret).
void expect_subsets_reconstruct(Network& net, const std::vector<std::size_t>& holders, std::size_t threshold) {
  const auto keyset = net.keyset();
  std::vector<std::vector<model::Keyshare>> shares;
  for (auto i : holders) {
    auto s = stored_shares(net, i, keyset);
    ASSERT_TRUE(s) << "node " << i << ": " << s.error().message;
    shares.push_back(std::move(*s));
  }
  for (std::size_t d = 0; d < keyset.domains.size(); ++d) {
    const auto& entry = keyset.domains[d];
    std::size_t subsets = 0;
    for (std::uint32_t mask = 0; mask < (1u << holders.size()); ++mask) {
      if (static_cast<std::size_t>(__builtin_popcount(mask)) != threshold) continue;
      std::vector<std::pair<std::uint64_t, const model::Keyshare*>> subset;
      for (std::size_t k = 0; k < holders.size(); ++k)
        if (mask & (1u << k)) subset.push_back({net.node(holders[k]).participant_id, &shares[k][d]});
      auto secret = devnet::testing::reconstruct_secret(entry.key.kind, subset);
      ASSERT_TRUE(secret) << secret.error().message;
      auto pk = devnet::testing::public_key_hex_of(entry.key.kind, secret->reveal());
      ASSERT_TRUE(pk);
      for (const auto& held : shares) EXPECT_EQ(*pk, held[d].public_key) << "domain " << entry.domain_id << ", subset " << mask;
      ++subsets;
    }
    EXPECT_GT(subsets, 0u);
    // And fewer than `threshold` shares give another key.
    std::vector<std::pair<std::uint64_t, const model::Keyshare*>> too_few;
    for (std::size_t k = 0; k + 1 < threshold; ++k) too_few.push_back({net.node(holders[k]).participant_id, &shares[k][d]});
    if (too_few.size() >= 2) {
      auto wrong = devnet::testing::reconstruct_secret(entry.key.kind, too_few);
      ASSERT_TRUE(wrong);
      EXPECT_NE(*devnet::testing::public_key_hex_of(entry.key.kind, wrong->reveal()), shares[0][d].public_key);
    }
  }
}

void sign_and_verify(Network& net, std::size_t i, const std::string& path, const std::string& message,
                     std::uint64_t domain = kEddsaDomain) {
  const auto payload = bytes_of(message);
  auto sig = net.sign(i, domain, path, payload, 45s);
  ASSERT_TRUE(sig) << "sign as operator " << i << " on domain " << domain << ": " << sig.error().message;
  auto ok = verify_everywhere(net.group_key(domain), net.node(i).account_id, path, payload, *sig);
  ASSERT_TRUE(ok) << ok.error().message;
}

bool running_at(Network& net, std::uint64_t epoch, std::size_t domains) {
  const auto s = net.state();
  const auto* r = s.running();
  return r != nullptr && r->keyset.epoch_id == epoch && r->keyset.domains.size() == domains;
}

// Node i's P2P key as its home holds it (a candidate is not in the contract yet).
core::Ed25519PublicKey home_tls_key(Network& net, std::size_t i) {
  auto home = node::NodeHome::load(net.devnet().path(net.node(i).home));
  if (!home) throw std::runtime_error("node home " + std::to_string(i) + ": " + home.error().message);
  return home->tls_key.public_key();
}

json proposal_json(Network& net, std::size_t participants, std::size_t threshold) {
  json list = json::array();
  for (std::size_t i = 0; i < participants; ++i) {
    const auto& n = net.node(i);
    list.push_back(json::array({n.account_id, n.participant_id,
                                {{"url", n.p2p_url()}, {"tls_public_key", key_text(home_tls_key(net, i))}}}));
  }
  return json{{"participants", {{"next_id", participants}, {"participants", list}}}, {"threshold", threshold}};
}

double metric_of(Network& net, std::size_t i, const std::string& series) {
  return metric_value(fetch_metrics(net.node(i).metrics_addr), series);
}

// ---------------------------------------------------------------- scenarios

TEST(NetworkKeyEvents, ANetworkGeneratesItsOwnKeysForBothCurvesAndSignsWithThem) {
  Network net(generated_spec());  // returns once every domain has its key
  const auto keyset = net.keyset();
  ASSERT_EQ(keyset.domains.size(), 2u);
  EXPECT_EQ(keyset.domains[0].key.kind, model::CurveKind::kSecp256k1);
  EXPECT_EQ(keyset.domains[1].key.kind, model::CurveKind::kEd25519);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(wait_for([&] { return holds(net, i, keyset); })) << "node " << i << " does not hold the generated keyset";
  }
  expect_subsets_reconstruct(net, {0, 1, 2}, 2);
  sign_and_verify(net, 0, "after-keygen", "signed with generated shares");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_GT(metric_of(net, i, "mpc_key_event_sessions_total{kind=\"keygen\",outcome=\"stored\"}"), 0);
}

TEST(NetworkKeyEvents, ADomainAddedByVotesGetsItsKeyAndTheDaemonBacksItUpUnasked) {
  Network net;  // dealt: Running with two domains
  auto daemon = start_daemon(net, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(net.backup_home(0) / "permanent_keys" / "epoch_0_with_2_domains"); })) << daemon.text();
  const json add = {{"domains", json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_add_domains", add, false));
  ASSERT_TRUE(wait_for([&] { return running_at(net, 0, 3); }, 60s)) << "key generation for domain 2 did not finish: " << net.state().name();
  const auto keyset = net.keyset();
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(wait_for([&] { return holds(net, i, keyset); })) << "node " << i;
  expect_subsets_reconstruct(net, {0, 1, 2}, 2);
  ASSERT_TRUE(wait_for([&] { return fs::exists(net.backup_home(0) / "permanent_keys" / "epoch_0_with_3_domains"); }, 30s))
      << daemon.text();
  sign_and_verify(net, 2, "new-domain", "signed under the generated domain", 2);
  EXPECT_EQ(daemon.process->terminate(), 0);
}

TEST(NetworkKeyEvents, ResharingAddsAParticipantRaisesTheThresholdAndCancelsAMigrationInProgress) {
  Network net(generated_spec(3, 2, 1));  // node3 is a candidate
  const auto before = net.keyset();
  auto daemon = start_daemon(net, 0);
  ASSERT_TRUE(wait_for([&] { return fs::exists(net.backup_home(0) / "permanent_keys" / "epoch_0_with_2_domains"); })) << daemon.text();
  // Operator 1 starts a migration to a machine that is not there yet.
  testsupport::ClosedPort nowhere;
  const auto dest_key = core::Ed25519SecretKey::generate().public_key();
  auto start = net.backup_cli(1, {"start-migration", "--destination-url", "https://" + nowhere.addr(), "--destination-tls-key",
                                  key_text(dest_key), "--destination-access-key", key_text(dest_key)});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ASSERT_TRUE(net.migrations().at(net.node(1).account_id).migration.has_value());

  // The current participants, then the candidate, vote for 4 participants, threshold 3.
  const json vote = {{"prospective_epoch_id", 1}, {"proposal", proposal_json(net, 4, 3)}};
  for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(net.operator_call(i, "vote_new_parameters", vote, false)) << "operator " << i;
  ASSERT_TRUE(wait_for([&] { return running_at(net, 1, 2); }, 90s)) << "resharing did not finish: " << net.state().name();
  const auto after = net.keyset();
  for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(after.domains[d].key, before.domains[d].key) << "the same group keys";
  for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(wait_for([&] { return holds(net, i, after); })) << "node " << i << " holds no epoch 1";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(holds(net, i, before)) << "node " << i << " still holds epoch 0";
  expect_subsets_reconstruct(net, {0, 1, 2, 3}, 3);
  // The migration in progress was cancelled by the resharing.
  const auto migrations = net.migrations();
  auto it = migrations.find(net.node(1).account_id);
  EXPECT_TRUE(it == migrations.end() || !it->second.migration.has_value()) << "the migration survived the resharing";
  // The operator's backup service stores the new epoch.
  ASSERT_TRUE(wait_for([&] { return fs::exists(net.backup_home(0) / "permanent_keys" / "epoch_1_with_2_domains"); }, 30s))
      << daemon.text();
  // The network signs with the new shares (threshold 3 of 4).
  sign_and_verify(net, 2, "after-resharing", "signed with reshared shares");
  // And the migration can be started again, to a real machine this time.
  auto dest = net.new_node(1);
  ASSERT_NO_FATAL_FAILURE(back_up(net, 1));
  ASSERT_NO_FATAL_FAILURE(migrate_manually(net, 1, dest));
  EXPECT_EQ(daemon.process->terminate(), 0);
}

TEST(NetworkKeyEvents, ANodeDownDuringKeyGenerationIsWaitedForAndTheAttemptRetried) {
  Network net;  // dealt
  net.stop_devnet_process("node2", true);  // kill -9: node 2 is gone
  const json add = {{"domains", json::array({{{"id", 2}, {"protocol", "Frost"}, {"purpose", "Sign"}}})}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_add_domains", add, false));
  // Without node 2 an attempt cannot finish: it expires and the leader starts another.
  ASSERT_TRUE(wait_for(
      [&] {
        const auto s = net.state();
        const auto* init = std::get_if<model::InitializingState>(&s.state);
        if (init == nullptr) return false;
        auto event = model::parse_key_event(init->generating_key);
        return event && event->next_attempt_id >= 2;
      },
      60s))
      << "no retried attempt: " << net.state().name();
  ASSERT_STREQ(net.state().name(), "Initializing");
  net.restart_devnet();  // node 2 comes back
  ASSERT_TRUE(wait_for([&] { return running_at(net, 0, 3); }, 60s)) << net.state().name();
  EXPECT_GE(net.keyset().domains[2].attempt, 1u) << "the key comes from a retried attempt";
  const auto keyset = net.keyset();
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(wait_for([&] { return holds(net, i, keyset); })) << "node " << i;
  expect_subsets_reconstruct(net, {0, 1, 2}, 2);
  sign_and_verify(net, 1, "after-retried-keygen", "still signing");
}

TEST(NetworkKeyEvents, ANodeKilledInTheMiddleOfKeyGenerationFinishesItAfterARestart) {
  Network net;  // dealt: node 1 has no journal yet
  const auto journal = net.devnet().path(net.node(1).home) / "key_event.journal";
  ASSERT_FALSE(fs::exists(journal));
  const json add = {{"domains", json::array({{{"id", 2}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}})}};
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_add_domains", add, false));
  // kill -9 node 1 as soon as it has started the attempt, then bring it back:
  // it finishes the attempt from its stored share, or votes to abort it.
  ASSERT_TRUE(wait_for([&] { return fs::exists(journal); }, 30s));
  net.stop_devnet_process("node1", true);
  net.restart_devnet();
  ASSERT_TRUE(wait_for([&] { return running_at(net, 0, 3); }, 90s)) << "key generation did not finish: " << net.state().name();
  const auto keyset = net.keyset();
  EXPECT_EQ(keyset.domains[2].key.kind, model::CurveKind::kSecp256k1);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(wait_for([&] { return holds(net, i, keyset); })) << "node " << i;
  expect_subsets_reconstruct(net, {0, 1, 2}, 2);
  sign_and_verify(net, 0, "after-interrupted-keygen", "still signing");
}

TEST(NetworkKeyEvents, ANodeKilledInTheMiddleOfAResharingFinishesItAfterARestart) {
  Network net(generated_spec());
  const auto before = net.keyset();
  const json vote = {{"prospective_epoch_id", 1}, {"proposal", proposal_json(net, 3, 3)}};  // raise the threshold
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(net.operator_call(i, "vote_new_parameters", vote, false));
  // Kill node 1 as soon as it has started an attempt (its journal names one).
  const auto journal = net.devnet().path(net.node(1).home) / "key_event.journal";
  ASSERT_TRUE(wait_for([&] { return fs::exists(journal); }, 30s));
  net.stop_devnet_process("node1", true);
  net.restart_devnet();
  ASSERT_TRUE(wait_for([&] { return running_at(net, 1, 2); }, 90s)) << "resharing did not finish: " << net.state().name();
  const auto after = net.keyset();
  for (std::size_t d = 0; d < 2; ++d) EXPECT_EQ(after.domains[d].key, before.domains[d].key);
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(wait_for([&] { return holds(net, i, after); })) << "node " << i;
  expect_subsets_reconstruct(net, {0, 1, 2}, 3);
  sign_and_verify(net, 0, "after-interrupted-resharing", "threshold 3");
}

}  // namespace
}  // namespace mpc::e2e
