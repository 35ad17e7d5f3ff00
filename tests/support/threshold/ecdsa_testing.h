// Test-only (and fuzz): what threshold ECDSA harnesses need around
// mpc_threshold (ecdsa_presign.h, ecdsa_sign.h) — a key dealt on secp256k1,
// a whole presigning among 2T - 1 participants on an in-memory network with
// every delivered message recorded, the signature shares of one request, and
// a check of a returned signature that owes nothing to ecdsa_sign.cc (OpenSSL
// EC arithmetic: the recovery id must recover the derived key). Everything
// is reproducible from one seed (TestRandom, frost_testing.h).
// Header-only; link mpc_threshold_testing (for TestRandom) and OpenSSL.
// Never included by production code (cmake/Headers.cmake).
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.h"
#include "core/key_derivation.h"
#include "core/openssl_ptr.h"
#include "core/result.h"
#include "core/secret.h"
#include "support/threshold/frost_testing.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/ecdsa_sign.h"

namespace mpc::threshold::testing {

// One message as the network delivered it.
struct EcdsaEnvelope {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  core::Bytes payload;
};

// A complete, honest presigning and signing, reproducible from `seed`.
struct EcdsaRun {
  std::uint64_t seed = 0;
  std::vector<std::uint64_t> ids;  // the presigning (= signing) set
  std::uint64_t threshold = 0;
  CurvePoint group_key;                               // X (compressed)
  std::map<std::uint64_t, CurveScalar> key_shares;    // x_i at participant_x(id)
  SessionId presign_session{};
  // Every presigning message in the order the network delivered it (private
  // PresignShares and one copy of each broadcast per recipient).
  std::vector<EcdsaEnvelope> delivered;
  std::map<std::uint64_t, Presignature> presignatures;
  // Coordinated by ids.front(); the tweak of "fuzz.near" / "ecdsa-1".
  EcdsaSignRequest request;
  core::Secp256k1PublicKey derived_key;  // X + tweak·G, by core/key_derivation.h
  // The SignShare of every other signer (ascending ids) for the coordinator.
  std::vector<std::pair<std::uint64_t, core::Bytes>> sign_shares;
  EcdsaSignature signature;  // what the coordinator returned
};

// The randomness seed of participant `id`'s PresignSession in run_ecdsa:
// PresignSession::create(ecdsa_presign_setup(run, id),
// TestRandom(ecdsa_presign_seed(run.seed, id)).source()) draws the same
// polynomials again, so a harness can replay one participant against the
// recorded messages of the others.
inline std::uint64_t ecdsa_presign_seed(std::uint64_t seed, std::uint64_t id) {
  return seed ^ (0x9e3779b97f4a7c15ull * (id + 1));
}

inline PresignSetup ecdsa_presign_setup(const EcdsaRun& run, std::uint64_t self) {
  PresignSetup setup;
  setup.session = run.presign_session;
  setup.self = self;
  setup.participants = run.ids;
  setup.threshold = run.threshold;
  setup.key_share = core::SecretBytes(run.key_shares.at(self).view());
  return setup;
}

// A uniform secp256k1 scalar (64 bytes reduced).
inline CurveScalar ecdsa_random_scalar(TestRandom& rng) {
  std::array<std::uint8_t, 64> wide{};
  rng.fill(wide);
  CurveScalar s = Curve::of(KeyCurve::kSecp256k1).reduce_wide(wide);
  core::secure_wipe(wide.data(), wide.size());
  return s;
}

// True when `sig` is a low-s ECDSA signature of `msg_hash` whose recovery id
// recovers `key`: with R from R'.x and the parity bit (recovery id bit 0),
// Q = r^-1 (s·R - h·G) must be `key` (which holds exactly when
// s·R = h·G + r·key, the verification equation), r = R'.x mod n, bit 1 of
// the recovery id set exactly when R'.x >= n. OpenSSL EC arithmetic only.
inline bool ecdsa_signature_recovers(const EcdsaSignature& sig, const std::array<std::uint8_t, 32>& msg_hash,
                                     const core::Secp256k1PublicKey& key) {
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_new());
  if (!group || !ctx || sig.recovery_id > 3) return false;
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  auto bn = [](const std::uint8_t* p, std::size_t size) { return core::BnPtr(BN_bin2bn(p, static_cast<int>(size), nullptr)); };
  core::BnPtr x = bn(sig.big_r.data() + 1, 32), s = bn(sig.s.data(), 32), h = bn(msg_hash.data(), 32);
  core::BnPtr half(BN_dup(n)), r(BN_new()), r_inv(BN_new()), u1(BN_new()), u2(BN_new());
  if (!x || !s || !h || !half || !r || !r_inv || !u1 || !u2) return false;
  if (sig.big_r[0] != 0x02 && sig.big_r[0] != 0x03) return false;
  BN_rshift1(half.get(), half.get());
  if (BN_is_zero(s.get()) || BN_cmp(s.get(), half.get()) > 0) return false;  // low s, not zero
  if (((sig.recovery_id & 2) != 0) != (BN_cmp(x.get(), n) >= 0)) return false;
  core::EcPointPtr big_r(EC_POINT_new(group.get()));
  if (!big_r ||
      EC_POINT_set_compressed_coordinates(group.get(), big_r.get(), x.get(), sig.recovery_id & 1, ctx.get()) != 1) {
    return false;
  }
  if (BN_nnmod(r.get(), x.get(), n, ctx.get()) != 1 || BN_is_zero(r.get()) ||
      BN_nnmod(h.get(), h.get(), n, ctx.get()) != 1 || !BN_mod_inverse(r_inv.get(), r.get(), n, ctx.get())) {
    return false;
  }
  // Q = u1·G + u2·R with u1 = -h·r^-1, u2 = s·r^-1.
  if (BN_mod_mul(u1.get(), h.get(), r_inv.get(), n, ctx.get()) != 1 ||
      BN_mod_sub(u1.get(), n, u1.get(), n, ctx.get()) != 1 ||
      BN_mod_mul(u2.get(), s.get(), r_inv.get(), n, ctx.get()) != 1) {
    return false;
  }
  core::EcPointPtr q(EC_POINT_new(group.get()));
  if (!q || EC_POINT_mul(group.get(), q.get(), u1.get(), big_r.get(), u2.get(), ctx.get()) != 1) return false;
  std::array<std::uint8_t, 65> out{};
  if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), ctx.get()) !=
      out.size()) {
    return false;
  }
  return std::equal(out.begin() + 1, out.end(), key.bytes.begin());
}

