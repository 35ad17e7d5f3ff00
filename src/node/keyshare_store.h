// The node's key-share store: durable, encrypted at rest, all-or-nothing.
//
// File: nonce(12) || AES-256-GCM(local storage key, {"version":1,"keyshares":[Keyshare…]}) || tag(16),
// replaced atomically (temporary file, fsync, rename, directory fsync): after
// kill -9 at any instant it holds the old set or the new one, never a mix.
// A missing file is an empty store; a file that does not decrypt or parse is
// an error (never silently empty).
//
// Import rules (interop §5), all checked before anything is written:
//   - exactly one share per keyset domain, each consistent with the keyset
//     (key id == (epoch, domain, attempt), same group public key), no extra;
//   - model::check_replacement against what is held: never an older epoch,
//     a dropped domain (the contract never removes domains, so such a
//     keyset is not from the same network), a changed group public key, or,
//     within the held epoch, a changed key id.
// On success the store holds exactly the imported set.
//
// Thread safety: all methods are serialised by one mutex.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "core/env.h"
#include "model/types.h"

namespace mpc::node {

struct HeldDomain {
  std::uint64_t domain_id = 0;
  std::uint64_t attempt_id = 0;
  model::CurveKind kind = model::CurveKind::kSecp256k1;
  std::string public_key;  // the group key (hex), public
};

struct StoreSummary {
  std::uint64_t epoch_id = 0;
  std::vector<HeldDomain> domains;  // empty: nothing held
  // sha256 (hex) of the canonical plaintext (the JSON array of shares): two
  // nodes hold the same shares iff their digests match. Empty when nothing held.
  std::string digest;
};

class KeyshareStore {
 public:
  // Opens (and loads) the store at `path`; `local_key` is 32 bytes. Every
  // file operation runs on `env`, which must outlive the store.
  static core::Result<std::unique_ptr<KeyshareStore>> open(std::filesystem::path path, core::SecretBytes local_key,
                                                           core::Env& env = core::default_env());

  // Validates and durably replaces the held set. Errors: kInvalidArgument for
  // shares inconsistent with the keyset (missing/extra/duplicate domain, wrong
  // epoch or attempt, group key differs from the keyset), kFailedPrecondition
  // for a conflict with what is held (older epoch, dropped domain, changed
  // key or, in the same epoch, key id), kInternal for I/O. A failed import changes nothing.
  core::Status import(std::vector<model::Keyshare> shares, const model::Keyset& keyset);

  // The held shares, if they are exactly the given keyset's.
  core::Result<std::vector<model::Keyshare>> shares_for(const model::Keyset& keyset) const;
  bool holds(const model::Keyset& keyset) const;

  StoreSummary summary() const;

 private:
  KeyshareStore(std::filesystem::path path, core::SecretBytes key, core::Env& env)
      : path_(std::move(path)), key_(std::move(key)), env_(env) {}
  core::Status load();

  std::filesystem::path path_;
  core::SecretBytes key_;
  core::Env& env_;
  mutable std::mutex mu_;
  std::vector<model::Keyshare> held_;  // sorted by domain_id
};

}  // namespace mpc::node
