#include "threshold/ecdsa_sign.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <string>
#include <utility>

#include "core/ec_keys.h"
#include "core/openssl_ptr.h"
#include "core/secret.h"
#include "threshold/ecdsa_messages.h"

namespace mpc::threshold {

using core::ByteView;
using core::Bytes;
using core::invalid;
using core::Result;

namespace {

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

// secp256k1's group order n and floor(n / 2), big-endian.
constexpr std::array<std::uint8_t, 32> kOrder = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41};
constexpr std::array<std::uint8_t, 32> kHalfOrder = {
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0};

// The reference's rerandomization salt (threshold-signatures rerandomization.rs).
constexpr std::array<std::uint8_t, 32> kRerandomizationSalt = {
    0x32, 0x8a, 0x47, 0xc2, 0xb8, 0x79, 0x44, 0x45, 0x25, 0x5c, 0x16, 0x47, 0x60, 0x8d, 0xf5, 0xdb,
    0x85, 0xc6, 0x8b, 0xb0, 0xe7, 0x17, 0x0a, 0xbe, 0xc5, 0x34, 0xdf, 0x27, 0x64, 0xa4, 0x58, 0x31};

// A 32-byte big-endian integer reduced mod n.
CurveScalar reduce32(ByteView b) {
  std::array<std::uint8_t, 64> wide{};
  std::copy(b.begin(), b.end(), wide.begin() + 32);
  return secp().reduce_wide(wide);
}

// HKDF-SHA3-256 expand of `info` (32 bytes out); false if OpenSSL fails.
bool hkdf_sha3(ByteView ikm, Bytes& info, std::array<std::uint8_t, 32>& out) {
  std::unique_ptr<EVP_KDF, core::OpensslFree<EVP_KDF_free>> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return false;
  std::unique_ptr<EVP_KDF_CTX, core::OpensslFree<EVP_KDF_CTX_free>> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return false;
  char digest[] = "SHA3-256";
  auto salt = kRerandomizationSalt;
  Bytes key(ikm.begin(), ikm.end());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key.data(), key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  return EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
}

// Everything a signer computes before sending (or, for the coordinator,
// combining): the derived key, R' and its share s_i.
struct Prepared {
  CurvePoint derived_key;
  CurvePoint big_r;  // R'
  CurveScalar share;  // s_i
};

Result<Prepared> prepare(Presignature& p, const EcdsaSignRequest& request) {
  const Curve& c = secp();
  const std::string where = "ecdsa sign: ";
  if (std::all_of(request.msg_hash.begin(), request.msg_hash.end(), [](std::uint8_t b) { return b == 0; }) ||
      reduce32(request.msg_hash).is_zero()) {
    return invalid(where + "the message hash is zero (refused, as the reference does)");
  }
  if (!std::binary_search(p.participants.begin(), p.participants.end(), request.coordinator)) {
    return invalid(where + "coordinator " + std::to_string(request.coordinator) +
                   " is not in the presignature's signing set");
  }
  if (p.threshold < 2 || p.participants.size() != ecdsa_signer_count(p.threshold)) {
    return invalid(where + "the presignature's set does not have 2·threshold - 1 participants");
  }
  auto x_pub = c.decode_point(request.group_key);
  if (!x_pub) return invalid(where + "group key: " + x_pub.error().message);
  auto tweak = c.decode_scalar(request.tweak);
  if (!tweak) return invalid(where + "the tweak is not below the group order (the reference's TweakNotOnCurve)");
  auto big_r = c.decode_point(p.big_r);
  if (!big_r) return invalid(where + "presignature R: " + big_r.error().message);

  Prepared out;
  out.derived_key = c.add(*x_pub, c.base_mul(*tweak));
  if (c.is_identity(out.derived_key)) return invalid(where + "the derived key is the point at infinity");

  Bytes info = {0, 1};
  info.insert(info.end(), out.derived_key.begin(), out.derived_key.end());
  info.insert(info.end(), request.tweak.begin(), request.tweak.end());
  info.insert(info.end(), request.msg_hash.begin(), request.msg_hash.end());
  info.insert(info.end(), p.big_r.begin(), p.big_r.end());
  for (std::uint64_t id : p.participants) {
    for (int i = 0; i < 8; ++i) info.push_back(static_cast<std::uint8_t>(id >> (8 * i)));
  }
  CurveScalar delta;
  for (int attempt = 0; attempt < 256 && delta.is_zero(); ++attempt) {
    std::array<std::uint8_t, 32> okm;
    if (!hkdf_sha3(request.entropy, info, okm)) return invalid(where + "HKDF-SHA3-256 failed in OpenSSL");
    if (auto d = c.decode_scalar(okm)) delta = std::move(*d);
    core::secure_wipe(okm.data(), okm.size());
    ++info[0];
  }
  if (delta.is_zero()) return invalid(where + "no usable rerandomization scalar");
  const CurveScalar delta_inv = c.invert(delta);
  out.big_r = c.mul(delta, *big_r);
  if (c.is_identity(out.big_r)) return invalid(where + "R' is the point at infinity");

  const CurveScalar h = reduce32(request.msg_hash);
  const CurveScalar r = reduce32(ByteView(out.big_r).subspan(1, 32));
  const CurveScalar alpha = c.mul(p.alpha, delta_inv);
  const CurveScalar beta = c.mul(c.add(p.beta, c.mul(p.c, *tweak)), delta_inv);
  out.share = c.add(c.add(c.mul(alpha, h), c.mul(beta, r)), p.e);
  return out;
}

// Wipes a consumed presignature's secrets.
void consume(Presignature& p) {
  p.alpha = CurveScalar();
  p.beta = CurveScalar();
  p.c = CurveScalar();
  p.e = CurveScalar();
}

bool greater(const std::array<std::uint8_t, 32>& a, const std::array<std::uint8_t, 32>& b) {
  return std::lexicographical_compare(b.begin(), b.end(), a.begin(), a.end());
}

}  // namespace

