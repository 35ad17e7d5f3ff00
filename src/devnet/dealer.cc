#include "devnet/dealer.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <memory>
#include <set>
#include <string>

#include "core/bytes.h"
#include "core/near_key.h"
#include "core/openssl_ptr.h"
#include "core/secret.h"

namespace mpc::devnet {

using model::CurveKind;
using core::ErrorCode;
using core::fail;
using core::invalid;
using core::Result;
using core::SecretString;

namespace {

// What a curve-specific dealer hands back: the group key in both forms and
// one encoded share per participant, in order.
struct DealtSecrets {
  model::PublicKeyExtended key;
  std::string public_key_hex;  // the keyshare's "public_key"
  std::vector<SecretString> shares;
};

core::Error internal(const std::string& what) { return core::Error{ErrorCode::kInternal, what}; }

// ---- Secp256k1: OpenSSL ----

using Bn = core::SecretBnPtr;

Bn secret_bn() {
  Bn b(BN_secure_new());
  if (b) BN_set_flags(b.get(), BN_FLG_CONSTTIME);
  return b;
}

// x = id + 1 as a BIGNUM (no u64 overflow); null on allocation failure.
Bn secp256k1_x(std::uint64_t id) {
  Bn x(BN_new());
  if (x && (BN_set_word(x.get(), id) != 1 || BN_add_word(x.get(), 1) != 1)) x.reset();
  return x;
}

// secret·G: the keyset's form (X || Y) and the keyshare's (compressed SEC1, hex).
struct Secp256k1Key {
  model::PublicKeyExtended key;
  std::string compressed_hex;
};
Result<Secp256k1Key> secp256k1_public_key(const EC_GROUP* group, BN_CTX* ctx, const BIGNUM* secret) {
  core::SecretEcPointPtr pub(EC_POINT_new(group));
  std::array<std::uint8_t, 33> compressed{};
  std::array<std::uint8_t, 65> uncompressed{};
  if (!pub || EC_POINT_mul(group, pub.get(), secret, nullptr, nullptr, ctx) != 1 ||
      EC_POINT_point2oct(group, pub.get(), POINT_CONVERSION_COMPRESSED, compressed.data(), compressed.size(), ctx) != compressed.size() ||
      EC_POINT_point2oct(group, pub.get(), POINT_CONVERSION_UNCOMPRESSED, uncompressed.data(), uncompressed.size(), ctx) !=
          uncompressed.size()) {
    return std::unexpected(internal("secp256k1 public key computation failed"));
  }
  core::Secp256k1PublicKey xy;
  std::copy(uncompressed.begin() + 1, uncompressed.end(), xy.bytes.begin());  // drop the 0x04 prefix
  Secp256k1Key out;
  out.key.kind = CurveKind::kSecp256k1;
  out.key.near_public_key = core::NearPublicKey{xy};
  out.compressed_hex = core::hex_encode(compressed);
  return out;
}

Result<DealtSecrets> deal_secp256k1(std::span<const std::uint64_t> ids, std::size_t threshold) {
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_secure_new());
  if (!group || !ctx) return std::unexpected(internal("cannot set up secp256k1"));
  const BIGNUM* order = EC_GROUP_get0_order(group.get());

  // f(x) = a_0 + a_1 x + … + a_{t-1} x^{t-1}, a_0 != 0 the group secret.
  std::vector<Bn> coeffs;
  for (std::size_t i = 0; i < threshold; ++i) {
    Bn c = secret_bn();
    if (!c) return std::unexpected(internal("out of memory"));
    do {
      if (BN_priv_rand_range(c.get(), order) != 1) return std::unexpected(internal("secp256k1 random scalar failed"));
    } while (i == 0 && BN_is_zero(c.get()));
    coeffs.push_back(std::move(c));
  }

  DealtSecrets out;
  Bn acc = secret_bn();
  if (!acc) return std::unexpected(internal("out of memory"));
  std::array<std::uint8_t, 32> buf{};
  for (std::uint64_t id : ids) {
    Bn x = secp256k1_x(id);
    if (!x || !BN_copy(acc.get(), coeffs.back().get())) {
      return std::unexpected(internal("secp256k1 arithmetic failed"));
    }
    for (std::size_t i = threshold - 1; i-- > 0;) {
      if (BN_mod_mul(acc.get(), acc.get(), x.get(), order, ctx.get()) != 1 ||
          BN_mod_add(acc.get(), acc.get(), coeffs[i].get(), order, ctx.get()) != 1) {
        return std::unexpected(internal("secp256k1 arithmetic failed"));
      }
    }
    if (BN_bn2binpad(acc.get(), buf.data(), buf.size()) != static_cast<int>(buf.size())) {
      return std::unexpected(internal("secp256k1 share encoding failed"));
    }
    out.shares.emplace_back(core::hex_encode(buf));  // big-endian
    core::secure_wipe(buf.data(), buf.size());
  }

