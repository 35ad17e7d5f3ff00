// Signature requests, as the reference contract has them (near/mpc
// crates/contract/src/api/sign.rs, api/common.rs, pending_requests.rs):
// `sign` queues a request under its key {tweak, payload, domain_id} and
// yields; `respond`, by a participant, verifies the signature under the
// key derived for the caller and resumes every yield queued for the key;
// the yield callback returns the signature to the caller's transaction, or
// on timeout pops the oldest yield and fails it through `fail_on_timeout`.
//
// Frost domains sign Ed25519 and DamgardEtAl domains secp256k1 ECDSA. The
// reference also signs CaitSith (its OT-based ECDSA) domains; this network
// does not run that protocol, so a `sign` for one is checked as the
// reference checks it and then refused (the domain's shares are still held,
// backed up and migrated).
//
// A secp256k1 response is verified as the reference's ecrecover-based
// verifier does (near-mpc-signature-verifier verify_ecdsa_signature): r is
// big_r's 32 x-coordinate bytes (its prefix byte is not read), r < n,
// 0 < s <= n/2 (low s), recovery id 0..3, and the key recovered from
// (r, s, recovery id, payload hash) must be the derived key; on top of
// that OpenSSL's ECDSA verification must accept (r, s) under the derived key.
#include <algorithm>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "contract/internal/calls.h"
#include "contract/internal/state.h"
#include "core/key_derivation.h"
#include "core/ec_keys.h"
#include "core/openssl_ptr.h"
#include "core/u128.h"

