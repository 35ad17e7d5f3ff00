#include "devnet/dealer.h"
#include "support/fixtures.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/bytes.h"
#include "support/devnet/shamir_test_util.h"

namespace mpc::devnet {
namespace {

using model::CurveKind;
using testing::public_key_hex_of;
using testing::reconstruct_secret;

using Points = std::vector<std::pair<std::uint64_t, const model::Keyshare*>>;

// Every subset of {0..n-1} with exactly k members, as bit masks.
std::vector<unsigned> subsets_of_size(std::size_t n, std::size_t k) {
  std::vector<unsigned> out;
  for (unsigned m = 0; m < (1u << n); ++m) {
    if (static_cast<std::size_t>(__builtin_popcount(m)) == k) out.push_back(m);
  }
  return out;
}

Points points(const DealtDomain& d, unsigned mask) {
  Points p;
  for (std::size_t i = 0; i < d.shares.size(); ++i) {
    if (mask & (1u << i)) p.emplace_back(d.participant_ids[i], &d.shares[i]);
  }
  return p;
}

std::string reconstructed_public_key(CurveKind kind, const Points& p) {
  auto secret = reconstruct_secret(kind, p);
  EXPECT_TRUE(secret) << (secret ? "" : secret.error().message);
  if (!secret) return "";
  auto pk = public_key_hex_of(kind, secret->reveal());
  EXPECT_TRUE(pk);
  return pk ? *pk : "";
}

struct Case {
  CurveKind kind;
  std::size_t n;
  std::size_t t;
};

class DealerShamir : public ::testing::TestWithParam<Case> {};

TEST_P(DealerShamir, EveryThresholdSubsetReconstructsTheGroupKeyAndFewerSharesDoNot) {
  const auto [kind, n, t] = GetParam();
  auto dealt = deal(kind, /*domain_id=*/7, n, t, /*epoch_id=*/3, /*attempt=*/2);
  ASSERT_TRUE(dealt) << dealt.error().message;
  ASSERT_EQ(dealt->shares.size(), n);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(dealt->participant_ids[i], i);

  const std::string group_key = dealt->shares[0].public_key;
  std::string secret_of_first_subset;
  for (std::size_t k = t; k <= n; ++k) {
    for (unsigned mask : subsets_of_size(n, k)) {
      auto p = points(*dealt, mask);
      EXPECT_EQ(reconstructed_public_key(kind, p), group_key) << "subset mask " << mask;
      auto secret = reconstruct_secret(kind, p);
      ASSERT_TRUE(secret);
      if (secret_of_first_subset.empty()) secret_of_first_subset = secret->reveal();
      EXPECT_EQ(secret->reveal(), secret_of_first_subset) << "every subset gives the same secret";
    }
  }
  // t - 1 shares interpolate a different polynomial: a different key.
  for (unsigned mask : subsets_of_size(n, t - 1)) {
    if (mask == 0) continue;  // t == 1 has no smaller non-empty subset
    EXPECT_NE(reconstructed_public_key(kind, points(*dealt, mask)), group_key) << "subset mask " << mask;
  }
}

TEST_P(DealerShamir, SharesCoverTheDealtKeyset) {
  const auto [kind, n, t] = GetParam();
  auto dealt = deal(kind, 0, n, t, 5, 1);
  ASSERT_TRUE(dealt);
  model::Keyset keyset{5, {dealt->key}};
  for (const auto& share : dealt->shares) {
    std::vector<model::Keyshare> one;
    one.push_back(share.clone());
    EXPECT_TRUE(model::check_keyshares_cover_keyset(one, keyset));
    EXPECT_EQ(share.key_id, (model::KeyshareKeyId{5, 0, 1}));
    EXPECT_EQ(share.kind, kind);
    EXPECT_EQ(share.private_share.reveal().size(), 64u);
  }
  // Shares differ between participants (t > 1: a real polynomial).
  if (t > 1) {
    EXPECT_NE(dealt->shares[0].private_share.reveal(), dealt->shares[1].private_share.reveal());
  }
}

INSTANTIATE_TEST_SUITE_P(BothCurves, DealerShamir,
                         ::testing::Values(Case{CurveKind::kSecp256k1, 3, 2}, Case{CurveKind::kSecp256k1, 4, 3},
                                           Case{CurveKind::kEd25519, 3, 2}, Case{CurveKind::kEd25519, 4, 3},
                                           Case{CurveKind::kSecp256k1, 3, 1}, Case{CurveKind::kEd25519, 4, 4}),
                         [](const auto& info) {
                           return std::string(model::curve_name(info.param.kind)) + "_n" + std::to_string(info.param.n) +
                                  "_t" + std::to_string(info.param.t);
                         });

TEST(Dealer, ExplicitParticipantIdsEvaluateAtIdPlusOne) {
  const std::vector<std::uint64_t> ids = {5, 0, 9, std::numeric_limits<std::uint64_t>::max()};
  for (auto kind : {CurveKind::kSecp256k1, CurveKind::kEd25519}) {
    auto dealt = deal(kind, 1, ids, 2, 0, 0);
    ASSERT_TRUE(dealt) << dealt.error().message;
    EXPECT_EQ(dealt->participant_ids, ids);
    for (unsigned mask : subsets_of_size(ids.size(), 2)) {
      EXPECT_EQ(reconstructed_public_key(kind, points(*dealt, mask)), dealt->shares[0].public_key);
    }
    // Interpolating with wrong x coordinates (ids shifted by one) fails.
    Points wrong = {{ids[0] + 1, &dealt->shares[0]}, {ids[1] + 1, &dealt->shares[1]}};
    EXPECT_NE(reconstructed_public_key(kind, wrong), dealt->shares[0].public_key);
  }
}

TEST(Dealer, Secp256k1KeysetEntryIsTheContractsFormOfTheGroupKey) {
  auto dealt = deal(CurveKind::kSecp256k1, 0, 3, 2, 1, 0);
  ASSERT_TRUE(dealt);
  const auto& key = dealt->key.key;
  ASSERT_TRUE(key.near_public_key);
  const std::string text = key.near_public_key->to_string();
  EXPECT_TRUE(text.starts_with("secp256k1:"));
  // 33-byte compressed SEC1: prefix names Y's parity, then X (the first half of X||Y).
  auto compressed = core::hex_decode(dealt->shares[0].public_key);
  ASSERT_TRUE(compressed);
  ASSERT_EQ(compressed->size(), 33u);
  const auto& xy = std::get<core::Secp256k1PublicKey>(key.near_public_key->key).bytes;
  EXPECT_EQ((*compressed)[0], (xy[63] & 1) ? 0x03 : 0x02);
  EXPECT_TRUE(std::equal(compressed->begin() + 1, compressed->end(), xy.begin()));
  // Round-trips through the contract's JSON.
  model::Keyset keyset{1, {dealt->key}};
  auto parsed = model::parse_keyset(to_json(keyset));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, keyset);
  EXPECT_TRUE(to_json(keyset)["domains"][0]["key"].contains("Secp256k1"));
}

TEST(Dealer, Ed25519KeysetEntryCarriesTheCompressedPointTwice) {
  auto dealt = deal(CurveKind::kEd25519, 1, 3, 2, 1, 0);
  ASSERT_TRUE(dealt);
  const auto& key = dealt->key.key;
  ASSERT_TRUE(key.near_public_key && key.near_public_key->is_ed25519());
  EXPECT_EQ(key.near_public_key->ed25519().bytes, key.edwards_point);
  EXPECT_EQ(core::hex_encode(key.edwards_point), dealt->shares[0].public_key);
  auto j = to_json(model::Keyset{1, {dealt->key}});
  const auto& body = j["domains"][0]["key"]["Ed25519"];
  EXPECT_TRUE(body["near_public_key_compressed"].get<std::string>().starts_with("ed25519:"));
  EXPECT_EQ(body["edwards_point"].size(), 32u);
  auto parsed = model::parse_keyset(j);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->domains[0], dealt->key);
}