  MPC_ASSIGN(auto pub, secp256k1_public_key(group.get(), ctx.get(), coeffs[0].get()));
  out.key = std::move(pub.key);
  out.public_key_hex = std::move(pub.compressed_hex);
  return out;
}

// ---- Ed25519: libsodium ----

using Scalar = std::array<unsigned char, crypto_core_ed25519_SCALARBYTES>;

// Scalars wiped on destruction.
struct ScalarVec {
  std::vector<Scalar> v;
  ~ScalarVec() {
    if (!v.empty()) sodium_memzero(v.data(), v.size() * sizeof(Scalar));
  }
};

// x = id + 1, little-endian (a u64 + 1 fits easily below the group order).
Scalar ed25519_x(std::uint64_t id) {
  Scalar x{};
  const std::uint64_t lo = id + 1;
  for (int b = 0; b < 8; ++b) x[b] = static_cast<unsigned char>(lo >> (8 * b));
  if (lo == 0) x[8] = 1;  // id == 2^64 - 1
  return x;
}

Result<DealtSecrets> deal_ed25519(std::span<const std::uint64_t> ids, std::size_t threshold) {
  ScalarVec coeffs;
  coeffs.v.resize(threshold + 2);  // coefficients, then two work scalars
  Scalar& acc = coeffs.v[threshold];
  Scalar& tmp = coeffs.v[threshold + 1];
  for (std::size_t i = 0; i < threshold; ++i) {
    do {
      crypto_core_ed25519_scalar_random(coeffs.v[i].data());
    } while (i == 0 && sodium_is_zero(coeffs.v[i].data(), coeffs.v[i].size()));
  }

  DealtSecrets out;
  for (std::uint64_t id : ids) {
    const Scalar x = ed25519_x(id);
    acc = coeffs.v[threshold - 1];
    for (std::size_t i = threshold - 1; i-- > 0;) {
      crypto_core_ed25519_scalar_mul(tmp.data(), acc.data(), x.data());
      crypto_core_ed25519_scalar_add(acc.data(), tmp.data(), coeffs.v[i].data());
    }
    out.shares.emplace_back(core::hex_encode(acc));  // little-endian
  }

  core::Ed25519PublicKey pk;
  if (crypto_scalarmult_ed25519_base_noclamp(pk.bytes.data(), coeffs.v[0].data()) != 0) {
    return std::unexpected(internal("ed25519 public key computation failed"));
  }
  out.key.kind = CurveKind::kEd25519;
  out.key.near_public_key = core::NearPublicKey{pk};
  out.key.edwards_point = pk.bytes;
  out.public_key_hex = core::hex_encode(pk.bytes);
  return out;
}

// ---- Checking given shares (keyset_from_shares) ----

// Lagrange interpolation over the scalar field, at `at`, through the points
// (xs[i], ys[i]); every value a decoded scalar. Per curve below.

Result<model::PublicKeyExtended> check_ed25519(const std::vector<std::uint64_t>& ids, const std::vector<const model::Keyshare*>& shares,
                                              std::size_t threshold, const std::string& where) {
  const auto x_of = ed25519_x;
  ScalarVec ys;
  ys.v.resize(shares.size() + 4);  // shares, then work scalars
  for (std::size_t i = 0; i < shares.size(); ++i) {
    auto raw = core::hex_decode(shares[i]->private_share.reveal());
    if (!raw || raw->size() != 32) {
      return invalid(where + ": participant " + std::to_string(ids[i]) + "'s private_share is not a 32-byte hex scalar");
    }
    std::array<unsigned char, 64> wide{};
    std::copy(raw->begin(), raw->end(), wide.begin());
    crypto_core_ed25519_scalar_reduce(ys.v[i].data(), wide.data());
    const bool canonical = std::equal(raw->begin(), raw->end(), ys.v[i].begin());
    sodium_memzero(wide.data(), wide.size());
    sodium_memzero(raw->data(), raw->size());
    if (!canonical) return invalid(where + ": participant " + std::to_string(ids[i]) + "'s private_share is not below the group order");
  }
  Scalar& acc = ys.v[shares.size()];
  Scalar& term = ys.v[shares.size() + 1];
  Scalar& num = ys.v[shares.size() + 2];
  Scalar& den = ys.v[shares.size() + 3];
  auto interpolate = [&](const Scalar& at) {
    acc.fill(0);
    for (std::size_t i = 0; i < threshold; ++i) {
      num.fill(0);
      num[0] = 1;
      den = num;
      for (std::size_t j = 0; j < threshold; ++j) {
        if (j == i) continue;
        Scalar diff;
        crypto_core_ed25519_scalar_sub(diff.data(), at.data(), x_of(ids[j]).data());
        crypto_core_ed25519_scalar_mul(num.data(), num.data(), diff.data());
        crypto_core_ed25519_scalar_sub(diff.data(), x_of(ids[i]).data(), x_of(ids[j]).data());
        crypto_core_ed25519_scalar_mul(den.data(), den.data(), diff.data());
      }
      crypto_core_ed25519_scalar_invert(den.data(), den.data());
      crypto_core_ed25519_scalar_mul(term.data(), num.data(), den.data());
      crypto_core_ed25519_scalar_mul(term.data(), term.data(), ys.v[i].data());
      crypto_core_ed25519_scalar_add(acc.data(), acc.data(), term.data());
    }
  };
  for (std::size_t k = threshold; k < shares.size(); ++k) {
    interpolate(x_of(ids[k]));
    if (sodium_memcmp(acc.data(), ys.v[k].data(), acc.size()) != 0) {
      return invalid(where + ": participant " + std::to_string(ids[k]) + "'s share does not lie on the polynomial of degree " +
                     std::to_string(threshold - 1) + " through the other shares (threshold " + std::to_string(threshold) + ")");
    }
  }
  interpolate(Scalar{});
  core::Ed25519PublicKey pk;
  if (crypto_scalarmult_ed25519_base_noclamp(pk.bytes.data(), acc.data()) != 0) {
    return invalid(where + ": the shares reconstruct the zero secret");
  }
  if (core::hex_encode(pk.bytes) != shares[0]->public_key) {
    return invalid(where + ": the shares reconstruct a secret whose public key is not the group key in their public_key");
  }
  model::PublicKeyExtended key;
  key.kind = CurveKind::kEd25519;
  key.near_public_key = core::NearPublicKey{pk};
  key.edwards_point = pk.bytes;
  return key;
}

Result<model::PublicKeyExtended> check_secp256k1(const std::vector<std::uint64_t>& ids, const std::vector<const model::Keyshare*>& shares,
                                                std::size_t threshold, const std::string& where) {
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_secure_new());
  if (!group || !ctx) return std::unexpected(internal("cannot set up secp256k1"));
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  std::vector<Bn> ys;
  for (std::size_t i = 0; i < shares.size(); ++i) {
    auto raw = core::hex_decode(shares[i]->private_share.reveal());
    Bn y = secret_bn();
    if (!y) return std::unexpected(internal("out of memory"));
    const bool ok = raw && raw->size() == 32 && BN_bin2bn(raw->data(), 32, y.get()) != nullptr && BN_cmp(y.get(), order) < 0;
    if (raw) core::secure_wipe(raw->data(), raw->size());
    if (!ok) return invalid(where + ": participant " + std::to_string(ids[i]) + "'s private_share is not a 32-byte hex scalar below the group order");
    ys.push_back(std::move(y));
  }
  const auto x_of = secp256k1_x;
  Bn acc = secret_bn(), term = secret_bn(), num(BN_new()), den(BN_new()), diff(BN_new());
  if (!acc || !term || !num || !den || !diff) return std::unexpected(internal("out of memory"));
  auto interpolate = [&](const BIGNUM* at) -> bool {
    BN_zero(acc.get());
    for (std::size_t i = 0; i < threshold; ++i) {
      if (BN_one(num.get()) != 1 || BN_one(den.get()) != 1) return false;
      Bn xi = x_of(ids[i]);
      if (!xi) return false;
      for (std::size_t j = 0; j < threshold; ++j) {
        if (j == i) continue;
        Bn xj = x_of(ids[j]);
        if (!xj || BN_mod_sub(diff.get(), at, xj.get(), order, ctx.get()) != 1 ||
            BN_mod_mul(num.get(), num.get(), diff.get(), order, ctx.get()) != 1 ||
            BN_mod_sub(diff.get(), xi.get(), xj.get(), order, ctx.get()) != 1 ||
            BN_mod_mul(den.get(), den.get(), diff.get(), order, ctx.get()) != 1) {
          return false;
        }
      }
      if (!BN_mod_inverse(den.get(), den.get(), order, ctx.get()) || BN_mod_mul(term.get(), num.get(), den.get(), order, ctx.get()) != 1 ||
          BN_mod_mul(term.get(), term.get(), ys[i].get(), order, ctx.get()) != 1 ||
          BN_mod_add(acc.get(), acc.get(), term.get(), order, ctx.get()) != 1) {
        return false;
      }
    }
    return true;
  };
  for (std::size_t k = threshold; k < shares.size(); ++k) {
    Bn at = x_of(ids[k]);
    if (!at || !interpolate(at.get())) return std::unexpected(internal("secp256k1 arithmetic failed"));
    if (BN_cmp(acc.get(), ys[k].get()) != 0) {
      return invalid(where + ": participant " + std::to_string(ids[k]) + "'s share does not lie on the polynomial of degree " +
                     std::to_string(threshold - 1) + " through the other shares (threshold " + std::to_string(threshold) + ")");
    }
  }
  Bn zero(BN_new());
  if (!zero) return std::unexpected(internal("out of memory"));
  BN_zero(zero.get());
  if (!interpolate(zero.get())) return std::unexpected(internal("secp256k1 arithmetic failed"));
  if (BN_is_zero(acc.get())) return invalid(where + ": the shares reconstruct the zero secret");
  MPC_ASSIGN(auto pub, secp256k1_public_key(group.get(), ctx.get(), acc.get()));
  if (pub.compressed_hex != shares[0]->public_key) {
    return invalid(where + ": the shares reconstruct a secret whose public key is not the group key in their public_key");
  }
  return std::move(pub.key);
}

}  // namespace