bool ecdsa_verify(const CurvePoint& public_key, const std::array<std::uint8_t, 32>& msg_hash,
                  const std::array<std::uint8_t, 32>& r, const std::array<std::uint8_t, 32>& s) {
  if (!secp().decode_point(public_key)) return false;
  auto key = core::ec_public_key("secp256k1", public_key);
  return key && core::ecdsa_verify_prehash(key.get(), msg_hash, r, s);
}

Result<Bytes> ecdsa_sign_share(Presignature presignature, const EcdsaSignRequest& request) {
  if (request.coordinator == presignature.self) {
    consume(presignature);
    return invalid("ecdsa sign: we are the coordinator; use EcdsaSignCoordinator");
  }
  auto prepared = prepare(presignature, request);
  consume(presignature);
  if (!prepared) return std::unexpected(prepared.error());
  SignShareMessage m;
  m.session = request.session;
  m.s = std::move(prepared->share);
  return encode_ecdsa_message(m);
}

Result<EcdsaSignCoordinator> EcdsaSignCoordinator::create(Presignature presignature, const EcdsaSignRequest& request) {
  if (request.coordinator != presignature.self) {
    consume(presignature);
    return invalid("ecdsa sign: the coordinator is " + std::to_string(request.coordinator) + ", not us (" +
                   std::to_string(presignature.self) + ")");
  }
  auto prepared = prepare(presignature, request);
  consume(presignature);
  if (!prepared) return std::unexpected(prepared.error());
  EcdsaSignCoordinator out;
  out.session_ = request.session;
  out.self_ = presignature.self;
  out.participants_ = presignature.participants;
  out.shares_.resize(out.participants_.size());
  const auto me = std::find(out.participants_.begin(), out.participants_.end(), out.self_);
  if (me == out.participants_.end()) return invalid("ecdsa sign: self is not in the presignature's set");
  out.shares_[static_cast<std::size_t>(me - out.participants_.begin())] = std::move(prepared->share);
  out.big_r_ = std::move(prepared->big_r);
  out.derived_key_ = std::move(prepared->derived_key);
  out.msg_hash_ = request.msg_hash;
  return out;
}