TEST(Dealer, DealKeysetGivesEachParticipantASharePerDomain) {
  const std::vector<DomainToDeal> domains = {{0, CurveKind::kSecp256k1, 0}, {1, CurveKind::kEd25519, 3}, {2, CurveKind::kEd25519, 0}};
  const std::vector<std::uint64_t> ids = {0, 1, 2, 3};
  auto dealt = deal_keyset(domains, ids, 3, 9);
  ASSERT_TRUE(dealt) << dealt.error().message;
  EXPECT_EQ(dealt->keyset.epoch_id, 9u);
  ASSERT_EQ(dealt->keyset.domains.size(), 3u);
  EXPECT_EQ(dealt->keyset.domains[1].attempt, 3u);
  ASSERT_EQ(dealt->shares.size(), ids.size());
  for (const auto& mine : dealt->shares) {
    auto st = model::check_keyshares_cover_keyset(mine, dealt->keyset);
    EXPECT_TRUE(st) << (st ? "" : st.error().message);
  }
  // Shares of one participant do not cover another epoch's keyset.
  model::Keyset later = dealt->keyset;
  later.epoch_id = 10;
  EXPECT_FALSE(model::check_keyshares_cover_keyset(dealt->shares[0], later));
}

TEST(Dealer, TwoDealsGiveDifferentKeys) {
  auto a = deal(CurveKind::kEd25519, 0, 3, 2, 0, 0);
  auto b = deal(CurveKind::kEd25519, 0, 3, 2, 0, 0);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->shares[0].public_key, b->shares[0].public_key);
}