Result<DealtDomain> deal(CurveKind kind, std::uint64_t domain_id, std::span<const std::uint64_t> participant_ids,
                         std::size_t threshold, std::uint64_t epoch_id, std::uint64_t attempt) {
  if (participant_ids.empty()) return invalid("cannot deal a key to no participants");
  if (threshold < 1 || threshold > participant_ids.size()) {
    return invalid("threshold must be between 1 and the number of participants (" +
                   std::to_string(participant_ids.size()) + "), got " + std::to_string(threshold));
  }
  if (std::set<std::uint64_t>(participant_ids.begin(), participant_ids.end()).size() != participant_ids.size()) {
    return invalid("participant ids must be distinct");
  }
  if (sodium_init() < 0) return fail(ErrorCode::kInternal, "libsodium failed to initialise");

  Result<DealtSecrets> secrets = invalid("");
  switch (kind) {
    case CurveKind::kSecp256k1: secrets = deal_secp256k1(participant_ids, threshold); break;
    case CurveKind::kEd25519: secrets = deal_ed25519(participant_ids, threshold); break;
    default: return invalid(std::string("the dealer cannot deal ") + model::curve_name(kind) + " keys");
  }
  if (!secrets) return std::unexpected(secrets.error());

  DealtDomain out;
  out.key = model::KeyForDomain{domain_id, secrets->key, attempt};
  out.participant_ids.assign(participant_ids.begin(), participant_ids.end());
  for (auto& share : secrets->shares) {
    model::Keyshare k;
    k.key_id = model::KeyshareKeyId{epoch_id, domain_id, attempt};
    k.kind = kind;
    k.private_share = std::move(share);
    k.public_key = secrets->public_key_hex;
    // The dealer's output must pass the same check an importing node applies.
    if (auto st = model::check_keyshare_consistent(k, epoch_id, out.key); !st) {
      return fail(ErrorCode::kInternal, "dealt an inconsistent keyshare: " + st.error().message);
    }
    out.shares.push_back(std::move(k));
  }
  return out;
}

