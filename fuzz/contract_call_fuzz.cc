// The MPC contract's change and view methods with arbitrary arguments, from
// a few callers, on a contract set up once (Running, two domains, a backup
// service) and cloned per input.
//
// Input: up to 8 calls, each [method selector][context][u16 LE length][args];
// a length past the end takes the rest. The selector picks from
// fuzz::contract_methods() (views included), the context byte the caller
// (bits 0-2), the deposit (bits 3-4: 0, 1, 10, 10^24), the signing key
// (bits 5-6: the caller's, the migration destination key 0x20, 0x21, 0x22)
// and, bit 7, a call through another contract (predecessor != signer).
// Arguments pass the host's limits first, as mpc-sandbox checks them
// (4 MiB, depth 64, 100,000 values) before calling the contract.
//
// Properties: no crash, no exception; a failed call leaves the state
// byte-identical; the state always serialises and deserialises to itself;
// arguments holding a NUL byte are refused (they are not JSON).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/json_limits.h"
#include "fuzz_support.h"

using namespace mpc;

namespace {

const contract::MpcContract* initial = nullptr;
const std::string* initial_text = nullptr;  // initial->serialize()
// Signing keys: [0..7] a caller's own (fixed_key(7 + caller)), [8..10] the
// keys 0x20..0x22 (0x20 is the destination access key seeds migrate to).
std::vector<core::NearPublicKey>* keys = nullptr;
constexpr core::JsonLimits kHostArgsLimits{4 << 20, 64, 100'000};

core::u128 deposit_of(std::uint8_t ctx) {
  switch ((ctx >> 3) & 3) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 10;
    default: return static_cast<core::u128>(1'000'000'000'000ull) * 1'000'000'000'000ull;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  initial = new contract::MpcContract(fuzz::running_contract());
  initial_text = new std::string(initial->serialize());
  keys = new std::vector<core::NearPublicKey>();
  for (int i = 0; i < 8; ++i) keys->push_back(core::NearPublicKey{fuzz::fixed_key(static_cast<std::uint8_t>(7 + i)).public_key()});
  for (int i = 0; i < 3; ++i) keys->push_back(core::NearPublicKey{fuzz::fixed_key(static_cast<std::uint8_t>(0x20 + i)).public_key()});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  contract::MpcContract c = initial->clone();
  const auto& methods = fuzz::contract_methods();
  const auto& callers = fuzz::contract_callers();
  // The state's serialised form, kept current: each failed call is checked
  // against it; only a successful call pays for a new one.
  std::string current = *initial_text;
  bool changed = false;
  std::size_t pos = 0;
  for (int n = 0; n < 8 && size - pos >= 4; ++n) {
    const std::uint8_t sel = data[pos];
    const std::uint8_t ctx_byte = data[pos + 1];
    std::size_t len = data[pos + 2] | (static_cast<std::size_t>(data[pos + 3]) << 8);
    pos += 4;
    len = std::min(len, size - pos);
    const core::ByteView args(data + pos, len);
    pos += len;

    const std::string& method = methods[sel % methods.size()];
    const std::string& caller = callers[ctx_byte & 7];
    const int key_choice = (ctx_byte >> 5) & 3;
    const core::NearPublicKey& key = (*keys)[key_choice == 0 ? (ctx_byte & 7) : 7 + key_choice];
    contract::CallContext ctx{caller, (ctx_byte & 0x80) ? "proxy.sandbox" : caller, fuzz::kContractAccount, key,
                              deposit_of(ctx_byte), 10 + static_cast<std::uint64_t>(n)};

    if (!core::check_json_limits(std::string_view(reinterpret_cast<const char*>(args.data()), args.size()), kHostArgsLimits)) {
      continue;
    }
    if (method == "state" || method == "migration_info" || method == "version") {
      (void)c.view(method, args);
      continue;
    }
    auto out = c.call(ctx, method, args);
    // NEAR's contracts read arguments with serde_json, which refuses a NUL
    // byte (nlohmann alone would stop reading at one): such args must fail.
    if (std::find(args.begin(), args.end(), 0) != args.end()) MPC_FUZZ_CHECK(!out.has_value());
    if (!out) {
      MPC_FUZZ_CHECK(c.serialize() == current);
      MPC_FUZZ_CHECK(!out.error().message.empty());
    } else {
      current = c.serialize();
      changed = true;
    }
  }
  if (changed) {  // the initial state is known to round-trip
    auto back = contract::MpcContract::deserialize(current);
    MPC_FUZZ_CHECK(back.has_value());
    MPC_FUZZ_CHECK(back->serialize() == current);
    for (const char* view : {"state", "migration_info", "version"}) MPC_FUZZ_CHECK(c.view(view, {}).has_value());
  }
  return 0;
}