TEST(Dealer, RejectsBadParameters) {
  const std::vector<std::uint64_t> dup = {1, 2, 1};
  EXPECT_EQ(deal(CurveKind::kEd25519, 0, dup, 2, 0, 0).error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_FALSE(deal(CurveKind::kEd25519, 0, 3, 0, 0, 0));
  EXPECT_FALSE(deal(CurveKind::kEd25519, 0, 3, 4, 0, 0));
  EXPECT_FALSE(deal(CurveKind::kSecp256k1, 0, 0, 0, 0, 0));
  EXPECT_FALSE(deal(CurveKind::kBls12381, 0, 3, 2, 0, 0));
  const std::vector<DomainToDeal> twice = {{4, CurveKind::kEd25519, 0}, {4, CurveKind::kSecp256k1, 0}};
  const std::vector<std::uint64_t> ids = {0, 1};
  EXPECT_FALSE(deal_keyset(twice, ids, 2, 0));
}

// The test helper itself against an independent vector: the FROST(Ed25519)
// RFC 9591 fixture's shares (identifier i = participant id i - 1).
TEST(ShamirTestUtil, ReconstructsTheFrostEd25519FixtureSecret) {
  std::ifstream in(mpc::testing::fixture_path("frost/frost-ed25519-sha512.json"));
  if (!in) GTEST_SKIP() << "fixture not found";
  auto j = model::json::parse(in);
  const auto& inputs = j["inputs"];
  std::vector<model::Keyshare> shares;
  for (const auto& s : inputs["participant_shares"]) {
    model::Keyshare k;
    k.kind = CurveKind::kEd25519;
    k.private_share = core::SecretString(s["participant_share"].get<std::string>());
    shares.push_back(std::move(k));
  }
  ASSERT_EQ(shares.size(), 3u);
  Points p;
  for (auto id : inputs["participant_list"]) {
    const auto i = id.get<std::uint64_t>();
    p.emplace_back(i - 1, &shares[i - 1]);
  }
  auto secret = reconstruct_secret(CurveKind::kEd25519, p);
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->reveal(), inputs["group_secret_key"].get<std::string>());
  EXPECT_EQ(*public_key_hex_of(CurveKind::kEd25519, secret->reveal()), inputs["group_public_key"].get<std::string>());
}

}  // namespace
}  // namespace mpc::devnet