namespace mpc::contract::internal {

namespace {

constexpr std::string_view kReturnSignature = "return_signature_and_clean_state_on_success";
constexpr std::string_view kFailOnTimeout = "fail_on_timeout";
// What the view lists when asked for no particular number.
constexpr std::uint64_t kDefaultViewLimit = 100;

// ---- the protocol state, as signing sees it

// Domains a request may name: Running's, or the previous Running state's
// while Resharing (the reference's domain_registry()).
const model::DomainRegistry* signing_domains(const State& s) {
  if (const auto* r = s.as<Running>()) return &r->domains;
  if (const auto* r = s.as<Resharing>()) return &r->previous_running_state.domains;
  return nullptr;
}

// The keys signatures are checked against (the reference's public_key()).
const model::Keyset* signing_keyset(const State& s) {
  if (const auto* r = s.as<Running>()) return &r->keyset;
  if (const auto* r = s.as<Resharing>()) return &r->previous_running_state.keyset;
  return nullptr;
}

// Who may respond (the reference's active_participants()): Running's
// participants, the new ones while Resharing, the generating key's while
// Initializing.
const model::ThresholdParameters* active_parameters(const State& s) {
  if (const auto* r = s.as<Running>()) return &r->parameters;
  if (const auto* r = s.as<Resharing>()) return &r->resharing_key.parameters;
  if (const auto* i = s.as<Initializing>()) return &i->generating_key.parameters;
  return nullptr;
}

// States written before purposes existed hold signing domains only (and
// CKD domains by their protocol).
std::string purpose_of(const model::DomainConfig& d) {
  if (!d.purpose.empty()) return d.purpose;
  return d.protocol == "ConfidentialKeyDerivation" ? "CKD" : "Sign";
}

core::Status require_private(const CallContext& ctx, std::string_view method) {
  if (ctx.predecessor_account_id != ctx.current_account_id) return panic("Method " + std::string(method) + " is private");
  return {};
}

// ---- arguments

struct SignArgs {
  std::string path;
  core::SignPayload payload;
  std::uint64_t domain_id = 0;
};

bool present(const json& o, const char* name) { return o.contains(name) && !o[name].is_null(); }

// SignRequestArgs with the reference's compatibility layer: payload_v2 or
// the legacy `payload` (32 raw bytes, always Ecdsa), domain_id or the
// legacy `key_version` (u32).
core::Result<SignArgs> sign_args(const json& args) {
  MPC_ASSIGN(const json* r, arg(args, "request"));
  if (!r->is_object()) return bad_args("request must be an object {path, payload_v2, domain_id}");
  SignArgs a;
  if (!r->contains("path")) return bad_args("request: missing field `path`");
  if (!(*r)["path"].is_string()) return bad_args("request.path must be a string");
  a.path = (*r)["path"].get<std::string>();

  const bool v2 = present(*r, "payload_v2");
  const bool legacy_payload = present(*r, "payload");
  if (v2 && legacy_payload) return bad_args("request: payload_v2 and payload are mutually exclusive");
  if (v2) {
    auto p = core::parse_sign_payload((*r)["payload_v2"], "request.payload_v2");
    if (!p) return bad_args(p.error().message);
    a.payload = std::move(*p);
  } else if (legacy_payload) {
    const json& bytes = (*r)["payload"];
    if (!bytes.is_array() || bytes.size() != core::kEcdsaPayloadBytes) {
      return bad_args("request.payload must be an array of 32 bytes");
    }
    a.payload.kind = core::SignPayload::Kind::kEcdsa;
    for (const auto& b : bytes) {
      if (!b.is_number_unsigned() || b.get<std::uint64_t>() > 255) return bad_args("request.payload must be an array of 32 bytes");
      a.payload.bytes.push_back(static_cast<std::uint8_t>(b.get<std::uint64_t>()));
    }
  } else {
    return bad_args("request: missing field `payload_v2`");
  }

  const bool has_domain = present(*r, "domain_id");
  const bool has_key_version = present(*r, "key_version");
  if (has_domain && has_key_version) return bad_args("request: domain_id and key_version are mutually exclusive");
  if (has_domain) {
    auto id = model::json_u64((*r)["domain_id"]);
    if (!id) return bad_args("request.domain_id must be an unsigned integer (u64)");
    a.domain_id = *id;
  } else if (has_key_version) {
    auto v = model::json_u64((*r)["key_version"]);
    if (!v || *v > 0xffffffffu) return bad_args("request.key_version must be an unsigned integer (u32)");
    a.domain_id = *v;
  } else {
    return bad_args("request: missing field `domain_id`");
  }
  return a;
}

core::Result<core::SignatureRequest> request_arg(const json& args, const char* name) {
  MPC_ASSIGN(const json* r, arg(args, name));
  auto request = core::parse_signature_request(*r, name);
  if (!request) return bad_args(request.error().message);
  return std::move(*request);
}

// ---- checks

// The secp256k1 group order n: an Ecdsa payload must be a scalar below it.
bool is_secp256k1_scalar(const core::Bytes& be) {
  static const core::Bytes n = *core::hex_decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  return be.size() == n.size() && std::lexicographical_compare(be.begin(), be.end(), n.begin(), n.end());
}

std::string payload_text(const core::SignPayload& p) {
  return std::string(p.kind == core::SignPayload::Kind::kEcdsa ? "Ecdsa(" : "Eddsa(") + core::hex_encode(p.bytes) + ")";
}

std::string request_text(const core::SignatureRequest& r) {
  return "SignatureRequest { tweak: " + core::hex_encode(r.tweak) + ", payload: " + payload_text(r.payload) +
         ", domain_id: " + std::to_string(r.domain_id) + " }";
}

const char* scheme_name(const core::SignatureResponse& r) {
  return std::holds_alternative<core::Ed25519Signature>(r) ? "Ed25519" : "Secp256k1";
}

// The response as the reference serializes it (serde, `tag = "scheme"`):
// the tag first, then the fields in declaration order, e.g.
//   {"scheme":"Secp256k1","big_r":{"affine_point":"02…"},"s":{"scalar":"…"},"recovery_id":1}
// What `respond` resumes the yields with and the caller's transaction returns.
std::string response_text(const core::SignatureResponse& response) {
  const json j = to_json(response);
  nlohmann::ordered_json out;
  out["scheme"] = j["scheme"];
  if (std::holds_alternative<core::Ed25519Signature>(response)) {
    out["signature"] = j["signature"];
  } else {
    out["big_r"] = j["big_r"];
    out["s"] = j["s"];
    out["recovery_id"] = j["recovery_id"];
  }
  return out.dump();
}

// ---- secp256k1 ECDSA verification (OpenSSL; every value here is public)

enum class EcdsaCheck { kValid, kInvalid, kBadRecoveryId };

struct Secp256k1Curve {
  core::EcGroupPtr group{EC_GROUP_new_by_curve_name(NID_secp256k1)};
  core::BnCtxPtr ctx{BN_CTX_new()};
  core::BnPtr p{BN_new()};
  bool ok = false;
  Secp256k1Curve() {
    ok = group && ctx && p && EC_GROUP_get_curve(group.get(), p.get(), nullptr, nullptr, ctx.get()) == 1;
  }
  const BIGNUM* n() const { return EC_GROUP_get0_order(group.get()); }
};

// OpenSSL's ECDSA verification of (r, s) over a 32-byte prehash under the
// key X || Y.
core::Result<bool> openssl_ecdsa_verify(const BIGNUM* r, const BIGNUM* s, const core::Bytes& hash,
                                        const core::Secp256k1PublicKey& key) {
  auto pkey = core::ec_public_key_xy("secp256k1", key.bytes);
  if (!pkey) return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot load the derived secp256k1 key");
  std::array<unsigned char, 32> r_bytes{}, s_bytes{};
  if (BN_bn2binpad(r, r_bytes.data(), 32) != 32 || BN_bn2binpad(s, s_bytes.data(), 32) != 32)
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot hold an ECDSA signature");
  return core::ecdsa_verify_prehash(pkey.get(), hash, r_bytes, s_bytes);
}

// The reference's verify_ecdsa_signature: ecrecover with the malleability
// flag (r < n, s < n/2 + 1, recovery id < 4, else no key), then the
// recovered key must be `derived`. Recovery: R is the point whose x is r
// (plus n for recovery ids 2 and 3) and whose y has the parity of the
// recovery id's low bit; the key is r⁻¹·(s·R − e·G), e the hash mod n.
core::Result<EcdsaCheck> check_secp256k1_signature(const core::Secp256k1SignatureResponse& sig, const core::Bytes& hash,
                                                   const core::Secp256k1PublicKey& derived) {
  if (sig.recovery_id > 3) return EcdsaCheck::kBadRecoveryId;
  Secp256k1Curve c;
  if (!c.ok) return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot set up secp256k1");
  const BIGNUM* n = c.n();
  core::BnPtr r(BN_bin2bn(sig.big_r.data() + 1, 32, nullptr));
  core::BnPtr s(BN_bin2bn(sig.s.data(), static_cast<int>(sig.s.size()), nullptr));
  core::BnPtr e(BN_bin2bn(hash.data(), static_cast<int>(hash.size()), nullptr));
  core::BnPtr half_n(BN_new());
  if (!r || !s || !e || !half_n || BN_rshift1(half_n.get(), n) != 1) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot hold the signature's values");
  }
  if (BN_is_zero(r.get()) || BN_cmp(r.get(), n) >= 0) return EcdsaCheck::kInvalid;
  if (BN_is_zero(s.get()) || BN_cmp(s.get(), half_n.get()) > 0) return EcdsaCheck::kInvalid;  // high s

