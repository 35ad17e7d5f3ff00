// Test-only (and bench, fuzz seeds): what FROST tests need around
// mpc_threshold — key packages dealt from a random polynomial, randomness
// reproducible from a printed seed, and an Ed25519 verification that owes
// nothing to this project's code. Never linked by production code
// (cmake/Headers.cmake). Library: mpc_threshold_testing (tests/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "threshold/frost.h"
#include "threshold/signing_session.h"

namespace mpc::threshold::testing {

// Deterministic randomness: fill() returns libsodium's
// randombytes_buf_deterministic keyed by (seed, number of the call), so a
// run is reproduced from its seed. Not thread-safe; must outlive source().
class TestRandom {
 public:
  explicit TestRandom(std::uint64_t seed) : seed_(seed) {}
  void fill(std::span<std::uint8_t> out);
  // A RandomSource drawing from this object.
  RandomSource source();

 private:
  std::uint64_t seed_;
  std::uint64_t counter_ = 0;
};

// The run's seed: MPC_TEST_SEED when set (decimal), otherwise random;
// printed to stdout once ("seed N (MPC_TEST_SEED reproduces)").
std::uint64_t test_seed();

// A uniform scalar: 64 bytes from `random` (two calls) reduced mod L.
Scalar random_scalar(const RandomSource& random);

// A trusted dealer as src/devnet/dealer.cc deals: f of degree threshold-1
// whose coefficients are random_scalar(random); participant id holds
// f(id + 1) and the group key is f(0)·G. The coefficients and shares are
// wiped once dealt.
struct Dealt {
  Element group_key{};
  std::map<std::uint64_t, KeyPackage> keys;
};
// REQUIRES: ids distinct. Errors (kInvalidArgument) on a threshold outside
// 1..ids.size() or a zero secret; a share make_key_package refuses passes
// its error on.
core::Result<Dealt> deal(const std::vector<std::uint64_t>& ids, std::size_t threshold, const RandomSource& random);
// deal() to participants 0..n-1.
core::Result<Dealt> deal_first(std::size_t n, std::size_t threshold, const RandomSource& random);

// Ed25519 verification by OpenSSL directly (EVP_DigestVerify), independent
// of mpc_threshold and of core's Ed25519; false on any failure.
bool openssl_verify(const Element& key, core::ByteView message, core::ByteView signature);

}  // namespace mpc::threshold::testing
