// Threshold ECDSA on secp256k1 (threshold/ecdsa_presign.h, ecdsa_sign.h: the
// reference's DamgardEtAl) against the cost of the curve operations it is
// made of, for 3 nodes (T = 2) and 7 nodes (T = 4): the presigning and
// signing set is always 2T - 1 participants, here every node.
//
// Section "in process" (the only one so far): all parties on one thread,
// every message an encoded payload passed by memory to its recipient. Times
// are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so the figures are
// CPU cost on one core, not inflated by other processes on the machine.
//   presigning   whole sessions of the 2T - 1 set (every party's session
//                created, its polynomials drawn, all rounds, outputs taken)
//                for at least --seconds of CPU and --min-sessions sessions:
//                presignatures/s (sessions/s) and CPU per party per
//                presignature;
//   signing      --signings signings (at least one per presignature set
//                made; copies of those sets, round robin, see run_case):
//                the non-coordinators' ecdsa_sign_share, the coordinator's
//                create, combine and OpenSSL verification; signatures/s and
//                the CPU time of one signing (all parties in turn), p50/p99
//                over the runs.
// Beside them, measured in the same run on the same core: curve.h's
// secp256k1 base_mul and variable-point mul (OpenSSL), OpenSSL's own ECDSA
// sign and verify on secp256k1 (EVP_PKEY, key and context prepared, a
// 32-byte digest), and the ratios of the protocol to them.
//
// The OpenSSL calls the protocol makes are counted exactly: the binary is
// linked with -Wl,--wrap for EC_POINT_mul (base / variable point, told
// apart by its arguments), EC_POINT_add, EC_POINT_oct2point (point decoding,
// a square root for a compressed point), EC_POINT_point2oct (encoding),
// BN_mod_mul, BN_mod_inverse and EVP_PKEY_verify (see bench/CMakeLists.txt),
// so every call mpc_threshold makes goes through a counter here (calls
// inside libcrypto, e.g. the EC multiplications of an ECDSA verification,
// are not: they are the one verification counted). Printed: calls per party
// per presignature, per signer share and per coordinator, and what they
// add up to at their unit cost.
//
// The section over real nodes (presignatures/s and sign latency through the
// contract on 3- and 7-node devnets) is to come once the nodes run ECDSA;
// it will be a second section after this one, with its own summary table.
//
//   ecdsa_bench [--seconds S] [--min-sessions N] [--signings N]   (defaults 0.5, 8, 100)
// Randomness is reproducible: seed printed, MPC_TEST_SEED sets it.
// Figures only, no thresholds; exits non-zero if any session or signature
// fails.
#include <CLI/CLI.hpp>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cpu_time.h"
#include "core/key_derivation.h"
#include "core/openssl_ptr.h"
#include "support/threshold/frost_testing.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/ecdsa_sign.h"

// ---- OpenSSL call counting (-Wl,--wrap; see bench/CMakeLists.txt). Only the
// protocol runs while `counting` is set, on the main thread; unit costs are
// measured through the __real_ functions.
namespace {
struct Counts {
  long base = 0;     // EC_POINT_mul(n, nullptr, nullptr): n·G
  long var = 0;      // EC_POINT_mul(nullptr, q, m): m·Q
  long both = 0;     // EC_POINT_mul(n, q, m): n·G + m·Q (not expected)
  long add = 0;      // EC_POINT_add
  long decode = 0;   // EC_POINT_oct2point
  long encode = 0;   // EC_POINT_point2oct
  long bn_mul = 0;   // BN_mod_mul (scalar multiplication mod n)
  long bn_inv = 0;   // BN_mod_inverse
  long verify = 0;   // EVP_PKEY_verify (the coordinator's ECDSA verification)

  Counts operator-(const Counts& o) const {
    return {base - o.base,     var - o.var,       both - o.both,     add - o.add,        decode - o.decode,
            encode - o.encode, bn_mul - o.bn_mul, bn_inv - o.bn_inv, verify - o.verify};
  }
  Counts& operator+=(const Counts& o) {
    base += o.base;
    var += o.var;
    both += o.both;
    add += o.add;
    decode += o.decode;
    encode += o.encode;
    bn_mul += o.bn_mul;
    bn_inv += o.bn_inv;
    verify += o.verify;
    return *this;
  }
};
bool counting = false;
Counts counts;
void count(long Counts::*what) {
  if (counting) ++(counts.*what);
}
}  // namespace