  core::BnPtr x(BN_dup(r.get()));
  if (!x || (sig.recovery_id >= 2 && BN_add(x.get(), x.get(), n) != 1)) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot compute R's x");
  }
  if (BN_cmp(x.get(), c.p.get()) >= 0) return EcdsaCheck::kInvalid;
  core::EcPointPtr big_r(EC_POINT_new(c.group.get()));
  if (!big_r) return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot hold a point");
  if (EC_POINT_set_compressed_coordinates(c.group.get(), big_r.get(), x.get(), sig.recovery_id & 1, c.ctx.get()) != 1) {
    ERR_clear_error();
    return EcdsaCheck::kInvalid;  // no point of the curve has that x
  }
  // u1 = −e·r⁻¹, u2 = s·r⁻¹ (mod n); key = u1·G + u2·R.
  core::BnPtr r_inv(BN_mod_inverse(nullptr, r.get(), n, c.ctx.get()));
  core::BnPtr u1(BN_new());
  core::BnPtr u2(BN_new());
  core::BnPtr zero(BN_new());
  core::BnPtr e_mod_n(BN_new());
  if (!r_inv || !u1 || !u2 || !zero || !e_mod_n || BN_nnmod(e_mod_n.get(), e.get(), n, c.ctx.get()) != 1 ||
      BN_mod_mul(u1.get(), e_mod_n.get(), r_inv.get(), n, c.ctx.get()) != 1 || BN_set_word(zero.get(), 0) != 1 ||
      BN_mod_sub(u1.get(), zero.get(), u1.get(), n, c.ctx.get()) != 1 ||
      BN_mod_mul(u2.get(), s.get(), r_inv.get(), n, c.ctx.get()) != 1) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot compute the recovery scalars");
  }
  core::EcPointPtr key(EC_POINT_new(c.group.get()));
  if (!key || EC_POINT_mul(c.group.get(), key.get(), u1.get(), big_r.get(), u2.get(), c.ctx.get()) != 1) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot recover the signing key");
  }
  if (EC_POINT_is_at_infinity(c.group.get(), key.get()) == 1) return EcdsaCheck::kInvalid;
  std::array<std::uint8_t, 65> recovered{};
  if (EC_POINT_point2oct(c.group.get(), key.get(), POINT_CONVERSION_UNCOMPRESSED, recovered.data(), recovered.size(),
                         c.ctx.get()) != recovered.size()) {
    return core::fail(core::ErrorCode::kInternal, "OpenSSL cannot encode the recovered key");
  }
  if (!std::equal(derived.bytes.begin(), derived.bytes.end(), recovered.begin() + 1)) return EcdsaCheck::kInvalid;
  MPC_ASSIGN(const bool verified, openssl_ecdsa_verify(r.get(), s.get(), hash, derived));
  return verified ? EcdsaCheck::kValid : EcdsaCheck::kInvalid;
}

