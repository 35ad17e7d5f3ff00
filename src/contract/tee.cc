// TEE attestations on chain (internal/tee.h): verification of submitted
// attestations, the allowed sets voted by participants, the kick-out of
// participants without a valid attestation (verify_tee), and their JSON.
#include "contract/internal/tee.h"

#include <algorithm>

#include "attest/attestation.h"
#include "attest/report_data.h"
#include "contract/internal/calls.h"
#include "contract/internal/state.h"
#include "core/bytes.h"
#include "core/near_key.h"

namespace mpc::contract::internal {

namespace {

template <std::size_t N>
std::string hex_of(const std::array<std::uint8_t, N>& a) {
  return core::hex_encode(core::ByteView(a.data(), a.size()));
}

template <std::size_t N>
core::Result<std::array<std::uint8_t, N>> hex_array(const json& j, const std::string& path) {
  if (!j.is_string()) return core::invalid(path + " must be a hex string of " + std::to_string(N) + " bytes");
  auto bytes = core::hex_decode(j.get<std::string>());
  if (!bytes || bytes->size() != N) return core::invalid(path + " must be a hex string of " + std::to_string(N) + " bytes");
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

// The reference's Measurements JSON (hex fields); unknown fields refused.
core::Result<attest::ExpectedMeasurements> measurements_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) return core::invalid(path + " must be an object {mrtd, rtmr0, rtmr1, rtmr2, key_provider_event_digest}");
  for (const auto& [k, _] : j.items()) {
    if (k != "mrtd" && k != "rtmr0" && k != "rtmr1" && k != "rtmr2" && k != "key_provider_event_digest") {
      return core::invalid(path + "." + k + " is not a measurement");
    }
  }
  attest::ExpectedMeasurements m;
  auto field = [&](const char* name, attest::Hash384& out) -> core::Status {
    if (!j.contains(name)) return core::invalid(path + "." + name + " is missing");
    MPC_ASSIGN(out, hex_array<48>(j[name], path + "." + name));
    return {};
  };
  MPC_TRY(field("mrtd", m.mrtd));
  MPC_TRY(field("rtmr0", m.rtmr0));
  MPC_TRY(field("rtmr1", m.rtmr1));
  MPC_TRY(field("rtmr2", m.rtmr2));
  MPC_TRY(field("key_provider_event_digest", m.key_provider_event_digest));
  return m;
}

template <typename T>
bool contains(const std::vector<T>& list, const T& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

std::string kind_name(AttestationKind k) { return k == AttestationKind::kDstack ? "Dstack" : "Mock"; }

// The reference's VerificationError texts, inside its submission error.
std::unexpected<core::Error> refused(const std::string& reason) {
  return panic("Invalid TEE Remote Attestation: the submitted attestation failed verification, reason: " + reason);
}

// A Mock's constraints against the allowed set (the reference's
// MockAttestation::verify_constraints), at `now`.
core::Status check_mock_constraints(const StoredAttestation& a, std::uint64_t now, const attest::AllowedSet& allowed) {
  if (a.mpc_image_hash) {
    if (allowed.mpc_image_hashes.empty()) return core::fail(core::ErrorCode::kFailedPrecondition, "the allowed mpc image hashes list is empty");
    if (!contains(allowed.mpc_image_hashes, *a.mpc_image_hash)) {
      return core::fail(core::ErrorCode::kFailedPrecondition, "MPC image hash " + hex_of(*a.mpc_image_hash) + " is not in the allowed hashes list");
    }
  }
  if (a.launcher_compose_hash) {
    if (allowed.launcher_compose_hashes.empty()) {
      return core::fail(core::ErrorCode::kFailedPrecondition, "the allowed mpc launcher compose hashes list is empty");
    }
    if (!contains(allowed.launcher_compose_hashes, *a.launcher_compose_hash)) {
      return core::fail(core::ErrorCode::kFailedPrecondition,
                        "launcher compose hash " + hex_of(*a.launcher_compose_hash) + " is not in the allowed hashes list");
    }
  }
  if (a.measurements) {
    if (allowed.measurements.empty()) return core::fail(core::ErrorCode::kFailedPrecondition, "the allowed OS measurements list is empty");
    if (!contains(allowed.measurements, *a.measurements)) {
      return core::fail(core::ErrorCode::kFailedPrecondition, "the measurements are not in the allowed OS measurements list");
    }
  }
  if (now >= a.expiry_timestamp_seconds) {
    return core::fail(core::ErrorCode::kFailedPrecondition, "the attestation expired at " + std::to_string(a.expiry_timestamp_seconds) +
                                                                " (now " + std::to_string(now) + ")");
  }
  return {};
}

core::Result<std::optional<attest::Hash256>> optional_hash(const json& o, const char* name, const std::string& path) {
  if (!o.contains(name) || o[name].is_null()) return std::optional<attest::Hash256>{};
  MPC_ASSIGN(auto h, hex_array<32>(o[name], path + "." + name));
  return std::optional<attest::Hash256>{h};
}

core::Result<StoredAttestation> parse_mock(const json& mock, const std::string& path) {
  StoredAttestation a;
  a.kind = AttestationKind::kMock;
  a.expiry_timestamp_seconds = UINT64_MAX;
  if (mock.is_string()) {
    if (mock == "Valid") return a;
    if (mock == "Invalid") return refused("InvalidMockAttestation");
    return core::invalid(path + " must be \"Valid\", \"Invalid\" or {\"WithConstraints\": {...}}");
  }
  if (!mock.is_object() || mock.size() != 1 || !mock.contains("WithConstraints") || !mock["WithConstraints"].is_object()) {
    return core::invalid(path + " must be \"Valid\", \"Invalid\" or {\"WithConstraints\": {...}}");
  }
  const json& c = mock["WithConstraints"];
  const std::string where = path + ".WithConstraints";
  for (const auto& [k, _] : c.items()) {
    if (k != "mpc_docker_image_hash" && k != "launcher_docker_compose_hash" && k != "expiry_timestamp_seconds" &&
        k != "expected_measurements") {
      return core::invalid(where + "." + k + " is not a constraint");
    }
  }
  MPC_ASSIGN(a.mpc_image_hash, optional_hash(c, "mpc_docker_image_hash", where));
  MPC_ASSIGN(a.launcher_compose_hash, optional_hash(c, "launcher_docker_compose_hash", where));
  if (c.contains("expiry_timestamp_seconds") && !c["expiry_timestamp_seconds"].is_null()) {
    auto e = model::json_u64(c["expiry_timestamp_seconds"]);
    if (!e) return core::invalid(where + ".expiry_timestamp_seconds must be an unsigned integer (Unix seconds) or null");
    a.expiry_timestamp_seconds = *e;
  }
  if (c.contains("expected_measurements") && !c["expected_measurements"].is_null()) {
    MPC_ASSIGN(auto m, measurements_from_json(c["expected_measurements"], where + ".expected_measurements"));
    a.measurements = m;
  }
  return a;
}

core::Result<StoredAttestation> verify_dstack(const json& d, const std::string& path, const core::Ed25519PublicKey& tls_key,
                                              const core::Ed25519PublicKey& account_key, std::uint64_t now,
                                              const attest::AllowedSet& allowed) {
  if (!d.is_object()) return core::invalid(path + " must be an object {quote, collateral, tcb_info}");
  for (const char* f : {"quote", "collateral", "tcb_info"}) {
    if (!d.contains(f)) return core::invalid(path + "." + f + " is missing");
  }
  auto quote = attest::parse_quote_text(d["quote"].dump());
  if (!quote) return core::invalid(path + ".quote: " + quote.error().message);
  if (!d["collateral"].is_object()) return core::invalid(path + ".collateral must be an object");
  auto collateral = attest::parse_collateral(d["collateral"].dump());
  if (!collateral) return core::invalid(path + ".collateral: " + collateral.error().message);
  if (!d["tcb_info"].is_object()) return core::invalid(path + ".tcb_info must be an object");
  auto tcb_info = attest::parse_dstack_tcb_info(d["tcb_info"].dump());
  if (!tcb_info) return core::invalid(path + ".tcb_info: " + tcb_info.error().message);
  if (now > static_cast<std::uint64_t>(INT64_MAX)) return refused("the block timestamp is out of range");
  attest::VerifyOptions options;
  options.timestamp = static_cast<std::int64_t>(now);
  options.expected_report_data = attest::report_data_v1(tls_key, account_key);
  options.allowed = &allowed;
  auto verified = attest::verify_attestation(*quote, *collateral, *tcb_info, options);
  if (!verified) return refused(verified.error().message);
  StoredAttestation a;
  a.kind = AttestationKind::kDstack;
  a.mpc_image_hash = verified->dstack.mpc_image_hash;
  a.launcher_compose_hash = verified->dstack.launcher_compose_hash;
  a.measurements = verified->dstack.measurements;
  a.expiry_timestamp_seconds = now + kAttestationValiditySeconds;
  return a;
}

}  // namespace

std::string_view attestation_mode_name(AttestationMode mode) {
  return mode == AttestationMode::kProduction ? "production" : "development";
}

std::optional<AttestationMode> parse_attestation_mode(std::string_view text) {
  if (text == "development") return AttestationMode::kDevelopment;
  if (text == "production") return AttestationMode::kProduction;
  return std::nullopt;
}

std::uint64_t block_seconds(const CallContext& ctx) { return ctx.block_timestamp_ns / 1'000'000'000; }

attest::AllowedSet TeeState::allowed_for_nodes() const {
  return attest::AllowedSet{os_measurements, node.image_hashes, node.launcher_compose_hashes};
}
attest::AllowedSet TeeState::allowed_for_backup_services() const {
  return attest::AllowedSet{os_measurements, backup.image_hashes, backup.launcher_compose_hashes};
}

core::Status reverify(const StoredAttestation& a, std::uint64_t now, AttestationMode mode, const attest::AllowedSet& allowed) {
  if (a.kind == AttestationKind::kMock && mode == AttestationMode::kProduction) {
    return core::fail(core::ErrorCode::kFailedPrecondition, "a Mock attestation is not accepted by a contract in production mode");
  }
  // A Dstack attestation's hashes and measurements are all set, so this is
  // the reference's re_verify for both kinds: still allowed, not expired.
  return check_mock_constraints(a, now, allowed);
}

core::Result<StoredAttestation> verify_submitted(const json& value, const std::string& path, const core::Ed25519PublicKey& tls_key,
                                                 const CallContext& ctx, AttestationMode mode, const attest::AllowedSet& allowed) {
  if (!value.is_object() || value.size() != 1 || (!value.contains("Mock") && !value.contains("Dstack"))) {
    return bad_args(path + " must be {\"Dstack\": {...}} or {\"Mock\": ...}");
  }
  if (!ctx.signer_public_key.is_ed25519()) {
    return panic("Invalid TEE Remote Attestation: signer account key must be Ed25519");
  }
  const core::Ed25519PublicKey& account_key = ctx.signer_public_key.ed25519();
  const std::uint64_t now = block_seconds(ctx);
  const std::uint64_t cap = now > UINT64_MAX - kAttestationValiditySeconds ? UINT64_MAX : now + kAttestationValiditySeconds;
  core::Result<StoredAttestation> a = core::fail(core::ErrorCode::kInternal, "unreachable");
  if (value.contains("Mock")) {
    if (mode == AttestationMode::kProduction) {
      return refused("Mock attestations are accepted only by a contract in development mode; this contract is in production mode");
    }
    a = parse_mock(value["Mock"], path + ".Mock");
    if (a) {
      a->expiry_timestamp_seconds = std::min(a->expiry_timestamp_seconds, cap);
      if (auto st = check_mock_constraints(*a, now, allowed); !st) return refused(st.error().message);
    }
  } else {
    a = verify_dstack(value["Dstack"], path + ".Dstack", tls_key, account_key, now, allowed);
  }
  if (!a) {
    if (a.error().code == core::ErrorCode::kInvalidArgument) return bad_args(a.error().message);
    return std::unexpected(a.error());
  }
  a->account_id = ctx.signer_account_id;
  a->tls_public_key = tls_key;
  a->account_public_key = account_key;
  return a;
}

// ------------------------------------------------------------------ JSON

json to_json(const StoredAttestation& a) {
  auto opt = [](const auto& v) { return v ? json(hex_of(*v)) : json(nullptr); };
  return json{{"account_id", a.account_id},
              {"tls_public_key", core::ed25519_public_key_to_string(a.tls_public_key)},
              {"account_public_key", core::ed25519_public_key_to_string(a.account_public_key)},
              {"kind", kind_name(a.kind)},
              {"expiry_timestamp_seconds", a.expiry_timestamp_seconds},
              {"mpc_image_hash", opt(a.mpc_image_hash)},
              {"launcher_compose_hash", opt(a.launcher_compose_hash)},
              {"measurements", a.measurements ? attest::measurements_to_json(*a.measurements) : json(nullptr)}};
}

core::Result<StoredAttestation> stored_attestation_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) return core::invalid(path + " must be an object");
  StoredAttestation a;
  auto key = [&](const char* name, core::Ed25519PublicKey& out) -> core::Status {
    if (!j.contains(name) || !j[name].is_string()) return core::invalid(path + "." + name + " must be an ed25519 key");
    auto k = core::parse_ed25519_public_key(j[name].get<std::string>());
    if (!k) return core::invalid(path + "." + name + ": " + k.error().message);
    out = *k;
    return {};
  };
  if (!j.contains("account_id") || !j["account_id"].is_string()) return core::invalid(path + ".account_id must be a string");
  a.account_id = j["account_id"].get<std::string>();
  MPC_TRY(key("tls_public_key", a.tls_public_key));
  MPC_TRY(key("account_public_key", a.account_public_key));
  if (!j.contains("kind") || (j["kind"] != "Mock" && j["kind"] != "Dstack")) return core::invalid(path + ".kind must be \"Mock\" or \"Dstack\"");
  a.kind = j["kind"] == "Dstack" ? AttestationKind::kDstack : AttestationKind::kMock;
  auto expiry = j.contains("expiry_timestamp_seconds") ? model::json_u64(j["expiry_timestamp_seconds"]) : std::nullopt;
  if (!expiry) return core::invalid(path + ".expiry_timestamp_seconds must be an unsigned integer");
  a.expiry_timestamp_seconds = *expiry;
  MPC_ASSIGN(a.mpc_image_hash, optional_hash(j, "mpc_image_hash", path));
  MPC_ASSIGN(a.launcher_compose_hash, optional_hash(j, "launcher_compose_hash", path));
  if (j.contains("measurements") && !j["measurements"].is_null()) {
    MPC_ASSIGN(auto m, measurements_from_json(j["measurements"], path + ".measurements"));
    a.measurements = m;
  }
  if (a.kind == AttestationKind::kDstack && (!a.mpc_image_hash || !a.launcher_compose_hash || !a.measurements)) {
    return core::invalid(path + ": a Dstack attestation records its image hash, launcher compose hash and measurements");
  }
  return a;
}