Result<DealtDomain> deal(CurveKind kind, std::uint64_t domain_id, std::size_t participants, std::size_t threshold,
                         std::uint64_t epoch_id, std::uint64_t attempt) {
  std::vector<std::uint64_t> ids(participants);
  for (std::size_t i = 0; i < participants; ++i) ids[i] = i;
  return deal(kind, domain_id, ids, threshold, epoch_id, attempt);
}

Result<DealtKeyset> deal_keyset(std::span<const DomainToDeal> domains, std::span<const std::uint64_t> participant_ids,
                                std::size_t threshold, std::uint64_t epoch_id) {
  std::set<std::uint64_t> seen;
  for (const auto& d : domains) {
    if (!seen.insert(d.domain_id).second) return invalid("domain " + std::to_string(d.domain_id) + " is listed twice");
  }
  DealtKeyset out;
  out.keyset.epoch_id = epoch_id;
  out.participant_ids.assign(participant_ids.begin(), participant_ids.end());
  out.shares.resize(participant_ids.size());
  for (const auto& d : domains) {
    auto dealt = deal(d.kind, d.domain_id, participant_ids, threshold, epoch_id, d.attempt);
    if (!dealt) return std::unexpected(dealt.error().context("domain " + std::to_string(d.domain_id)));
    out.keyset.domains.push_back(dealt->key);
    for (std::size_t i = 0; i < dealt->shares.size(); ++i) out.shares[i].push_back(std::move(dealt->shares[i]));
  }
  return out;
}