json data_id_json(const core::Hash256& id) {
  json a = json::array();
  for (auto b : id) a.push_back(b);
  return a;
}

core::Result<core::Hash256> data_id_value(const json& j, const std::string& path) {
  if (!j.is_array() || j.size() != 32) return core::invalid(path + " must be an array of 32 bytes");
  core::Hash256 out{};
  for (std::size_t i = 0; i < 32; ++i) {
    if (!j[i].is_number_unsigned() || j[i].get<std::uint64_t>() > 255) return core::invalid(path + " must be an array of 32 bytes");
    out[i] = static_cast<std::uint8_t>(j[i].get<std::uint64_t>());
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- sign

core::Result<CallOutcome> sign(State& s, const CallContext& ctx, const json& args) {
  MPC_ASSIGN(SignArgs a, sign_args(args));
  const std::string domain_text = std::to_string(a.domain_id);
  // The reference's check_request_preconditions: domain, purpose, gas, deposit.
  const model::DomainRegistry* domains = signing_domains(s);
  if (domains == nullptr) return panic("Protocol state is not running, nor resharing.");
  auto domain = std::find_if(domains->domains.begin(), domains->domains.end(),
                             [&](const model::DomainConfig& d) { return d.id == a.domain_id; });
  if (domain == domains->domains.end()) return panic("The provided domain ID, " + domain_text + ", was not found.");
  const std::string purpose = purpose_of(*domain);
  if (purpose != "Sign") {
    return panic("Domain " + domain_text + " has purpose " + purpose + ", but this method requires Sign.");
  }
  if (ctx.prepaid_gas < kSignMinimumGas) {
    return panic("Provided gas is lower than required. Provided: " + std::to_string(ctx.prepaid_gas) +
                 ", required: " + std::to_string(kSignMinimumGas));
  }
  MPC_ASSIGN(core::u128 refund, require_deposit(ctx));

  // The payload must suit the domain's protocol, as the nodes would check.
  const std::string& protocol = domain->protocol;
  if (protocol == "CaitSith" || protocol == "DamgardEtAl") {
    if (a.payload.kind != core::SignPayload::Kind::kEcdsa) return panic("Payload is not Ecdsa");
    if (!is_secp256k1_scalar(a.payload.bytes)) return panic("Ecdsa payload cannot be converted to Scalar");
    if (protocol == "CaitSith") {
      return panic("Sign requests for domain " + domain_text +
                   " (CaitSith) are not served: this network does not run the CaitSith protocol and signs secp256k1 "
                   "only with DamgardEtAl domains. The domain's key shares are still held, backed up and migrated.");
    }
  } else if (protocol == "Frost") {
    if (a.payload.kind != core::SignPayload::Kind::kEddsa) return panic("Payload is not EdDSA");
  } else if (protocol == "ConfidentialKeyDerivation") {
    return panic("ConfidentialKeyDerivation is not supported for signature responses");
  } else {
    return panic("Sign requests for domain " + domain_text + " (" + protocol + ") are not supported.");
  }

  core::SignatureRequest request =
      core::SignatureRequest::make(ctx.predecessor_account_id, a.path, std::move(a.payload), a.domain_id);
  auto queued = s.pending_signatures->find(request);
  if (queued != s.pending_signatures->end() && queued->second.yields.size() >= kMaxPendingFanOut) {
    return panic("Pending-request queue is full for this request key (limit: " + std::to_string(kMaxPendingFanOut) +
                 "). Try again once an in-flight response or timeout has cleared room.");
  }
  if (s.pending_yield_count >= kMaxPendingSignatureYields) {
    return panic("Too many pending signature requests (limit: " + std::to_string(kMaxPendingSignatureYields) +
                 "). Try again once responses or timeouts have cleared room.");
  }

  CallOutcome out;
  out.refund = refund;
  out.logs.push_back("sign: predecessor=" + ctx.predecessor_account_id + ", request=SignRequestArgs { path: " +
                     json(a.path).dump() + ", payload: " + payload_text(request.payload) + ", domain_id: " + domain_text + " }");
  const std::string callback_args = json{{"request", to_json(request)}}.dump();
  out.yield = YieldCreate{ctx.yield_data_id, std::string(kReturnSignature), core::Bytes(callback_args.begin(), callback_args.end())};

  PendingSignature& entry = s.pending_signatures_mut()[std::move(request)];
  if (entry.yields.empty()) {
    entry.predecessor_id = ctx.predecessor_account_id;
    entry.path = a.path;
    entry.sequence = s.next_pending_sequence++;
  }
  entry.yields.push_back(PendingYield{ctx.yield_data_id, ctx.block_height});
  ++s.pending_yield_count;
  return out;
}

// ---------------------------------------------------------------- respond

core::Result<CallOutcome> respond(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_no_deposit(ctx, "respond"));
  MPC_ASSIGN(core::SignatureRequest request, request_arg(args, "request"));
  MPC_ASSIGN(const json* response_json, arg(args, "response"));
  auto parsed_response = core::parse_signature_response(*response_json, "response");
  if (!parsed_response) return bad_args(parsed_response.error().message);
  const core::SignatureResponse& response = *parsed_response;

  if (ctx.signer_account_id != ctx.predecessor_account_id) {
    return panic("Caller must be the signer account (signer: " + ctx.signer_account_id +
                 ", predecessor: " + ctx.predecessor_account_id + ")");
  }
  const model::ThresholdParameters* active = active_parameters(s);
  if (active == nullptr) return panic("Protocol must be Initializing, Running, or Resharing to access active participants");
  if (active->participants.find(ctx.signer_account_id) == nullptr) {
    // The reference also requires a TEE attestation; this contract has none
    // to check, so a participant is an attested participant here.
    return panic("assertion failed: `Err(CallerNotParticipant)` does not match `Ok(())`: Caller must be an attested participant");
  }
  const model::Keyset* keyset = signing_keyset(s);
  if (keyset == nullptr) return panic("The protocol is not Running.");
  const model::KeyForDomain* key = keyset->find(request.domain_id);
  if (key == nullptr) return panic("No such domain.");

  const auto* ed_signature = std::get_if<core::Ed25519Signature>(&response);
  if (ed_signature != nullptr && key->key.kind == model::CurveKind::kEd25519) {
    const core::Ed25519PublicKey group{key->key.edwards_point};
    auto derived = core::derive_ed25519_public_key(group, request.tweak);
    if (!derived) return panic("The group key of domain " + std::to_string(request.domain_id) + " is not a valid Ed25519 point.");
    if (request.payload.kind != core::SignPayload::Kind::kEddsa) return panic("Payload is not EdDSA");
    if (!core::ed25519_verify(*derived, request.payload.bytes, *ed_signature)) return panic("The provided signature is invalid.");
  } else if (ed_signature == nullptr && key->key.kind == model::CurveKind::kSecp256k1) {
    if (!key->key.near_public_key || key->key.near_public_key->is_ed25519()) return panic("No such domain.");
    auto derived = core::derive_secp256k1_public_key(std::get<core::Secp256k1PublicKey>(key->key.near_public_key->key),
                                                     request.tweak);
    if (!derived) return panic("The provided tweak is not on the curve of the public key.");
    if (request.payload.kind != core::SignPayload::Kind::kEcdsa) return panic("Payload is not ECDSA");
    const auto& secp = std::get<core::Secp256k1SignatureResponse>(response);
    MPC_ASSIGN(const EcdsaCheck check, check_secp256k1_signature(secp, request.payload.bytes, *derived));
    if (check == EcdsaCheck::kBadRecoveryId) {
      // The reference's ecrecover host error.
      return panic("V recovery byte 0 through 3 are valid but was provided " + std::to_string(secp.recovery_id));
    }
    if (check != EcdsaCheck::kValid) return panic("The provided signature is invalid.");
  } else {
    return panic(std::string("The provided signature scheme does not match. MPC response: ") + scheme_name(response) +
                 ", user request: " + model::curve_name(key->key.kind));
  }

  // Resume every yield queued for the request (fan-out), in one call.
  auto queued = s.pending_signatures->find(request);
  if (queued == s.pending_signatures->end() || queued->second.yields.empty()) {
    return panic("This sign request has timed out, was completed, or never existed.");
  }
  CallOutcome out;
  out.logs.push_back("respond: signer=" + ctx.signer_account_id + ", request=" + request_text(request));
  const std::string payload = response_text(response);
  auto& pending = s.pending_signatures_mut();
  auto it = pending.find(request);
  for (const PendingYield& y : it->second.yields) out.resumed.push_back(YieldResume{y.data_id, core::Bytes(payload.begin(), payload.end())});
  s.pending_yield_count -= it->second.yields.size();
  pending.erase(it);
  return out;
}

// ---------------------------------------------------------------- the callbacks

core::Result<CallOutcome> return_signature_and_clean_state_on_success(State& s, const CallContext& ctx, const json& args) {
  MPC_TRY(require_private(ctx, kReturnSignature));
  MPC_ASSIGN(core::SignatureRequest request, request_arg(args, "request"));
  if (ctx.promise_results.size() != 1) {
    return panic("Method " + std::string(kReturnSignature) + " expects the result of exactly one promise");
  }
  CallOutcome out;
  if (const auto& result = ctx.promise_results.front()) {
    // Resumed by respond: the signature is the caller's result.
    json j = json::parse(result->begin(), result->end(), nullptr, false);
    auto response = j.is_discarded() ? core::Result<core::SignatureResponse>(core::invalid("not JSON"))
                                      : core::parse_signature_response(j, "response");
    if (!response) return panic("Failed to deserialize callback using JSON");
    const std::string value = response_text(*response);
    out.return_value.assign(value.begin(), value.end());
    return out;
  }
  // Timed out: the oldest yield of the request is the one (yields are
  // queued and time out in arrival order); the caller's transaction fails.
  auto queued = s.pending_signatures->find(request);
  if (queued != s.pending_signatures->end()) {
    auto& pending = s.pending_signatures_mut();
    auto it = pending.find(request);
    if (!it->second.yields.empty()) {
      it->second.yields.erase(it->second.yields.begin());
      --s.pending_yield_count;
    }
    if (it->second.yields.empty()) pending.erase(it);
  }
  out.then = PromiseCall{std::string(kFailOnTimeout), {}};
  return out;
}

core::Result<CallOutcome> fail_on_timeout(State&, const CallContext& ctx, const json&) {
  MPC_TRY(require_private(ctx, kFailOnTimeout));
  return panic("Request has timed out.");
}

// ---------------------------------------------------------------- views

core::Result<json> get_pending_request(const State& s, const json& args) {
  MPC_ASSIGN(core::SignatureRequest request, request_arg(args, "request"));
  auto it = s.pending_signatures->find(request);
  if (it == s.pending_signatures->end() || it->second.yields.empty()) return json(nullptr);
  return json{{"data_id", data_id_json(it->second.yields.front().data_id)}};
}

// The reference's public_key / derived_public_key views (api/keys.rs): the
// domain (default 0, the legacy ECDSA domain) of Running's keyset, or the
// previous one while Resharing; "ed25519:…" / "secp256k1:…" text.
namespace {

core::Result<model::PublicKeyExtended> view_domain_key(const State& s, const json& args) {
  std::uint64_t domain_id = 0;
  if (present(args, "domain_id")) {
    auto id = model::json_u64(args["domain_id"]);
    if (!id) return bad_args("args.domain_id must be a non-negative integer");
    domain_id = *id;
  }
  const model::Keyset* keyset = signing_keyset(s);
  if (keyset == nullptr) return panic("Protocol state is not running, nor resharing.");
  const auto* key = keyset->find(domain_id);
  if (key == nullptr) return panic("No such domain.");
  return key->key;
}

}  // namespace

core::Result<json> public_key_view(const State& s, const json& args) {
  MPC_ASSIGN(auto key, view_domain_key(s, args));
  if (key.kind == model::CurveKind::kBls12381) return json(key.bls_public_key);
  if (!key.near_public_key) return panic("the domain's key has no NEAR form");
  return json(key.near_public_key->to_string());
}

core::Result<json> derived_public_key_view(const State& s, const json& args) {
  if (!args.contains("path") || !args["path"].is_string()) return bad_args("args.path must be a string");
  // In a view there is no caller (NEAR refuses predecessor_account_id in
  // views): the predecessor must be given.
  if (!present(args, "predecessor") || !args["predecessor"].is_string())
    return panic("args.predecessor is required in a view call: the account whose key is derived");
  const std::string predecessor = args["predecessor"].get<std::string>();
  if (!core::is_valid_account_id(predecessor)) return bad_args("args.predecessor is not a valid NEAR account id");
  MPC_ASSIGN(auto key, view_domain_key(s, args));
  const auto tweak = core::derive_tweak(predecessor, args["path"].get<std::string>());
  if (key.kind == model::CurveKind::kEd25519 && key.near_public_key && key.near_public_key->is_ed25519()) {
    auto derived = core::derive_ed25519_public_key(key.near_public_key->ed25519(), tweak);
    if (!derived) return panic(derived.error().message);
    return json(core::NearPublicKey{*derived}.to_string());
  }
  if (key.kind == model::CurveKind::kSecp256k1 && key.near_public_key && !key.near_public_key->is_ed25519()) {
    auto derived = core::derive_secp256k1_public_key(std::get<core::Secp256k1PublicKey>(key.near_public_key->key), tweak);
    if (!derived) return panic(derived.error().message);
    return json(core::NearPublicKey{*derived}.to_string());
  }
  if (key.kind == model::CurveKind::kBls12381) return json(key.bls_public_key);
  return panic("the domain's key has no NEAR form");
}

core::Result<json> pending_signature_requests(const State& s, const json& args) {
  std::uint64_t limit = kDefaultViewLimit;
  if (args.contains("limit")) {
    auto n = model::json_u64(args["limit"]);
    if (!n || *n == 0 || *n > kMaxPendingSignatureYields) {
      return bad_args("args.limit must be an integer from 1 to " + std::to_string(kMaxPendingSignatureYields));
    }
    limit = *n;
  }
  std::vector<const PendingSignatures::value_type*> order;
  for (const auto& entry : *s.pending_signatures) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->second.sequence < b->second.sequence; });
  json out = json::array();
  for (const auto* entry : order) {
    if (out.size() >= limit) break;
    const PendingSignature& p = entry->second;
    out.push_back(json{{"request", to_json(entry->first)},
                       {"predecessor_id", p.predecessor_id},
                       {"path", p.path},
                       {"block_height", p.yields.empty() ? 0 : p.yields.front().block_height},
                       {"yields", p.yields.size()}});
  }
  return out;
}