namespace {

template <std::size_t N>
json hex_list(const std::vector<std::array<std::uint8_t, N>>& list) {
  json out = json::array();
  for (const auto& h : list) out.push_back(hex_of(h));
  return out;
}

json measurement_list(const std::vector<attest::ExpectedMeasurements>& list) {
  json out = json::array();
  for (const auto& m : list) out.push_back(attest::measurements_to_json(m));
  return out;
}

template <typename T, typename ToJson>
json votes_json(const AccountVotes<T>& v, ToJson f) {
  json by = json::object();
  for (const auto& [a, p] : v.proposal_by_account) by[a] = f(p);
  return json{{"proposal_by_account", std::move(by)}};
}

json allowed_json(const AllowedHashes& h) {
  auto hex = [](const attest::Hash256& x) { return json(hex_of(x)); };
  return json{{"image_hashes", hex_list(h.image_hashes)},
              {"launcher_compose_hashes", hex_list(h.launcher_compose_hashes)},
              {"image_votes", votes_json(h.image_votes, hex)},
              {"launcher_votes", votes_json(h.launcher_votes, hex)}};
}

template <typename T, typename Parse>
core::Result<std::vector<T>> list_from(const json& j, const char* name, const std::string& path, Parse parse) {
  std::vector<T> out;
  if (!j.contains(name)) return out;
  if (!j[name].is_array()) return core::invalid(path + "." + name + " must be an array");
  for (std::size_t i = 0; i < j[name].size(); ++i) {
    MPC_ASSIGN(auto v, parse(j[name][i], path + "." + name + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(v));
  }
  return out;
}

template <typename T, typename Parse>
core::Result<AccountVotes<T>> votes_from(const json& j, const char* name, const std::string& path, Parse parse) {
  AccountVotes<T> out;
  if (!j.contains(name)) return out;
  const std::string where = path + "." + name;
  if (!j[name].is_object() || !j[name].contains("proposal_by_account") || !j[name]["proposal_by_account"].is_object()) {
    return core::invalid(where + " must be {\"proposal_by_account\": {...}}");
  }
  for (const auto& [a, p] : j[name]["proposal_by_account"].items()) {
    MPC_ASSIGN(auto v, parse(p, where + ".proposal_by_account." + a));
    out.proposal_by_account.emplace(a, std::move(v));
  }
  return out;
}

core::Result<AllowedHashes> allowed_from(const json& j, const std::string& path) {
  AllowedHashes h;
  if (j.is_null()) return h;
  if (!j.is_object()) return core::invalid(path + " must be an object");
  MPC_ASSIGN(h.image_hashes, list_from<attest::Hash256>(j, "image_hashes", path, hex_array<32>));
  MPC_ASSIGN(h.launcher_compose_hashes, list_from<attest::Hash256>(j, "launcher_compose_hashes", path, hex_array<32>));
  MPC_ASSIGN(h.image_votes, votes_from<attest::Hash256>(j, "image_votes", path, hex_array<32>));
  MPC_ASSIGN(h.launcher_votes, votes_from<attest::Hash256>(j, "launcher_votes", path, hex_array<32>));
  return h;
}

}  // namespace

json to_json(const TeeState& tee) {
  json participants = json::object();
  for (const auto& [k, a] : tee.participant_attestations) participants[k] = to_json(a);
  json backups = json::object();
  for (const auto& [k, a] : tee.backup_attestations) backups[k] = to_json(a);
  return json{{"participant_attestations", std::move(participants)},
              {"backup_attestations", std::move(backups)},
              {"node", allowed_json(tee.node)},
              {"backup", allowed_json(tee.backup)},
              {"os_measurements", measurement_list(tee.os_measurements)},
              {"measurement_votes", votes_json(tee.measurement_votes, attest::measurements_to_json)}};
}

core::Result<TeeState> tee_state_from_json(const json& j) {
  TeeState t;
  if (j.is_null()) return t;
  if (!j.is_object()) return core::invalid("tee must be an object");
  for (const char* map : {"participant_attestations", "backup_attestations"}) {
    if (!j.contains(map)) continue;
    if (!j[map].is_object()) return core::invalid(std::string("tee.") + map + " must be an object");
    for (const auto& [k, v] : j[map].items()) {
      const std::string where = std::string("tee.") + map + "." + k;
      MPC_ASSIGN(auto a, stored_attestation_from_json(v, where));
      if (std::string_view(map) == "participant_attestations") {
        if (core::ed25519_public_key_to_string(a.tls_public_key) != k) return core::invalid(where + " is stored under another TLS key");
        t.participant_attestations.emplace(k, std::move(a));
      } else {
        if (a.account_id != k) return core::invalid(where + " names another account");
        t.backup_attestations.emplace(k, std::move(a));
      }
    }
  }
  MPC_ASSIGN(t.node, allowed_from(j.value("node", json(nullptr)), "tee.node"));
  MPC_ASSIGN(t.backup, allowed_from(j.value("backup", json(nullptr)), "tee.backup"));
  MPC_ASSIGN(t.os_measurements, list_from<attest::ExpectedMeasurements>(j, "os_measurements", "tee", measurements_from_json));
  MPC_ASSIGN(t.measurement_votes, votes_from<attest::ExpectedMeasurements>(j, "measurement_votes", "tee", measurements_from_json));
  return t;
}

// ------------------------------------------------------------------ change methods

namespace {

// Drops `account`'s expired attestations, then checks there is room for one
// more under a new TLS key.
core::Status make_room(TeeState& tee, const std::string& account, const std::string& tls_text, std::uint64_t now) {
  std::erase_if(tee.participant_attestations,
                [&](const auto& kv) { return kv.second.account_id == account && kv.second.expiry_timestamp_seconds <= now; });
  if (tee.participant_attestations.contains(tls_text)) return {};
  const auto mine = std::count_if(tee.participant_attestations.begin(), tee.participant_attestations.end(),
                                  [&](const auto& kv) { return kv.second.account_id == account; });
  if (static_cast<std::size_t>(mine) >= kMaxAttestationsPerAccount) {
    return panic("Account " + account + " already has " + std::to_string(kMaxAttestationsPerAccount) +
                 " unexpired attestations under other TLS keys; re-submit under one of them or wait for one to expire");
  }
  if (tee.participant_attestations.size() >= kMaxStoredAttestations) {
    std::erase_if(tee.participant_attestations, [&](const auto& kv) { return kv.second.expiry_timestamp_seconds <= now; });
    if (tee.participant_attestations.size() >= kMaxStoredAttestations) {
      return panic("The contract holds " + std::to_string(kMaxStoredAttestations) + " attestations, its limit");
    }
  }
  return {};
}

core::Result<attest::Hash256> hash_arg(const json& args, const char* name) {
  MPC_ASSIGN(const json* v, arg(args, name));
  auto h = hex_array<32>(*v, std::string("args.") + name);
  if (!h) return bad_args(h.error().message);
  return *h;
}

// Participant `ctx`'s vote for `proposal`; when `threshold` current
// participants have voted for it, it joins `allowed` (if not there) and its
// votes are cleared. Returns the log line.
template <typename T>
core::Result<std::string> vote_into(State& s, const CallContext& ctx, AccountVotes<T>& votes, std::vector<T>& allowed,
                                    const T& proposal, const std::string& what) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_no_deposit(ctx, what));
  const model::ThresholdParameters* params = s.current_parameters();
  if (params == nullptr) return panic("Unexpected protocol state: NotInitialized");
  MPC_TRY(require_participant(s, ctx));
  votes.proposal_by_account[ctx.signer_account_id] = proposal;
  std::uint64_t n = 0;
  for (const auto& [a, p] : votes.proposal_by_account) {
    if (p == proposal && params->participants.find(a) != nullptr) ++n;
  }
  if (n < params->threshold) {
    return what + ": vote recorded (" + std::to_string(n) + " of " + std::to_string(params->threshold) + ")";
  }
  if (!contains(allowed, proposal)) {
    if (allowed.size() >= kMaxAllowedEntries) return panic(what + ": the allowed list is full (" + std::to_string(kMaxAllowedEntries) + ")");
    allowed.push_back(proposal);
  }
  std::erase_if(votes.proposal_by_account, [&](const auto& kv) { return kv.second == proposal; });
  return what + ": added to the allowed list";
}

}  // namespace

