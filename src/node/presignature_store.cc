#include "node/presignature_store.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "core/json_limits.h"

namespace mpc::node {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxFile = 64 << 20;

json context_json(const PresignatureContext& c) {
  return json{{"epoch_id", c.epoch_id}, {"domain_id", c.domain_id}, {"participants", c.participants}, {"members", c.members}};
}

// Overwrites every "data" string (a hex presignature) of the document.
void wipe_data(json& doc) {
  if (!doc.contains("presignatures") || !doc["presignatures"].is_array()) return;
  for (auto& p : doc["presignatures"]) {
    if (!p.is_object() || !p.contains("data") || !p["data"].is_string()) continue;
    auto& text = p["data"].get_ref<std::string&>();
    core::secure_wipe(text.data(), text.size());
  }
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= PresignatureStore::kMaxIdSize &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

core::Result<std::unique_ptr<PresignatureStore>> PresignatureStore::open(std::filesystem::path path, core::SecretBytes local_key,
                                                                         core::Env& env) {
  if (local_key.size() != 32) return core::invalid("the local storage key must be 32 bytes");
  std::unique_ptr<PresignatureStore> store(new PresignatureStore(std::move(path), std::move(local_key), env));
  MPC_TRY(store->load());
  return store;
}

core::Status PresignatureStore::load() {
  auto read = core::read_file(path_, kMaxFile, env_);
  if (!read && read.error().code == core::ErrorCode::kNotFound) return {};
  MPC_ASSIGN(std::string sealed, std::move(read));
  auto plain = core::aes_gcm_decrypt(key_, core::as_bytes(sealed));
  if (!plain) {
    return core::fail(core::ErrorCode::kInternal, path_.string() +
                                                      " does not decrypt with this home's local storage key: the key file does not "
                                                      "belong to this pool, or the pool is damaged");
  }
  core::SecretString text(core::to_string(plain->view()));
  auto parsed = core::parse_json(text.reveal(), core::JsonLimits{kMaxFile, 8});
  const std::string damaged = path_.string() + " decrypts but is not a presignature pool (damaged?)";
  if (!parsed || !parsed->is_object()) return core::fail(core::ErrorCode::kInternal, damaged);
  json& doc = *parsed;
  struct Wipe {
    json& d;
    ~Wipe() { wipe_data(d); }
  } wipe{doc};
  std::optional<PresignatureContext> context;
  std::vector<Entry> entries;
  std::deque<std::string> taken;
  try {
    if (doc.value("version", 0) != 1) return core::fail(core::ErrorCode::kInternal, damaged + ": unknown version");
    if (!doc.at("context").is_null()) {
      const json& c = doc.at("context");
      PresignatureContext ctx;
      ctx.epoch_id = c.at("epoch_id").get<std::uint64_t>();
      ctx.domain_id = c.at("domain_id").get<std::uint64_t>();
      ctx.participants = c.at("participants").get<std::vector<std::uint64_t>>();
      ctx.members = c.at("members").get<std::string>();
      context = std::move(ctx);
    }
    for (const auto& p : doc.at("presignatures")) {
      auto bytes = core::hex_decode(p.at("data").get_ref<const std::string&>());
      if (!bytes) return core::fail(core::ErrorCode::kInternal, damaged + ": a presignature is not hex");
      PresignatureInfo info;
      info.id = p.at("id").get<std::string>();
      info.owner = p.at("owner").get<std::uint64_t>();
      info.participants = p.at("participants").get<std::vector<std::uint64_t>>();
      entries.push_back(Entry{std::move(info), core::SecretBytes::take(*bytes)});
    }
    for (const auto& id : doc.at("taken")) taken.push_back(id.get<std::string>());
  } catch (const json::exception&) {
    return core::fail(core::ErrorCode::kInternal, damaged);
  }
  context_ = std::move(context);
  entries_ = std::move(entries);
  taken_ = std::move(taken);
  return {};
}

std::vector<PresignatureStore::Entry> PresignatureStore::clone_entries() const {
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(Entry{e.info, e.encoded.clone()});
  return out;
}

core::Status PresignatureStore::write(const std::optional<PresignatureContext>& context, std::vector<Entry> entries,
                                      std::deque<std::string> taken) {
  json doc = {{"version", 1},
              {"context", context ? context_json(*context) : json()},
              {"presignatures", json::array()},
              {"taken", json::array()}};
  for (const auto& e : entries) {
    doc["presignatures"].push_back(json{{"id", e.info.id},
                                        {"owner", e.info.owner},
                                        {"participants", e.info.participants},
                                        {"data", core::hex_encode(e.encoded.view())}});
  }
  for (const auto& id : taken) doc["taken"].push_back(id);
  core::SecretString text(doc.dump());
  wipe_data(doc);
  auto sealed = core::aes_gcm_encrypt(key_, core::as_bytes(text.reveal()));
  if (!sealed) return std::unexpected(sealed.error());
  if (auto st = core::write_file_atomic(path_, *sealed, 0600, env_); !st)
    return core::fail(core::ErrorCode::kInternal, "cannot write " + path_.string() + ": " + st.error().message);
  context_ = context;
  entries_ = std::move(entries);
  taken_ = std::move(taken);
  return {};
}

core::Status PresignatureStore::add(const PresignatureContext& context, const PresignatureInfo& info, const core::SecretBytes& encoded) {
  const std::string& id = info.id;
  if (!valid_id(id)) return core::invalid("a presignature id is 1 to " + std::to_string(kMaxIdSize) + " printable characters");
  if (encoded.empty() || encoded.size() > kMaxEncodedSize)
    return core::invalid("a stored presignature is 1 to " + std::to_string(kMaxEncodedSize) + " bytes");
  if (info.participants.empty() || info.participants.size() > kMaxParticipants ||
      !std::is_sorted(info.participants.begin(), info.participants.end()) ||
      std::find(info.participants.begin(), info.participants.end(), info.owner) == info.participants.end())
    return core::invalid("a presignature's participants are 1 to " + std::to_string(kMaxParticipants) +
                         " ascending ids that include its owner");
  std::lock_guard lock(mu_);
  if (std::find(taken_.begin(), taken_.end(), id) != taken_.end())
    return core::fail(core::ErrorCode::kAlreadyExists, "presignature " + id + " was used already: it is never added again");
  const bool same_context = context_ && *context_ == context;
  std::vector<Entry> entries = same_context ? clone_entries() : std::vector<Entry>{};
  if (std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.info.id == id; }))
    return core::fail(core::ErrorCode::kAlreadyExists, "presignature " + id + " is already in the pool");
  if (entries.size() >= kMaxPresignatures)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the presignature pool is full (" + std::to_string(kMaxPresignatures) + ")");
  entries.push_back(Entry{info, encoded.clone()});
  return write(context, std::move(entries), taken_);
}

