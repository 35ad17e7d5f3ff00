#include "support/threshold/frost_testing.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "core/openssl_ptr.h"

namespace mpc::threshold::testing {

void TestRandom::fill(std::span<std::uint8_t> out) {
  std::array<std::uint8_t, randombytes_SEEDBYTES> key{};
  for (int i = 0; i < 8; ++i) {
    key[i] = static_cast<std::uint8_t>(seed_ >> (8 * i));
    key[8 + i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
  }
  ++counter_;
  randombytes_buf_deterministic(out.data(), out.size(), key.data());
}

RandomSource TestRandom::source() {
  return [this](std::span<std::uint8_t, 32> out) { fill(out); };
}

std::uint64_t test_seed() {
  static const std::uint64_t seed = [] {
    std::uint64_t s = std::random_device{}();
    if (const char* env = std::getenv("MPC_TEST_SEED")) s = std::strtoull(env, nullptr, 10);
    std::cout << "seed " << s << " (MPC_TEST_SEED reproduces)\n";
    return s;
  }();
  return seed;
}

Scalar random_scalar(const RandomSource& random) {
  std::array<std::uint8_t, 64> wide{};
  random(std::span<std::uint8_t, 32>(wide.data(), 32));
  random(std::span<std::uint8_t, 32>(wide.data() + 32, 32));
  Scalar s;
  crypto_core_ed25519_scalar_reduce(s.data(), wide.data());
  sodium_memzero(wide.data(), wide.size());
  return s;
}

core::Result<Dealt> deal(const std::vector<std::uint64_t>& ids, std::size_t threshold, const RandomSource& random) {
  if (threshold < 1 || threshold > ids.size()) {
    return core::invalid("deal: threshold " + std::to_string(threshold) + " out of range for " +
                         std::to_string(ids.size()) + " participants");
  }
  std::vector<Scalar> coeffs(threshold);
  struct Wipe {
    std::vector<Scalar>& c;
    ~Wipe() { sodium_memzero(c.data(), c.size() * sizeof(Scalar)); }
  } wipe{coeffs};
  for (auto& c : coeffs) c = random_scalar(random);
  Dealt d;
  if (crypto_scalarmult_ed25519_base_noclamp(d.group_key.data(), coeffs[0].data()) != 0) {
    return core::invalid("deal: the drawn secret is zero");
  }
  for (std::uint64_t id : ids) {
    const Scalar x = identifier_scalar(id + 1);
    Scalar acc = coeffs[threshold - 1];
    for (std::size_t i = threshold - 1; i-- > 0;) {
      Scalar tmp;
      crypto_core_ed25519_scalar_mul(tmp.data(), acc.data(), x.data());
      crypto_core_ed25519_scalar_add(acc.data(), tmp.data(), coeffs[i].data());
      sodium_memzero(tmp.data(), tmp.size());
    }
    auto share = SecretScalar::from_bytes(acc);
    sodium_memzero(acc.data(), acc.size());
    if (!share) return std::unexpected(share.error().context("deal: share of participant " + std::to_string(id)));
    auto key = make_key_package(std::move(*share), d.group_key);
    if (!key) return std::unexpected(key.error().context("deal: key package of participant " + std::to_string(id)));
    d.keys.emplace(id, std::move(*key));
  }
  return d;
}

core::Result<Dealt> deal_first(std::size_t n, std::size_t threshold, const RandomSource& random) {
  std::vector<std::uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  return deal(ids, threshold, random);
}

bool openssl_verify(const Element& key, core::ByteView message, core::ByteView signature) {
  core::EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  if (!pkey) return false;
  core::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

}  // namespace mpc::threshold::testing
