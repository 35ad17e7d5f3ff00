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
#include "core/secret.h"

namespace mpc::devnet {

using core::CurveKind;
using core::ErrorCode;
using core::fail;
using core::invalid;
using core::Result;
using core::SecretString;

namespace {

// What a curve-specific dealer hands back: the group key in both forms and
// one encoded share per participant, in order.
struct DealtSecrets {
  core::PublicKeyExtended key;
  std::string public_key_hex;  // the keyshare's "public_key"
  std::vector<SecretString> shares;
};

core::Error internal(const std::string& what) { return core::Error{ErrorCode::kInternal, what}; }

// ---- Secp256k1: OpenSSL ----

struct BnClear {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct GroupFree {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointFree {
  void operator()(EC_POINT* p) const { EC_POINT_clear_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnClear>;

Bn secret_bn() {
  Bn b(BN_secure_new());
  if (b) BN_set_flags(b.get(), BN_FLG_CONSTTIME);
  return b;
}

Result<DealtSecrets> deal_secp256k1(std::span<const std::uint64_t> ids, std::size_t threshold) {
  std::unique_ptr<EC_GROUP, GroupFree> group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_secure_new());
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
  Bn x(BN_new()), acc = secret_bn();
  if (!x || !acc) return std::unexpected(internal("out of memory"));
  std::array<std::uint8_t, 32> buf{};
  for (std::uint64_t id : ids) {
    // x = id + 1 (as a BIGNUM: no u64 overflow).
    if (BN_set_word(x.get(), id) != 1 || BN_add_word(x.get(), 1) != 1 || !BN_copy(acc.get(), coeffs.back().get())) {
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

  std::unique_ptr<EC_POINT, PointFree> pub(EC_POINT_new(group.get()));
  std::array<std::uint8_t, 33> compressed{};
  std::array<std::uint8_t, 65> uncompressed{};
  if (!pub || EC_POINT_mul(group.get(), pub.get(), coeffs[0].get(), nullptr, nullptr, ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_COMPRESSED, compressed.data(), compressed.size(),
                         ctx.get()) != compressed.size() ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, uncompressed.data(),
                         uncompressed.size(), ctx.get()) != uncompressed.size()) {
    return std::unexpected(internal("secp256k1 public key computation failed"));
  }
  core::Secp256k1PublicKey xy;
  std::copy(uncompressed.begin() + 1, uncompressed.end(), xy.bytes.begin());  // drop the 0x04 prefix
  out.key.kind = CurveKind::kSecp256k1;
  out.key.near_public_key = core::NearPublicKey{xy};
  out.public_key_hex = core::hex_encode(compressed);
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
    // x = id + 1, little-endian (a u64 + 1 fits easily below the group order).
    Scalar x{};
    std::uint64_t lo = id + 1;
    for (int b = 0; b < 8; ++b) x[b] = static_cast<unsigned char>(lo >> (8 * b));
    if (lo == 0) x[8] = 1;  // id == 2^64 - 1
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
    default: return invalid(std::string("the dealer cannot deal ") + core::curve_name(kind) + " keys");
  }
  if (!secrets) return std::unexpected(secrets.error());

  DealtDomain out;
  out.key = core::KeyForDomain{domain_id, secrets->key, attempt};
  out.participant_ids.assign(participant_ids.begin(), participant_ids.end());
  for (auto& share : secrets->shares) {
    core::Keyshare k;
    k.key_id = core::KeyshareKeyId{epoch_id, domain_id, attempt};
    k.kind = kind;
    k.private_share = std::move(share);
    k.public_key = secrets->public_key_hex;
    // The dealer's output must pass the same check an importing node applies.
    if (auto st = core::check_keyshare_consistent(k, epoch_id, out.key); !st) {
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

}  // namespace mpc::devnet
