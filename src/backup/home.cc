#include "backup/home.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <numeric>

#include "core/bytes.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "model/share_replacement.h"

namespace mpc::backup {

using core::Error;
using core::ErrorCode;
using core::fail;
using core::invalid;
using model::json;
using core::Result;
using core::SecretBytes;
using core::SecretString;
using core::Status;

namespace {

constexpr std::size_t kSeedSize = 32;
constexpr std::size_t kMaxSecretsFile = 64 << 10;
constexpr std::size_t kMaxBackupFile = 64 << 20;
constexpr std::string_view kDataTempPrefix = ".tmp-";      // in permanent_keys/
constexpr std::string_view kLinkTempPrefix = ".key.tmp-";  // in the home directory

// Overwrites every string and number inside a parsed JSON value (parsed
// secrets and decrypted key shares) before it is freed.
void wipe_json(json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    core::secure_wipe(s.data(), s.size());
  } else if (j.is_number()) {
    j = 0;
  } else if (j.is_structured()) {
    for (auto& e : j) wipe_json(e);
  }
}

struct JsonWiper {
  json& j;
  ~JsonWiper() { wipe_json(j); }
};


std::string random_suffix() { return core::hex_encode(core::random_bytes(8)); }

// Removes leftovers of interrupted stores (only names we create as temporaries).
void remove_temporaries(core::Env& env, const fs::path& dir, std::string_view prefix) {
  auto names = env.list_dir(dir);
  if (!names) return;
  for (const auto& name : *names) {
    std::error_code ec;
    if (name.starts_with(prefix) && fs::symlink_status(dir / name, ec).type() == fs::file_type::regular)
      (void)env.remove(dir / name);
  }
}

Result<SecretBytes> secret_byte_array(const json& obj, const char* field, std::size_t n) {
  const std::string what = std::string("secrets.json field \"") + field + "\"";
  const std::string shape = " must be an array of " + std::to_string(n) + " integers in 0..255";
  auto it = obj.find(field);
  if (it == obj.end()) return invalid(what + " is missing");
  if (!it->is_array()) return invalid(what + shape);
  if (it->size() != n) return invalid(what + shape + " (it has " + std::to_string(it->size()) + " elements)");
  SecretBytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const json& e = (*it)[i];
    std::uint64_t v = 256;
    if (e.is_number_unsigned()) {
      v = e.get<std::uint64_t>();
    } else if (e.is_number_integer() && e.get<std::int64_t>() >= 0) {
      v = static_cast<std::uint64_t>(e.get<std::int64_t>());
    }
    if (v > 255) return invalid(what + shape + " (element " + std::to_string(i) + " is not)");
    out.data()[i] = static_cast<std::uint8_t>(v);
  }
  return out;
}

void append_byte_array(std::string& out, const char* field, core::ByteView bytes) {
  out += '"';
  out += field;
  out += "\":[";
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += ',';
    char buf[4];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<unsigned>(bytes[i]));
    out.append(buf, end);
    core::secure_wipe(buf, sizeof buf);
  }
  out += ']';
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;  // canonical form only
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}


bool same_share(const model::Keyshare& a, const model::Keyshare& b) {
  return a.key_id == b.key_id && a.kind == b.kind && a.public_key == b.public_key &&
         core::constant_time_equal(core::as_bytes(a.private_share.reveal()), core::as_bytes(b.private_share.reveal()));
}

bool same_backup(const StoredBackup& a, const std::vector<const model::Keyshare*>& b, std::uint64_t epoch) {
  if (a.epoch_id != epoch || a.keyshares.size() != b.size()) return false;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!same_share(a.keyshares[i], *b[i])) return false;
  }
  return true;
}

