// Fixed, deterministic fixtures shared by the fuzz targets and by the seed
// generator (make_seeds.cc): keys from constant seeds, an in-memory sandbox
// chain, a keyset with made-up key shares, a fixed AES key, the contract in
// a Running state. Nothing here touches the network; nothing is random.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/contract.h"
#include "core/bytes.h"
#include "core/crypto.h"
#include "core/result.h"
#include "model/types.h"
#include "near/transaction.h"
#include "sandbox/chain.h"

namespace mpc::fuzz {

using json = nlohmann::json;

// A fuzz target's property check: a violated invariant is a crash
// (libFuzzer saves the input), with the reason on stderr.
[[noreturn]] void invariant_failed(const char* what);
#define MPC_FUZZ_CHECK(cond)                                  \
  do {                                                        \
    if (!(cond)) ::mpc::fuzz::invariant_failed(#cond);        \
  } while (0)

// Silences spdlog (the paths under test log refusals at warn/error).
void quiet_logs();

// ---- binary message decoders (frost_message, key_event_message) ----

// A decoder's refusal of hostile bytes: kInvalidArgument with a non-empty,
// printable ASCII message (input bytes are never echoed) that starts with
// `prefix` (what names the part that was wrong).
void check_refusal(const core::Error& error, std::string_view prefix);
// What decoded from `input` encodes (`encoded`) back to exactly `input`.
void check_encodes_to(const core::Result<core::Bytes>& encoded, core::ByteView input);

// The Ed25519 key whose seed is 32 x `tag`.
core::Ed25519SecretKey fixed_key(std::uint8_t tag);

// ---- the sandbox chain ----

inline constexpr const char* kContractAccount = "mpc.sandbox";
inline constexpr std::uint64_t kGenesisTimeNs = 1'700'000'000'000'000'000ull;
// Account i ("node<i>.sandbox") signs with fixed_key(7 + i) (node0's key is
// the one of the near-api-js vectors in near/transaction_test.cc); its TLS
// key is fixed_key(0x40 + i).
std::string node_account(int i);
core::Ed25519SecretKey node_key(int i);
core::Ed25519SecretKey node_tls_key(int i);

// mpc.sandbox (Running, 3 participants, threshold 2, no domains) and
// node0..2.sandbox with 1000 NEAR each, created at kGenesisTimeNs.
sandbox::Genesis fuzz_genesis();
// A chain on an in-memory SQLite store holding fuzz_genesis().
std::unique_ptr<sandbox::Chain> open_memory_chain();

// Valid signed transactions against that chain's genesis block: each one
// executes once (the first time it is sent), later sends find it known.
std::vector<near::SignedTransaction> seed_transactions(const core::Hash256& genesis_hash);

// ---- key shares ----

// Epoch 3, domain 0 Secp256k1 (group key: the generator point G) attempt 1,
// domain 1 Ed25519 (group key: the base point B) attempt 0.
model::Keyset fixture_keyset();
// One made-up share per fixture_keyset() domain (consistent with it).
std::vector<model::Keyshare> fixture_shares();
json fixture_shares_json();
// The AES-256 key the node and the backup service share in these targets.
core::SecretBytes fixture_aes_key();

// ---- the contract ----

// Running at epoch 0 with node0..2.sandbox (threshold 2) and, after votes,
// two domains with keys, as contract_test.cc sets it up.
contract::MpcContract running_contract();
// The method names the contract target chooses from (index = selector byte).
const std::vector<std::string>& contract_methods();
// The callers the contract target chooses from.
const std::vector<std::string>& contract_callers();

}  // namespace mpc::fuzz