extern "C" {
int __real_EC_POINT_mul(const EC_GROUP* group, EC_POINT* r, const BIGNUM* n, const EC_POINT* q, const BIGNUM* m,
                        BN_CTX* ctx);
int __real_EC_POINT_add(const EC_GROUP* group, EC_POINT* r, const EC_POINT* a, const EC_POINT* b, BN_CTX* ctx);
int __real_EC_POINT_oct2point(const EC_GROUP* group, EC_POINT* p, const unsigned char* buf, size_t len, BN_CTX* ctx);
size_t __real_EC_POINT_point2oct(const EC_GROUP* group, const EC_POINT* p, point_conversion_form_t form,
                                 unsigned char* buf, size_t len, BN_CTX* ctx);
int __real_BN_mod_mul(BIGNUM* r, const BIGNUM* a, const BIGNUM* b, const BIGNUM* m, BN_CTX* ctx);
BIGNUM* __real_BN_mod_inverse(BIGNUM* r, const BIGNUM* a, const BIGNUM* n, BN_CTX* ctx);
int __real_EVP_PKEY_verify(EVP_PKEY_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                           size_t tbslen);

int __wrap_EC_POINT_mul(const EC_GROUP* group, EC_POINT* r, const BIGNUM* n, const EC_POINT* q, const BIGNUM* m,
                        BN_CTX* ctx) {
  count(n != nullptr && q != nullptr ? &Counts::both : n != nullptr ? &Counts::base : &Counts::var);
  return __real_EC_POINT_mul(group, r, n, q, m, ctx);
}
int __wrap_EC_POINT_add(const EC_GROUP* group, EC_POINT* r, const EC_POINT* a, const EC_POINT* b, BN_CTX* ctx) {
  count(&Counts::add);
  return __real_EC_POINT_add(group, r, a, b, ctx);
}
int __wrap_EC_POINT_oct2point(const EC_GROUP* group, EC_POINT* p, const unsigned char* buf, size_t len, BN_CTX* ctx) {
  count(&Counts::decode);
  return __real_EC_POINT_oct2point(group, p, buf, len, ctx);
}
size_t __wrap_EC_POINT_point2oct(const EC_GROUP* group, const EC_POINT* p, point_conversion_form_t form,
                                 unsigned char* buf, size_t len, BN_CTX* ctx) {
  count(&Counts::encode);
  return __real_EC_POINT_point2oct(group, p, form, buf, len, ctx);
}
int __wrap_BN_mod_mul(BIGNUM* r, const BIGNUM* a, const BIGNUM* b, const BIGNUM* m, BN_CTX* ctx) {
  count(&Counts::bn_mul);
  return __real_BN_mod_mul(r, a, b, m, ctx);
}
BIGNUM* __wrap_BN_mod_inverse(BIGNUM* r, const BIGNUM* a, const BIGNUM* n, BN_CTX* ctx) {
  count(&Counts::bn_inv);
  return __real_BN_mod_inverse(r, a, n, ctx);
}
int __wrap_EVP_PKEY_verify(EVP_PKEY_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                           size_t tbslen) {
  count(&Counts::verify);
  return __real_EVP_PKEY_verify(ctx, sig, siglen, tbs, tbslen);
}
}

