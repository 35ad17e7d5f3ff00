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
// and final_execution_status.
json outcome_view(const near::SignedTransaction& stx, const core::Hash256& hash, const Execution& execution);

}  // namespace mpc::sandbox
