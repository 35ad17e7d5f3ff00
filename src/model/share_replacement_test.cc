#include "model/share_replacement.h"

#include <gtest/gtest.h>

namespace mpc::model {

using namespace mpc::core;  // the model is written in core's terms
namespace {

using Kind = ReplacementRefusal::Kind;

Keyshare share(std::uint64_t epoch, std::uint64_t domain, std::string group_key, std::uint64_t attempt = 0,
               CurveKind kind = CurveKind::kEd25519) {
  Keyshare s;
  s.key_id = {epoch, domain, attempt};
  s.kind = kind;
  s.private_share = SecretString(std::string(64, '1'));
  s.public_key = std::move(group_key);
  return s;
}

std::vector<Keyshare> set(std::uint64_t epoch, std::initializer_list<std::pair<std::uint64_t, const char*>> domains) {
  std::vector<Keyshare> out;
  for (auto [domain, key] : domains) out.push_back(share(epoch, domain, key));
  return out;
}

TEST(CheckReplacement, AllowsAnythingOverNothing) {
  EXPECT_FALSE(check_replacement({}, set(0, {{0, "aa"}})));
  EXPECT_FALSE(check_replacement({}, {}));
}

TEST(CheckReplacement, AllowsTheSameSetANewerEpochAndAddedDomains) {
  const auto held = set(3, {{0, "aa"}, {1, "bb"}});
  EXPECT_FALSE(check_replacement(held, set(3, {{0, "aa"}, {1, "bb"}})));
  EXPECT_FALSE(check_replacement(held, set(4, {{0, "aa"}, {1, "bb"}})));           // resharing keeps the keys
  EXPECT_FALSE(check_replacement(held, set(3, {{0, "aa"}, {1, "bb"}, {2, "cc"}})));  // a domain added
  EXPECT_FALSE(check_replacement(held, set(4, {{1, "bb"}, {0, "aa"}})));           // order does not matter
}

TEST(CheckReplacement, RefusesAnOlderEpochFirst) {
  auto r = check_replacement(set(5, {{0, "aa"}}), set(4, {{1, "zz"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::kOlderEpoch);
  EXPECT_EQ(r->held_epoch, 5u);
  EXPECT_EQ(r->incoming_epoch, 4u);
  EXPECT_TRUE(r->domains.empty());
}

TEST(CheckReplacement, RefusesDroppedDomainsNamingEveryOne) {
  auto r = check_replacement(set(3, {{2, "cc"}, {0, "aa"}, {1, "bb"}}), set(4, {{1, "xx"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::kDroppedDomains);  // before the changed key of domain 1
  EXPECT_EQ(r->domains, (std::vector<std::uint64_t>{0, 2}));
  EXPECT_EQ(domain_list(r->domains), "0, 2");
}

TEST(CheckReplacement, RefusesAChangedGroupKeyOrCurve) {
  auto r = check_replacement(set(3, {{0, "aa"}, {1, "bb"}}), set(4, {{0, "aa"}, {1, "b2"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::kChangedGroupKey);
  EXPECT_EQ(r->domains, (std::vector<std::uint64_t>{1}));
  std::vector<Keyshare> held, other_curve;
  held.push_back(share(3, 0, "aa"));
  other_curve.push_back(share(4, 0, "aa", 0, CurveKind::kSecp256k1));
  r = check_replacement(held, other_curve);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::kChangedGroupKey);
}

TEST(CheckReplacement, RefusesAnotherKeyIdWithinTheHeldEpochOnly) {
  std::vector<Keyshare> held, same_epoch, next_epoch;
  held.push_back(share(3, 0, "aa", 0));
  same_epoch.push_back(share(3, 0, "aa", 1));
  next_epoch.push_back(share(4, 0, "aa", 1));
  auto r = check_replacement(held, same_epoch);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, Kind::kChangedKeyId);
  EXPECT_EQ(r->domains, (std::vector<std::uint64_t>{0}));
  EXPECT_FALSE(check_replacement(held, next_epoch));  // a resharing's attempt is its own
}

}  // namespace
}  // namespace mpc::model
