// TEST ONLY: Lagrange interpolation of dealt shares, to prove the dealer's
// shares really are Shamir shares of the group key. Not part of mpc_devnet:
// it is compiled into the test binaries only (a real network never
// reconstructs a key in one place).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "model/types.h"

namespace mpc::devnet::testing {

// The secret f(0) from (participant id, share) pairs, participant p holding
// f(p + 1). Encoded like a private_share: 64 hex, big-endian for Secp256k1,
// little-endian for Ed25519.
core::Result<core::SecretString> reconstruct_secret(
    model::CurveKind kind, const std::vector<std::pair<std::uint64_t, const model::Keyshare*>>& shares);

// The group public key of a secret, encoded like a keyshare's public_key
// (33-byte compressed SEC1 or 32-byte Edwards, lower-case hex).
core::Result<std::string> public_key_hex_of(model::CurveKind kind, const std::string& secret_hex);

}  // namespace mpc::devnet::testing
