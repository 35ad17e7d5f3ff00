#include "attest/dstack.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include "attest/checks.h"
#include "core/crypto.h"
#include "core/json_limits.h"
#include "core/openssl_ptr.h"

namespace mpc::attest {
namespace {

using nlohmann::json;

constexpr char kComposeHashEvent[] = "compose-hash";
constexpr char kKeyProviderEvent[] = "key-provider";
constexpr char kMpcImageDigestEvent[] = "mpc-image-digest";

Hash384 sha384_parts(std::initializer_list<core::ByteView> parts) {
  Hash384 out{};
  core::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha384(), nullptr) == 1;
  for (const auto& p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1;
  if (!ok || len != out.size()) std::abort();  // OpenSSL cannot hash: nothing sensible to do
  return out;
}

template <std::size_t N>
core::Result<std::array<std::uint8_t, N>> hex_field(const json& obj, const std::string& path, const char* key, Check check) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return reject(check, path + key + " is missing or not a string");
  auto bytes = core::hex_decode(it->get_ref<const std::string&>());
  if (!bytes || bytes->size() != N) return reject(check, path + key + " is not " + std::to_string(N) + " bytes of hex");
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

core::Result<json> parse_object(std::string_view text, Check check, const char* what, std::size_t max_depth) {
  core::JsonLimits limits;
  limits.max_bytes = kMaxTcbInfoInputSize;
  limits.max_depth = max_depth;
  auto parsed = core::parse_json(text, limits);
  if (!parsed) return reject(check, std::string(what) + ": " + parsed.error().message);
  if (!parsed->is_object()) return reject(check, std::string(what) + " is not a JSON object");
  return std::move(*parsed);
}

std::string hex(core::ByteView b) { return core::hex_encode(b); }

// The single IMR 3 event with this name.
core::Result<const EventLogEntry*> single_event(const std::vector<EventLogEntry>& log, const char* name, Check check) {
  const EventLogEntry* found = nullptr;
  for (const auto& e : log) {
    if (e.imr != 3 || e.event != name) continue;
    if (found != nullptr) return reject(check, std::string("duplicate ") + name + " events in the event log");
    found = &e;
  }
  if (found == nullptr) return reject(check, std::string("no ") + name + " event in the event log");
  return found;
}

core::Status compare(Check check, const std::string& name, core::ByteView found, core::ByteView expected) {
  if (found.size() != expected.size() || !std::equal(found.begin(), found.end(), expected.begin())) {
    return reject(check, "wrong " + name + " (found " + hex(found) + ", expected " + hex(expected) + ")");
  }
  return {};
}

}  // namespace

core::Result<DstackTcbInfo> parse_dstack_tcb_info(std::string_view json_text) {
  const Check c = Check::kTcbInfoInput;
  MPC_ASSIGN(json doc, parse_object(json_text, c, "tcb info", 4));
  DstackTcbInfo t;
  MPC_ASSIGN(t.mrtd, hex_field<48>(doc, "", "mrtd", c));
  MPC_ASSIGN(t.rtmr0, hex_field<48>(doc, "", "rtmr0", c));
  MPC_ASSIGN(t.rtmr1, hex_field<48>(doc, "", "rtmr1", c));
  MPC_ASSIGN(t.rtmr2, hex_field<48>(doc, "", "rtmr2", c));
  MPC_ASSIGN(t.rtmr3, hex_field<48>(doc, "", "rtmr3", c));
  if (auto it = doc.find("os_image_hash"); it != doc.end() && it->is_string() && it->get_ref<const std::string&>().empty()) {
    t.os_image_hash.reset();
  } else {
    MPC_ASSIGN(auto h, hex_field<32>(doc, "", "os_image_hash", c));
    t.os_image_hash = h;
  }
  MPC_ASSIGN(t.compose_hash, hex_field<32>(doc, "", "compose_hash", c));
  MPC_ASSIGN(t.device_id, hex_field<32>(doc, "", "device_id", c));
  auto ac = doc.find("app_compose");
  if (ac == doc.end() || !ac->is_string()) return reject(c, "app_compose is missing or not a string");
  t.app_compose = ac->get<std::string>();
  auto log = doc.find("event_log");
  if (log == doc.end() || !log->is_array()) return reject(c, "event_log is missing or not an array");
  if (log->size() > kMaxEvents) return reject(c, "event_log has more than " + std::to_string(kMaxEvents) + " events");
  for (std::size_t i = 0; i < log->size(); ++i) {
    const json& e = (*log)[i];
    const std::string path = "event_log[" + std::to_string(i) + "].";
    if (!e.is_object()) return reject(c, path.substr(0, path.size() - 1) + " is not an object");
    EventLogEntry entry;
    for (auto [key, out] : {std::pair{"imr", &entry.imr}, std::pair{"event_type", &entry.event_type}}) {
      auto it = e.find(key);
      if (it == e.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > 0xffffffffull) {
        return reject(c, path + key + " is not a u32");
      }
      *out = static_cast<std::uint32_t>(it->get<std::uint64_t>());
    }
    MPC_ASSIGN(entry.digest, hex_field<48>(e, path, "digest", c));
    for (auto [key, out] : {std::pair{"event", &entry.event}, std::pair{"event_payload", &entry.event_payload}}) {
      auto it = e.find(key);
      if (it == e.end() || !it->is_string()) return reject(c, path + key + " is missing or not a string");
      *out = it->get<std::string>();
    }
    t.event_log.push_back(std::move(entry));
  }
  return t;
}

core::Result<AllowedSet> parse_allowed_set(std::string_view json_text) {
  core::JsonLimits limits;
  limits.max_bytes = kMaxTcbInfoInputSize;
  limits.max_depth = 3;
  MPC_ASSIGN(json doc, core::parse_json(json_text, limits));
  if (!doc.is_object()) return core::invalid("allowed set: not a JSON object");
  AllowedSet out;
  auto list = [&](const char* key) -> core::Result<const json*> {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_array()) return core::invalid(std::string("allowed set: ") + key + " is missing or not an array");
    return &*it;
  };
  MPC_ASSIGN(const json* ms, list("measurements"));
  for (std::size_t i = 0; i < ms->size(); ++i) {
    const json& m = (*ms)[i];
    const std::string path = "measurements[" + std::to_string(i) + "].";
    if (!m.is_object()) return core::invalid("allowed set: " + path + " is not an object");
    ExpectedMeasurements e;
    auto field = [&](const char* key, Hash384& dst) -> core::Status {
      auto r = hex_field<48>(m, path, key, Check::kMeasurements);
      if (!r) return core::invalid("allowed set: " + path + key + " is not 48 bytes of hex");
      dst = *r;
      return {};
    };
    MPC_TRY(field("mrtd", e.mrtd));
    MPC_TRY(field("rtmr0", e.rtmr0));
    MPC_TRY(field("rtmr1", e.rtmr1));
    MPC_TRY(field("rtmr2", e.rtmr2));
    MPC_TRY(field("key_provider_event_digest", e.key_provider_event_digest));
    out.measurements.push_back(e);
  }
  for (auto [key, dst] : {std::pair{"mpc_image_hashes", &out.mpc_image_hashes},
                          std::pair{"launcher_compose_hashes", &out.launcher_compose_hashes}}) {
    MPC_ASSIGN(const json* hashes, list(key));
    for (std::size_t i = 0; i < hashes->size(); ++i) {
      const json& h = (*hashes)[i];
      auto bytes = h.is_string() ? core::hex_decode(h.get_ref<const std::string&>()) : core::Result<core::Bytes>();
      if (!h.is_string() || !bytes || bytes->size() != 32) {
        return core::invalid(std::string("allowed set: ") + key + "[" + std::to_string(i) + "] is not 32 bytes of hex");
      }
      Hash256 v{};
      std::copy(bytes->begin(), bytes->end(), v.begin());
      dst->push_back(v);
    }
  }
  return out;
}

