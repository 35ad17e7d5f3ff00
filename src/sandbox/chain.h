// The sandbox chain: verifies and executes signed NEAR transactions against
// accounts, access keys and the hosted MPC contract, and produces blocks.
//
// Execution model: a transaction is validated and executed when it arrives
// (against the pending state), and becomes final when the next block is
// committed to the Store together with every state change it made. Only
// then is it reported as executed, so a reported transaction survives a
// crash. A rejected transaction (bad signature, nonce, permissions, ...)
// changes nothing. A transaction whose actions fail is included with a
// Failure outcome; its actions are reverted as a whole and deposits refunded.
//
// submit() in three steps: validation (validation.h: pure, typed
// rejections), the actions (actions.h: one handler per kind), recording the
// outcome (outcome.h) into the pending block.
//
// Thread safety: all public methods are safe to call concurrently. One mutex
// guards the in-memory state; no database lookup runs under it (lookups go
// to the Store's reader; only produce_block's commit writes under it).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "contract/contract.h"
#include "sandbox/actions.h"
#include "sandbox/ledger.h"
#include "sandbox/store.h"
#include "sandbox/validation.h"

namespace mpc::sandbox {

struct GenesisAccount {
  std::string account_id;
  u128 balance = 0;
  std::vector<std::pair<core::NearPublicKey, KeyPermission>> keys;
};

// NEAR's yield_timeout_length_in_blocks (runtime parameters): a yielded
// promise not resumed within this many blocks runs its callback with a
// failed promise result.
inline constexpr std::uint64_t kDefaultYieldTimeoutBlocks = 200;

// The genesis file: {"chain_id", "genesis_time_ns", "contract_account_id",
// "contract_state": <MpcContract::deserialize form> | null,
// "yield_timeout_blocks": N (optional, default 200, >= 1),
// "accounts": [{"account_id", "balance": "<yocto>", "keys": [{"public_key", "permission"}]}]}
struct Genesis {
  std::string chain_id = "mpc-sandbox";
  std::uint64_t genesis_time_ns = 0;
  std::string contract_account_id = "mpc.sandbox";
  json contract_state;  // null: the contract starts NotInitialized
  std::uint64_t yield_timeout_blocks = kDefaultYieldTimeoutBlocks;
  std::vector<GenesisAccount> accounts;
};

json genesis_to_json(const Genesis& g);
core::Result<Genesis> genesis_from_json(const json& j);

struct ViewResult {
  // The view's JSON bytes, shared (the contract makes the `state` view's
  // once per protocol state): read without a copy, outside the chain lock.
  std::shared_ptr<const std::string> result;
  std::vector<std::string> logs;
  core::ByteView bytes() const { return core::as_bytes(*result); }
};

// Errors of a view call, classified as NEAR RPC's query errors.
enum class QueryErrorKind { kUnknownAccount, kUnknownAccessKey, kNoContractCode, kContractExecution, kInvalidArgs };
struct QueryError {
  QueryErrorKind kind;
  std::string message;
};

class Chain {
 public:
  struct Options {
    std::uint64_t tx_validity_blocks = 86'400;
  };

  // Writes the genesis block into an empty store.
  static core::Status create(Store& store, const Genesis& genesis);
  // Loads the chain from a store that holds a genesis.
  static core::Result<std::unique_ptr<Chain>> open(std::unique_ptr<Store> store, Options options);
  ~Chain();
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  // Verifies and executes a borsh SignedTransaction. Returns its hash; a
  // transaction already known returns its hash again without re-executing.
  std::expected<core::Hash256, InvalidTx> submit(core::ByteView signed_tx_borsh);