// Why a backup may not replace the newest stored one (`against`, its file
// name), in the backup store's words.
std::string refusal_text(const model::ReplacementRefusal& r, const std::string& against) {
  using Kind = model::ReplacementRefusal::Kind;
  const std::string list = model::domain_list(r.domains);
  switch (r.kind) {
    case Kind::kOlderEpoch:
      return "a backup of the newer epoch " + std::to_string(r.held_epoch) + " is already stored (" + against +
             "); a backup never goes back to an older epoch";
    case Kind::kDroppedDomains: return "it lacks domains " + list + " that the stored backup holds (against " + against + ")";
    case Kind::kChangedGroupKey:
      return "the group public key of domains " + list + " differs from the stored backup's (against " + against + ")";
    case Kind::kChangedKeyId:
      return "the key id (attempt) of domains " + list + " differs from the stored backup's in the same epoch (against " +
             against + ")";
  }
  return "it may not replace the stored backup (against " + against + ")";
}

}  // namespace

// ---- secrets ----

Secrets Secrets::generate() {
  SecretBytes aes(kAesKeySize);
  core::random_fill(aes.mutable_view());
  return Secrets{core::Ed25519SecretKey::generate(), core::Ed25519SecretKey::generate(), std::move(aes)};
}

Secrets Secrets::clone() const {
  return Secrets{p2p_private_key.clone(), near_signer_key.clone(), local_storage_aes_key.clone()};
}

Result<Secrets> parse_secrets_json(std::string_view text) {
  // No exceptions and no parser message: it could quote the input.
  auto parsed = core::parse_json(text, core::JsonLimits{kMaxSecretsFile, 64});
  json j = parsed ? std::move(*parsed) : json();
  JsonWiper wiper{j};
  if (!parsed) {
    return invalid(parsed.error().message == core::kNotValidJson ? std::string("secrets.json is not valid JSON")
                                                                : "secrets.json: " + parsed.error().message);
  }
  if (!j.is_object()) return invalid("secrets.json must be a JSON object");
  MPC_ASSIGN(SecretBytes p2p, secret_byte_array(j, "p2p_private_key", kSeedSize));
  MPC_ASSIGN(SecretBytes signer, secret_byte_array(j, "near_signer_key", kSeedSize));
  MPC_ASSIGN(SecretBytes aes, secret_byte_array(j, "local_storage_aes_key", Secrets::kAesKeySize));
  auto p2p_key = core::Ed25519SecretKey::from_seed(p2p.view());
  if (!p2p_key) return invalid("secrets.json field \"p2p_private_key\" is not a usable Ed25519 seed");
  auto signer_key = core::Ed25519SecretKey::from_seed(signer.view());
  if (!signer_key) return invalid("secrets.json field \"near_signer_key\" is not a usable Ed25519 seed");
  return Secrets{std::move(*p2p_key), std::move(*signer_key), std::move(aes)};
}

SecretString secrets_to_json(const Secrets& secrets) {
  std::string out;
  out.reserve(512);  // no reallocation: no stray copies of the text
  out += '{';
  append_byte_array(out, "p2p_private_key", secrets.p2p_private_key.seed().view());
  out += ',';
  append_byte_array(out, "near_signer_key", secrets.near_signer_key.seed().view());
  out += ',';
  append_byte_array(out, "local_storage_aes_key", secrets.local_storage_aes_key.view());
  out += '}';
  return SecretString(std::move(out));
}

// ---- home ----

Result<Secrets> BackupHome::load_secrets() const {
  const fs::path path = secrets_file();
  auto text = core::read_file(path, kMaxSecretsFile);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kNotFound, "no secrets.json in " + dir_.string() + " (generate the keys first)");
    }
    return std::unexpected(text.error());
  }
  SecretString guard(std::move(*text));
  auto secrets = parse_secrets_json(guard.reveal());
  if (!secrets) return std::unexpected(secrets.error().context(path.string()));
  return secrets;
}

