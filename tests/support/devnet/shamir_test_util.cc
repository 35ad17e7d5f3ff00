#include "support/devnet/shamir_test_util.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <array>
#include <memory>

#include "core/bytes.h"
#include "core/openssl_ptr.h"

namespace mpc::devnet::testing {

using model::CurveKind;
using core::ErrorCode;
using core::fail;
using core::Result;

namespace {

using Bn = core::SecretBnPtr;

using Scalar = std::array<unsigned char, 32>;

Result<Scalar> scalar_from_hex(const std::string& hex) {
  auto bytes = core::hex_decode(hex);
  if (!bytes || bytes->size() != 32) return core::invalid("a scalar must be 64 hex characters");
  Scalar s{};
  std::copy(bytes->begin(), bytes->end(), s.begin());
  return s;
}

Scalar scalar_from_id(std::uint64_t id) {  // id + 1, little-endian
  Scalar x{};
  std::uint64_t lo = id + 1;
  for (int b = 0; b < 8; ++b) x[b] = static_cast<unsigned char>(lo >> (8 * b));
  if (lo == 0) x[8] = 1;
  return x;
}

Result<core::SecretString> reconstruct_ed25519(const std::vector<std::pair<std::uint64_t, const model::Keyshare*>>& shares) {
  Scalar secret{};
  for (std::size_t i = 0; i < shares.size(); ++i) {
    Scalar xi = scalar_from_id(shares[i].first);
    Scalar num{}, den{};
    num[0] = 1;
    den[0] = 1;
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      Scalar xj = scalar_from_id(shares[j].first), diff{}, t{};
      crypto_core_ed25519_scalar_mul(t.data(), num.data(), xj.data());
      num = t;
      crypto_core_ed25519_scalar_sub(diff.data(), xj.data(), xi.data());
      crypto_core_ed25519_scalar_mul(t.data(), den.data(), diff.data());
      den = t;
    }
    Scalar inv{}, lambda{}, term{}, sum{};
    if (crypto_core_ed25519_scalar_invert(inv.data(), den.data()) != 0) return fail(ErrorCode::kInvalidArgument, "repeated participant");
    crypto_core_ed25519_scalar_mul(lambda.data(), num.data(), inv.data());
    MPC_ASSIGN(Scalar yi, scalar_from_hex(shares[i].second->private_share.reveal()));
    crypto_core_ed25519_scalar_mul(term.data(), lambda.data(), yi.data());
    crypto_core_ed25519_scalar_add(sum.data(), secret.data(), term.data());
    secret = sum;
  }
  return core::SecretString(core::hex_encode(secret));
}

Result<core::SecretString> reconstruct_secp256k1(const std::vector<std::pair<std::uint64_t, const model::Keyshare*>>& shares) {
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_new());
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  Bn secret(BN_new()), num(BN_new()), den(BN_new()), xi(BN_new()), xj(BN_new()), diff(BN_new()), yi(BN_new()), t(BN_new());
  BN_zero(secret.get());
  for (std::size_t i = 0; i < shares.size(); ++i) {
    BN_set_word(xi.get(), shares[i].first);
    BN_add_word(xi.get(), 1);
    BN_one(num.get());
    BN_one(den.get());
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      BN_set_word(xj.get(), shares[j].first);
      BN_add_word(xj.get(), 1);
      BN_mod_mul(num.get(), num.get(), xj.get(), n, ctx.get());
      BN_mod_sub(diff.get(), xj.get(), xi.get(), n, ctx.get());
      BN_mod_mul(den.get(), den.get(), diff.get(), n, ctx.get());
    }
    if (BN_mod_inverse(den.get(), den.get(), n, ctx.get()) == nullptr) return fail(ErrorCode::kInvalidArgument, "repeated participant");
    auto y = core::hex_decode(shares[i].second->private_share.reveal());
    if (!y || y->size() != 32) return core::invalid("a share must be 64 hex characters");
    BN_bin2bn(y->data(), 32, yi.get());
    BN_mod_mul(t.get(), num.get(), den.get(), n, ctx.get());
    BN_mod_mul(t.get(), t.get(), yi.get(), n, ctx.get());
    BN_mod_add(secret.get(), secret.get(), t.get(), n, ctx.get());
  }
  std::array<std::uint8_t, 32> out{};
  BN_bn2binpad(secret.get(), out.data(), 32);
  return core::SecretString(core::hex_encode(out));
}

}  // namespace

Result<core::SecretString> reconstruct_secret(CurveKind kind,
                                              const std::vector<std::pair<std::uint64_t, const model::Keyshare*>>& shares) {
  if (sodium_init() < 0) return fail(ErrorCode::kInternal, "libsodium failed to initialise");
  if (shares.empty()) return core::invalid("no shares");
  if (kind == CurveKind::kEd25519) return reconstruct_ed25519(shares);
  if (kind == CurveKind::kSecp256k1) return reconstruct_secp256k1(shares);
  return core::invalid("unsupported curve");
}

Result<std::string> public_key_hex_of(CurveKind kind, const std::string& secret_hex) {
  if (sodium_init() < 0) return fail(ErrorCode::kInternal, "libsodium failed to initialise");
  MPC_ASSIGN(Scalar s, scalar_from_hex(secret_hex));
  if (kind == CurveKind::kEd25519) {
    std::array<unsigned char, 32> pk{};
    if (crypto_scalarmult_ed25519_base_noclamp(pk.data(), s.data()) != 0) return core::invalid("zero scalar");
    return core::hex_encode(pk);
  }
  if (kind == CurveKind::kSecp256k1) {
    core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
    core::BnCtxPtr ctx(BN_CTX_new());
    core::EcPointPtr p(EC_POINT_new(group.get()));
    Bn k(BN_bin2bn(s.data(), 32, nullptr));
    std::array<std::uint8_t, 33> out{};
    if (EC_POINT_mul(group.get(), p.get(), k.get(), nullptr, nullptr, ctx.get()) != 1 ||
        EC_POINT_point2oct(group.get(), p.get(), POINT_CONVERSION_COMPRESSED, out.data(), out.size(), ctx.get()) != 33) {
      return core::invalid("not a valid secp256k1 secret");
    }
    return core::hex_encode(out);
  }
  return core::invalid("unsupported curve");
}

}  // namespace mpc::devnet::testing
