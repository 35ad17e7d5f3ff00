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
// Key events (node/key_event_service.h) add "pending" shares: the output of
// a key generation or resharing attempt, stored (in the same file, so with
// the same atomicity) before the node votes for it, and promoted into the
// held set once the contract's Running keyset lists it. The held set and the
// pending shares are replaced in one atomic write, so old shares disappear
// exactly when the new epoch's become held.
//
// Thread safety: all methods are serialised by one mutex.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/secret.h"
#include "core/env.h"
#include "model/types.h"

namespace mpc::node {

// "(epoch E, domain D, attempt A)": a share's key id (a key event's id) in
// the node's messages.
std::string key_id_text(const model::KeyshareKeyId& id);

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

  // What GET /get_keyshares encrypts: the canonical plaintext of the held
  // set (the JSON array of shares that summary() digests), if the held set
  // is exactly the given keyset's (the same check and errors as shares_for).
  // The text is built once per generation and shared, in a wiping buffer:
  // the store drops its reference when the held set changes, and the text is
  // wiped when its last holder lets it go.
  struct Served {
    std::uint64_t generation = 0;  // the generation() the check was made in
    std::size_t count = 0;         // shares
    std::uint64_t epoch_id = 0;
    std::shared_ptr<const core::SecretString> plaintext;
  };
  core::Result<Served> serve(const model::Keyset& keyset) const;
  // Changes with every successful write (held or pending shares): a Served
  // whose generation is still current still answers for its keyset.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  bool holds(const model::Keyset& keyset) const;

  StoreSummary summary() const;

  // ---- key events ----
  // At most this many pending shares (a key event produces one per attempt;
  // older epochs are pruned on promotion).
  static constexpr std::size_t kMaxPending = 256;
  // Durably adds the output of key event attempt share.key_id. The same
  // share again is a no-op; a different share under the same key id is
  // refused (kAlreadyExists): an attempt's output is never replaced.
  core::Status put_pending(model::Keyshare share);
  // The pending share of exactly this key event attempt, if stored.
  std::optional<model::Keyshare> pending(const model::KeyshareKeyId& id) const;
  // Makes `keyset` the held set when every one of its domains has a share,
  // held or pending, with exactly its key id (and the import rules above
  // hold), and drops the pending shares of older epochs and those promoted;
  // all in one atomic write. Returns whether the held set now is `keyset`
  // (false: some domain's share is missing; nothing changed).
  core::Result<bool> promote(const model::Keyset& keyset);
  std::size_t pending_count() const;
  // Deletes (durably) every held and pending share of an epoch older than
  // `epoch`: what a node removed from the participants does once the
  // contract has moved on without it. Returns how many held shares went.
  core::Result<std::size_t> drop_older_than(std::uint64_t epoch);

 private:
  KeyshareStore(std::filesystem::path path, core::SecretBytes key, core::Env& env)
      : path_(std::move(path)), key_(std::move(key)), env_(env) {}
  core::Status load();
  // Seals and writes `held` + `pending` (mu_ held); the members change only on success.
  core::Status write(std::vector<model::Keyshare> held, std::vector<model::Keyshare> pending);
  // shares_for's check (mu_ held).
  core::Status check_held_is(const model::Keyset& keyset) const;
  // The canonical plaintext of held_, built on first use (mu_ held).
  const std::shared_ptr<const core::SecretString>& held_plaintext() const;
  // holds() with mu_ held, through holds_cache_ (promote() asks it too).
  bool holds_locked(const model::Keyset& keyset) const;

  std::filesystem::path path_;
  core::SecretBytes key_;
  core::Env& env_;
  mutable std::mutex mu_;
  std::vector<model::Keyshare> held_;  // sorted by domain_id
  std::vector<model::Keyshare> pending_;  // key event outputs, in the order stored
  std::atomic<std::uint64_t> generation_{1};  // written under mu_
  mutable std::shared_ptr<const core::SecretString> plaintext_;  // of held_, or null (not built yet)
  // holds()'s last answer: the node asks it (and promote() asks the same)
  // for the same keyset at every chain read, and comparing a keyset is far
  // cheaper than checking every share against it again (hex decoding
  // included). Valid for its generation.
  struct HoldsAnswer {
    std::uint64_t generation = 0;
    model::Keyset keyset;
    bool result = false;
  };
  mutable std::optional<HoldsAnswer> holds_cache_;
};

}  // namespace mpc::node