  // What a waiter waits for: the block that includes the transaction, or
  // also the end of its execution (a yielded call's callback has run).
  enum class TxWait { kIncluded, kExecuted };
  using TxWaiter = std::function<void(std::optional<TxRecord>)>;
  // Calls `done` once the transaction is committed in a block (kIncluded)
  // or has also finished executing (kExecuted), immediately if it already
  // is, or with std::nullopt if it is unknown. Called outside the chain
  // lock. Returns an id for cancel_wait, 0 when `done` already ran.
  std::uint64_t when_final(const core::Hash256& hash, TxWait wait, TxWaiter done);
  std::uint64_t when_final(const core::Hash256& hash, TxWaiter done) { return when_final(hash, TxWait::kExecuted, std::move(done)); }
  // Forgets a waiter that has not run (its client gave up); `done` will not run.
  void cancel_wait(const core::Hash256& hash, std::uint64_t id);
  // A committed transaction's record, if any: finished, or (a yielded call)
  // with status "Started" until its callback has run.
  core::Result<std::optional<TxRecord>> final_tx(const core::Hash256& hash);
  bool is_pending(const core::Hash256& hash);

  // Runs the callbacks of the yields resumed by the pending transactions and
  // of those that time out at the new height (their transactions' outcomes
  // complete), seals the pending transactions into a new block and commits
  // it all together.
  core::Status produce_block(std::uint64_t timestamp_ns);

  // Yields waiting for their callback (committed or pending), oldest first.
  std::vector<OpenYield> open_yields();
  std::uint64_t yield_timeout_blocks() const { return yield_timeout_blocks_; }

  Block head();
  std::string chain_id();
  core::Result<std::optional<Block>> block_by_height(std::uint64_t height);
  core::Result<std::optional<Block>> block_by_hash(const core::Hash256& hash);

  std::expected<Account, QueryError> view_account(const std::string& account_id);
  std::expected<AccessKeyEntry, QueryError> view_access_key(const std::string& account_id, const core::NearPublicKey& key);
  std::expected<ViewResult, QueryError> call_view(const std::string& account_id, const std::string& method,
                                                  core::ByteView args);

 private:
  struct Pending;
  class RecentBlocks;
  Chain(std::unique_ptr<Store> store, Options options, StoredChain loaded, contract::MpcContract contract);

  // The height of a block of this chain, from memory for recent blocks,
  // else from the Store. Takes no chain lock.
  std::optional<std::uint64_t> block_height_of(const core::Hash256& hash);
  // Under mu_: validates against the pending state, charges the signer,
  // runs the actions and records the outcome.
  std::expected<core::Hash256, InvalidTx> accept(const near::SignedTransaction& stx, const core::Hash256& hash,
                                                 std::optional<std::uint64_t> reference_height);
  // Under mu_: commits the actions' changes (or refunds the deposits of a
  // failed transaction) and adds the transaction to the pending block.
  void record(const near::SignedTransaction& stx, const core::Hash256& hash, const TxCost& cost, Execution execution);
  // Under mu_: runs an open yield's callback (and what it chains) at
  // `height`, with the resumed payload or, on timeout, a failed promise;
  // completes its transaction's outcome.
  void run_yield_callback(const core::Hash256& data_id, std::optional<core::Bytes> result, std::uint64_t height);
  // Under mu_: the latest record of a transaction whose yield is open.
  TxRecord* unfinished_record(const core::Hash256& tx_hash);

  std::mutex mu_;
  const std::unique_ptr<Store> store_;       // lookups need no lock; commit runs under mu_
  const std::unique_ptr<RecentBlocks> recent_blocks_;  // own lock
  const Options options_;
  const std::string chain_id_;
  const std::string contract_account_id_;
  std::map<std::string, Account> accounts_;  // includes pending changes
  contract::MpcContract contract_;           // includes pending changes
  Block head_;
  std::unique_ptr<Pending> pending_;
  const std::uint64_t yield_timeout_blocks_;
  // Yields whose callback has not run, by data id (committed or created in
  // the pending block), and the records of their transactions once
  // committed (kept here so that no lookup runs under mu_).
  std::map<core::Hash256, OpenYield> open_yields_;
  std::map<core::Hash256, TxRecord> unfinished_txs_;
  struct Waiter {
    std::uint64_t id;
    TxWait wait;
    TxWaiter done;
  };
  std::map<core::Hash256, std::vector<Waiter>> waiters_;
  std::uint64_t next_waiter_id_ = 1;
};

}  // namespace mpc::sandbox
