// Creating a sandbox home: a genesis (generated or given) written into a new
// chain database, with near-cli credential files for generated accounts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "sandbox/chain.h"

namespace mpc::sandbox {

struct LocalChainSpec {
  int participants = 3;   // node0.sandbox ... ; 0 = contract NotInitialized
  int threshold = 2;
  std::string chain_id = "mpc-sandbox";
  // The contract's key_event_timeout_blocks (its durable "config"); unset:
  // the contract's default (the reference's 30 blocks).
  std::optional<std::uint64_t> key_event_timeout_blocks;
  // The contract's attestation mode: "mock" (development: Mock attestations
  // and unattested backup services accepted; the contract's default) or
  // "dstack" (production: verified Dstack attestations only). Unset: the
  // default, not written into the genesis.
  std::optional<std::string> attestation;
};

// The generated genesis: mpc.sandbox plus participants, each with a fresh
// full-access key (HOME/credentials/<id>.json) and, for participants, a TLS
// identity key (HOME/credentials/<id>.tls_key.json). With participants the
// contract starts Running at epoch 0 with no domains; with
// key_event_timeout_blocks the genesis contract state carries
// "config": {"key_event_timeout_blocks": N}, with attestation also
// "attestation_mode": "development" (mock) | "production" (dstack); another
// attestation value is refused. Writes HOME/genesis.json.
core::Result<Genesis> write_local_genesis(const std::filesystem::path& home, const LocalChainSpec& spec);

// Creates the chain database in `home` from `genesis`. Refuses an existing chain.
core::Status create_chain(const std::filesystem::path& home, const Genesis& genesis);

core::Result<Genesis> read_genesis_file(const std::filesystem::path& path);

}  // namespace mpc::sandbox