namespace {

using namespace mpc;
using namespace mpc::threshold;


[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ecdsa_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(core::Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}

void check(bool ok, const char* what) {
  if (!ok) die(std::string(what) + " failed in OpenSSL");
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// CPU seconds per call of f: the median of 5 blocks' means, each block at
// least `min_seconds` / 5 (a median, as the protocol's figures below, so
// that the ratios compare like with like on a busy machine).
template <typename F>
double time_per_call(F&& f, double min_seconds) {
  std::vector<double> blocks;
  for (int b = 0; b < 5; ++b) {
    long n = 0;
    const double start = bench::thread_cpu_seconds();
    double elapsed = 0;
    do {
      for (int i = 0; i < 4; ++i) f();
      n += 4;
      elapsed = bench::thread_cpu_seconds() - start;
    } while (elapsed < min_seconds / 5);
    blocks.push_back(elapsed / static_cast<double>(n));
  }
  return percentile(blocks, 0.5);
}

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

CurveScalar random_scalar(testing::TestRandom& rng) {
  std::array<std::uint8_t, 64> wide;
  rng.fill(wide);
  return secp().reduce_wide(wide);
}

// ---- unit costs (seconds per call) ----

struct Units {
  // curve.h, as the protocol calls it (scalars and points in their encodings).
  double base_mul, mul, point_add, decode_point, scalar_mul, invert;
  // OpenSSL's ECDSA on secp256k1, key and context prepared.
  double ecdsa_sign, ecdsa_verify;
  // threshold::ecdsa_verify: key import from its encoding, DER, verify.
  double lib_verify;
  // The raw calls counted (as curve.cc makes them: constant-time secret
  // BIGNUMs; a context kept across calls here).
  double raw_base, raw_var, raw_add, raw_decode, raw_encode, raw_bn_mul, raw_bn_inv, raw_verify;
};

Units measure_units(testing::TestRandom& rng, double min_seconds) {
  const Curve& c = secp();
  Units u{};
  const CurveScalar s = random_scalar(rng), s2 = random_scalar(rng);
  const CurvePoint p = c.base_mul(random_scalar(rng)), q = c.base_mul(random_scalar(rng));
  u.base_mul = time_per_call([&] { (void)c.base_mul(s); }, min_seconds);
  u.mul = time_per_call([&] { (void)c.mul(s, p); }, min_seconds);
  u.point_add = time_per_call([&] { (void)c.add(p, q); }, min_seconds);
  u.decode_point = time_per_call([&] { (void)c.decode_point(p); }, min_seconds);
  u.scalar_mul = time_per_call([&] { (void)c.mul(s, s2); }, min_seconds);
  u.invert = time_per_call([&] { (void)c.invert(s); }, min_seconds);

  // OpenSSL ECDSA on secp256k1.
  core::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1"));
  check(key != nullptr, "secp256k1 key generation");
  std::array<std::uint8_t, 32> digest;
  rng.fill(digest);
  std::unique_ptr<EVP_PKEY_CTX, core::OpensslFree<EVP_PKEY_CTX_free>> sctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  check(sctx && EVP_PKEY_sign_init(sctx.get()) == 1, "EVP_PKEY_sign_init");
  std::array<std::uint8_t, 80> der;
  std::size_t der_len = der.size();
  u.ecdsa_sign = time_per_call(
      [&] {
        der_len = der.size();
        check(EVP_PKEY_sign(sctx.get(), der.data(), &der_len, digest.data(), digest.size()) == 1, "EVP_PKEY_sign");
      },
      min_seconds);
  std::unique_ptr<EVP_PKEY_CTX, core::OpensslFree<EVP_PKEY_CTX_free>> vctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  check(vctx && EVP_PKEY_verify_init(vctx.get()) == 1, "EVP_PKEY_verify_init");
  u.ecdsa_verify = time_per_call(
      [&] {
        check(__real_EVP_PKEY_verify(vctx.get(), der.data(), der_len, digest.data(), digest.size()) == 1,
              "EVP_PKEY_verify");
      },
      min_seconds);
  u.raw_verify = u.ecdsa_verify;

  // threshold::ecdsa_verify on a signature of the same kind (r, s as 32 bytes).
  {
    const unsigned char* in = der.data();
    std::unique_ptr<ECDSA_SIG, core::OpensslFree<ECDSA_SIG_free>> sig(
        d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der_len)));
    check(sig != nullptr, "d2i_ECDSA_SIG");
    std::array<std::uint8_t, 32> r{}, sv{};
    check(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), r.data(), 32) == 32 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), sv.data(), 32) == 32,
          "BN_bn2binpad");
    // The key's public point (uncompressed) in curve.h's compressed form.
    std::array<std::uint8_t, 65> pub{};
    std::size_t pub_len = 0;
    check(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &pub_len) == 1,
          "the public key");
    core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
    core::EcPointPtr pt(group ? EC_POINT_new(group.get()) : nullptr);
    CurvePoint pub_point(33);
    check(pt && __real_EC_POINT_oct2point(group.get(), pt.get(), pub.data(), pub_len, nullptr) == 1 &&
              __real_EC_POINT_point2oct(group.get(), pt.get(), POINT_CONVERSION_COMPRESSED, pub_point.data(),
                                        pub_point.size(), nullptr) == pub_point.size(),
          "compressing the public key");
    if (!ecdsa_verify(pub_point, digest, r, sv)) die("threshold::ecdsa_verify refused an OpenSSL signature");
    u.lib_verify = time_per_call([&] { (void)ecdsa_verify(pub_point, digest, r, sv); }, min_seconds);
  }

  // Raw calls, as curve.cc makes them.
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_secure_new());
  check(group && ctx, "EC_GROUP / BN_CTX");
  auto secret_bn = [&](const CurveScalar& v) {
    core::SecretBnPtr b(BN_secure_new());
    check(b != nullptr, "BN_secure_new");
    BN_set_flags(b.get(), BN_FLG_CONSTTIME);
    check(BN_bin2bn(v.data(), 32, b.get()) != nullptr, "BN_bin2bn");
    return b;
  };
  auto point = [&](const CurvePoint& enc) {
    core::EcPointPtr pt(EC_POINT_new(group.get()));
    check(pt && __real_EC_POINT_oct2point(group.get(), pt.get(), enc.data(), enc.size(), ctx.get()) == 1,
          "EC_POINT_oct2point");
    return pt;
  };
  const auto k = secret_bn(s), k2 = secret_bn(s2);
  const auto pp = point(p), pq = point(q);
  core::EcPointPtr out(EC_POINT_new(group.get()));
  core::SecretBnPtr bn_out(BN_secure_new());
  check(out && bn_out, "EC_POINT_new / BN_secure_new");
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  u.raw_base = time_per_call(
      [&] { check(__real_EC_POINT_mul(group.get(), out.get(), k.get(), nullptr, nullptr, ctx.get()) == 1, "mul"); },
      min_seconds);
  u.raw_var = time_per_call(
      [&] { check(__real_EC_POINT_mul(group.get(), out.get(), nullptr, pp.get(), k.get(), ctx.get()) == 1, "mul"); },
      min_seconds);
  u.raw_add = time_per_call(
      [&] { check(__real_EC_POINT_add(group.get(), out.get(), pp.get(), pq.get(), ctx.get()) == 1, "add"); },
      min_seconds);
  u.raw_decode = time_per_call(
      [&] {
        check(__real_EC_POINT_oct2point(group.get(), out.get(), p.data(), p.size(), ctx.get()) == 1, "oct2point");
      },
      min_seconds);
  // Encoding a multiplication's result, as curve.cc encodes every result.
  check(__real_EC_POINT_mul(group.get(), out.get(), nullptr, pp.get(), k.get(), ctx.get()) == 1, "mul");
  std::array<std::uint8_t, 33> enc;
  u.raw_encode = time_per_call(
      [&] {
        check(__real_EC_POINT_point2oct(group.get(), out.get(), POINT_CONVERSION_COMPRESSED, enc.data(), enc.size(),
                                        ctx.get()) == enc.size(),
              "point2oct");
      },
      min_seconds);
  u.raw_bn_mul = time_per_call(
      [&] { check(__real_BN_mod_mul(bn_out.get(), k.get(), k2.get(), order, ctx.get()) == 1, "BN_mod_mul"); },
      min_seconds);
  u.raw_bn_inv = time_per_call(
      [&] { check(__real_BN_mod_inverse(bn_out.get(), k.get(), order, ctx.get()) != nullptr, "BN_mod_inverse"); },
      min_seconds);
  return u;
}