core::Result<CallOutcome> submit_participant_info(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_direct_call(ctx));
  MPC_ASSIGN(const json* attestation, arg(args, "proposed_participant_attestation"));
  MPC_ASSIGN(const json* tls, arg(args, "tls_public_key"));
  if (!tls->is_string()) return bad_args("tls_public_key must be an ed25519 public key");
  auto tls_key = core::parse_ed25519_public_key(tls->get<std::string>());
  if (!tls_key) return bad_args("tls_public_key: " + tls_key.error().message);
  if (s.as<NotInitialized>()) return panic("Unexpected protocol state: NotInitialized");
  const std::string tls_text = core::ed25519_public_key_to_string(*tls_key);
  if (auto it = s.tee.participant_attestations.find(tls_text);
      it != s.tee.participant_attestations.end() && it->second.account_id != ctx.signer_account_id) {
    return panic("TLS public key is already registered to a different account; only the owning account may update it");
  }
  MPC_ASSIGN(StoredAttestation a, verify_submitted(*attestation, "proposed_participant_attestation", *tls_key, ctx,
                                                   s.config.attestation_mode, s.tee.allowed_for_nodes()));
  MPC_TRY(make_room(s.tee, ctx.signer_account_id, tls_text, block_seconds(ctx)));
  const std::string log = "accepted " + kind_name(a.kind) + " attestation of " + ctx.signer_account_id + " for TLS key " + tls_text +
                          ", expires at " + std::to_string(a.expiry_timestamp_seconds);
  s.tee.participant_attestations[tls_text] = std::move(a);
  return unit_outcome(0, {log});
}

