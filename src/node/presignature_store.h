// The node's durable pool of ECDSA presignatures (threshold/ecdsa_presign.h),
// the safety rule of threshold ECDSA made durable: a presignature is used at
// most once, ever — across crashes and restarts.
//
// File: nonce(12) || AES-256-GCM(local storage key, JSON) || tag(16), replaced
// atomically (temporary file, fsync, rename, directory fsync), like the
// key-share store. It holds, for one context (the key they belong to: epoch,
// domain, and the participant set of the presignatures), the presignatures
// not used yet, each under an id (its presigning session) with its owner and
// presigning set, and the ids already taken (bounded), so that a
// presignature is never added twice.
//
// take() removes the presignature from the file durably BEFORE it hands it
// out: after a crash at any instant it is either still in the pool (never
// handed out) or gone for good — a restart can never use it a second time.
// A different context (a new epoch, a resharing, another participant set)
// discards the whole pool: presignatures of an old key are void.
//
// Thread safety: all methods are serialised by one mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/result.h"
#include "core/secret.h"

namespace mpc::node {

struct PresignatureContext {
  std::uint64_t epoch_id = 0;
  std::uint64_t domain_id = 0;
  std::vector<std::uint64_t> participants;  // ascending
  // Who the participants are: a digest of their accounts and TLS keys, so
  // that a migrated participant (same id, new machine, no presignatures)
  // voids the pools too.
  std::string members;
  bool operator==(const PresignatureContext&) const = default;
};

// What the pool says of a presignature in the clear (inside its encrypted
// file): which session made it, which participant may lead a signature with
// it (the one that asked for it), and the set that made it (the only set
// that can sign with it).
struct PresignatureInfo {
  std::string id;
  std::uint64_t owner = 0;
  std::vector<std::uint64_t> participants;  // ascending
  bool operator==(const PresignatureInfo&) const = default;
};

struct TakenPresignature {
  PresignatureInfo info;
  core::SecretBytes encoded;  // threshold::encode_presignature's form
};

class PresignatureStore {
 public:
  static constexpr std::size_t kMaxPresignatures = 4096;
  static constexpr std::size_t kMaxIdSize = 128;
  static constexpr std::size_t kMaxParticipants = 63;
  static constexpr std::size_t kMaxEncodedSize = 4096;
  // How many taken ids are remembered (the newest).
  static constexpr std::size_t kMaxTakenIds = 65536;

  // Opens (and loads) the pool at `path`; `local_key` is 32 bytes. A missing
  // file is an empty pool; one that does not decrypt or parse is an error.
  static core::Result<std::unique_ptr<PresignatureStore>> open(std::filesystem::path path, core::SecretBytes local_key,
                                                               core::Env& env = core::default_env());

  // Durably adds a presignature of `context` (a pool of another context is
  // discarded first). Refused: an id already in the pool or already taken
  // (kAlreadyExists), a full pool (kFailedPrecondition), an id or encoding
  // beyond the limits (kInvalidArgument).
  core::Status add(const PresignatureContext& context, const PresignatureInfo& info, const core::SecretBytes& encoded);

  // Durably discards the pool unless it belongs to `context` (a new epoch,
  // resharing or participant set voids every presignature).
  core::Status use_context(const PresignatureContext& context);

  // Durably removes and returns presignature `id` of `context` (any one when
  // `id` is empty, the oldest); nullopt when there is none. Once this
  // returns, the presignature is gone from disk.
  core::Result<std::optional<TakenPresignature>> take(const PresignatureContext& context, const std::string& id = "");

  // Presignatures of `context` not yet taken.
  std::size_t available(const PresignatureContext& context) const;
  // What the pool holds for `context`, oldest first (no secrets).
  std::vector<PresignatureInfo> list(const PresignatureContext& context) const;
  std::optional<PresignatureInfo> find(const PresignatureContext& context, const std::string& id) const;
  bool was_taken(const std::string& id) const;

 private:
  struct Entry {
    PresignatureInfo info;
    core::SecretBytes encoded;
  };
  PresignatureStore(std::filesystem::path path, core::SecretBytes key, core::Env& env)
      : path_(std::move(path)), key_(std::move(key)), env_(env) {}
  core::Status load();
  // Seals and writes the given state; the members change only on success.
  core::Status write(const std::optional<PresignatureContext>& context, std::vector<Entry> entries, std::deque<std::string> taken);
  std::vector<Entry> clone_entries() const;

  std::filesystem::path path_;
  core::SecretBytes key_;
  core::Env& env_;
  mutable std::mutex mu_;
  std::optional<PresignatureContext> context_;
  std::vector<Entry> entries_;  // oldest first
  std::deque<std::string> taken_;  // oldest first
};

}  // namespace mpc::node
