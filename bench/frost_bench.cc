// One full FROST(Ed25519, SHA-512) signature in process (leader + signers,
// every message encoded and decoded, tweak applied, the aggregate verified),
// for 2-of-3 and 7-of-10, against the cost of the group operations it is
// made of. The group operations a signature performs are counted exactly:
// the binary is linked with -Wl,--wrap for the libsodium and OpenSSL entry
// points (see bench/CMakeLists.txt), so every call made by mpc_threshold and
// mpc_core goes through a counter here.
//
// Printed: time per signature, calls per signature by kind, the time of one
// call of each kind, what the counted calls add up to, and the ratio
// signature time / one variable-base scalar multiplication.
#include <openssl/evp.h>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "core/crypto.h"
#include "threshold/signing_session.h"
#include "support/threshold/frost_testing.h"

namespace {

struct Counts {
  long base = 0;      // crypto_scalarmult_ed25519_base_noclamp
  long var = 0;       // crypto_scalarmult_ed25519_noclamp
  long valid = 0;     // crypto_core_ed25519_is_valid_point (decoding an element)
  long add = 0;       // crypto_core_ed25519_add / _sub
  long verify = 0;    // EVP_DigestVerify (the final Ed25519 check)
};
Counts counts;

}  // namespace

extern "C" {
int __real_crypto_scalarmult_ed25519_base_noclamp(unsigned char* q, const unsigned char* n);
int __real_crypto_scalarmult_ed25519_noclamp(unsigned char* q, const unsigned char* n, const unsigned char* p);
int __real_crypto_core_ed25519_is_valid_point(const unsigned char* p);
int __real_crypto_core_ed25519_add(unsigned char* r, const unsigned char* p, const unsigned char* q);
int __real_crypto_core_ed25519_sub(unsigned char* r, const unsigned char* p, const unsigned char* q);
int __real_EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                            size_t tbslen);

int __wrap_crypto_scalarmult_ed25519_base_noclamp(unsigned char* q, const unsigned char* n) {
  ++counts.base;
  return __real_crypto_scalarmult_ed25519_base_noclamp(q, n);
}
int __wrap_crypto_scalarmult_ed25519_noclamp(unsigned char* q, const unsigned char* n, const unsigned char* p) {
  ++counts.var;
  return __real_crypto_scalarmult_ed25519_noclamp(q, n, p);
}
int __wrap_crypto_core_ed25519_is_valid_point(const unsigned char* p) {
  ++counts.valid;
  return __real_crypto_core_ed25519_is_valid_point(p);
}
int __wrap_crypto_core_ed25519_add(unsigned char* r, const unsigned char* p, const unsigned char* q) {
  ++counts.add;
  return __real_crypto_core_ed25519_add(r, p, q);
}
int __wrap_crypto_core_ed25519_sub(unsigned char* r, const unsigned char* p, const unsigned char* q) {
  ++counts.add;
  return __real_crypto_core_ed25519_sub(r, p, q);
}
int __wrap_EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                            size_t tbslen) {
  ++counts.verify;
  return __real_EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen);
}
}

namespace {

using namespace mpc::threshold;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "frost_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(mpc::core::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

// Mean seconds per call of f over at least `min_seconds`.
template <typename F>
double time_per_call(F&& f, double min_seconds = 0.3) {
  long n = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 16; ++i) f();
    n += 16;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  return elapsed / static_cast<double>(n);
}

using mpc::threshold::testing::Dealt;

Message wire(const Message& m) {
  return must(decode_message(must(encode_message(m), "encode")), "decode");
}

// One whole session: leader = the first signer; returns the signature.
mpc::core::Ed25519Signature sign_once(const Dealt& d, const std::vector<std::uint64_t>& set,
                                      const RandomSource& random) {
  SignRequest request;
  request.session = new_session_id(random);
  request.request_context.assign(64, 0x5a);
  request.message.assign(32, 0x42);
  random(request.tweak);
  request.signers = set;
  const std::uint64_t leader = set.front();

  Coordinator coordinator = must(Coordinator::create(leader, d.keys.at(leader), request), "coordinator");
  if (!coordinator.start(random)) die("start");
  const auto request_bytes = must(encode_message(coordinator.request()), "encode request");
  std::map<std::uint64_t, Signer> signers;
  for (std::uint64_t id : set) {
    if (id == leader) continue;
    auto received = std::get<SignRequest>(must(decode_message(request_bytes), "decode request"));
    signers.emplace(id, must(Signer::create(id, leader, d.keys.at(id), std::move(received)), "signer"));
  }
  std::optional<SigningPackage> package;
  for (auto& [id, signer] : signers) {
    auto step = must(coordinator.handle(id, wire(must(signer.commit(random), "commit"))), "commitment");
    if (step.broadcast) package = step.broadcast;
  }
  if (!package) die("no package");
  const auto package_bytes = must(encode_message(*package), "encode package");
  std::optional<mpc::core::Ed25519Signature> sig;
  for (auto& [id, signer] : signers) {
    const Message received = must(decode_message(package_bytes), "decode package");
    auto reply = must(signer.handle(leader, received), "share");
    auto step = must(coordinator.handle(id, wire(*reply)), "share in");
    if (step.signature) sig = step.signature;
  }
  if (!sig) die("no signature");
  return *sig;
}

