// Errors, typed arguments, the contract's rules over typed values and the
// caller guards the change methods share (internal/calls.h).
#include <set>

#include "contract/internal/calls.h"
#include "core/bytes.h"
#include "core/near_key.h"
#include "core/u128.h"

namespace mpc::contract::internal {

std::unexpected<core::Error> panic(std::string message) {
  return core::fail(core::ErrorCode::kFailedPrecondition, std::move(message));
}

std::unexpected<core::Error> bad_args(const std::string& what) {
  return core::fail(core::ErrorCode::kInvalidArgument, "Failed to deserialize input from JSON: " + what);
}

std::unexpected<core::Error> not_participant(const std::string& account) { return panic("Not a participant: " + account); }

// ---- arguments ----

namespace {

// core's parsers name the value they parse by a fixed root ("parameters",
// "domain", "key", ...); the contract's errors name the argument instead.
std::unexpected<core::Error> bad_value(const core::Error& e, std::string_view root, const std::string& name) {
  const std::string_view m = e.message;
  if (m.starts_with(root) && (m.size() == root.size() || std::string_view(".[ :").find(m[root.size()]) != std::string_view::npos)) {
    return bad_args(name + std::string(m.substr(root.size())));
  }
  return bad_args(name + ": " + e.message);
}

template <typename Parse>
auto parse_value(Parse parse, const json& value, std::string_view root, const std::string& name)
    -> core::Result<typename decltype(parse(value))::value_type> {
  auto v = parse(value);
  if (!v) return bad_value(v.error(), root, name);
  return std::move(*v);
}

}  // namespace

core::Result<const json*> arg(const json& args, const char* name) {
  if (!args.is_object() || !args.contains(name)) return bad_args(std::string(name) + " is missing");
  return &args[name];
}

core::Result<std::uint64_t> u64_arg(const json& args, const char* name) {
  auto n = args.is_object() && args.contains(name) ? model::json_u64(args[name]) : std::nullopt;
  if (!n) return bad_args(std::string("args.") + name + " must be an unsigned integer");
  return *n;
}

core::Result<std::string> string_arg(const json& args, const char* name) {
  if (!args.is_object() || !args.contains(name) || !args[name].is_string()) {
    return bad_args(std::string("args.") + name + " must be a string");
  }
  return args[name].get<std::string>();
}

core::Result<model::ThresholdParameters> parameters_value(const json& value, const std::string& name) {
  MPC_ASSIGN(auto parameters, parse_value(model::parse_threshold_parameters, value, "parameters", name));
  MPC_TRY(check_threshold_rules(parameters, name));
  return parameters;
}

core::Result<model::DomainConfig> domain_value(const json& value, const std::string& name) {
  return parse_value(model::parse_domain_config, value, "domain", name);
}

core::Result<model::PublicKeyExtended> group_key_value(const json& value, const std::string& name) {
  if (value.is_string()) {
    // The reference's vote_pk argument (near-mpc-crypto-types PublicKey):
    // "secp256k1:<base58 X||Y>", "ed25519:<base58>" or "bls12381g2:<base58>".
    const auto& text = value.get_ref<const std::string&>();
    model::PublicKeyExtended key;
    if (text.starts_with("bls12381g2:")) {
      auto raw = core::base58_decode(std::string_view(text).substr(11));
      if (!raw || raw->size() != 96) return bad_args(name + " is not a BLS12-381 G2 public key (96 bytes in base58)");
      key.kind = model::CurveKind::kBls12381;
      key.bls_public_key = text;
      return key;
    }
    auto parsed = core::NearPublicKey::parse(text);
    if (!parsed) return bad_args(name + ": " + parsed.error().message);
    return model::public_key_extended_of(*parsed);
  }
  MPC_ASSIGN(auto key, parse_value(model::parse_public_key_extended, value, "key", name));
  MPC_TRY(check_group_key_rules(key, name));
  return key;
}

core::Result<model::Keyset> keyset_value(const json& value, const std::string& name) {
  MPC_ASSIGN(auto keyset, parse_value(model::parse_keyset, value, "keyset", name));
  MPC_TRY(check_keyset_rules(keyset, name));
  return keyset;
}

core::Result<model::KeyEventId> key_event_id_value(const json& value, const std::string& name) {
  return parse_value(model::parse_key_event_id, value, "key_event_id", name);
}

core::Result<model::BackupServiceInfo> backup_service_value(const json& value, const std::string& name) {
  return parse_value(model::parse_backup_service_info, value, "backup_service_info", name);
}

core::Result<model::DestinationNodeInfo> destination_value(const json& value, const std::string& name) {
  MPC_ASSIGN(auto d, parse_value(model::parse_destination_node_info, value, "destination_node_info", name));
  if (d.destination_node_info.url.empty()) return bad_args(name + ".destination_node_info.url must not be empty");
  return d;
}

// ---- rules ----

core::Status check_threshold_rules(const model::ThresholdParameters& parameters, const std::string& path) {
  const auto& list = parameters.participants.participants;
  const std::uint64_t next_id = parameters.participants.next_id;
  std::set<std::string_view> accounts;
  std::set<std::uint64_t> ids;
  std::set<core::Ed25519PublicKey> tls_keys;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const model::ParticipantEntry& e = list[i];
    const std::string where = path + ".participants.participants[" + std::to_string(i) + "]";
    if (!core::is_valid_account_id(e.account_id)) return bad_args(where + " has an invalid account id");
    if (!accounts.insert(e.account_id).second) return panic("Duplicate account IDs found.");
    if (!ids.insert(e.id).second) return panic("Duplicate participant IDs found.");
    if (e.id >= next_id) {
      return panic("Participant ID " + std::to_string(e.id) + " is not less than next_id " + std::to_string(next_id) + ".");
    }
    if (e.info.url.empty()) return bad_args(where + "[2].url must not be empty");
    if (!tls_keys.insert(e.info.tls_public_key).second) {
      return panic("Two participants share the TLS key " + core::ed25519_public_key_to_string(e.info.tls_public_key) + ".");
    }
  }
  // The reference's rules: 2 <= threshold <= n and threshold >= ceil(60% of n).
  const std::uint64_t n = list.size();
  const std::uint64_t threshold = parameters.threshold;
  if (threshold > n) {
    return panic("Threshold must not exceed number of participants: max " + std::to_string(n) + ", found " +
                 std::to_string(threshold));
  }
  if (threshold < 2) return panic("Threshold does not meet the minimum absolute requirement");
  const std::uint64_t at_least = (3 * n + 4) / 5;
  if (threshold < at_least) {
    return panic("Threshold does not meet the minimum relative requirement: require at least " + std::to_string(at_least) +
                 ", found " + std::to_string(threshold));
  }
  return {};
}