core::Result<CallOutcome> vote_code_hash(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto h, hash_arg(args, "code_hash"));
  MPC_ASSIGN(auto log, vote_into(s, ctx, s.tee.node.image_votes, s.tee.node.image_hashes, h, "vote_code_hash"));
  return unit_outcome(0, {log});
}

core::Result<CallOutcome> vote_add_launcher_compose_hash(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto h, hash_arg(args, "launcher_compose_hash"));
  MPC_ASSIGN(auto log, vote_into(s, ctx, s.tee.node.launcher_votes, s.tee.node.launcher_compose_hashes, h,
                                 "vote_add_launcher_compose_hash"));
  return unit_outcome(0, {log});
}

core::Result<CallOutcome> vote_backup_service_code_hash(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto h, hash_arg(args, "code_hash"));
  MPC_ASSIGN(auto log, vote_into(s, ctx, s.tee.backup.image_votes, s.tee.backup.image_hashes, h, "vote_backup_service_code_hash"));
  return unit_outcome(0, {log});
}

core::Result<CallOutcome> vote_backup_service_launcher_compose_hash(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(auto h, hash_arg(args, "launcher_compose_hash"));
  MPC_ASSIGN(auto log, vote_into(s, ctx, s.tee.backup.launcher_votes, s.tee.backup.launcher_compose_hashes, h,
                                 "vote_backup_service_launcher_compose_hash"));
  return unit_outcome(0, {log});
}