// What `c` calls cost at their unit cost (seconds).
double counted_cost(const Counts& c, const Units& u, double per) {
  return (static_cast<double>(c.base) * u.raw_base + static_cast<double>(c.var + c.both) * u.raw_var +
          static_cast<double>(c.add) * u.raw_add + static_cast<double>(c.decode) * u.raw_decode +
          static_cast<double>(c.encode) * u.raw_encode + static_cast<double>(c.bn_mul) * u.raw_bn_mul +
          static_cast<double>(c.bn_inv) * u.raw_bn_inv + static_cast<double>(c.verify) * u.raw_verify) /
         per;
}

std::string describe(const Counts& c, double per) {
  char buf[512];
  auto f = [per](long v) { return static_cast<double>(v) / per; };
  std::snprintf(buf, sizeof buf,
                "%.1f base mults, %.1f variable-point mults%s, %.1f point additions, %.1f point decodings, "
                "%.1f encodings, %.1f BN_mod_mul, %.1f BN_mod_inverse, %.1f ECDSA verifications",
                f(c.base), f(c.var), c.both != 0 ? " (+ combined base+variable ones)" : "", f(c.add), f(c.decode),
                f(c.encode), f(c.bn_mul), f(c.bn_inv), f(c.verify));
  return buf;
}

