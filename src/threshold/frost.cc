#include "threshold/frost.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/secret.h"

namespace mpc::threshold {

using core::ByteView;
using core::ErrorCode;
using core::fail;
using core::invalid;
using core::Result;
using core::Status;

namespace {

using Digest = std::array<std::uint8_t, crypto_hash_sha512_BYTES>;

// The encoding of the identity element (y = 1, x = 0).
constexpr Element kIdentity = {1};

void ensure_sodium() {
  // sodium_init is idempotent and thread-safe; it fails only when the
  // system cannot provide randomness, which this module never asks for.
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

// Wipes a buffer on scope exit.
template <typename T>
struct Wiper {
  T& value;
  ~Wiper() { sodium_memzero(&value, sizeof(T)); }
};

// SHA-512 over parts; the state is wiped by crypto_hash_sha512_final.
class Sha512 {
 public:
  Sha512() { crypto_hash_sha512_init(&state_); }
  ~Sha512() { sodium_memzero(&state_, sizeof state_); }
  Sha512& update(ByteView data) {
    crypto_hash_sha512_update(&state_, data.data(), data.size());
    return *this;
  }
  Sha512& update(std::string_view text) { return update(core::as_bytes(text)); }
  void final(Digest& out) { crypto_hash_sha512_final(&state_, out.data()); }

 private:
  crypto_hash_sha512_state state_;
};

// x mod L for a 64-byte little-endian integer.
void reduce_wide(const Digest& wide, std::uint8_t out[kScalarSize]) {
  Digest copy = wide;  // crypto_core_ed25519_scalar_reduce reads 64 bytes
  crypto_core_ed25519_scalar_reduce(out, copy.data());
  sodium_memzero(copy.data(), copy.size());
}

// x mod L for a 32-byte little-endian integer.
void reduce_narrow(const std::uint8_t in[kScalarSize], std::uint8_t out[kScalarSize]) {
  Digest wide{};
  std::copy(in, in + kScalarSize, wide.begin());
  reduce_wide(wide, out);
  sodium_memzero(wide.data(), wide.size());
}

bool is_canonical_scalar(const std::uint8_t in[kScalarSize]) {
  std::uint8_t reduced[kScalarSize];
  reduce_narrow(in, reduced);
  const bool same = sodium_memcmp(reduced, in, kScalarSize) == 0;
  sodium_memzero(reduced, sizeof reduced);
  return same;
}

Scalar hash_to_scalar(std::string_view tag, ByteView m, bool with_context) {
  Sha512 h;
  if (with_context) h.update(kContextString).update(tag);
  h.update(m);
  Digest d;
  h.final(d);
  Scalar out;
  reduce_wide(d, out.data());
  return out;
}

std::array<std::uint8_t, 64> hash_to_digest(std::string_view tag, ByteView m) {
  Sha512 h;
  h.update(kContextString).update(tag).update(m);
  Digest d;
  h.final(d);
  return d;
}

Scalar scalar_mul(const Scalar& a, const Scalar& b) {
  Scalar r;
  crypto_core_ed25519_scalar_mul(r.data(), a.data(), b.data());
  return r;
}

Scalar scalar_one() {
  Scalar one{};
  one[0] = 1;
  return one;
}

Result<Element> base_mult(const std::uint8_t scalar[kScalarSize], const char* what) {
  Element out;
  if (crypto_scalarmult_ed25519_base_noclamp(out.data(), scalar) != 0) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " is zero");
  }
  return out;
}

Result<Element> point_mult(const Scalar& scalar, const Element& point, const std::string& what) {
  Element out;
  if (crypto_scalarmult_ed25519_noclamp(out.data(), scalar.data(), point.data()) != 0) {
    return fail(ErrorCode::kInvalidArgument, what + " is the identity (zero scalar or invalid point)");
  }
  return out;
}

Result<Element> point_add(const Element& a, const Element& b, const std::string& what) {
  Element out;
  if (crypto_core_ed25519_add(out.data(), a.data(), b.data()) != 0) {
    return fail(ErrorCode::kInvalidArgument, what + ": not a point on the curve");
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string id_text(Identifier id) { return std::to_string(id); }

std::size_t index_of(const CommitmentList& list, Identifier id) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].identifier == id) return i;
  }
  return list.size();
}

}  // namespace

// ---- SecretScalar ----