core::Result<CallOutcome> vote_add_os_measurement(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(const json* v, arg(args, "measurement"));
  auto m = measurements_from_json(*v, "args.measurement");
  if (!m) return bad_args(m.error().message);
  MPC_ASSIGN(auto log, vote_into(s, ctx, s.tee.measurement_votes, s.tee.os_measurements, *m, "vote_add_os_measurement"));
  return unit_outcome(0, {log});
}

core::Result<std::string> participant_attestation_problem(const State& s, const std::string& account,
                                                          const core::Ed25519PublicKey& tls_key,
                                                          const std::optional<core::Ed25519PublicKey>& account_key,
                                                          std::uint64_t now) {
  const std::string tls_text = core::ed25519_public_key_to_string(tls_key);
  auto it = s.tee.participant_attestations.find(tls_text);
  if (it == s.tee.participant_attestations.end()) return "no attestation has been submitted for TLS key " + tls_text;
  const StoredAttestation& a = it->second;
  if (a.account_id != account) return "the attestation for TLS key " + tls_text + " was submitted by " + a.account_id + ", not " + account;
  if (account_key && a.account_public_key != *account_key) {
    return "the attestation for TLS key " + tls_text + " binds access key " + core::ed25519_public_key_to_string(a.account_public_key) +
           ", not " + core::ed25519_public_key_to_string(*account_key);
  }
  if (auto st = reverify(a, now, s.config.attestation_mode, s.tee.allowed_for_nodes()); !st) {
    return "the attestation for TLS key " + tls_text + " no longer holds: " + st.error().message;
  }
  return std::string();
}