std::vector<std::uint64_t> EcdsaSignCoordinator::waiting_for() const {
  std::vector<std::uint64_t> out;
  if (finished_) return out;
  for (std::size_t i = 0; i < participants_.size(); ++i) {
    if (!shares_[i]) out.push_back(participants_[i]);
  }
  return out;
}

Result<std::optional<EcdsaSignature>> EcdsaSignCoordinator::on_message(std::uint64_t from, ByteView payload) {
  const std::string who = "ecdsa sign: share from participant " + std::to_string(from);
  if (finished_) return invalid(who + " refused: the session has ended");
  const auto it = std::find(participants_.begin(), participants_.end(), from);
  if (it == participants_.end()) return invalid(who + " refused: not a signer of this session");
  if (from == self_) return invalid(who + " refused: it is ourselves");
  auto decoded = decode_ecdsa_message(payload);
  if (!decoded) return invalid(who + " is malformed: " + decoded.error().message);
  auto* m = std::get_if<SignShareMessage>(&*decoded);
  if (!m) {
    return invalid(who + " refused: " + ecdsa_message_type_name(ecdsa_message_type(*decoded)) +
                   " is not a SignShare");
  }
  if (m->session != session_) return invalid(who + " refused: it is for another session");
  auto& slot = shares_[static_cast<std::size_t>(it - participants_.begin())];
  if (slot) return invalid(who + " refused: a second SignShare");
  slot = std::move(m->s);
  if (!std::all_of(shares_.begin(), shares_.end(), [](const auto& s) { return s.has_value(); })) {
    return std::optional<EcdsaSignature>();
  }

  finished_ = true;
  auto fail = [&](const std::string& why) -> Result<std::optional<EcdsaSignature>> {
    failure_ = "ecdsa sign failed: " + why;
    return invalid(*failure_);
  };
  const Curve& c = secp();
  std::vector<CurveScalar> xs;
  for (std::uint64_t id : participants_) xs.push_back(c.participant_x(id));
  CurveScalar s;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    auto lambda = c.lagrange_at_zero(xs, xs[i]);
    if (!lambda) return fail(lambda.error().message);
    s = c.add(s, c.mul(*lambda, *shares_[i]));
  }
  shares_.assign(shares_.size(), std::nullopt);
  if (s.is_zero()) return fail("s is zero (a signature share or the presignature is bad)");

  EcdsaSignature sig;
  std::copy(big_r_.begin(), big_r_.end(), sig.big_r.begin());
  std::array<std::uint8_t, 32> s_bytes;
  std::copy(s.view().begin(), s.view().end(), s_bytes.begin());
  std::uint8_t parity = big_r_[0] == 0x03 ? 1 : 0;
  if (greater(s_bytes, kHalfOrder)) {
    CurveScalar negated = c.sub(CurveScalar(), s);
    std::copy(negated.view().begin(), negated.view().end(), s_bytes.begin());
    parity ^= 1;
  }
  sig.s = s_bytes;
  std::array<std::uint8_t, 32> x_bytes;
  std::copy(big_r_.begin() + 1, big_r_.end(), x_bytes.begin());
  const bool x_overflow = !greater(kOrder, x_bytes);  // R'.x >= n
  sig.recovery_id = static_cast<std::uint8_t>(parity | (x_overflow ? 2 : 0));
  const CurveScalar r = reduce32(x_bytes);
  std::array<std::uint8_t, 32> r_bytes;
  std::copy(r.view().begin(), r.view().end(), r_bytes.begin());
  if (!ecdsa_verify(derived_key_, msg_hash_, r_bytes, sig.s)) {
    return fail("the combined signature does not verify under the derived key (a signature share or the "
                "presignature is bad; with 2T - 1 shares the culprit cannot be singled out)");
  }
  return std::optional<EcdsaSignature>(sig);
}

}  // namespace mpc::threshold
