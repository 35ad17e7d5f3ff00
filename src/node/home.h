// The mpc-node home directory: the node's identity and local secrets.
//
//   node.json          {"version":1,"account_id":"…"}                (0600)
//   tls_key.json       {"public_key":"ed25519:…","private_key":"ed25519:…"}
//                      the P2P/TLS key: the contract's tls_public_key  (0600)
//   access_key.json    near-cli credentials of the node's own NEAR access
//                      key (signs conclude_node_migration)             (0600)
//   local_storage.key  64 hex chars: the key that encrypts the key-share
//                      store at rest                                   (0600)
//   keyshares.enc      the key-share store (see keyshare_store.h)
//   presignatures/     threshold ECDSA presignature pools, one file per
//                      domain, sealed with the local storage key
//                      (presign_service.h, presignature_store.h)  (0700)
//
// The directory is 0700. `init` refuses to touch a directory that already
// holds any of these files.
#pragma once

#include <filesystem>
#include <string>

#include "core/crypto.h"
#include "core/near_key.h"
#include "core/result.h"
#include "core/secret.h"

namespace mpc::node {

struct NodeHome {
  std::filesystem::path dir;
  std::string account_id;
  core::Ed25519SecretKey tls_key;
  core::NearCredentials access_key;
  core::SecretBytes local_storage_key;  // 32 bytes

  std::filesystem::path keyshare_file() const { return dir / "keyshares.enc"; }

  // Creates a new home with fresh keys. kAlreadyExists if any home file exists.
  static core::Result<NodeHome> init(const std::filesystem::path& dir, const std::string& account_id);
  // Loads an existing home; errors name the file and what is wrong with it.
  static core::Result<NodeHome> load(const std::filesystem::path& dir);
};

}  // namespace mpc::node