// ---- the protocol in process ----

struct Dealt {
  CurvePoint group_key;
  std::map<std::uint64_t, CurveScalar> shares;
};

// A trusted dealer: f of degree threshold - 1, participant id holds f(id + 1).
Dealt deal(const std::vector<std::uint64_t>& ids, std::uint64_t threshold, testing::TestRandom& rng) {
  const Curve& c = secp();
  std::vector<CurveScalar> f;
  for (std::uint64_t i = 0; i < threshold; ++i) f.push_back(random_scalar(rng));
  Dealt d;
  d.group_key = c.base_mul(f[0]);
  for (std::uint64_t id : ids) {
    const CurveScalar x = c.participant_x(id);
    CurveScalar acc;
    for (auto it = f.rbegin(); it != f.rend(); ++it) acc = c.add(c.mul(acc, x), *it);
    d.shares[id] = acc;
  }
  return d;
}

struct Envelope {
  std::uint64_t from, to;
  core::Bytes payload;
};

// One whole presigning session among `ids`: every party's presignature.
std::map<std::uint64_t, Presignature> presign_once(const Dealt& dealt, const std::vector<std::uint64_t>& ids,
                                                   std::uint64_t threshold, testing::TestRandom& rng) {
  const RandomSource random = rng.source();
  SessionId session;
  rng.fill(session);
  std::map<std::uint64_t, PresignSession> sessions;
  for (std::uint64_t id : ids) {
    PresignSetup setup;
    setup.session = session;
    setup.self = id;
    setup.participants = ids;
    setup.threshold = threshold;
    setup.key_share = core::SecretBytes(dealt.shares.at(id).view());
    sessions.emplace(id, must(PresignSession::create(std::move(setup), random), "presign setup"));
  }
  std::deque<Envelope> queue;
  auto post = [&](std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      if (o.to) {
        queue.push_back({from, *o.to, std::move(o.payload)});
        continue;
      }
      for (std::uint64_t to : ids) {
        if (to != from) queue.push_back({from, to, o.payload});
      }
    }
  };
  for (auto& [id, s] : sessions) post(id, s.start());
  while (!queue.empty()) {
    Envelope e = std::move(queue.front());
    queue.pop_front();
    auto out = must(sessions.at(e.to).on_message(e.from, e.payload), "presign message");
    core::secure_wipe(e.payload.data(), e.payload.size());
    post(e.to, std::move(out));
  }
  std::map<std::uint64_t, Presignature> result;
  for (auto& [id, s] : sessions) {
    if (!s.done()) die("presigning: participant " + std::to_string(id) + " did not finish: " +
                       s.failure().value_or("(no failure)"));
    auto p = s.take_output();
    if (!p) die("presigning: no output");
    result.emplace(id, std::move(*p));
  }
  return result;
}

struct CaseFigures {
  std::size_t nodes = 0, threshold = 0, set = 0;
  // presigning
  long sessions = 0;
  double presign_cpu = 0;   // CPU seconds, all sessions
  std::vector<double> session_cpu;  // CPU seconds of each session
  double presign_wall = 0;  // wall seconds, all sessions (for reference)
  Counts presign_counts;    // over all sessions
  // signing
  std::vector<double> sign_latency;  // CPU seconds, one whole signing
  std::vector<double> share_time;    // one non-coordinator's ecdsa_sign_share
  std::vector<double> coord_time;    // the coordinator's create + combine + verify
  Counts share_counts, coord_counts;
};