namespace mpc::devnet {
namespace {

std::vector<std::vector<model::Keyshare>> clone_all(const DealtKeyset& k) {
  std::vector<std::vector<model::Keyshare>> out;
  for (const auto& per : k.shares) {
    out.emplace_back();
    for (const auto& s : per) out.back().push_back(s.clone());
  }
  return out;
}

DealtKeyset dealt_keyset(std::size_t n, std::size_t t) {
  const std::vector<DomainToDeal> domains = {{0, model::CurveKind::kSecp256k1, 0}, {1, model::CurveKind::kEd25519, 3}};
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(i);
  auto dealt = deal_keyset(domains, ids, t, 5);
  EXPECT_TRUE(dealt) << dealt.error().message;
  return std::move(*dealt);
}

TEST(KeysetFromShares, ADealtKeysetIsRebuiltExactlyFromItsShares) {
  const auto dealt = dealt_keyset(4, 3);
  auto rebuilt = keyset_from_shares(clone_all(dealt), dealt.participant_ids, 3);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->keyset, dealt.keyset);
  EXPECT_EQ(rebuilt->participant_ids, dealt.participant_ids);
}

TEST(KeysetFromShares, TheRfc9591SharesGiveTheRfcGroupKey) {
  std::ifstream in(mpc::testing::fixture_path("frost/frost-ed25519-sha512.json"));
  ASSERT_TRUE(in) << "fixture frost/frost-ed25519-sha512.json not found";
  auto j = model::json::parse(in);
  const auto& inputs = j["inputs"];
  std::vector<std::vector<model::Keyshare>> shares;
  std::vector<std::uint64_t> ids;
  for (const auto& s : inputs["participant_shares"]) {
    model::Keyshare k;
    k.key_id = {0, 0, 0};
    k.kind = model::CurveKind::kEd25519;
    k.private_share = core::SecretString(s["participant_share"].get<std::string>());
    k.public_key = inputs["group_public_key"].get<std::string>();
    shares.emplace_back();
    shares.back().push_back(std::move(k));
    ids.push_back(s["identifier"].get<std::uint64_t>() - 1);  // FROST identifier = participant id + 1
  }
  auto rebuilt = keyset_from_shares(std::move(shares), ids, std::stoul(j["config"]["MIN_PARTICIPANTS"].get<std::string>()));
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  ASSERT_EQ(rebuilt->keyset.domains.size(), 1u);
  EXPECT_EQ(core::hex_encode(rebuilt->keyset.domains[0].key.edwards_point), inputs["group_public_key"].get<std::string>());
}

TEST(KeysetFromShares, AShareOffThePolynomialIsRefusedNamingItsParticipant) {
  for (std::size_t domain = 0; domain < 2; ++domain) {
    const auto dealt = dealt_keyset(4, 2);
    auto shares = clone_all(dealt);
    // Participant 3's share swapped for participant 2's: a valid scalar, off the line.
    shares[3][domain].private_share = core::SecretString(shares[2][domain].private_share.reveal());
    auto rebuilt = keyset_from_shares(std::move(shares), dealt.participant_ids, 2);
    ASSERT_FALSE(rebuilt);
    EXPECT_NE(rebuilt.error().message.find("domain " + std::to_string(domain) + ": participant 3's share does not lie on the polynomial"),
              std::string::npos)
        << rebuilt.error().message;
  }
}

TEST(KeysetFromShares, SharesOfAnotherGroupKeyOrMismatchedDomainsAreRefused) {
  const auto a = dealt_keyset(3, 2);
  const auto b = dealt_keyset(3, 2);
  auto shares = clone_all(a);
  for (auto& per : shares) per[1].public_key = b.shares[0][1].public_key;  // the ed25519 key of another deal
  auto rebuilt = keyset_from_shares(std::move(shares), a.participant_ids, 2);
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message.find("domain 1: the shares reconstruct a secret whose public key is not the group key"), std::string::npos)
      << rebuilt.error().message;

  shares = clone_all(a);
  shares[2].pop_back();
  rebuilt = keyset_from_shares(std::move(shares), a.participant_ids, 2);
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message.find("participant 2 has 1 keyshares"), std::string::npos) << rebuilt.error().message;

  shares = clone_all(a);
  shares[1][0].key_id.attempt_id = 9;
  rebuilt = keyset_from_shares(std::move(shares), a.participant_ids, 2);
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message.find("participant 1's keyshare #0 differs"), std::string::npos) << rebuilt.error().message;

  shares = clone_all(a);
  shares[0][1].private_share = core::SecretString(std::string(64, 'f'));  // >= the ed25519 group order
  for (auto& per : shares) per[1].public_key = a.shares[0][1].public_key;
  rebuilt = keyset_from_shares(std::move(shares), a.participant_ids, 2);
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message.find("participant 0's private_share is not below the group order"), std::string::npos)
      << rebuilt.error().message;
  EXPECT_EQ(rebuilt.error().message.find("ffff"), std::string::npos) << "no secret in the message";
}

TEST(KeysetFromShares, AThresholdTooLowForTheSharesIsRefused) {
  const auto dealt = dealt_keyset(3, 3);  // degree 2
  auto rebuilt = keyset_from_shares(clone_all(dealt), dealt.participant_ids, 2);
  ASSERT_FALSE(rebuilt);
  EXPECT_NE(rebuilt.error().message.find("participant 2's share does not lie on the polynomial of degree 1"), std::string::npos)
      << rebuilt.error().message;
}

}  // namespace
}  // namespace mpc::devnet
