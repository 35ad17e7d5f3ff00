// A local MPC network on one machine: a sandbox chain and one mpc-node home
// per participant. By default the chain starts Initializing with the
// requested domains and the nodes generate the keys together (distributed
// key generation: no key ever exists in one place); with a trusted dealer
// (DevnetSpec::keys = kDealer, `mpc-devnet create --dealer`) or imported
// shares it starts Running with their keyset.
//
//   DIR/devnet.json                 the layout below, ports included
//   DIR/chain/                      mpc-sandbox home (genesis.json, chain database)
//   DIR/nodes/node<i>/              mpc-node homes (keys 0600, key shares imported)
//   DIR/operators/<account>.json    each operator's full-access NEAR key (near-cli format, 0600)
//   DIR/operators/<account>.backup_encryption_key
//                                   each operator's AES-256 key (64 hex, 0600): the node's
//                                   MPC_BACKUP_ENCRYPTION_KEY_HEX and the backup side's
//                                   BACKUP_ENCRYPTION_KEY_HEX
//   DIR/run/                        pid files, bound addresses, logs (mpc-devnet up/down)
//
// `create` builds everything under a temporary sibling directory and renames
// it into place at the end, so DIR either is a complete devnet or does not
// exist.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/result.h"
#include "model/types.h"

namespace mpc::devnet {

struct DevnetSpec {
  // Where the keys come from: the nodes generate them once up (the chain
  // starts Initializing), or a trusted dealer deals them now (Running at once:
  // faster, for tests that need no key generation).
  enum class Keys { kGenerate, kDealer };
  Keys keys = Keys::kGenerate;
  std::size_t nodes = 3;
  // Nodes beyond `nodes` with an account, an operator and a home, started by
  // `up` like the others, that are not participants: candidates a resharing
  // can add (participant ids nodes, nodes + 1, ...: the contract's next ids).
  std::size_t candidates = 0;
  // Hard launch: every node runs with --require-attested-backup-service (it
  // gives shares only to a backup service the contract holds an attestation
  // for; local networks use mock attestations: `backup-cli run --tee
  // --mock-attestation`).
  bool hard_launch = false;
  std::size_t threshold = 2;
  std::vector<model::CurveKind> domains = {model::CurveKind::kSecp256k1, model::CurveKind::kEd25519};
  std::string host = "127.0.0.1";
  // Instead of the dealer: the keyset of these plaintext shares (interop §5),
  // DIR/<participant id>.json for participants 0 .. N-1, each the JSON array
  // of that participant's keyshares; checked with keyset_from_shares. `nodes`
  // becomes N and the domains are the shares' (`keys` is ignored).
  std::filesystem::path import_keyshares;
};

// Reads DIR/0.json .. DIR/<N-1>.json (every *.json file of DIR; the names must
// be exactly the ids 0 .. N-1). Secrets are wiped when the shares are dropped.
core::Result<std::vector<std::vector<model::Keyshare>>> read_keyshare_dir(const std::filesystem::path& dir);

struct DevnetNode {
  std::string account_id;
  std::uint64_t participant_id = 0;
  std::filesystem::path home;             // relative to the devnet dir
  std::string p2p_addr;                   // HOST:PORT: the contract's url (https://p2p_addr)
  std::string migration_addr;             // HOST:PORT: the migration endpoint, a port of its own (0 until bound)
  std::string metrics_addr;               // HOST:PORT (0 until bound)
  std::filesystem::path operator_key;     // relative: operators/<account>.json
  std::filesystem::path encryption_key;   // relative: operators/<account>.backup_encryption_key

  std::string p2p_url() const { return "https://" + p2p_addr; }
};

// devnet.json's layout version (2: P2P and migration addresses apart).
inline constexpr int kLayoutVersion = 2;

struct Devnet {
  std::filesystem::path dir;
  std::string contract_id = "mpc.devnet";
  std::string rpc_addr;  // HOST:PORT of the sandbox (port 0 until the first `up` binds one)
  std::size_t threshold = 0;
  bool hard_launch = false;  // DevnetSpec::hard_launch
  std::vector<DevnetNode> nodes;
  // What create_devnet found worth telling whoever creates the network, not
  // an error (signing_warnings); not saved in devnet.json, empty after load.
  std::vector<std::string> warnings;

  std::string rpc_url() const { return "http://" + rpc_addr; }
  std::filesystem::path chain_home() const { return dir / "chain"; }
  std::filesystem::path run_dir() const { return dir / "run"; }
  std::filesystem::path path(const std::filesystem::path& relative) const { return dir / relative; }

  static core::Result<Devnet> load(const std::filesystem::path& dir);
  // Rewrites devnet.json (atomically) with the addresses as they are now.
  core::Status save() const;
  nlohmann::json to_json() const;
};

// Parses "secp256k1,ed25519" (case-insensitive; duplicates allowed: each
// entry is one domain).
core::Result<std::vector<model::CurveKind>> parse_domain_list(std::string_view text);

// The protocol of a domain that `create` makes for a curve: "DamgardEtAl"
// (threshold ECDSA) for secp256k1, "Frost" for Ed25519.
const char* domain_protocol(model::CurveKind kind);

// Threshold ECDSA (DamgardEtAl) signs with 2*threshold-1 participants (the
// size of threshold::ecdsa_signer_count's sets): with fewer participants its
// domains are held but never signed. One warning naming those of `domains` when
// 2*threshold-1 > participants, else none.
std::vector<std::string> signing_warnings(std::size_t participants, std::size_t threshold,
                                          const std::vector<model::DomainConfig>& domains);

// The devnet's own directories and layout file, and the final rename into
// place, run on `env` (the files of the homes and the chain inside are
// written durably by their own modules before that).
core::Result<Devnet> create_devnet(const std::filesystem::path& dir, const DevnetSpec& spec, core::Env& env = core::default_env());

// A TCP port on `host` that a listener could take now, outside the kernel's
// ephemeral range where one is left (bound, listened on and released: racy
// by nature; `devnet up` holds it, listening, until its node takes it over),
// and not one of `taken` (the ports already given to other nodes: released,
// so free again, until `devnet up`).
core::Result<std::uint16_t> pick_free_port(const std::string& host, const std::set<std::uint16_t>& taken = {});

}  // namespace mpc::devnet