// Presigning for at least `seconds` of CPU and `min_sessions` sessions, then
// `signings` signings (at least one per presignature made). A signing takes
// a copy of a presignature set made here, round robin: with the dealt
// throw-away key of this benchmark the reuse costs nothing, and a signing's
// work does not depend on whether its presignature was used before. Never
// do that with a real key: two signatures from one presignature reveal it.
CaseFigures run_case(std::size_t nodes, std::size_t threshold, double seconds, long min_sessions, long signings,
                     testing::TestRandom& rng) {
  CaseFigures f;
  f.nodes = nodes;
  f.threshold = threshold;
  f.set = ecdsa_signer_count(threshold);
  std::vector<std::uint64_t> all;
  for (std::uint64_t i = 0; i < nodes; ++i) all.push_back(i);
  const Dealt dealt = deal(all, threshold, rng);
  const std::vector<std::uint64_t> set(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(f.set));

  (void)presign_once(dealt, set, threshold, rng);  // warm-up (first-use allocations)

  // Presigning.
  std::vector<std::map<std::uint64_t, Presignature>> made;
  counts = {};
  counting = true;
  const auto wall_start = std::chrono::steady_clock::now();
  const double start = bench::thread_cpu_seconds();
  do {
    const double t = bench::thread_cpu_seconds();
    made.push_back(presign_once(dealt, set, threshold, rng));
    f.session_cpu.push_back(bench::thread_cpu_seconds() - t);
  } while (static_cast<long>(made.size()) < min_sessions || bench::thread_cpu_seconds() - start < seconds);
  f.presign_cpu = bench::thread_cpu_seconds() - start;
  f.presign_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  counting = false;
  f.sessions = static_cast<long>(made.size());
  f.presign_counts = counts;

  // Signing, coordinator = the set's first.
  const core::Tweak tweak = core::derive_tweak("alice.near", "ethereum-1");
  const std::uint64_t coordinator = set.front();
  const long runs = std::max(signings, f.sessions);
  for (long i = 0; i < runs; ++i) {
    std::map<std::uint64_t, Presignature> presignatures = made[static_cast<std::size_t>(i % f.sessions)];
    EcdsaSignRequest request;
    rng.fill(request.session);
    rng.fill(request.msg_hash);
    request.tweak = tweak;
    rng.fill(request.entropy);
    request.group_key = dealt.group_key;
    request.coordinator = coordinator;

    counts = {};
    counting = true;
    const double t0 = bench::thread_cpu_seconds();
    std::vector<std::pair<std::uint64_t, core::Bytes>> shares;
    for (auto& [id, p] : presignatures) {
      if (id == coordinator) continue;
      shares.emplace_back(id, must(ecdsa_sign_share(std::move(p), request), "sign share"));
    }
    const double t1 = bench::thread_cpu_seconds();
    const Counts after_shares = counts;
    auto coord = must(EcdsaSignCoordinator::create(std::move(presignatures.at(coordinator)), request), "coordinator");
    std::optional<EcdsaSignature> sig;
    for (auto& [id, payload] : shares) {
      auto r = must(coord.on_message(id, payload), "combine");
      if (r) sig = *r;
    }
    const double t2 = bench::thread_cpu_seconds();
    counting = false;
    // The coordinator verified it with OpenSSL under the derived key before
    // returning it; an absent signature is a failure.
    if (!sig) die("signing: no signature after every share");
    f.share_counts += after_shares;
    f.coord_counts += counts - after_shares;
    f.sign_latency.push_back(t2 - t0);
    f.share_time.push_back((t1 - t0) / static_cast<double>(shares.size()));
    f.coord_time.push_back(t2 - t1);
  }
  return f;
}

struct Summary {
  std::size_t nodes, threshold, set;
  double presig_per_s, party_ms, party_mults, party_ec_calls, sig_per_s, p50_ms, p99_ms, sign_over_verify;
};