core::Status check_group_key_rules(const model::PublicKeyExtended& key, const std::string& path) {
  if (key.kind == model::CurveKind::kBls12381 && !key.bls_public_key.starts_with("bls12381g2:")) {
    return bad_args(path + ".Bls12381.public_key must start with bls12381g2:");
  }
  return {};
}

core::Status check_keyset_rules(const model::Keyset& keyset, const std::string& path) {
  for (std::size_t i = 0; i < keyset.domains.size(); ++i) {
    MPC_TRY(check_group_key_rules(keyset.domains[i].key, path + ".domains[" + std::to_string(i) + "].key"));
  }
  return {};
}

// ---- caller guards ----

core::Status require_no_deposit(const CallContext& ctx, std::string_view method) {
  if (ctx.attached_deposit != 0) return panic("Method " + std::string(method) + " doesn't accept deposit");
  return {};
}

core::Result<core::u128> require_deposit(const CallContext& ctx) {
  if (ctx.attached_deposit < 1) {
    return panic("Attached deposit is lower than required. Attached: " + core::u128_to_string(ctx.attached_deposit) +
                 ", required: 1");
  }
  return ctx.attached_deposit - 1;
}

core::Status require_direct_call(const CallContext& ctx) {
  if (ctx.signer_account_id != ctx.predecessor_account_id) return panic("Caller is not the signer account.");
  return {};
}

core::Status require_participant(const State& s, const CallContext& ctx) {
  if (!s.is_participant(ctx.signer_account_id)) return not_participant(ctx.signer_account_id);
  return {};
}

CallOutcome unit_outcome(core::u128 refund, std::vector<std::string> logs) { return CallOutcome{{}, std::move(logs), refund}; }

}  // namespace mpc::contract::internal
