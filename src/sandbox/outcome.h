// The record of an executed transaction: NEAR's FinalExecutionOutcome view
// of it, as `tx` and `send_tx` answer it.
#pragma once

#include "near/transaction.h"
#include "sandbox/actions.h"
#include "sandbox/ledger.h"

namespace mpc::sandbox {

// An action as NEAR's views show it, e.g. {"Transfer":{"deposit":"1"}}.
json action_view(const near::Action& action);

// The outcome view of a transaction that ran (whether its actions succeeded
// or failed), without what the block that includes it adds: the block hashes
// and final_execution_status. A call that yielded gives a partial outcome,
// as NEAR shows one: status "Started", the call's receipt pointing
// (SuccessReceiptId) at the callback receipt that has not run.
json outcome_view(const near::SignedTransaction& stx, const core::Hash256& hash, const Execution& execution);

// A receipt's id, derived from its transaction's hash and what it is.
std::string receipt_id(const core::Hash256& tx_hash, std::string_view what);

// The receipt ids of a yielded call's chain: its callback, and the call the
// callback chains on timeout (fail_on_timeout).
std::string yield_callback_receipt_id(const core::Hash256& tx_hash);
std::string yield_timeout_receipt_id(const core::Hash256& tx_hash);

// A contract call's result as an execution status: {"SuccessValue":b64},
// {"SuccessReceiptId":id} or the FunctionCallError failure of a panic.
json success_value_status(core::ByteView value);
json panic_status(const std::string& message);

// Appends a receipt's outcome (executed by the contract account) to a
// transaction's outcome; the block producer adds its block_hash.
void append_receipt_outcome(json& outcome, const std::string& receipt_id, const std::string& executor_id, json status,
                            const std::vector<std::string>& logs, const std::vector<std::string>& receipt_ids);

}  // namespace mpc::sandbox
