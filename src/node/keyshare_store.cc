#include "node/keyshare_store.h"

#include <algorithm>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "model/share_replacement.h"

namespace mpc::node {

using json = nlohmann::json;

std::string key_id_text(const model::KeyshareKeyId& id) {
  return "(epoch " + std::to_string(id.epoch_id) + ", domain " + std::to_string(id.domain_id) + ", attempt " +
         std::to_string(id.attempt_id) + ")";
}

namespace {

// Why the held shares may not be replaced, in the node's words.
std::string refusal_text(const model::ReplacementRefusal& r, const std::vector<model::Keyshare>& held) {
  using Kind = model::ReplacementRefusal::Kind;
  // "domain 0 held as (epoch 5, domain 0, attempt 0)", then the others.
  auto first_and_others = [&] {
    const auto first = r.domains.front();
    auto it = std::find_if(held.begin(), held.end(), [&](const auto& h) { return h.key_id.domain_id == first; });
    std::string text = "domain " + std::to_string(first) + (it == held.end() ? "" : " held as " + key_id_text(it->key_id));
    if (r.domains.size() > 1)
      text += " (and of domains " + model::domain_list(std::vector<std::uint64_t>(r.domains.begin() + 1, r.domains.end())) + ")";
    return text;
  };
  switch (r.kind) {
    case Kind::kOlderEpoch:
      return "refusing shares of epoch " + std::to_string(r.incoming_epoch) + ": this node holds the newer epoch " +
             std::to_string(r.held_epoch);
    case Kind::kDroppedDomains:
      return "refusing a keyset without " + std::string(r.domains.size() == 1 ? "domain " : "domains ") +
             model::domain_list(r.domains) + ", which this node holds (domains are never removed)";
    case Kind::kChangedGroupKey: return "refusing to change the group public key of " + first_and_others();
    case Kind::kChangedKeyId:
      return "refusing to change, within epoch " + std::to_string(r.held_epoch) + ", the key id (attempt) of " + first_and_others();
  }
  return "refusing to replace the held shares";
}

// The canonical plaintext of a set of shares (secret: the caller wipes it).
core::SecretString shares_plaintext(const std::vector<model::Keyshare>& shares) {
  json array = json::array();
  for (const auto& s : shares) array.push_back(to_json(s));
  core::SecretString text(array.dump());
  model::wipe_private_shares(array);
  return text;
}

std::vector<model::Keyshare> clone_all(const std::vector<model::Keyshare>& v) {
  std::vector<model::Keyshare> out;
  out.reserve(v.size());
  for (const auto& s : v) out.push_back(s.clone());
  return out;
}

}  // namespace

core::Result<std::unique_ptr<KeyshareStore>> KeyshareStore::open(std::filesystem::path path, core::SecretBytes local_key,
                                                                 core::Env& env) {
  if (local_key.size() != 32) return core::invalid("the local storage key must be 32 bytes");
  std::unique_ptr<KeyshareStore> store(new KeyshareStore(std::move(path), std::move(local_key), env));
  MPC_TRY(store->load());
  return store;
}

core::Status KeyshareStore::load() {
  constexpr std::size_t kMaxStore = 256 << 20;
  auto read = core::read_file(path_, kMaxStore, env_);
  if (!read && read.error().code == core::ErrorCode::kNotFound) return {};  // a new store
  MPC_ASSIGN(std::string sealed, std::move(read));
  auto plain = core::aes_gcm_decrypt(key_, core::as_bytes(sealed));
  if (!plain)
    return core::fail(core::ErrorCode::kInternal, path_.string() +
                                                      " does not decrypt with this home's local storage key: the key file "
                                                      "does not belong to this store, or the store is damaged");
  core::SecretString text(core::to_string(plain->view()));
  auto parsed = core::parse_json(text.reveal(), core::JsonLimits{kMaxStore, 64});
  if (!parsed) {
    return core::fail(core::ErrorCode::kInternal,
                      path_.string() + " decrypts but is not a key-share store (damaged?)" +
                          (parsed.error().message == core::kNotValidJson ? "" : ": " + parsed.error().message));
  }
  json& j = *parsed;
  if (!j.is_object() || !j.contains("keyshares"))
    return core::fail(core::ErrorCode::kInternal, path_.string() + " decrypts but is not a key-share store (damaged?)");
  auto shares = model::parse_keyshares(j["keyshares"]);
  core::Result<std::vector<model::Keyshare>> pending = std::vector<model::Keyshare>{};
  if (j.contains("pending")) pending = model::parse_keyshares(j["pending"]);
  model::wipe_private_shares(j);
  if (j.contains("pending")) model::wipe_private_shares(j["pending"]);
  if (!shares) return core::fail(core::ErrorCode::kInternal, path_.string() + ": " + shares.error().message);
  if (!pending) return core::fail(core::ErrorCode::kInternal, path_.string() + ": pending: " + pending.error().message);
  std::sort(shares->begin(), shares->end(), [](const auto& a, const auto& b) { return a.key_id.domain_id < b.key_id.domain_id; });
  held_ = std::move(*shares);
  pending_ = std::move(*pending);
  return {};
}

core::Status KeyshareStore::import(std::vector<model::Keyshare> shares, const model::Keyset& keyset) {
  std::lock_guard lock(mu_);
  if (auto st = model::check_keyshares_cover_keyset(shares, keyset); !st)
    return core::invalid("the shares do not match the keyset of epoch " + std::to_string(keyset.epoch_id) + ": " + st.error().message);
  if (auto refusal = model::check_replacement(held_, shares))
    return core::fail(core::ErrorCode::kFailedPrecondition, refusal_text(*refusal, held_));
  return write(std::move(shares), clone_all(pending_));
}

core::Status KeyshareStore::write(std::vector<model::Keyshare> held, std::vector<model::Keyshare> pending) {
  std::sort(held.begin(), held.end(), [](const auto& a, const auto& b) { return a.key_id.domain_id < b.key_id.domain_id; });
  json doc = {{"version", 1}, {"keyshares", json::array()}};
  for (const auto& s : held) doc["keyshares"].push_back(to_json(s));
  if (!pending.empty()) {
    doc["pending"] = json::array();
    for (const auto& s : pending) doc["pending"].push_back(to_json(s));
  }
  core::SecretString text(doc.dump());
  model::wipe_private_shares(doc);
  if (doc.contains("pending")) model::wipe_private_shares(doc["pending"]);
  auto sealed = core::aes_gcm_encrypt(key_, core::as_bytes(text.reveal()));
  if (!sealed) return std::unexpected(sealed.error());
  if (auto st = core::write_file_atomic(path_, *sealed, 0600, env_); !st)
    return core::fail(core::ErrorCode::kInternal, "cannot write " + path_.string() + ": " + st.error().message);
  held_ = std::move(held);
  pending_ = std::move(pending);
  plaintext_.reset();
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

core::Status KeyshareStore::put_pending(model::Keyshare share) {
  std::lock_guard lock(mu_);
  for (const auto& p : pending_) {
    if (p.key_id != share.key_id) continue;
    if (p.kind == share.kind && p.public_key == share.public_key && p.private_share.reveal() == share.private_share.reveal()) return {};
    return core::fail(core::ErrorCode::kAlreadyExists,
                      "a different share of key event " + key_id_text(share.key_id) + " is already stored; it is never replaced");
  }
  std::vector<model::Keyshare> pending = clone_all(pending_);
  // Full: the oldest go first (an attempt that long past was abandoned).
  while (pending.size() >= kMaxPending) pending.erase(pending.begin());
  pending.push_back(std::move(share));
  return write(clone_all(held_), std::move(pending));
}

std::optional<model::Keyshare> KeyshareStore::pending(const model::KeyshareKeyId& id) const {
  std::lock_guard lock(mu_);
  for (const auto& p : pending_)
    if (p.key_id == id) return p.clone();
  return std::nullopt;
}

std::size_t KeyshareStore::pending_count() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

core::Result<std::size_t> KeyshareStore::drop_older_than(std::uint64_t epoch) {
  std::lock_guard lock(mu_);
  auto old = [&](const model::Keyshare& s) { return s.key_id.epoch_id < epoch; };
  const auto held = static_cast<std::size_t>(std::count_if(held_.begin(), held_.end(), old));
  if (held == 0 && std::none_of(pending_.begin(), pending_.end(), old)) return 0;
  std::vector<model::Keyshare> keep_held, keep_pending;
  for (const auto& s : held_)
    if (!old(s)) keep_held.push_back(s.clone());
  for (const auto& s : pending_)
    if (!old(s)) keep_pending.push_back(s.clone());
  MPC_TRY(write(std::move(keep_held), std::move(keep_pending)));
  return held;
}

core::Result<bool> KeyshareStore::promote(const model::Keyset& keyset) {
  std::lock_guard lock(mu_);
  auto stale = [&](const model::Keyshare& p) {
    if (p.key_id.epoch_id < keyset.epoch_id) return true;
    const auto* entry = keyset.find(p.key_id.domain_id);
    return p.key_id.epoch_id == keyset.epoch_id && entry != nullptr && entry->attempt >= p.key_id.attempt_id;
  };
  const bool already = holds_locked(keyset);
  if (already || keyset.domains.empty()) {
    if (std::none_of(pending_.begin(), pending_.end(), stale)) return already;
    std::vector<model::Keyshare> pending;
    for (const auto& p : pending_)
      if (!stale(p)) pending.push_back(p.clone());
    MPC_TRY(write(clone_all(held_), std::move(pending)));
    return already;
  }
  std::vector<model::Keyshare> next;
  for (const auto& entry : keyset.domains) {
    const model::KeyshareKeyId id{keyset.epoch_id, entry.domain_id, entry.attempt};
    auto match = [&](const model::Keyshare& s) { return s.key_id == id; };
    if (auto it = std::find_if(held_.begin(), held_.end(), match); it != held_.end()) {
      next.push_back(it->clone());
    } else if (auto pt = std::find_if(pending_.begin(), pending_.end(), match); pt != pending_.end()) {
      next.push_back(pt->clone());
    } else {
      return false;
    }
  }
  if (auto st = model::check_keyshares_cover_keyset(next, keyset); !st)
    return core::invalid("the stored shares do not match the keyset of epoch " + std::to_string(keyset.epoch_id) + ": " + st.error().message);
  if (auto refusal = model::check_replacement(held_, next))
    return core::fail(core::ErrorCode::kFailedPrecondition, refusal_text(*refusal, held_));
  std::vector<model::Keyshare> pending;
  for (const auto& p : pending_)
    if (!stale(p)) pending.push_back(p.clone());
  MPC_TRY(write(std::move(next), std::move(pending)));
  return true;
}

core::Status KeyshareStore::check_held_is(const model::Keyset& keyset) const {
  if (held_.empty())
    return core::fail(core::ErrorCode::kNotFound, "this node holds no key shares (requested epoch " + std::to_string(keyset.epoch_id) + ")");
  if (auto st = model::check_keyshares_cover_keyset(held_, keyset); !st)
    return core::fail(core::ErrorCode::kFailedPrecondition, "this node holds epoch " + std::to_string(held_.front().key_id.epoch_id) +
                                                                " with " + std::to_string(held_.size()) +
                                                                " domain(s), not the requested keyset: " + st.error().message);
  return {};
}

core::Result<std::vector<model::Keyshare>> KeyshareStore::shares_for(const model::Keyset& keyset) const {
  std::lock_guard lock(mu_);
  MPC_TRY(check_held_is(keyset));
  return clone_all(held_);
}

const std::shared_ptr<const core::SecretString>& KeyshareStore::held_plaintext() const {
  if (!plaintext_) plaintext_ = std::make_shared<const core::SecretString>(shares_plaintext(held_));
  return plaintext_;
}

core::Result<KeyshareStore::Served> KeyshareStore::serve(const model::Keyset& keyset) const {
  std::lock_guard lock(mu_);
  MPC_TRY(check_held_is(keyset));
  return Served{generation_.load(std::memory_order_relaxed), held_.size(), held_.front().key_id.epoch_id, held_plaintext()};
}

bool KeyshareStore::holds(const model::Keyset& keyset) const {
  std::lock_guard lock(mu_);
  return holds_locked(keyset);
}

bool KeyshareStore::holds_locked(const model::Keyset& keyset) const {
  const std::uint64_t generation = generation_.load(std::memory_order_relaxed);
  if (holds_cache_ && holds_cache_->generation == generation && holds_cache_->keyset == keyset) return holds_cache_->result;
  const bool result = !held_.empty() && model::check_keyshares_cover_keyset(held_, keyset).has_value();
  holds_cache_ = HoldsAnswer{generation, keyset, result};
  return result;
}

StoreSummary KeyshareStore::summary() const {
  std::lock_guard lock(mu_);
  StoreSummary s;
  if (held_.empty()) return s;
  s.epoch_id = held_.front().key_id.epoch_id;
  for (const auto& h : held_) s.domains.push_back({h.key_id.domain_id, h.key_id.attempt_id, h.kind, h.public_key});
  s.digest = core::hex_encode(core::sha256(core::as_bytes(held_plaintext()->reveal())));
  return s;
}

}  // namespace mpc::node