struct Unit {
  double base, var, valid, add, verify;
};

Unit measure_units() {
  Scalar s;
  crypto_core_ed25519_scalar_random(s.data());
  Element p;
  __real_crypto_scalarmult_ed25519_base_noclamp(p.data(), s.data());
  Element out;
  Unit u{};
  u.base = time_per_call([&] { __real_crypto_scalarmult_ed25519_base_noclamp(out.data(), s.data()); });
  u.var = time_per_call([&] { __real_crypto_scalarmult_ed25519_noclamp(out.data(), s.data(), p.data()); });
  u.valid = time_per_call([&] { (void)__real_crypto_core_ed25519_is_valid_point(p.data()); });
  u.add = time_per_call([&] { __real_crypto_core_ed25519_add(out.data(), p.data(), p.data()); });
  auto key = mpc::core::Ed25519SecretKey::generate();
  const std::vector<std::uint8_t> msg(32, 0x42);
  const auto sig = key.sign(msg);
  u.verify = time_per_call([&] { (void)mpc::core::ed25519_verify(key.public_key(), msg, sig); });
  return u;
}

void run_case(std::size_t n, std::size_t t, const Unit& u) {
  // Shamir shares at x = id + 1 of a random key (as the devnet dealer deals).
  const Dealt d = must(mpc::threshold::testing::deal_first(n, t, os_random_source()), "deal");
  std::vector<std::uint64_t> set;
  for (std::size_t i = 0; i < t; ++i) set.push_back(i);
  const RandomSource random = os_random_source();

  counts = {};
  const auto sig = sign_once(d, set, random);
  const Counts c = counts;
  (void)sig;
  const double per_sig = time_per_call([&] { (void)sign_once(d, set, random); }, 1.0);

  const double counted =
      c.base * u.base + c.var * u.var + c.valid * u.valid + c.add * u.add + c.verify * u.verify;
  std::printf("== %zu-of-%zu (%zu signers, tweak, every message encoded and decoded)\n", t, n, t);
  std::printf("  one signature, all parties in process: %.3f ms (%.0f signatures/s on one core)\n", per_sig * 1e3,
              1.0 / per_sig);
  std::printf("  calls per signature: %ld base mults, %ld variable-base mults, %ld element decodings "
              "(is_valid_point), %ld point additions, %ld Ed25519 verification%s\n",
              c.base, c.var, c.valid, c.add, c.verify, c.verify == 1 ? "" : "s");
  std::printf("  counted calls x their unit cost: %.3f ms (%.0f%% of the signature)\n", counted * 1e3,
              100.0 * counted / per_sig);
  std::printf("  ratio signature / one variable-base mult: %.1f; / one base mult: %.1f\n", per_sig / u.var,
              per_sig / u.base);
}

}  // namespace

int main() {
  if (sodium_init() < 0) die("libsodium init failed");
  const Unit u = measure_units();
  std::printf("== unit costs (one core)\n");
  std::printf("  crypto_scalarmult_ed25519_base_noclamp: %.1f us\n", u.base * 1e6);
  std::printf("  crypto_scalarmult_ed25519_noclamp:      %.1f us (includes its input's subgroup check)\n",
              u.var * 1e6);
  std::printf("  crypto_core_ed25519_is_valid_point:     %.1f us\n", u.valid * 1e6);
  std::printf("  crypto_core_ed25519_add:                %.2f us\n", u.add * 1e6);
  std::printf("  Ed25519 verify (OpenSSL):               %.1f us\n", u.verify * 1e6);
  run_case(3, 2, u);
  run_case(10, 7, u);
  return 0;
}