nlohmann::json measurements_to_json(const ExpectedMeasurements& m) {
  return {{"mrtd", hex(m.mrtd)},
          {"rtmr0", hex(m.rtmr0)},
          {"rtmr1", hex(m.rtmr1)},
          {"rtmr2", hex(m.rtmr2)},
          {"key_provider_event_digest", hex(m.key_provider_event_digest)}};
}

core::Result<ExpectedMeasurements> measurements_of(const DstackTcbInfo& info) {
  ExpectedMeasurements m;
  m.mrtd = info.mrtd;
  m.rtmr0 = info.rtmr0;
  m.rtmr1 = info.rtmr1;
  m.rtmr2 = info.rtmr2;
  MPC_ASSIGN(const EventLogEntry* kp, single_event(info.event_log, kKeyProviderEvent, Check::kMeasurements));
  m.key_provider_event_digest = kp->digest;
  return m;
}

Hash384 event_digest(std::uint32_t event_type, std::string_view event, core::ByteView payload) {
  const std::uint8_t type_le[4] = {static_cast<std::uint8_t>(event_type), static_cast<std::uint8_t>(event_type >> 8),
                                   static_cast<std::uint8_t>(event_type >> 16), static_cast<std::uint8_t>(event_type >> 24)};
  const std::uint8_t colon[1] = {':'};
  return sha384_parts({type_le, colon, core::as_bytes(event), colon, payload});
}