core::Status PresignatureStore::use_context(const PresignatureContext& context) {
  std::lock_guard lock(mu_);
  if (context_ && *context_ == context) return {};
  if (!context_ && entries_.empty()) {
    context_ = context;  // nothing to discard; written with the first add
    return {};
  }
  return write(context, {}, taken_);
}

core::Result<std::optional<TakenPresignature>> PresignatureStore::take(const PresignatureContext& context, const std::string& id) {
  std::lock_guard lock(mu_);
  if (!context_ || !(*context_ == context)) return std::optional<TakenPresignature>{};
  auto it = id.empty() ? entries_.begin()
                       : std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.info.id == id; });
  if (it == entries_.end()) return std::optional<TakenPresignature>{};
  const std::size_t index = static_cast<std::size_t>(it - entries_.begin());
  std::vector<Entry> entries = clone_entries();
  TakenPresignature out{entries[index].info, std::move(entries[index].encoded)};
  entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(index));
  std::deque<std::string> taken = taken_;
  taken.push_back(out.info.id);
  while (taken.size() > kMaxTakenIds) taken.pop_front();
  // Gone from disk before it is handed out: a crash after this can never
  // hand it out again.
  MPC_TRY(write(context_, std::move(entries), std::move(taken)));
  return std::optional<TakenPresignature>(std::move(out));
}

std::size_t PresignatureStore::available(const PresignatureContext& context) const {
  std::lock_guard lock(mu_);
  return context_ && *context_ == context ? entries_.size() : 0;
}

std::vector<PresignatureInfo> PresignatureStore::list(const PresignatureContext& context) const {
  std::lock_guard lock(mu_);
  std::vector<PresignatureInfo> out;
  if (!context_ || !(*context_ == context)) return out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.info);
  return out;
}

std::optional<PresignatureInfo> PresignatureStore::find(const PresignatureContext& context, const std::string& id) const {
  std::lock_guard lock(mu_);
  if (!context_ || !(*context_ == context)) return std::nullopt;
  for (const auto& e : entries_)
    if (e.info.id == id) return e.info;
  return std::nullopt;
}

bool PresignatureStore::was_taken(const std::string& id) const {
  std::lock_guard lock(mu_);
  return std::find(taken_.begin(), taken_.end(), id) != taken_.end();
}

}  // namespace mpc::node
