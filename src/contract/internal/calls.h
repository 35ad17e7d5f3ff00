// INTERNAL to src/contract: what the change methods share — errors, typed
// arguments, the contract's rules over typed values, caller guards — and the
// methods themselves (lifecycle.cc, migrations.cc), dispatched by contract.cc.
//
// Error texts: a panic (kFailedPrecondition) is the reference contract's
// text, byte for byte where the reference has one; bad arguments
// (kInvalidArgument) read "Failed to deserialize input from JSON: <path> ...".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/contract.h"
#include "contract/internal/state.h"
#include "core/result.h"
#include "model/types.h"
#include "core/u128.h"

namespace mpc::contract::internal {

using State = MpcContract::State;

// ---- errors ----

// A contract panic: the whole call reverts with this message.
std::unexpected<core::Error> panic(std::string message);
// Arguments that do not deserialize.
std::unexpected<core::Error> bad_args(const std::string& what);
std::unexpected<core::Error> not_participant(const std::string& account);

// ---- arguments ----
// Each takes the call's argument object and names the argument in its error.

// args[name], or "<name> is missing".
core::Result<const json*> arg(const json& args, const char* name);
core::Result<std::uint64_t> u64_arg(const json& args, const char* name);
core::Result<std::string> string_arg(const json& args, const char* name);
// ThresholdParameters that also keep the rules below (check_threshold_rules).
core::Result<model::ThresholdParameters> parameters_value(const json& value, const std::string& name);
core::Result<model::DomainConfig> domain_value(const json& value, const std::string& name);
core::Result<model::PublicKeyExtended> group_key_value(const json& value, const std::string& name);
core::Result<model::Keyset> keyset_value(const json& value, const std::string& name);
core::Result<model::KeyEventId> key_event_id_value(const json& value, const std::string& name);
core::Result<model::BackupServiceInfo> backup_service_value(const json& value, const std::string& name);
core::Result<model::DestinationNodeInfo> destination_value(const json& value, const std::string& name);

// ---- rules ----
// Shape is the parser's business; these are what the contract adds. `path`
// names the value in bad-argument errors.

// Valid account ids, non-empty urls (bad arguments); then the reference's
// panics: unique accounts, ids and TLS keys, ids below next_id, and
// 2 <= threshold <= n with threshold >= ceil(60% of n).
core::Status check_threshold_rules(const model::ThresholdParameters& parameters, const std::string& path);
// A BLS key is "bls12381g2:..." (core's parser takes any string).
core::Status check_group_key_rules(const model::PublicKeyExtended& key, const std::string& path);
core::Status check_keyset_rules(const model::Keyset& keyset, const std::string& path);

// ---- caller guards ----

core::Status require_no_deposit(const CallContext& ctx, std::string_view method);
// Payable methods take at least 1 yoctoNEAR; returns the refund (the excess).
core::Result<core::u128> require_deposit(const CallContext& ctx);
// Not through another contract: signer == predecessor.
core::Status require_direct_call(const CallContext& ctx);
core::Status require_participant(const State& s, const CallContext& ctx);

CallOutcome unit_outcome(core::u128 refund = 0, std::vector<std::string> logs = {});

// ---- change methods ----
// Each runs on a scratch copy of the state (contract.cc); an error discards it.

using Method = core::Result<CallOutcome> (*)(State&, const CallContext&, const json& args);

// lifecycle.cc
core::Result<CallOutcome> init(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_add_domains(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> start_keygen_instance(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_pk(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_cancel_keygen(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_new_parameters(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> start_reshare_instance(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_reshared(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_abort_key_event_instance(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_cancel_resharing(State& s, const CallContext& ctx, const json& args);

// migrations.cc
core::Result<CallOutcome> register_backup_service(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> start_node_migration(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> conclude_node_migration(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> cancel_node_migration(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> update_participant_url(State& s, const CallContext& ctx, const json& args);

// tee.cc
core::Result<CallOutcome> submit_participant_info(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_code_hash(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_add_launcher_compose_hash(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_add_os_measurement(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_backup_service_code_hash(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> vote_backup_service_launcher_compose_hash(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> verify_tee(State& s, const CallContext& ctx, const json& args);
// Why `account`'s node with `tls_key` (and, when given, access key
// `account_key`) has no valid attestation at `now` seconds; empty when it has.
core::Result<std::string> participant_attestation_problem(const State& s, const std::string& account,
                                                          const core::Ed25519PublicKey& tls_key,
                                                          const std::optional<core::Ed25519PublicKey>& account_key,
                                                          std::uint64_t now);
// The TEE views (allowed_*, get_attestation, get_tee_accounts,
// backup_service_attestation, code_hash_votes, attestation_mode); kNotFound
// for any other name.
core::Result<json> tee_view(const State& s, std::string_view method, const json& args);

// lifecycle.cc: from Running, a resharing to `proposal` at the next epoch
// (Running at once when there are no domains). Returns the log line.
core::Result<std::string> begin_resharing(State& s, model::ThresholdParameters proposal);

// signing.cc
core::Result<CallOutcome> sign(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> respond(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> return_signature_and_clean_state_on_success(State& s, const CallContext& ctx, const json& args);
core::Result<CallOutcome> fail_on_timeout(State& s, const CallContext& ctx, const json& args);

// Views of signing.cc.
core::Result<json> get_pending_request(const State& s, const json& args);
core::Result<json> pending_signature_requests(const State& s, const json& args);
core::Result<json> public_key_view(const State& s, const json& args);
core::Result<json> derived_public_key_view(const State& s, const json& args);
// The durable form of the pending requests ("pending_signature_requests"
// of serialize()), and back into a state that has none yet.
json pending_signatures_to_json(const State& s);
core::Status pending_signatures_from_json(State& s, const json& j);

}  // namespace mpc::contract::internal
