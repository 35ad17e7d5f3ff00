// The MPC contract as pure logic: no I/O, no clocks, no randomness.
// The sandbox hosts it; tests drive it with plain values.
//
// Thread safety: none; the host serialises calls, views included (view()
// and serialize() fill a cache of the `state` view).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/near_key.h"
#include "core/result.h"

namespace mpc::contract {

using u128 = unsigned __int128;

inline constexpr std::uint64_t kMaxPrepaidGas = 300'000'000'000'000;  // NEAR's 300 TGas per call

// What the host knows about the function call being executed.
struct CallContext {
  std::string signer_account_id;
  std::string predecessor_account_id;   // == signer for direct calls
  std::string current_account_id;       // the contract's own account
  core::NearPublicKey signer_public_key;  // the access key that signed the tx
  u128 attached_deposit = 0;
  std::uint64_t block_height = 0;
  std::uint64_t prepaid_gas = kMaxPrepaidGas;
  // NEAR yield/resume (promise_yield_create / promise_yield_resume). The
  // host offers each call a fresh data id, unique on its chain; a call that
  // yields (`sign`) keeps it to resume later (CallOutcome::yield).
  core::Hash256 yield_data_id{};
  // A callback's promise results, in order: the bytes a yield was resumed
  // with, or nullopt for a promise that failed (a yield that timed out).
  std::vector<std::optional<core::Bytes>> promise_results;
  // The block's timestamp in nanoseconds since the Unix epoch (NEAR's
  // env::block_timestamp()): what attestations are verified and expire at.
  std::uint64_t block_timestamp_ns = 0;
};

// The call's result is a yielded promise: the host keeps the caller's
// transaction pending until the contract resumes `data_id` (a later call's
// CallOutcome::resumed) or the host's yield timeout passes, then calls
// `callback_method` with `callback_args` and the promise result; the
// callback's outcome becomes this call's result.
struct YieldCreate {
  core::Hash256 data_id{};
  std::string callback_method;
  core::Bytes callback_args;  // JSON
};
// promise_yield_resume(data_id, payload): resumes a yield with `payload`
// (JSON) as its promise result.
struct YieldResume {
  core::Hash256 data_id{};
  core::Bytes payload;
};
// The call's result is that of a function call on the contract itself
// (Promise::new(current_account).function_call(..).as_return()).
struct PromiseCall {
  std::string method;
  core::Bytes args;
};

struct CallOutcome {
  core::Bytes return_value;        // JSON bytes (may be empty for unit returns)
  std::vector<std::string> logs;
  u128 refund = 0;                 // part of the attached deposit to return to the signer
  std::optional<YieldCreate> yield;        // set by `sign`
  std::vector<YieldResume> resumed;        // set by `respond`
  std::optional<PromiseCall> then;         // set by a yield callback on timeout
};

class MpcContract {
 public:
  // A contract in state NotInitialized.
  MpcContract();
  ~MpcContract();
  MpcContract(MpcContract&&) noexcept;
  MpcContract& operator=(MpcContract&&) noexcept;
  MpcContract(const MpcContract&) = delete;
  MpcContract& operator=(const MpcContract&) = delete;
  MpcContract clone() const;

  // Executes a change method. On error the contract is unchanged (the whole
  // call reverts) and Error.message is the panic text.
  // Unknown method -> kNotFound; unparseable args -> kInvalidArgument.
  core::Result<CallOutcome> call(const CallContext& ctx, std::string_view method, core::ByteView args_json);

  // Executes a view method (`state`, `migration_info`, ...); returns JSON bytes.
  core::Result<core::Bytes> view(std::string_view method, core::ByteView args_json) const;
  // The same text, shared instead of copied: the `state` view's is made
  // once per protocol state, and every view until a call changes the
  // protocol state gets it.
  core::Result<std::shared_ptr<const std::string>> view_text(std::string_view method, core::ByteView args_json) const;

