// Micro-benchmarks of the primitives every request pays for.
#include <benchmark/benchmark.h>

#include "core/crypto.h"

namespace {

using namespace mpc::core;

void BM_Ed25519Verify(benchmark::State& state) {
  auto key = Ed25519SecretKey::generate();
  Bytes msg = random_bytes(32);
  auto sig = key.sign(msg);
  for (auto _ : state) benchmark::DoNotOptimize(ed25519_verify(key.public_key(), msg, sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

void BM_Ed25519Sign(benchmark::State& state) {
  auto key = Ed25519SecretKey::generate();
  Bytes msg = random_bytes(32);
  for (auto _ : state) benchmark::DoNotOptimize(key.sign(msg));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign);

void BM_Sha256(benchmark::State& state) {
  Bytes data = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sha256(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(256)->Arg(64 << 10);

void BM_AesGcmSeal(benchmark::State& state) {
  SecretBytes key(random_bytes(32));
  Bytes data = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(aes_gcm_encrypt(key, data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AesGcmSeal)->Arg(1 << 10)->Arg(1 << 20);

// A node's GET /get_keyshares answer at 1,000 domains is 243 KB sealed,
// 324 KB encoded: the dispatched encoder (AVX2 where the CPU has it) against
// the portable one on the same bytes.
void BM_Base64Encode(benchmark::State& state) {
  Bytes data = random_bytes(243 << 10);
  std::string out((data.size() + 2) / 3 * 4, '\0');
  const bool portable = state.range(0) != 0;
  for (auto _ : state) benchmark::DoNotOptimize(portable ? base64_encode_into_portable(data, out.data()) : base64_encode_into(data, out.data()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(data.size()));
  state.SetLabel(portable ? "portable" : "dispatched");
}
BENCHMARK(BM_Base64Encode)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