Result<std::optional<fs::path>> BackupHome::write_secrets(const Secrets& secrets, bool force) const {
  if (secrets.local_storage_aes_key.size() != Secrets::kAesKeySize) {
    return invalid("local_storage_aes_key must be 16 bytes");
  }
  MPC_TRY(core::ensure_directory(dir_, 0700));
  const fs::path path = secrets_file();
  SecretString text = secrets_to_json(secrets);
  const core::ByteView data = core::as_bytes(text.reveal());
  if (!force) {
    auto st = core::write_file_exclusive(path, data, 0600);
    if (!st && st.error().code == ErrorCode::kAlreadyExists) {
      return fail(ErrorCode::kAlreadyExists, path.string() +
                                                 " already exists; refusing to overwrite it (forcing replaces it and "
                                                 "keeps a timestamped copy of the old file)");
    }
    MPC_TRY(st);
    return std::optional<fs::path>{};
  }

  std::optional<fs::path> copy;
  auto old = core::read_file(path, kMaxSecretsFile);
  if (old) {
    SecretString old_text(std::move(*old));
    const std::string base = path.filename().string() + ".bak-" + utc_timestamp();
    for (int i = 1;; ++i) {
      fs::path candidate = dir_ / (i == 1 ? base : base + "-" + std::to_string(i));
      auto st = core::write_file_exclusive(candidate, core::as_bytes(old_text.reveal()), 0600);
      if (st) {
        copy = candidate;
        break;
      }
      if (st.error().code != ErrorCode::kAlreadyExists || i >= 100) {
        return std::unexpected(st.error().context("keeping a copy of the old secrets.json"));
      }
    }
  } else if (old.error().code != ErrorCode::kNotFound) {
    return std::unexpected(old.error());
  }
  MPC_TRY(core::write_file_atomic(path, data, 0600));
  return copy;
}

Result<GenerateOutcome> BackupHome::generate_secrets(bool force) const {
  Secrets secrets = Secrets::generate();
  MPC_ASSIGN(auto copy, write_secrets(secrets, force));
  return GenerateOutcome{std::move(secrets), std::move(copy)};
}

// ---- backup store ----

std::string BackupStore::file_name(std::uint64_t epoch_id, std::uint64_t domains) {
  return "epoch_" + std::to_string(epoch_id) + "_with_" + std::to_string(domains) + "_domains";
}

std::optional<BackupFileInfo> BackupStore::parse_file_name(std::string_view name) {
  constexpr std::string_view kPrefix = "epoch_", kMiddle = "_with_", kSuffix = "_domains";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view body = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  auto mid = body.find(kMiddle);
  if (mid == std::string_view::npos) return std::nullopt;
  auto epoch = parse_decimal(body.substr(0, mid));
  auto domains = parse_decimal(body.substr(mid + kMiddle.size()));
  if (!epoch || !domains) return std::nullopt;
  return BackupFileInfo{*epoch, *domains, fs::path(name), false};
}

Result<std::vector<BackupFileInfo>> BackupStore::list() const {
  std::vector<BackupFileInfo> out;
  const fs::path dir = home_.permanent_keys_dir();
  auto names = env_.list_dir(dir);
  if (!names && names.error().code == ErrorCode::kNotFound) return out;
  if (!names) return std::unexpected(names.error());
  const auto key_id = env_.file_id(home_.key_link());
  for (const auto& name : *names) {
    auto info = parse_file_name(name);
    std::error_code ec;
    if (!info || fs::symlink_status(dir / name, ec).type() != fs::file_type::regular) continue;
    info->path = dir / name;
    const auto id = env_.file_id(info->path);
    info->is_current = key_id && id && *id == *key_id;
    out.push_back(std::move(*info));
  }
  std::sort(out.begin(), out.end(), [](const BackupFileInfo& a, const BackupFileInfo& b) {
    return std::pair(a.epoch_id, a.domains) < std::pair(b.epoch_id, b.domains);
  });
  return out;
}