core::Result<Hash384> replay_rtmr3(const std::vector<EventLogEntry>& events) {
  Hash384 rtmr{};
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventLogEntry& e = events[i];
    if (e.imr != 3) continue;
    const std::string where = "event " + std::to_string(i) + " (\"" + e.event + "\")";
    if (e.event_type != kDstackEventType) {
      return reject(Check::kEventLog, where + " has type " + std::to_string(e.event_type) + ", not dstack's " +
                                          std::to_string(kDstackEventType));
    }
    auto payload = core::hex_decode(e.event_payload);
    if (!payload) return reject(Check::kEventLog, where + " payload is not hex");
    const Hash384 digest = event_digest(e.event_type, e.event, *payload);
    if (digest != e.digest) {
      return reject(Check::kEventLog, where + " digest " + hex(e.digest) + " is not SHA-384 of its content (" + hex(digest) + ")");
    }
    rtmr = sha384_parts({rtmr, e.digest});
  }
  return rtmr;
}

// Keys repeated within one object (serde, which dstack and the reference
// parse the app compose with, refuses them; nlohmann keeps the last).
static std::optional<std::string> duplicate_key(std::string_view text) {
  std::vector<std::set<std::string>> open;
  std::optional<std::string> duplicate;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) open.emplace_back();
    if (event == json::parse_event_t::object_end && !open.empty()) open.pop_back();
    if (event == json::parse_event_t::key && !open.empty() && parsed.is_string() &&
        !open.back().insert(parsed.get<std::string>()).second && !duplicate) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  const json ignored = json::parse(text, cb, /*allow_exceptions=*/false);  // only the callback matters
  (void)ignored;
  return duplicate;
}