// Deals a random key to `ids` (trusted dealer: f of degree threshold - 1,
// participant id holds f(participant_x(id))), presigns among all of them
// (exactly 2·threshold - 1), then signs one request coordinated by
// ids.front() and checks the signature with ecdsa_signature_recovers.
// kInvalidArgument naming the step when anything refuses or fails.
inline core::Result<EcdsaRun> run_ecdsa(const std::vector<std::uint64_t>& ids, std::uint64_t threshold,
                                        std::uint64_t seed) {
  const Curve& c = Curve::of(KeyCurve::kSecp256k1);
  TestRandom rng(seed);
  EcdsaRun run;
  run.seed = seed;
  run.ids = ids;
  run.threshold = threshold;

  std::vector<CurveScalar> f;
  for (std::uint64_t i = 0; i < threshold; ++i) f.push_back(ecdsa_random_scalar(rng));
  run.group_key = c.base_mul(f[0]);
  for (std::uint64_t id : ids) {
    const CurveScalar x = c.participant_x(id);
    CurveScalar acc;
    for (auto it = f.rbegin(); it != f.rend(); ++it) acc = c.add(c.mul(acc, x), *it);
    run.key_shares[id] = acc;
  }
  rng.fill(run.presign_session);

  std::map<std::uint64_t, PresignSession> sessions;
  for (std::uint64_t id : ids) {
    TestRandom own(ecdsa_presign_seed(seed, id));
    auto s = PresignSession::create(ecdsa_presign_setup(run, id), own.source());
    if (!s) return core::invalid("run_ecdsa: presign setup of " + std::to_string(id) + ": " + s.error().message);
    sessions.emplace(id, std::move(*s));
  }
  std::deque<EcdsaEnvelope> queue;
  auto post = [&](std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      if (o.to) {
        queue.push_back({from, *o.to, std::move(o.payload)});
        continue;
      }
      for (const auto& [to, _] : sessions) {
        if (to != from) queue.push_back({from, to, o.payload});
      }
    }
  };
  for (auto& [id, s] : sessions) post(id, s.start());
  while (!queue.empty()) {
    EcdsaEnvelope e = std::move(queue.front());
    queue.pop_front();
    auto out = sessions.at(e.to).on_message(e.from, e.payload);
    if (!out) return core::invalid("run_ecdsa: " + std::to_string(e.to) + " refused: " + out.error().message);
    post(e.to, std::move(*out));
    run.delivered.push_back(std::move(e));
  }
  for (auto& [id, s] : sessions) {
    auto p = s.take_output();
    if (!p) return core::invalid("run_ecdsa: " + std::to_string(id) + " has no presignature: " + s.failure().value_or("not done"));
    run.presignatures.emplace(id, std::move(*p));
  }

  EcdsaSignRequest& request = run.request;
  rng.fill(request.session);
  do {
    rng.fill(request.msg_hash);
  } while (std::all_of(request.msg_hash.begin(), request.msg_hash.end(), [](std::uint8_t b) { return b == 0; }));
  request.tweak = core::derive_tweak("fuzz.near", "ecdsa-1");
  rng.fill(request.entropy);
  request.group_key = run.group_key;
  request.coordinator = ids.front();
  auto group = core::secp256k1_decompress(run.group_key);
  if (!group) return core::invalid("run_ecdsa: group key: " + group.error().message);
  auto derived = core::derive_secp256k1_public_key(*group, request.tweak);
  if (!derived) return core::invalid("run_ecdsa: derived key: " + derived.error().message);
  run.derived_key = *derived;
  for (std::uint64_t id : ids) {
    if (id == request.coordinator) continue;
    auto share = ecdsa_sign_share(run.presignatures.at(id), request);
    if (!share) return core::invalid("run_ecdsa: sign share of " + std::to_string(id) + ": " + share.error().message);
    run.sign_shares.emplace_back(id, std::move(*share));
  }
  auto coordinator = EcdsaSignCoordinator::create(run.presignatures.at(request.coordinator), request);
  if (!coordinator) return core::invalid("run_ecdsa: coordinator: " + coordinator.error().message);
  std::optional<EcdsaSignature> signature;
  for (const auto& [id, payload] : run.sign_shares) {
    auto r = coordinator->on_message(id, payload);
    if (!r) return core::invalid("run_ecdsa: coordinator refused " + std::to_string(id) + ": " + r.error().message);
    if (*r) signature = **r;
  }
  if (!signature) return core::invalid("run_ecdsa: no signature");
  if (!ecdsa_signature_recovers(*signature, request.msg_hash, run.derived_key)) {
    return core::invalid("run_ecdsa: the signature does not recover the derived key");
  }
  run.signature = *signature;
  return run;
}

// The two runs the ecdsa_message fuzz target replays and its seed writer
// (fuzz/ecdsa_message_seeds.cc) draws its seeds from: 3 participants
// (threshold 2) and 5 (threshold 3, where a single wrong R_i or W_i is
// blamed), ids 3·i + 1 (so x = id + 1 matters). Both must use the same runs:
// a seed is accepted only by the session it was made in.
inline std::vector<std::uint64_t> ecdsa_fixture_ids(std::size_t n) {
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(3 * i + 1);
  return ids;
}
inline core::Result<EcdsaRun> ecdsa_fixture_run(std::size_t n) {
  return run_ecdsa(ecdsa_fixture_ids(n), (n + 1) / 2, 0x65636473615f0000ull + n);  // "ecdsa_" + n
}

}  // namespace mpc::threshold::testing