Result<StoredBackup> BackupStore::decrypt_and_parse(const fs::path& path, std::optional<BackupFileInfo> named) const {
  if (key_.size() != Secrets::kAesKeySize) return invalid("local_storage_aes_key must be 16 bytes");
  MPC_ASSIGN(std::string sealed, core::read_file(path, kMaxBackupFile, env_));
  auto plain = core::aes_gcm_decrypt(key_, core::as_bytes(sealed));
  if (!plain) {
    if (plain.error().code == ErrorCode::kPermissionDenied) {
      return fail(ErrorCode::kPermissionDenied,
                  "cannot decrypt " + path.string() +
                      ": wrong local_storage_aes_key, or the file is corrupted or was tampered with");
    }
    return fail(ErrorCode::kInvalidArgument, path.string() + " is not a backup file: " + plain.error().message);
  }
  const auto* p = reinterpret_cast<const char*>(plain->data());
  auto parsed = core::parse_json(std::string_view(p, plain->size()), core::JsonLimits{kMaxBackupFile, 64});
  json j = parsed ? std::move(*parsed) : json();
  JsonWiper wiper{j};
  auto bad = [&](const std::string& why) { return invalid(path.string() + ": " + why); };
  if (!parsed && parsed.error().message != core::kNotValidJson) return bad("the decrypted content: " + parsed.error().message);
  if (!parsed || !j.is_object()) return bad("the decrypted content is not a JSON object");
  StoredBackup out;
  out.path = path;
  auto epoch_it = j.find("epoch_id");
  auto shares_it = j.find("keyshares");
  if (epoch_it == j.end() || !model::json_u64(*epoch_it)) return bad("\"epoch_id\" is missing or not a u64");
  out.epoch_id = *model::json_u64(*epoch_it);
  if (shares_it == j.end()) return bad("\"keyshares\" is missing");
  auto shares = model::parse_keyshares(*shares_it);
  if (!shares) return bad(shares.error().message);
  out.keyshares = std::move(*shares);
  if (out.keyshares.empty()) return bad("it holds no keyshares");
  std::sort(out.keyshares.begin(), out.keyshares.end(),
            [](const model::Keyshare& a, const model::Keyshare& b) { return a.key_id.domain_id < b.key_id.domain_id; });
  for (std::size_t i = 0; i < out.keyshares.size(); ++i) {
    const auto& id = out.keyshares[i].key_id;
    if (id.epoch_id != out.epoch_id) {
      return bad("the keyshare for domain " + std::to_string(id.domain_id) + " is of epoch " + std::to_string(id.epoch_id) +
                 ", the backup says epoch " + std::to_string(out.epoch_id));
    }
    if (i > 0 && out.keyshares[i - 1].key_id.domain_id == id.domain_id) {
      return bad("two keyshares for domain " + std::to_string(id.domain_id));
    }
  }
  if (named && (named->epoch_id != out.epoch_id || named->domains != out.keyshares.size())) {
    return bad("the file name says epoch " + std::to_string(named->epoch_id) + " with " + std::to_string(named->domains) +
               " domains, the content is epoch " + std::to_string(out.epoch_id) + " with " +
               std::to_string(out.keyshares.size()) + " domains");
  }
  return out;
}

Result<StoredBackup> BackupStore::load_file(const fs::path& path) const {
  return decrypt_and_parse(path, parse_file_name(path.filename().string()));
}

Result<std::optional<StoredBackup>> BackupStore::load_newest() const {
  const fs::path key = home_.key_link();
  if (auto id = env_.file_id(key); !id) {
    if (id.error().code != ErrorCode::kNotFound) return std::unexpected(id.error());
    MPC_ASSIGN(auto files, list());
    if (files.empty()) return std::optional<StoredBackup>{};
    MPC_ASSIGN(StoredBackup b, load_file(files.back().path));
    return std::optional<StoredBackup>(std::move(b));
  }
  // Name the file `key` links to, and hold its content to that name.
  MPC_ASSIGN(auto files, list());
  std::optional<BackupFileInfo> target;
  for (const auto& f : files) {
    if (f.is_current) target = f;
  }
  MPC_ASSIGN(StoredBackup b, decrypt_and_parse(key, target));
  if (target) b.path = target->path;
  return std::optional<StoredBackup>(std::move(b));
}