core::Status check_app_compose(std::string_view text) {
  const Check c = Check::kAppCompose;
  MPC_ASSIGN(json doc, parse_object(text, c, "app compose", 16));
  if (auto dup = duplicate_key(text)) return reject(c, "duplicate field \"" + *dup + "\"");
  // dstack's AppCompose fields (the reference models the same set and
  // refuses any other key, so a field a future dstack adds fails closed).
  static const std::set<std::string> kKnown = {
      "manifest_version", "name", "runner", "docker_compose_file", "kms_enabled", "tproxy_enabled", "gateway_enabled",
      "public_logs", "public_sysinfo", "local_key_provider_enabled", "key_provider_id", "allowed_envs", "no_instance_id",
      "secure_time", "pre_launch_script", "init_script", "bash_script", "features", "public_tcbinfo", "key_provider",
      "storage_fs", "swap_size", "port_policy", "docker_config"};
  for (const auto& [key, _] : doc.items()) {
    if (!kKnown.contains(key)) return reject(c, "unknown field \"" + key + "\"");
  }
  auto get = [&](const char* key) -> const json* {
    auto it = doc.find(key);
    return it == doc.end() ? nullptr : &*it;
  };
  // Typed as the reference's serde model: required, optional (absent or
  // null) or defaulted.
  auto required_bool = [&](const char* key) -> core::Result<bool> {
    const json* v = get(key);
    if (v == nullptr || !v->is_boolean()) return reject(c, std::string(key) + " is missing or not a boolean");
    return v->get<bool>();
  };
  auto optional_bool = [&](const char* key) -> core::Result<std::optional<bool>> {
    const json* v = get(key);
    if (v == nullptr || v->is_null()) return std::optional<bool>();
    if (!v->is_boolean()) return reject(c, std::string(key) + " is not a boolean");
    return std::optional<bool>(v->get<bool>());
  };
  auto optional_string_present = [&](const char* key) -> core::Result<bool> {
    const json* v = get(key);
    if (v == nullptr || v->is_null()) return false;
    if (!v->is_string()) return reject(c, std::string(key) + " is not a string");
    return true;
  };
  const json* version = get("manifest_version");
  if (version == nullptr || !version->is_number_unsigned() || version->get<std::uint64_t>() > 0xffffffffull) {
    return reject(c, "manifest_version is missing or not a u32");
  }
  for (const char* key : {"name", "runner", "docker_compose_file"}) {
    const json* v = get(key);
    if (v == nullptr || !v->is_string()) return reject(c, std::string(key) + " is missing or not a string");
  }
  bool kms_enabled = false;
  if (const json* v = get("kms_enabled"); v != nullptr) {
    if (!v->is_boolean()) return reject(c, "kms_enabled is not a boolean");
    kms_enabled = v->get<bool>();
  }
  MPC_ASSIGN(auto tproxy, optional_bool("tproxy_enabled"));
  MPC_ASSIGN(auto gateway, optional_bool("gateway_enabled"));
  MPC_ASSIGN(bool public_logs, required_bool("public_logs"));
  MPC_ASSIGN(bool public_sysinfo, required_bool("public_sysinfo"));
  MPC_ASSIGN(bool local_key_provider, required_bool("local_key_provider_enabled"));
  MPC_TRY(optional_string_present("key_provider_id"));
  std::size_t allowed_envs = 0;
  if (const json* v = get("allowed_envs"); v != nullptr) {
    if (!v->is_array() || !std::all_of(v->begin(), v->end(), [](const json& s) { return s.is_string(); })) {
      return reject(c, "allowed_envs is not an array of strings");
    }
    allowed_envs = v->size();
  }
  MPC_ASSIGN(bool no_instance_id, required_bool("no_instance_id"));
  MPC_TRY(optional_bool("secure_time"));
  MPC_TRY(optional_bool("public_tcbinfo"));
  MPC_ASSIGN(bool pre_launch, optional_string_present("pre_launch_script"));
  MPC_ASSIGN(bool init_script, optional_string_present("init_script"));
  MPC_ASSIGN(bool bash_script, optional_string_present("bash_script"));

  if (version->get<std::uint64_t>() != 2) return reject(c, "manifest_version is not 2");
  if (get("runner")->get<std::string>() != "docker-compose") return reject(c, "runner is not docker-compose");
  if (kms_enabled) return reject(c, "kms_enabled is set");
  if (gateway != std::optional<bool>(false)) return reject(c, "gateway_enabled is not false");
  if (tproxy == std::optional<bool>(true)) return reject(c, "tproxy_enabled is set");
  if (!public_logs) return reject(c, "public_logs is not set");
  if (!public_sysinfo) return reject(c, "public_sysinfo is not set");
  if (!local_key_provider) return reject(c, "local_key_provider_enabled is not set");
  if (allowed_envs != 0) return reject(c, "allowed_envs is not empty");
  if (!no_instance_id) return reject(c, "no_instance_id is not set");
  if (pre_launch || init_script || bash_script) return reject(c, "a pre_launch_script, init_script or bash_script is present");
  return {};
}