core::Result<CallOutcome> verify_tee(State& s, const CallContext& ctx, const json&) {
  MPC_TRY(require_direct_call(ctx));
  MPC_TRY(require_participant(s, ctx));
  const Running* running = s.as<Running>();
  if (running == nullptr) return panic("The protocol is not Running.");
  const std::uint64_t now = block_seconds(ctx);
  model::ThresholdParameters kept = running->parameters;
  std::vector<std::string> logs;
  std::erase_if(kept.participants.participants, [&](const model::ParticipantEntry& e) {
    auto problem = participant_attestation_problem(s, e.account_id, e.info.tls_public_key, std::nullopt, now);
    if (problem->empty()) return false;
    logs.push_back(e.account_id + ": " + *problem);
    return true;
  });
  CallOutcome out;
  if (logs.empty()) {
    out = unit_outcome(0, {"All participants have an accepted Tee status"});
    out.return_value = core::Bytes{'t', 'r', 'u', 'e'};
    return out;
  }
  // The kick-out is a resharing to the participants that remain, at the
  // same threshold; refused when that breaks the threshold rules.
  auto ok = check_threshold_rules(kept, "remaining participants");
  std::string outcome;
  if (kept.participants.participants.size() < kept.threshold || !ok) {
    logs.push_back("Kicking out participants with an invalid TEE status would break the threshold rules (" +
                   std::to_string(kept.participants.participants.size()) + " remain, threshold " + std::to_string(kept.threshold) +
                   (ok ? std::string() : ": " + ok.error().message) + "); this requires manual intervention.");
    out = unit_outcome(0, std::move(logs));
    out.return_value = core::Bytes{'f', 'a', 'l', 's', 'e'};
    return out;
  }
  MPC_ASSIGN(std::string started, begin_resharing(s, std::move(kept)));
  logs.push_back(started);
  out = unit_outcome(0, std::move(logs));
  out.return_value = core::Bytes{'t', 'r', 'u', 'e'};
  return out;
}