Result<StoreOutcome> BackupStore::store(const std::vector<model::Keyshare>& keyshares) const {
  if (key_.size() != Secrets::kAesKeySize) return invalid("local_storage_aes_key must be 16 bytes");
  if (keyshares.empty()) return invalid("refusing to store an empty list of keyshares");

  // The shares, sorted by domain, all of one epoch, one per domain.
  std::vector<const model::Keyshare*> sorted;
  for (const auto& k : keyshares) sorted.push_back(&k);
  std::sort(sorted.begin(), sorted.end(),
            [](const model::Keyshare* a, const model::Keyshare* b) { return a->key_id.domain_id < b->key_id.domain_id; });
  const std::uint64_t epoch = sorted.front()->key_id.epoch_id;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i]->key_id.epoch_id != epoch) {
      return invalid("keyshares of different epochs (" + std::to_string(epoch) + " and " +
                     std::to_string(sorted[i]->key_id.epoch_id) + ") cannot be stored together");
    }
    if (i > 0 && sorted[i - 1]->key_id.domain_id == sorted[i]->key_id.domain_id) {
      return invalid("two keyshares for domain " + std::to_string(sorted[i]->key_id.domain_id));
    }
  }
  const std::uint64_t domains = sorted.size();

  const fs::path dir = home_.permanent_keys_dir();
  MPC_TRY(core::ensure_directory(home_.dir(), 0700, env_));
  MPC_TRY(core::ensure_directory(dir, 0700, env_));
  MPC_ASSIGN(auto lock, env_.lock(dir));
  remove_temporaries(env_, dir, kDataTempPrefix);
  remove_temporaries(env_, home_.dir(), kLinkTempPrefix);

  // Validate against the newest stored backup.
  MPC_ASSIGN(auto files, list());
  const fs::path final_path = dir / file_name(epoch, domains);
  bool already_stored = false;
  if (!files.empty()) {
    const BackupFileInfo& newest = files.back();
    const std::string what = "refusing to store the keyshares of epoch " + std::to_string(epoch) + " (" +
                             std::to_string(domains) + " domains): ";
    MPC_ASSIGN(StoredBackup old, load_file(newest.path));
    if (newest.path.filename() == final_path.filename()) {
      if (!same_backup(old, sorted, epoch)) {
        return fail(ErrorCode::kAlreadyExists, what + final_path.string() +
                                                   " already exists with different content; it is kept unchanged");
      }
      already_stored = true;
    } else if (auto refusal = model::check_replacement(old.keyshares, keyshares)) {
      return fail(ErrorCode::kFailedPrecondition, what + refusal_text(*refusal, newest.path.filename().string()));
    }
  }

  if (!already_stored) {
    // Plaintext {"epoch_id":E,"keyshares":[…]}, held as secret text.
    json doc = json::object();
    JsonWiper doc_wiper{doc};
    doc["epoch_id"] = epoch;
    json& list = doc["keyshares"] = json::array();
    for (const auto* k : sorted) list.push_back(to_json(*k));
    SecretString plain(doc.dump());
    MPC_ASSIGN(core::Bytes sealed, core::aes_gcm_encrypt(key_, core::as_bytes(plain.reveal())));

    // Complete and fsynced under a temporary name, then linked to the final
    // name: link() never replaces, so the final name is exclusive too.
    const fs::path temp = dir / (std::string(kDataTempPrefix) + random_suffix());
    MPC_TRY(core::write_file_exclusive(temp, sealed, 0600, env_));
    if (auto st = env_.link(temp, final_path); !st) {
      (void)env_.remove(temp);
      return std::unexpected(st.error());
    }
    (void)env_.remove(temp);
    MPC_TRY(env_.sync_dir(dir));
  }

  // Point `key` at the new file: link under a temporary name, rename over `key`.
  const auto key_id = env_.file_id(home_.key_link());
  const auto new_id = env_.file_id(final_path);
  if (key_id && new_id && *key_id == *new_id) return already_stored ? StoreOutcome::kAlreadyStored : StoreOutcome::kStored;
  const fs::path link_temp = home_.dir() / (std::string(kLinkTempPrefix) + random_suffix());
  MPC_TRY(env_.link(final_path, link_temp));
  if (auto st = env_.rename(link_temp, home_.key_link()); !st) {
    (void)env_.remove(link_temp);
    return std::unexpected(st.error());
  }
  MPC_TRY(env_.sync_dir(home_.dir()));
  return already_stored ? StoreOutcome::kAlreadyStored : StoreOutcome::kStored;
}

}  // namespace mpc::backup