// Rates are from the total CPU time; the ratios to the unit costs compare
// medians (the per-session or per-signing p50 against a unit's median).
Summary print_case(const CaseFigures& f, const Units& u) {
  const double parties = static_cast<double>(f.set);
  const double session_mean = f.presign_cpu / static_cast<double>(f.sessions);
  const double session_p50 = percentile(f.session_cpu, 0.5);
  const double party_p50 = session_p50 / parties;
  const double party_runs = static_cast<double>(f.sessions) * parties;
  const Counts& pc = f.presign_counts;
  const double ec_mults_per_party = static_cast<double>(pc.base + pc.var + pc.both) / party_runs;

  std::printf("-- %zu nodes, T = %zu: presigning and signing set of %zu (2T - 1)\n", f.nodes, f.threshold, f.set);
  std::printf("  presigning: %ld sessions in %.2f s of CPU (%.2f s wall): %.1f presignatures/s on one core; one "
              "session (all %zu parties) p50 %.2f ms\n",
              f.sessions, f.presign_cpu, f.presign_wall, 1.0 / session_mean, f.set, session_p50 * 1e3);
  std::printf("    CPU per party per presignature: %.3f ms = %.1f x curve.h mul (variable point) = %.1f x OpenSSL "
              "ECDSA sign\n",
              party_p50 * 1e3, party_p50 / u.mul, party_p50 / u.ecdsa_sign);
  std::printf("    scalar multiplications per party per presignature: %.1f (%.1f base + %.1f variable-point)\n",
              ec_mults_per_party, static_cast<double>(pc.base) / party_runs,
              static_cast<double>(pc.var + pc.both) / party_runs);
  std::printf("    calls per party per presignature: %s\n", describe(pc, party_runs).c_str());
  const double pcost = counted_cost(pc, u, party_runs);
  const double pmul =
      (static_cast<double>(pc.base) * u.raw_base + static_cast<double>(pc.var + pc.both) * u.raw_var) / party_runs;
  std::printf("    counted calls x their unit cost: %.3f ms (%.0f%% of the party's CPU; EC_POINT_mul alone %.0f%%)\n",
              pcost * 1e3, 100.0 * pcost / party_p50, 100.0 * pmul / party_p50);

  const double n_sign = static_cast<double>(f.sign_latency.size());
  double total = 0;
  for (double v : f.sign_latency) total += v;
  const double sign_mean = total / n_sign;
  const double sign_p50 = percentile(f.sign_latency, 0.5);
  std::printf("  signing: %zu signings (copies of the %ld presignature sets above, round robin), %zu shares + "
              "combine + OpenSSL verification each: %.0f signatures/s on one core\n",
              f.sign_latency.size(), f.sessions, f.set, 1.0 / sign_mean);
  std::printf("    CPU time of one signing (all parties in turn): p50 %.3f ms, p99 %.3f ms\n", sign_p50 * 1e3,
              percentile(f.sign_latency, 0.99) * 1e3);
  std::printf("    one signer's share: p50 %.3f ms; the coordinator (its share, combine, verify): p50 %.3f ms\n",
              percentile(f.share_time, 0.5) * 1e3, percentile(f.coord_time, 0.5) * 1e3);
  const double signer_runs = n_sign * (parties - 1);
  std::printf("    calls per signer share: %s\n", describe(f.share_counts, signer_runs).c_str());
  std::printf("    calls per coordinator: %s\n", describe(f.coord_counts, n_sign).c_str());
  const double scost = counted_cost(f.share_counts, u, n_sign) + counted_cost(f.coord_counts, u, n_sign);
  std::printf("    counted calls x their unit cost: %.3f ms (%.0f%% of a signing)\n", scost * 1e3,
              100.0 * scost / sign_p50);
  std::printf("    sign = %.1f x one OpenSSL ECDSA verify = %.1f x one OpenSSL ECDSA sign; presignature + signature "
              "(all parties) = %.0f x one OpenSSL ECDSA sign\n",
              sign_p50 / u.ecdsa_verify, sign_p50 / u.ecdsa_sign, (session_p50 + sign_p50) / u.ecdsa_sign);
  return Summary{f.nodes,
                 f.threshold,
                 f.set,
                 1.0 / session_mean,
                 party_p50 * 1e3,
                 party_p50 / u.mul,
                 ec_mults_per_party,
                 1.0 / sign_mean,
                 sign_p50 * 1e3,
                 percentile(f.sign_latency, 0.99) * 1e3,
                 sign_p50 / u.ecdsa_verify};
}