core::Result<DstackFindings> check_dstack(const TdReport10& report, const DstackTcbInfo& info) {
  DstackFindings f;
  // RTMR3.
  MPC_TRY(compare(Check::kRtmr3, "tcb info rtmr3", info.rtmr3, report.rt_mr3));
  MPC_ASSIGN(f.rtmr3, replay_rtmr3(info.event_log));
  MPC_TRY(compare(Check::kRtmr3, "rtmr3 replayed from the event log", f.rtmr3, report.rt_mr3));

  // The app compose.
  MPC_TRY(check_app_compose(info.app_compose));
  MPC_ASSIGN(const EventLogEntry* compose_event, single_event(info.event_log, kComposeHashEvent, Check::kAppCompose));
  if (compose_event->event_payload != hex(info.compose_hash)) {
    return reject(Check::kAppCompose, "wrong compose-hash event payload (found " + compose_event->event_payload +
                                          ", expected " + hex(info.compose_hash) + ")");
  }
  const core::Hash256 compose = core::sha256(core::as_bytes(info.app_compose));
  MPC_TRY(compare(Check::kAppCompose, "app compose hash", compose, info.compose_hash));
  f.compose_hash = compose;

  // The MPC image and launcher compose hashes.
  MPC_ASSIGN(const EventLogEntry* image_event, single_event(info.event_log, kMpcImageDigestEvent, Check::kMpcImageHash));
  auto image = core::hex_decode(image_event->event_payload);
  if (!image || image->size() != 32) return reject(Check::kMpcImageHash, "the mpc-image-digest payload is not 32 bytes of hex");
  std::copy(image->begin(), image->end(), f.mpc_image_hash.begin());
  MPC_ASSIGN(json app_compose, parse_object(info.app_compose, Check::kAppCompose, "app compose", 16));
  f.launcher_compose_hash = core::sha256(core::as_bytes(app_compose["docker_compose_file"].get_ref<const std::string&>()));

  MPC_ASSIGN(f.measurements, measurements_of(info));
  return f;
}

core::Result<std::size_t> check_allowed(const DstackFindings& f, const TdReport10& report, const DstackTcbInfo& info,
                                        const AllowedSet& allowed) {
  if (allowed.mpc_image_hashes.empty()) return reject(Check::kMpcImageHash, "the allowed mpc image hashes list is empty");
  if (std::find(allowed.mpc_image_hashes.begin(), allowed.mpc_image_hashes.end(), f.mpc_image_hash) ==
      allowed.mpc_image_hashes.end()) {
    return reject(Check::kMpcImageHash, "MPC image hash " + hex(f.mpc_image_hash) + " is not in the allowed list");
  }
  if (allowed.launcher_compose_hashes.empty()) {
    return reject(Check::kLauncherComposeHash, "the allowed launcher compose hashes list is empty");
  }
  if (std::find(allowed.launcher_compose_hashes.begin(), allowed.launcher_compose_hashes.end(), f.launcher_compose_hash) ==
      allowed.launcher_compose_hashes.end()) {
    return reject(Check::kLauncherComposeHash,
                  "launcher compose hash " + hex(f.launcher_compose_hash) + " is not in the allowed list");
  }
  if (allowed.measurements.empty()) return reject(Check::kMeasurements, "the allowed measurements list is empty");
  for (std::size_t i = 0; i < allowed.measurements.size(); ++i) {
    const ExpectedMeasurements& e = allowed.measurements[i];
    if (report.mr_td == e.mrtd && report.rt_mr0 == e.rtmr0 && report.rt_mr1 == e.rtmr1 && report.rt_mr2 == e.rtmr2 &&
        info.mrtd == e.mrtd && info.rtmr0 == e.rtmr0 && info.rtmr1 == e.rtmr1 && info.rtmr2 == e.rtmr2 &&
        f.measurements.key_provider_event_digest == e.key_provider_event_digest) {
      return i;
    }
  }
  return reject(Check::kMeasurements, "MRTD/RTMR0-2/key-provider digest (" + hex(report.mr_td).substr(0, 16) + "...) match none of the " +
                                          std::to_string(allowed.measurements.size()) + " allowed measurement sets");
}

}  // namespace mpc::attest