// ------------------------------------------------------------------ views

core::Result<json> tee_view(const State& s, std::string_view method, const json& args) {
  if (method == "allowed_docker_image_hashes") return hex_list(s.tee.node.image_hashes);
  if (method == "allowed_launcher_compose_hashes") return hex_list(s.tee.node.launcher_compose_hashes);
  if (method == "allowed_backup_service_code_hashes") return hex_list(s.tee.backup.image_hashes);
  if (method == "allowed_backup_service_launcher_compose_hashes") return hex_list(s.tee.backup.launcher_compose_hashes);
  if (method == "allowed_os_measurements") return measurement_list(s.tee.os_measurements);
  if (method == "code_hash_votes") return votes_json(s.tee.node.image_votes, [](const attest::Hash256& h) { return json(hex_of(h)); });
  if (method == "attestation_mode") return json(attestation_mode_name(s.config.attestation_mode));
  if (method == "get_tee_accounts") {
    json out = json::array();
    for (const auto& [_, a] : s.tee.participant_attestations) {
      out.push_back({{"account_id", a.account_id},
                     {"tls_public_key", core::ed25519_public_key_to_string(a.tls_public_key)},
                     {"account_public_key", core::ed25519_public_key_to_string(a.account_public_key)}});
    }
    return out;
  }
  if (method == "get_attestation") {
    if (!args.contains("tls_public_key") || !args["tls_public_key"].is_string()) return bad_args("tls_public_key must be an ed25519 public key");
    auto k = core::parse_ed25519_public_key(args["tls_public_key"].get<std::string>());
    if (!k) return bad_args("tls_public_key: " + k.error().message);
    auto it = s.tee.participant_attestations.find(core::ed25519_public_key_to_string(*k));
    return it == s.tee.participant_attestations.end() ? json(nullptr) : to_json(it->second);
  }
  if (method == "backup_service_attestation") {
    if (!args.contains("account_id") || !args["account_id"].is_string()) return bad_args("account_id must be a string");
    const std::string account = args["account_id"].get<std::string>();
    json out{{"tls_public_key", nullptr}, {"attested", false}, {"kind", nullptr}, {"expires_at_seconds", nullptr}};
    auto b = s.backup_services.find(account);
    if (b == s.backup_services.end()) return out;
    out["tls_public_key"] = core::ed25519_public_key_to_string(b->second.public_key);
    auto a = s.tee.backup_attestations.find(account);
    if (a == s.tee.backup_attestations.end() || a->second.tls_public_key != b->second.public_key) return out;
    out["kind"] = kind_name(a->second.kind);
    out["expires_at_seconds"] = a->second.expiry_timestamp_seconds;
    // A view has no block: "attested" is the attestation still matching the
    // allowed sets and mode; the caller compares expires_at_seconds with its
    // own clock (or the chain's latest block time).
    out["attested"] = static_cast<bool>(reverify(a->second, 0, s.config.attestation_mode, s.tee.allowed_for_backup_services()));
    return out;
  }
  return core::fail(core::ErrorCode::kNotFound, "Method " + std::string(method) + " not found");
}

}  // namespace mpc::contract::internal