  // Durable form of the whole contract state (JSON text), and back:
  //   {"version":1,
  //    "protocol_state": <exactly what view `state` returns, vote
  //                       bookkeeping and key events included>,
  //    "config":          {"key_event_timeout_blocks": N},
  //    "backup_services": {account_id: BackupServiceInfo, ...},
  //    "migrations":      {account_id: DestinationNodeInfo, ...}}
  // deserialize() also accepts a genesis form: only "protocol_state" is
  // required (e.g. a reference `state` view such as a mainnet Running body
  // with its keyset); "version", "config" (absent or null: the reference's
  // default, key_event_timeout_blocks 30; any other setting is refused),
  // "backup_services" and "migrations" are optional. Fields the reference
  // requires that an older state lacks are filled in (empty vote maps,
  // domains' reconstruction_threshold, key event instances (none) and
  // their started_in/expires_on). Unknown fields of the states, key
  // events, instances, vote maps and domains (legacy "curve", ...) are kept
  // as given; inside participants, keysets and keys core's types drop them.
  // The state must parse as model::ProtocolState and keep the contract's
  // rules (thresholds, key forms), else kInvalidArgument naming the field.
  //
  // Change methods (args as the reference contract takes them):
  //   init{parameters, init_config?}       NotInitialized -> Running, epoch 0, no domains;
  //                                        predecessor must be the contract account;
  //                                        init_config: {key_event_timeout_blocks?}
  //   vote_add_domains{domains}            every participant -> Initializing
  //   vote_new_parameters{prospective_epoch_id, proposal}
  //                                        every member of the proposal -> Resharing
  //                                        (newcomers only after threshold current ones)
  //   Key events (one domain at a time; the event's participants: the
  //   generating ones while Initializing, the new ones while Resharing;
  //   signer == predecessor, no deposit):
  //   start_keygen_instance{key_event_id}  Initializing; the leader (lowest participant id) opens
  //   start_reshare_instance{key_event_id} Resharing;    attempt key_event_id, which must be
  //                                        (epoch, domain, next_attempt_id), when none is active;
  //                                        it expires on block_height + 1 + key_event_timeout_blocks
  //   vote_pk{key_event_id, public_key}    every participant, same key -> key recorded, next domain
  //                                        or Running; a different key ends the attempt.
  //                                        public_key: the reference's text ("ed25519:…",
  //                                        "secp256k1:…", "bls12381g2:…") or the keyset's
  //                                        extended form
  //   vote_reshared{key_event_id}          every new participant -> next domain, or Running, epoch+1
  //   vote_abort_key_event_instance{key_event_id}
  //                                        a participant that has not voted success ends the attempt
  //   vote_cancel_keygen{next_domain_id}   threshold -> Running with the keys generated so far
  //   vote_cancel_resharing{}              threshold of the old participants -> previous Running
  //   register_backup_service{backup_service_info}   payable (>= 1 yoctoNEAR, excess refunded) without an
  //                                                  attestation; with one (signed by the TEE's
  //                                                  function-call key) no deposit is needed
  //   start_node_migration{destination_node_info}    payable
  //   conclude_node_migration{keyset}                non-payable, signed by the new node's key
  //   cancel_node_migration{}                        payable (our addition)
  //   update_participant_url{url}                    payable
  //   sign{request}        payable (>= 1 yoctoNEAR, excess refunded), >= 15 TGas; yields
  //                        (signing.cc: Frost and DamgardEtAl domains; CaitSith refused)
  //   respond{request, response}   a participant; resumes every yield of the request
  //   return_signature_and_clean_state_on_success, fail_on_timeout
  //                        private (predecessor == the contract): the yield callbacks
  // Views: `state`, `config` ({"key_event_timeout_blocks"}: the reference's
  // Config view, of the one setting this contract has), `migration_info`,
  // `version`, `get_pending_request{request}`,
  // `public_key{domain_id?}`, `derived_public_key{path, predecessor, domain_id?}`
  // (the reference's; a view has no caller, so predecessor is required),
  // `pending_signature_requests{limit?}` (ours: what the
  // nodes poll, oldest first).
  //
  // The durable form also holds, when there are any,
  //    "pending_signature_requests": [{"request", "predecessor_id", "path",
  //                                    "yields": [{"data_id", "block_height"}]}]
  std::string serialize() const;
  static core::Result<MpcContract> deserialize(std::string_view text);

  // Opaque; defined in internal/state.h (the contract's own).
  struct State;

 private:
  explicit MpcContract(std::unique_ptr<State> s);
  // The `state` view's text, made on first use after a change of the
  // protocol state.
  const std::string& state_view_text() const;
  std::unique_ptr<State> state_;
};

}  // namespace mpc::contract
