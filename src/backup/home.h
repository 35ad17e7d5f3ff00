// The backup-cli home directory, drop-in compatible with the reference
// backup-cli (interop §6):
//
//   <home>/                              0700
//   <home>/secrets.json                  0600
//       {"p2p_private_key":[32 ints],"near_signer_key":[32 ints],
//        "local_storage_aes_key":[16 ints]}
//   <home>/permanent_keys/               0700
//   <home>/permanent_keys/epoch_<E>_with_<N>_domains                 0600
//       nonce(12) || AES-128-GCM(local_storage_aes_key,
//                     {"epoch_id":E,"keyshares":[Keyshare…]}) || tag(16)
//   <home>/key                           hard link to the newest backup file
//
// `key` sits in the home directory itself, not in permanent_keys/: that is
// where the reference (node crate, keyshare/local.rs) reads and writes it.
//
// Beyond the reference: secrets are never overwritten silently (a forced
// regeneration keeps a timestamped copy), all files are 0600 and directories
// 0700, backup files only ever appear under their final name complete and
// fsynced, and `key` is swapped atomically (see BackupStore::store).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/env.h"
#include "model/types.h"

namespace mpc::backup {

namespace fs = std::filesystem;

// ---- secrets.json ----

struct Secrets {
  static constexpr std::size_t kAesKeySize = 16;

  core::Ed25519SecretKey p2p_private_key;   // the backup service's TLS identity
  core::Ed25519SecretKey near_signer_key;   // signs the operator's NEAR transactions
  core::SecretBytes local_storage_aes_key;  // 16 bytes: encrypts permanent_keys/*

  // Fresh keys from the system RNG.
  static Secrets generate();
  Secrets clone() const;
};

// Strict parse of the secrets.json text: an object with the three fields,
// each an array of exactly 32 / 32 / 16 integers in 0..255. Unknown fields are
// ignored (as the reference's serde does). Errors name the field, never a value.
core::Result<Secrets> parse_secrets_json(std::string_view text);
// The secrets.json text (compact, fields in the reference's order).
core::SecretString secrets_to_json(const Secrets& secrets);

// ---- the home directory ----

struct GenerateOutcome {
  Secrets secrets;
  // Where the previous secrets.json was copied (force only, when one existed).
  std::optional<fs::path> previous_copy;
};

class BackupHome {
 public:
  explicit BackupHome(fs::path dir) : dir_(std::move(dir)) {}

  const fs::path& dir() const { return dir_; }
  fs::path secrets_file() const { return dir_ / "secrets.json"; }
  fs::path permanent_keys_dir() const { return dir_ / "permanent_keys"; }
  fs::path key_link() const { return dir_ / "key"; }

  // kNotFound if there is no secrets.json; kInvalidArgument (naming the file
  // and the field) if it is malformed.
  core::Result<Secrets> load_secrets() const;

  // Writes `secrets` as secrets.json, creating the home directory (0700) if
  // needed. Without `force`: created exclusively, kAlreadyExists if a
  // secrets.json exists (it is left untouched). With `force`: an existing
  // file is first copied to secrets.json.bak-YYYYMMDDTHHMMSSZ (0600, created
  // exclusively) and then replaced atomically; returns the copy's path.
  core::Result<std::optional<fs::path>> write_secrets(const Secrets& secrets, bool force) const;

  // generate-keys: Secrets::generate() + write_secrets().
  core::Result<GenerateOutcome> generate_secrets(bool force) const;

 private:
  fs::path dir_;
};

// ---- the backup store (permanent_keys/ and key) ----

// A decrypted backup.
struct StoredBackup {
  std::uint64_t epoch_id = 0;
  std::vector<model::Keyshare> keyshares;  // sorted by domain_id
  fs::path path;                          // the file it was read from
};

// A backup file as its name describes it (nothing decrypted).
struct BackupFileInfo {
  std::uint64_t epoch_id = 0;
  std::uint64_t domains = 0;
  fs::path path;
  bool is_current = false;  // `key` is a hard link to this file
};

enum class StoreOutcome {
  kStored,         // a new backup file was written and `key` now points to it
  kAlreadyStored,  // an identical backup was already there (`key` made to point to it)
};

class BackupStore {
 public:
  // REQUIRES: local_storage_aes_key is 16 bytes (checked on use). Every
  // file operation runs on `env`, which must outlive the store.
  BackupStore(fs::path home_dir, core::SecretBytes local_storage_aes_key, core::Env& env = core::default_env())
      : home_(std::move(home_dir)), key_(std::move(local_storage_aes_key)), env_(env) {}

  const BackupHome& home() const { return home_; }

  // The file name for a backup: epoch_<E>_with_<N>_domains.
  static std::string file_name(std::uint64_t epoch_id, std::uint64_t domains);
  // Parses a file name of that exact form; nullopt for anything else.
  static std::optional<BackupFileInfo> parse_file_name(std::string_view name);

  // All backup files, sorted by (epoch, domains), oldest first. No decryption.
  // An absent permanent_keys/ is an empty list. Other names are ignored.
  core::Result<std::vector<BackupFileInfo>> list() const;

  // The newest backup: read through `key`; when `key` is missing, the file
  // with the largest (epoch, domains) name. nullopt when there is none.
  // A `key` that cannot be decrypted or parsed is an error, never skipped.
  core::Result<std::optional<StoredBackup>> load_newest() const;

  // Decrypts and parses one file. If its name has the epoch_<E>_with_<N>_domains
  // form, the content must agree with it.
  core::Result<StoredBackup> load_file(const fs::path& path) const;

  // Stores the keyshares of one epoch (all shares must carry the same epoch,
  // one per domain; they are written sorted by domain_id) and makes it the
  // newest. Against the newest stored backup (largest name), refuses with
  // kFailedPrecondition what model::check_replacement refuses (an older
  // epoch, a dropped domain, a changed group key, in the same epoch a
  // changed key id).
  // If a file with the same name exists: identical content -> kAlreadyStored
  // (and `key` is pointed at it, completing an interrupted store); different
  // content -> kAlreadyExists, the old file kept.
  //
  // Crash safety (kill -9 or power loss at any instant): the ciphertext is
  // written to a fresh temporary name, fsynced, then hard-linked to its final
  // name (link() is exclusive: it never replaces a file), so a final name only
  // ever refers to complete, fsynced content. `key` is then replaced by
  // linking the new file to a temporary name next to it and rename()-ing that
  // over `key` (atomic), followed by a directory fsync. At every instant `key`
  // is either the previous complete file or the new complete file; existing
  // files are never written to. Leftover temporaries are ignored by readers
  // and removed by the next store. Concurrent stores are serialised with an
  // flock on permanent_keys/.
  core::Result<StoreOutcome> store(const std::vector<model::Keyshare>& keyshares) const;

 private:
  core::Result<StoredBackup> decrypt_and_parse(const fs::path& path, std::optional<BackupFileInfo> named) const;

  BackupHome home_;
  core::SecretBytes key_;
  core::Env& env_;
};

}  // namespace mpc::backup
