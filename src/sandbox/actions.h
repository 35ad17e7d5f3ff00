// Execution of a transaction's actions: one handler per NEAR Action kind,
// in a table indexed by the kind (actions.cc). A kind without a handler
// (DeployContract, Stake, delegate actions) is refused by validation.
//
// Actions run on copies of the accounts they touch and, when a later action
// could still fail, on a copy of the contract; the copies are the result,
// which the Chain commits only if every action succeeded.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "contract/contract.h"
#include "near/transaction.h"
#include "sandbox/ledger.h"

namespace mpc::sandbox {

// True if the sandbox executes actions of this kind.
bool is_supported_action(const near::Action& action);

// Contract call (and view) arguments are untrusted JSON: checked for size,
// depth and value count before the contract parses them. The error is in
// the words the contract uses for arguments it cannot read.
core::Status check_contract_args(core::ByteView args);

// What a transaction's actions run in.
struct ExecutionEnv {
  const near::Transaction& tx;
  const core::Hash256& tx_hash;            // for logs
  std::uint64_t height;                    // the block being built
  const std::string& contract_account_id;  // the only account with code
  // The contract's block timestamp (ns): the sandbox executes a transaction
  // when it arrives, before its block's time is chosen, so this is the
  // earliest that block can carry (its parent's timestamp + 1 ns).
  std::uint64_t timestamp_ns = 0;
};

// The first action that failed, as NEAR's ActionError.
struct ActionFailure {
  std::size_t index = 0;
  json kind;  // ActionErrorKind, e.g. {"AccountDoesNotExist":{"account_id":"x.near"}}
};

struct Execution {
  std::optional<ActionFailure> failure;  // set: nothing below is to be committed
  core::Bytes return_value;              // of the last FunctionCall
  std::vector<std::string> logs;
  // Every account the actions touched, as they left it; nullopt: deleted.
  std::map<std::string, std::optional<Account>> accounts;
  // The contract as the actions left it, when they ran on a copy.
  std::optional<contract::MpcContract> contract;
  // A single FunctionCall changed `contract` itself (MpcContract::call is
  // atomic: on failure it is unchanged).
  bool contract_changed_in_place = false;
  // The call yielded (`sign`): the transaction's result waits for the
  // yield's callback. Only a transaction's single action may yield.
  std::optional<contract::YieldCreate> yield;
  // Yields the call resumed (`respond`), for the block producer to run
  // their callbacks.
  std::vector<contract::YieldResume> resumed;

  bool ok() const { return !failure; }
};

// The data id a transaction's call is offered for a yield (unique: one
// transaction, one yielding action).
core::Hash256 yield_data_id(const core::Hash256& tx_hash);

// Runs env.tx's actions in order, up to the first that fails.
// REQUIRES: every action is_supported_action (validate_actions passed).
// `accounts` is only read. `contract` is written only by a transaction whose
// single action is a FunctionCall; otherwise the actions run on a copy.
Execution execute_actions(const ExecutionEnv& env, const std::map<std::string, Account>& accounts,
                          contract::MpcContract& contract);

}  // namespace mpc::sandbox