void print_units(const Units& u) {
  auto row = [](const char* what, double s) { std::printf("  %-64s %8.2f us  %9.0f /s\n", what, s * 1e6, 1.0 / s); };
  std::printf("== unit costs, one core, this run (%s)\n", OpenSSL_version(OPENSSL_VERSION));
  row("curve.h secp256k1 base_mul (s·G)", u.base_mul);
  row("curve.h secp256k1 mul, variable point (s·P)", u.mul);
  row("curve.h secp256k1 add (points)", u.point_add);
  row("curve.h secp256k1 decode_point (33 bytes, checked)", u.decode_point);
  row("curve.h secp256k1 mul (scalars mod n)", u.scalar_mul);
  row("curve.h secp256k1 invert (scalar)", u.invert);
  row("OpenSSL ECDSA sign, secp256k1 (EVP_PKEY_sign, 32-byte digest)", u.ecdsa_sign);
  row("OpenSSL ECDSA verify, secp256k1 (EVP_PKEY_verify)", u.ecdsa_verify);
  row("threshold::ecdsa_verify (key import + DER + verify)", u.lib_verify);
  std::printf("  raw calls (as curve.cc makes them), for the counts below: EC_POINT_mul base %.1f us, variable %.1f "
              "us, EC_POINT_add %.2f us, oct2point %.2f us, point2oct %.2f us, BN_mod_mul %.2f us, BN_mod_inverse "
              "%.2f us\n",
              u.raw_base * 1e6, u.raw_var * 1e6, u.raw_add * 1e6, u.raw_decode * 1e6, u.raw_encode * 1e6,
              u.raw_bn_mul * 1e6, u.raw_bn_inv * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"threshold ECDSA (DamgardEtAl, secp256k1) in process: presignatures/s, signatures/s, sign latency, "
               "beside secp256k1 multiplications and OpenSSL ECDSA"};
  double seconds = 0.5;
  long min_sessions = 8;
  long signings = 100;
  app.add_option("--seconds", seconds, "Minimum presigning CPU time per case (unit costs: a fifth of it each, "
                                       "at most 0.1 s)")
      ->capture_default_str();
  app.add_option("--min-sessions", min_sessions, "Minimum presigning sessions per case")->capture_default_str();
  app.add_option("--signings", signings, "Signings per case (at least one per presignature set made)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (seconds <= 0 || min_sessions <= 0 || signings <= 0)
    die("--seconds, --min-sessions and --signings must be positive");
  if (sodium_init() < 0) die("libsodium init failed");

  testing::TestRandom rng(testing::test_seed());
  const Units u = measure_units(rng, std::min(0.1, seconds / 5));
  print_units(u);

  std::printf("== in process: threshold ECDSA (DamgardEtAl), all parties on one thread, messages passed by memory "
              "(CPU cost)\n");
  std::vector<Summary> rows;
  for (auto [nodes, threshold] : {std::pair<std::size_t, std::size_t>{3, 2}, {7, 4}}) {
    rows.push_back(print_case(run_case(nodes, threshold, seconds, min_sessions, signings, rng), u));
  }
  std::printf("-- summary, in process (one core)\n");
  std::printf("  %5s %3s %4s %10s %13s %14s %13s %9s %9s %9s %12s\n", "nodes", "T", "set", "presig/s",
              "ms/party/pre", "mults/party*", "EC_mul/party", "sig/s", "p50 ms", "p99 ms", "sign/verify");
  for (const auto& r : rows) {
    std::printf("  %5zu %3zu %4zu %10.0f %13.3f %14.1f %13.1f %9.0f %9.3f %9.3f %12.1f\n", r.nodes, r.threshold,
                r.set, r.presig_per_s, r.party_ms, r.party_mults, r.party_ec_calls, r.sig_per_s, r.p50_ms, r.p99_ms,
                r.sign_over_verify);
  }
  std::printf("  * CPU per party per presignature in curve.h variable-point multiplications; EC_mul/party: the "
              "EC_POINT_mul calls it makes\n");
  // The section over real nodes (devnets of 3 and 7 nodes, through the
  // contract) goes here once the nodes run ECDSA, beside these figures.
  return 0;
}