// ---------------------------------------------------------------- durable form

json pending_signatures_to_json(const State& s) {
  std::vector<const PendingSignatures::value_type*> order;
  for (const auto& entry : *s.pending_signatures) order.push_back(&entry);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->second.sequence < b->second.sequence; });
  json out = json::array();
  for (const auto* entry : order) {
    json yields = json::array();
    for (const auto& y : entry->second.yields) yields.push_back({{"data_id", data_id_json(y.data_id)}, {"block_height", y.block_height}});
    out.push_back(json{{"request", to_json(entry->first)},
                       {"predecessor_id", entry->second.predecessor_id},
                       {"path", entry->second.path},
                       {"yields", std::move(yields)}});
  }
  return out;
}

core::Status pending_signatures_from_json(State& s, const json& j) {
  const std::string root = "pending_signature_requests";
  if (!j.is_array()) return core::invalid(root + " must be an array");
  PendingSignatures pending;
  std::size_t total = 0;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string where = root + "[" + std::to_string(i) + "]";
    const json& e = j[i];
    if (!e.is_object()) return core::invalid(where + " must be an object");
    auto request = core::parse_signature_request(e.value("request", json()), where + ".request");
    if (!request) return std::unexpected(request.error());
    PendingSignature p;
    if (!e.contains("predecessor_id") || !e["predecessor_id"].is_string()) return core::invalid(where + ".predecessor_id must be a string");
    if (!e.contains("path") || !e["path"].is_string()) return core::invalid(where + ".path must be a string");
    p.predecessor_id = e["predecessor_id"].get<std::string>();
    p.path = e["path"].get<std::string>();
    p.sequence = i;
    if (!e.contains("yields") || !e["yields"].is_array() || e["yields"].empty() || e["yields"].size() > kMaxPendingFanOut) {
      return core::invalid(where + ".yields must be an array of 1 to " + std::to_string(kMaxPendingFanOut) + " yields");
    }
    for (std::size_t k = 0; k < e["yields"].size(); ++k) {
      const json& y = e["yields"][k];
      const std::string at = where + ".yields[" + std::to_string(k) + "]";
      if (!y.is_object() || !y.contains("data_id")) return core::invalid(at + ".data_id is missing");
      MPC_ASSIGN(core::Hash256 id, data_id_value(y["data_id"], at + ".data_id"));
      auto height = y.contains("block_height") ? model::json_u64(y["block_height"]) : std::nullopt;
      if (!height) return core::invalid(at + ".block_height must be an unsigned integer");
      p.yields.push_back(PendingYield{id, *height});
    }
    total += p.yields.size();
    if (total > kMaxPendingSignatureYields) {
      return core::invalid(root + " holds more than " + std::to_string(kMaxPendingSignatureYields) + " yields");
    }
    if (!pending.emplace(std::move(*request), std::move(p)).second) return core::invalid(where + " repeats an earlier request");
  }
  s.pending_signatures = std::make_shared<PendingSignatures>(std::move(pending));
  s.pending_yield_count = total;
  s.next_pending_sequence = j.size();
  return {};
}

}  // namespace mpc::contract::internal
