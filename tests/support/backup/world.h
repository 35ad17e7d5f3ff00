// Test-only: the contract as the backup side's unit tests see it
// (chain_checks_test, operator_test, daemon_test, commands_test). Header-only.
//
// Namespace mpc::testing, as the other test support.
//
// running_world(epoch): a Running contract of two participants, op.test
// (participant 0, TLS key key(1), url op_url) and other.test (1, key(2)),
// with a keyset of two domains (0 secp256k1, 1 Ed25519) dealt at `epoch`,
// and op.test's shares of it. No backup service is registered and no
// migration is ongoing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backup/home.h"
#include "model/types.h"
#include "devnet/dealer.h"
#include "near/contract_view.h"

namespace mpc::testing {

// A recognisable public key: 32 bytes of `tag`.
inline core::Ed25519PublicKey key(std::uint8_t tag) {
  core::Ed25519PublicKey k;
  k.bytes.fill(tag);
  return k;
}

inline std::vector<model::Keyshare> clone_all(const std::vector<model::Keyshare>& shares) {
  std::vector<model::Keyshare> out;
  out.reserve(shares.size());
  for (const auto& s : shares) out.push_back(s.clone());
  return out;
}

// What BackupStore::load_newest would return for `shares` (one epoch's).
inline backup::StoredBackup stored(const std::vector<model::Keyshare>& shares) {
  backup::StoredBackup b;
  b.epoch_id = shares.empty() ? 0 : shares.front().key_id.epoch_id;
  b.keyshares = clone_all(shares);
  b.path = "/x/permanent_keys/epoch_" + std::to_string(b.epoch_id) + "_with_" + std::to_string(shares.size()) + "_domains";
  return b;
}

struct World {
  near::ContractView view;
  std::vector<model::Keyshare> shares;  // op.test's
  model::Keyset keyset;
};

inline World running_world(std::uint64_t epoch, const std::string& op_url = "https://node.example:3000") {
  const std::vector<devnet::DomainToDeal> domains = {{0, model::CurveKind::kSecp256k1, 0}, {1, model::CurveKind::kEd25519, 0}};
  const std::vector<std::uint64_t> ids = {0, 1};
  auto dealt = devnet::deal_keyset(domains, ids, 2, epoch);
  EXPECT_TRUE(dealt) << dealt.error().message;
  model::RunningState r;
  r.keyset = dealt->keyset;
  r.parameters.threshold = 2;
  r.parameters.participants.next_id = 2;
  r.parameters.participants.participants = {{"op.test", 0, {op_url, key(1)}}, {"other.test", 1, {"https://b.example:3000", key(2)}}};
  World w;
  w.view.state.state = r;
  w.keyset = dealt->keyset;
  w.shares = std::move(dealt->shares[0]);
  return w;
}

}  // namespace mpc::testing