SecretScalar::~SecretScalar() { sodium_memzero(bytes_.data(), bytes_.size()); }

SecretScalar::SecretScalar(SecretScalar&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

SecretScalar& SecretScalar::operator=(SecretScalar&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

Result<SecretScalar> SecretScalar::from_bytes(ByteView bytes) {
  ensure_sodium();
  if (bytes.size() != kScalarSize) {
    return invalid("a secret scalar must be 32 bytes, got " + std::to_string(bytes.size()));
  }
  if (!is_canonical_scalar(bytes.data())) return invalid("secret scalar is not canonical (not below the group order)");
  SecretScalar s;
  std::copy(bytes.begin(), bytes.end(), s.bytes_.begin());
  return s;
}

Result<SecretScalar> SecretScalar::from_hex(std::string_view hex) {
  ensure_sodium();
  if (hex.size() != 2 * kScalarSize) {
    return invalid("a secret scalar must be 64 hex characters, got " + std::to_string(hex.size()));
  }
  SecretScalar s;
  for (std::size_t i = 0; i < kScalarSize; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return invalid("secret scalar is not hex");  // s is wiped on return
    s.bytes_[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  if (!is_canonical_scalar(s.bytes_.data())) return invalid("secret scalar is not canonical (not below the group order)");
  return s;
}

SecretScalar SecretScalar::clone() const {
  SecretScalar s;
  s.bytes_ = bytes_;
  return s;
}

bool SecretScalar::is_zero() const { return sodium_is_zero(bytes_.data(), bytes_.size()) == 1; }

// ---- encodings ----

Result<Scalar> deserialize_scalar(ByteView bytes) {
  ensure_sodium();
  if (bytes.size() != kScalarSize) return invalid("a scalar must be 32 bytes, got " + std::to_string(bytes.size()));
  if (!is_canonical_scalar(bytes.data())) return invalid("scalar is not canonical (not below the group order L)");
  Scalar s;
  std::copy(bytes.begin(), bytes.end(), s.begin());
  return s;
}

Result<Element> deserialize_element(ByteView bytes) {
  ensure_sodium();
  if (bytes.size() != kElementSize) {
    return invalid("a group element must be 32 bytes, got " + std::to_string(bytes.size()));
  }
  Element e;
  std::copy(bytes.begin(), bytes.end(), e.begin());
  if (e == kIdentity) return invalid("group element is the identity");
  if (crypto_core_ed25519_is_valid_point(e.data()) != 1) {
    return invalid(
        "group element is not a valid point (non-canonical, not on the curve, of small order or outside the "
        "prime-order subgroup)");
  }
  return e;
}

Scalar identifier_scalar(Identifier id) {
  Scalar s{};
  for (int b = 0; b < 8; ++b) s[b] = static_cast<std::uint8_t>(id >> (8 * b));
  return s;
}

Result<Identifier> identifier_for_participant(std::uint64_t participant_id) {
  if (participant_id == UINT64_MAX) return invalid("participant id 18446744073709551615 has no FROST identifier");
  return participant_id + 1;
}

// ---- hashes ----

Scalar h1(ByteView m) { return (ensure_sodium(), hash_to_scalar("rho", m, true)); }
Scalar h2(ByteView m) { return (ensure_sodium(), hash_to_scalar("", m, false)); }
Scalar h3(ByteView m) { return (ensure_sodium(), hash_to_scalar("nonce", m, true)); }
std::array<std::uint8_t, 64> h4(ByteView m) { return (ensure_sodium(), hash_to_digest("msg", m)); }
std::array<std::uint8_t, 64> h5(ByteView m) { return (ensure_sodium(), hash_to_digest("com", m)); }

// ---- keys ----

Result<Element> public_element(const SecretScalar& secret) {
  ensure_sodium();
  return base_mult(secret.data(), "secret scalar");
}

Scalar tweak_scalar(std::span<const std::uint8_t, 32> tweak) {
  ensure_sodium();
  Scalar t;
  reduce_narrow(tweak.data(), t.data());
  return t;
}

SecretScalar derive_signing_share(const SecretScalar& share, const Scalar& tweak) {
  ensure_sodium();
  SecretScalar out;
  crypto_core_ed25519_scalar_add(out.mutable_data(), share.data(), tweak.data());
  return out;
}

Result<Element> derive_public_key(const Element& group_key, const Scalar& tweak) {
  ensure_sodium();
  if (sodium_is_zero(tweak.data(), tweak.size()) == 1) return group_key;
  MPC_ASSIGN(Element tg, base_mult(tweak.data(), "tweak"));
  MPC_ASSIGN(Element derived, point_add(group_key, tg, "group key"));
  if (derived == kIdentity) return invalid("the tweak cancels the group key (derived key is the identity)");
  return derived;
}

Result<KeyPackage> key_package_from_keyshare(const model::Keyshare& keyshare) {
  if (keyshare.kind != model::CurveKind::kEd25519) {
    return invalid(std::string("keyshare is for ") + model::curve_name(keyshare.kind) + ", FROST signs with Ed25519");
  }
  auto share = SecretScalar::from_hex(keyshare.private_share.reveal());
  if (!share) return std::unexpected(share.error().context("keyshare private_share"));
  if (share->is_zero()) return invalid("keyshare private_share is zero");
  auto pk_bytes = core::hex_decode(keyshare.public_key);
  if (!pk_bytes) return std::unexpected(pk_bytes.error().context("keyshare public_key"));
  auto pk = deserialize_element(*pk_bytes);
  if (!pk) return std::unexpected(pk.error().context("keyshare public_key"));
  return make_key_package(std::move(*share), *pk);
}

Result<KeyPackage> make_key_package(SecretScalar share, const Element& group_key) {
  KeyPackage out;
  MPC_ASSIGN(out.verifying_share, public_element(share));
  out.share = std::move(share);
  out.group_key = group_key;
  return out;
}

// ---- round one ----

SecretScalar nonce_generate(NonceRandomness random_bytes, const SecretScalar& secret) {
  ensure_sodium();
  Sha512 h;
  h.update(kContextString).update("nonce").update(random_bytes).update(secret.view());
  Digest d;
  Wiper<Digest> wipe_d{d};
  h.final(d);
  SecretScalar out;
  reduce_wide(d, out.mutable_data());
  return out;
}

Result<CommitOutput> commit(const SecretScalar& share, NonceRandomness hiding_randomness,
                            NonceRandomness binding_randomness) {
  CommitOutput out;
  out.nonces.hiding = nonce_generate(hiding_randomness, share);
  out.nonces.binding = nonce_generate(binding_randomness, share);
  MPC_ASSIGN(out.hiding_commitment, base_mult(out.nonces.hiding.data(), "hiding nonce"));
  MPC_ASSIGN(out.binding_commitment, base_mult(out.nonces.binding.data(), "binding nonce"));
  return out;
}

// ---- round two ----

Status check_commitment_list(const CommitmentList& list) {
  if (list.empty()) return invalid("commitment list is empty");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].identifier == 0) return invalid("commitment list holds identifier 0");
    if (i > 0 && list[i].identifier <= list[i - 1].identifier) {
      return invalid("commitment list is not sorted by identifier without repeats (identifier " +
                     id_text(list[i].identifier) + " after " + id_text(list[i - 1].identifier) + ")");
    }
  }
  return {};
}

core::Bytes encode_group_commitment_list(const CommitmentList& list) {
  core::Bytes out;
  out.reserve(list.size() * (kScalarSize + 2 * kElementSize));
  for (const auto& c : list) {
    const Scalar id = identifier_scalar(c.identifier);
    out.insert(out.end(), id.begin(), id.end());
    out.insert(out.end(), c.hiding.begin(), c.hiding.end());
    out.insert(out.end(), c.binding.begin(), c.binding.end());
  }
  return out;
}

Result<std::vector<BindingFactor>> compute_binding_factors(const Element& group_public_key,
                                                           const CommitmentList& list, ByteView msg) {
  MPC_TRY(check_commitment_list(list));
  const auto msg_hash = h4(msg);
  const auto commitment_hash = h5(encode_group_commitment_list(list));
  // rho_input_prefix = SerializeElement(PK) || msg_hash || encoded_commitment_hash
  std::array<std::uint8_t, kElementSize + 64 + 64 + kScalarSize> rho_input{};
  auto it = std::copy(group_public_key.begin(), group_public_key.end(), rho_input.begin());
  it = std::copy(msg_hash.begin(), msg_hash.end(), it);
  it = std::copy(commitment_hash.begin(), commitment_hash.end(), it);
  std::vector<BindingFactor> out;
  out.reserve(list.size());
  for (const auto& c : list) {
    const Scalar id = identifier_scalar(c.identifier);
    std::copy(id.begin(), id.end(), it);
    out.push_back(BindingFactor{c.identifier, h1(rho_input)});
  }
  return out;
}

namespace {

// R = sum of D_i + rho_i·E_i; each term is appended to `shares` when given.
Result<Element> group_commitment_of(const CommitmentList& list, std::span<const BindingFactor> factors,
                                    std::vector<Element>* shares) {
  MPC_TRY(check_commitment_list(list));
  Element acc = kIdentity;
  for (const auto& c : list) {
    auto f = std::find_if(factors.begin(), factors.end(),
                          [&](const BindingFactor& b) { return b.identifier == c.identifier; });
    if (f == factors.end()) return invalid("no binding factor for identifier " + id_text(c.identifier));
    const std::string who = "commitment of identifier " + id_text(c.identifier);
    MPC_ASSIGN(Element binding_nonce, point_mult(f->factor, c.binding, "binding " + who));
    MPC_ASSIGN(Element share, point_add(c.hiding, binding_nonce, who));
    MPC_ASSIGN(acc, point_add(acc, share, who));
    if (shares != nullptr) shares->push_back(share);
  }
  if (acc == kIdentity) return invalid("group commitment is the identity");
  return acc;
}

}  // namespace

Result<Element> compute_group_commitment(const CommitmentList& list, std::span<const BindingFactor> factors) {
  return group_commitment_of(list, factors, nullptr);
}

Scalar compute_challenge(const Element& group_commitment, const Element& group_public_key, ByteView msg) {
  ensure_sodium();
  Sha512 h;
  h.update(group_commitment).update(group_public_key).update(msg);
  Digest d;
  h.final(d);
  Scalar out;
  reduce_wide(d, out.data());
  return out;
}

Result<Scalar> derive_interpolating_value(std::span<const Identifier> list, Identifier x_i) {
  ensure_sodium();
  if (std::find(list.begin(), list.end(), x_i) == list.end()) {
    return invalid("identifier " + id_text(x_i) + " is not in the participant list");
  }
  for (std::size_t a = 0; a < list.size(); ++a) {
    if (list[a] == 0) return invalid("participant list holds identifier 0");
    for (std::size_t b = a + 1; b < list.size(); ++b) {
      if (list[a] == list[b]) return invalid("participant list repeats identifier " + id_text(list[a]));
    }
  }
  Scalar numerator = scalar_one();
  Scalar denominator = scalar_one();
  const Scalar xi = identifier_scalar(x_i);
  for (Identifier x_j : list) {
    if (x_j == x_i) continue;
    const Scalar xj = identifier_scalar(x_j);
    numerator = scalar_mul(numerator, xj);
    Scalar diff;
    crypto_core_ed25519_scalar_sub(diff.data(), xj.data(), xi.data());
    denominator = scalar_mul(denominator, diff);
  }
  Scalar inverse;
  if (crypto_core_ed25519_scalar_invert(inverse.data(), denominator.data()) != 0) {
    return fail(ErrorCode::kInternal, "Lagrange denominator is zero");
  }
  return scalar_mul(numerator, inverse);
}

Result<SigningContext> prepare_signing(const Element& group_public_key, CommitmentList list, ByteView msg) {
  SigningContext ctx;
  MPC_ASSIGN(ctx.binding_factors, compute_binding_factors(group_public_key, list, msg));
  ctx.commitment_shares.reserve(list.size());
  MPC_ASSIGN(ctx.group_commitment, group_commitment_of(list, ctx.binding_factors, &ctx.commitment_shares));
  ctx.challenge = compute_challenge(ctx.group_commitment, group_public_key, msg);
  ctx.group_public_key = group_public_key;
  ctx.identifiers.reserve(list.size());
  for (const auto& c : list) ctx.identifiers.push_back(c.identifier);
  ctx.commitments = std::move(list);
  ctx.message.assign(msg.begin(), msg.end());
  return ctx;
}

Result<Scalar> sign(const SigningContext& ctx, Identifier identifier, const SecretScalar& share,
                    SigningNonces& nonces) {
  // Whatever happens, these nonces never sign again.
  SigningNonces used = std::move(nonces);
  if (used.hiding.is_zero() || used.binding.is_zero()) {
    return fail(ErrorCode::kFailedPrecondition, "signing nonces are empty (already used)");
  }
  const std::size_t i = index_of(ctx.commitments, identifier);
  if (i == ctx.commitments.size()) return invalid("identifier " + id_text(identifier) + " is not in the commitment list");
  MPC_ASSIGN(Scalar lambda, derive_interpolating_value(ctx.identifiers, identifier));
  const Scalar& rho = ctx.binding_factors[i].factor;

  // z = d + e·rho + lambda·s·c; every intermediate is secret.
  SecretScalar t1, t2, acc;
  crypto_core_ed25519_scalar_mul(t1.mutable_data(), used.binding.data(), rho.data());
  crypto_core_ed25519_scalar_add(acc.mutable_data(), used.hiding.data(), t1.data());
  crypto_core_ed25519_scalar_mul(t1.mutable_data(), lambda.data(), share.data());
  crypto_core_ed25519_scalar_mul(t2.mutable_data(), t1.data(), ctx.challenge.data());
  crypto_core_ed25519_scalar_add(t1.mutable_data(), acc.data(), t2.data());
  Scalar z;
  std::copy(t1.data(), t1.data() + kScalarSize, z.begin());
  return z;
}

Result<Scalar> sign(Identifier identifier, const SecretScalar& share, const Element& group_public_key,
                    SigningNonces& nonces, ByteView msg, const CommitmentList& list) {
  auto ctx = prepare_signing(group_public_key, list, msg);
  if (!ctx) {
    SigningNonces wipe = std::move(nonces);
    return std::unexpected(ctx.error());
  }
  return sign(*ctx, identifier, share, nonces);
}

Status verify_signature_share(const SigningContext& ctx, Identifier identifier, const Element& public_key_share,
                              const Scalar& signature_share) {
  const std::size_t i = index_of(ctx.commitments, identifier);
  if (i == ctx.commitments.size()) return invalid("identifier " + id_text(identifier) + " is not in the commitment list");
  const std::string who = "identifier " + id_text(identifier);
  MPC_ASSIGN(Scalar lambda, derive_interpolating_value(ctx.identifiers, identifier));
  const Element& comm_share = ctx.commitment_shares[i];
  const Scalar c_lambda = scalar_mul(ctx.challenge, lambda);
  auto bad = [&] { return fail(ErrorCode::kPermissionDenied, "signature share of " + who + " does not verify"); };
  auto pk_part = point_mult(c_lambda, public_key_share, "public key share of " + who);
  if (!pk_part) return std::unexpected(pk_part.error());
  MPC_ASSIGN(Element r, point_add(comm_share, *pk_part, "signature share check of " + who));
  Element l;
  if (crypto_scalarmult_ed25519_base_noclamp(l.data(), signature_share.data()) != 0) return bad();  // z = 0
  if (l != r) return bad();
  return {};
}

Status verify_signature_share(Identifier identifier, const Element& public_key_share, const Scalar& signature_share,
                              const CommitmentList& list, const Element& group_public_key, ByteView msg) {
  MPC_ASSIGN(SigningContext ctx, prepare_signing(group_public_key, list, msg));
  return verify_signature_share(ctx, identifier, public_key_share, signature_share);
}

Signature aggregate(const SigningContext& ctx, std::span<const Scalar> signature_shares) {
  ensure_sodium();
  Scalar z{};
  for (const auto& s : signature_shares) crypto_core_ed25519_scalar_add(z.data(), z.data(), s.data());
  Signature sig;
  std::copy(ctx.group_commitment.begin(), ctx.group_commitment.end(), sig.begin());
  std::copy(z.begin(), z.end(), sig.begin() + kElementSize);
  return sig;
}

Result<Signature> aggregate(const CommitmentList& list, ByteView msg, const Element& group_public_key,
                            std::span<const Scalar> signature_shares) {
  if (signature_shares.size() != list.size()) {
    return invalid("aggregate needs one signature share per commitment (" + std::to_string(list.size()) + "), got " +
                   std::to_string(signature_shares.size()));
  }
  MPC_ASSIGN(SigningContext ctx, prepare_signing(group_public_key, list, msg));
  return aggregate(ctx, signature_shares);
}

}  // namespace mpc::threshold