Result<DealtKeyset> keyset_from_shares(std::vector<std::vector<model::Keyshare>> shares, std::span<const std::uint64_t> participant_ids,
                                       std::size_t threshold) {
  if (participant_ids.empty() || shares.size() != participant_ids.size()) {
    return invalid("give one set of keyshares per participant (" + std::to_string(participant_ids.size()) + " participants, " +
                   std::to_string(shares.size()) + " sets)");
  }
  if (threshold < 1 || threshold > participant_ids.size()) {
    return invalid("threshold must be between 1 and the number of participants (" + std::to_string(participant_ids.size()) + "), got " +
                   std::to_string(threshold));
  }
  if (std::set<std::uint64_t>(participant_ids.begin(), participant_ids.end()).size() != participant_ids.size()) {
    return invalid("participant ids must be distinct");
  }
  if (sodium_init() < 0) return fail(ErrorCode::kInternal, "libsodium failed to initialise");
  const auto& first = shares[0];
  if (first.empty()) return invalid("participant " + std::to_string(participant_ids[0]) + " has no keyshares");
  DealtKeyset out;
  out.keyset.epoch_id = first[0].key_id.epoch_id;
  out.participant_ids.assign(participant_ids.begin(), participant_ids.end());
  std::set<std::uint64_t> domains_seen;
  for (std::size_t d = 0; d < first.size(); ++d) {
    const auto& ref = first[d];
    const std::string where = "domain " + std::to_string(ref.key_id.domain_id);
    if (!domains_seen.insert(ref.key_id.domain_id).second) return invalid(where + " is listed twice");
    if (ref.key_id.epoch_id != out.keyset.epoch_id) {
      return invalid(where + " is at epoch " + std::to_string(ref.key_id.epoch_id) + ", another domain at epoch " +
                     std::to_string(out.keyset.epoch_id));
    }
    std::vector<const model::Keyshare*> column;
    for (std::size_t i = 0; i < shares.size(); ++i) {
      if (shares[i].size() != first.size()) {
        return invalid("participant " + std::to_string(participant_ids[i]) + " has " + std::to_string(shares[i].size()) +
                       " keyshares, participant " + std::to_string(participant_ids[0]) + " has " + std::to_string(first.size()));
      }
      const auto* s = &shares[i][d];
      if (s->key_id != ref.key_id || s->kind != ref.kind || s->public_key != ref.public_key) {
        return invalid(where + ": participant " + std::to_string(participant_ids[i]) + "'s keyshare #" + std::to_string(d) +
                       " differs from participant " + std::to_string(participant_ids[0]) +
                       "'s in key id, curve or group key (every participant lists the same domains in the same order)");
      }
      column.push_back(s);
    }
    const std::vector<std::uint64_t> ids(participant_ids.begin(), participant_ids.end());
    Result<model::PublicKeyExtended> key = invalid("");
    switch (ref.kind) {
      case CurveKind::kEd25519: key = check_ed25519(ids, column, threshold, where); break;
      case CurveKind::kSecp256k1: key = check_secp256k1(ids, column, threshold, where); break;
      default: return invalid(where + ": " + model::curve_name(ref.kind) + " shares cannot be imported");
    }
    if (!key) return std::unexpected(key.error());
    out.keyset.domains.push_back(model::KeyForDomain{ref.key_id.domain_id, *key, ref.key_id.attempt_id});
  }
  out.shares = std::move(shares);
  for (std::size_t i = 0; i < out.shares.size(); ++i) {
    if (auto st = model::check_keyshares_cover_keyset(out.shares[i], out.keyset); !st) {
      return std::unexpected(st.error().context("participant " + std::to_string(participant_ids[i])));
    }
  }
  return out;
}

}  // namespace mpc::devnet
