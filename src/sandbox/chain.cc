#include "sandbox/chain.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <set>

#include "model/types.h"
#include "near/transaction.h"
#include "sandbox/outcome.h"

namespace mpc::sandbox {

namespace {

core::Hash256 block_hash_of(const Block& b) {
  core::Bytes data(b.prev_hash.begin(), b.prev_hash.end());
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<std::uint8_t>(b.height >> (8 * i)));
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<std::uint8_t>(b.timestamp_ns >> (8 * i)));
  for (const auto& h : b.tx_hashes) data.insert(data.end(), h.begin(), h.end());
  return core::sha256(data);
}

// How many of the latest blocks Chain::block_height_of answers from memory;
// transactions name the head, or a block a few seconds old.
constexpr std::size_t kRecentBlocks = 256;

}  // namespace

// ---------------------------------------------------------------- genesis

json genesis_to_json(const Genesis& g) {
  json accounts = json::array();
  for (const auto& a : g.accounts) {
    json keys = json::array();
    for (const auto& [pk, perm] : a.keys) keys.push_back({{"public_key", pk.to_string()}, {"permission", permission_to_json(perm)}});
    accounts.push_back({{"account_id", a.account_id}, {"balance", core::u128_to_string(a.balance)}, {"keys", keys}});
  }
  json out{{"chain_id", g.chain_id},
           {"genesis_time_ns", g.genesis_time_ns},
           {"contract_account_id", g.contract_account_id},
           {"contract_state", g.contract_state},
           {"accounts", accounts}};
  if (g.yield_timeout_blocks != kDefaultYieldTimeoutBlocks) out["yield_timeout_blocks"] = g.yield_timeout_blocks;
  return out;
}

core::Result<Genesis> genesis_from_json(const json& j) {
  if (!j.is_object()) return core::invalid("genesis must be a JSON object");
  Genesis g;
  g.chain_id = j.value("chain_id", std::string("mpc-sandbox"));
  if (j.contains("genesis_time_ns")) {
    auto t = model::json_u64(j["genesis_time_ns"]);
    if (!t) return core::invalid("genesis.genesis_time_ns must be an unsigned integer");
    g.genesis_time_ns = *t;
  }
  g.contract_account_id = j.value("contract_account_id", std::string("mpc.sandbox"));
  if (!core::is_valid_account_id(g.contract_account_id)) return core::invalid("genesis.contract_account_id is not a valid account id");
  g.contract_state = j.value("contract_state", json(nullptr));
  if (j.contains("yield_timeout_blocks")) {
    auto t = model::json_u64(j["yield_timeout_blocks"]);
    if (!t || *t == 0) return core::invalid("genesis.yield_timeout_blocks must be a positive integer (blocks)");
    g.yield_timeout_blocks = *t;
  }
  if (!j.contains("accounts") || !j["accounts"].is_array()) return core::invalid("genesis.accounts must be an array");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < j["accounts"].size(); ++i) {
    const json& a = j["accounts"][i];
    const std::string where = "genesis.accounts[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("account_id") || !a["account_id"].is_string()) {
      return core::invalid(where + ".account_id must be a string");
    }
    GenesisAccount ga;
    ga.account_id = a["account_id"].get<std::string>();
    if (!core::is_valid_account_id(ga.account_id)) return core::invalid(where + ".account_id is not a valid account id");
    if (!seen.insert(ga.account_id).second) return core::invalid(where + ": duplicate account " + ga.account_id);
    if (a.contains("balance")) {
      if (!a["balance"].is_string()) return core::invalid(where + ".balance must be a decimal string");
      auto bal = core::parse_u128(a["balance"].get<std::string>());
      if (!bal) return core::invalid(where + ".balance: " + bal.error().message);
      ga.balance = *bal;
    }
    for (const auto& k : a.value("keys", json::array())) {
      if (!k.is_object() || !k.contains("public_key") || !k["public_key"].is_string()) {
        return core::invalid(where + ".keys[].public_key must be a key string");
      }
      auto pk = core::NearPublicKey::parse(k["public_key"].get<std::string>());
      if (!pk) return core::invalid(where + ".keys[].public_key: " + pk.error().message);
      auto perm = permission_from_json(k.value("permission", json("FullAccess")));
      if (!perm) return core::invalid(where + ".keys[].permission: " + perm.error().message);
      ga.keys.emplace_back(*pk, *perm);
    }
    g.accounts.push_back(std::move(ga));
  }
  return g;
}

// ---------------------------------------------------------------- chain

struct Chain::Pending {
  std::vector<TxRecord> txs;  // block_height = the block being built
  std::map<core::Hash256, std::size_t> tx_index;  // into txs
  std::set<std::string> dirty_accounts;
  std::set<std::string> deleted_accounts;
  bool contract_dirty = false;
  // Yields created by txs (data ids, in order), resumed by txs (in order),
  // and committed ones resolved in this block.
  std::vector<core::Hash256> opened_yields;
  std::vector<contract::YieldResume> resumes;
  std::vector<core::Hash256> closed_yields;
  // Committed transactions whose outcome this block completes.
  std::set<core::Hash256> completed_txs;

  bool contains(const core::Hash256& hash) const { return tx_index.contains(hash); }
};

// Hash -> height of the latest kRecentBlocks blocks.
class Chain::RecentBlocks {
 public:
  void add(const Block& block) {
    std::lock_guard lock(mu_);
    if (!heights_.emplace(block.hash, block.height).second) return;
    order_.push_back(block.hash);
    if (order_.size() > kRecentBlocks) {
      heights_.erase(order_.front());
      order_.pop_front();
    }
  }
  std::optional<std::uint64_t> height_of(const core::Hash256& hash) {
    std::lock_guard lock(mu_);
    auto it = heights_.find(hash);
    if (it == heights_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<core::Hash256, std::uint64_t> heights_;
  std::deque<core::Hash256> order_;
};

core::Status Chain::create(Store& store, const Genesis& genesis) {
  MPC_ASSIGN(bool has, store.has_genesis());
  if (has) return core::fail(core::ErrorCode::kAlreadyExists, "the chain database already holds a genesis block");
  contract::MpcContract contract;
  if (!genesis.contract_state.is_null()) {
    auto c = contract::MpcContract::deserialize(genesis.contract_state.dump());
    if (!c) return core::invalid("genesis.contract_state: " + c.error().message);
    contract = std::move(*c);
  }
  BlockCommit commit;
  for (const auto& ga : genesis.accounts) {
    Account a;
    a.balance = ga.balance;
    for (const auto& [pk, perm] : ga.keys) a.keys[pk] = AccessKeyEntry{0, perm};
    commit.accounts[ga.account_id] = std::move(a);
  }
  auto& contract_account = commit.accounts[genesis.contract_account_id];
  contract_account.has_contract = true;
  commit.contracts[genesis.contract_account_id] = contract.serialize();
  commit.meta["chain_id"] = genesis.chain_id;
  commit.meta["contract_account_id"] = genesis.contract_account_id;
  commit.meta["yield_timeout_blocks"] = std::to_string(genesis.yield_timeout_blocks);
  commit.block.height = 1;
  commit.block.timestamp_ns = genesis.genesis_time_ns;
  commit.block.hash = block_hash_of(commit.block);
  return store.commit(commit);
}

core::Result<std::unique_ptr<Chain>> Chain::open(std::unique_ptr<Store> store, Options options) {
  MPC_ASSIGN(auto loaded, store->load());
  const std::string contract_id = loaded.meta["contract_account_id"];
  auto it = loaded.contracts.find(contract_id);
  if (it == loaded.contracts.end()) {
    return core::fail(core::ErrorCode::kInternal, "chain database has no state for contract " + contract_id);
  }
  auto contract = contract::MpcContract::deserialize(it->second);
  if (!contract) return core::fail(core::ErrorCode::kInternal, "chain database: contract state: " + contract.error().message);
  std::vector<OpenYield> yields = std::move(loaded.open_yields);
  std::unique_ptr<Chain> chain(new Chain(std::move(store), options, std::move(loaded), std::move(*contract)));
  // Yields survive restarts: their callbacks run when resumed or at their
  // timeout height, and their transactions' partial records are kept.
  for (auto& y : yields) {
    if (!chain->unfinished_txs_.contains(y.tx_hash)) {
      MPC_ASSIGN(auto record, chain->store_->find_tx(y.tx_hash));
      if (!record) {
        return core::fail(core::ErrorCode::kInternal,
                          "chain database: the transaction " + hash_to_base58(y.tx_hash) + " of an open yield is missing");
      }
      chain->unfinished_txs_.emplace(y.tx_hash, std::move(*record));
    }
    const core::Hash256 id = y.data_id;
    chain->open_yields_.emplace(id, std::move(y));
  }
  return chain;
}

namespace {

std::uint64_t yield_timeout_of(const std::map<std::string, std::string>& meta) {
  auto it = meta.find("yield_timeout_blocks");
  if (it == meta.end()) return kDefaultYieldTimeoutBlocks;  // chains created before yields existed
  try {
    const std::uint64_t n = std::stoull(it->second);
    return n == 0 ? kDefaultYieldTimeoutBlocks : n;
  } catch (const std::exception&) {
    return kDefaultYieldTimeoutBlocks;
  }
}

}  // namespace

Chain::Chain(std::unique_ptr<Store> store, Options options, StoredChain loaded, contract::MpcContract contract)
    : store_(std::move(store)),
      recent_blocks_(std::make_unique<RecentBlocks>()),
      options_(options),
      chain_id_(loaded.meta["chain_id"]),
      contract_account_id_(loaded.meta["contract_account_id"]),
      accounts_(std::move(loaded.accounts)),
      contract_(std::move(contract)),
      head_(std::move(loaded.head)),
      pending_(std::make_unique<Pending>()),
      yield_timeout_blocks_(yield_timeout_of(loaded.meta)) {
  recent_blocks_->add(head_);
}

Chain::~Chain() = default;

std::expected<core::Hash256, InvalidTx> Chain::submit(core::ByteView signed_tx_borsh) {
  auto decoded = near::decode_signed_transaction(signed_tx_borsh);
  if (!decoded) return std::unexpected(InvalidTx{invalid_tx::Deserialization{decoded.error().message}});
  const near::SignedTransaction& stx = *decoded;
  const core::Hash256 hash = near::transaction_hash(stx.transaction);
  // Before the chain lock: the signature verification (the costly check)
  // and the reference block's height (a lookup).
  if (auto bad = check_signature(stx)) return std::unexpected(std::move(*bad));
  core::Hash256 reference{};
  std::copy(stx.transaction.block_hash.begin(), stx.transaction.block_hash.end(), reference.begin());
  auto accepted = accept(stx, hash, block_height_of(reference));
  // A transaction that is already final fails validation (its nonce is
  // used); it is answered with its hash, as NEAR answers a known one.
  if (!accepted) {
    if (auto known = store_->find_tx(hash); known && known->has_value()) return hash;
  }
  return accepted;
}

std::optional<std::uint64_t> Chain::block_height_of(const core::Hash256& hash) {
  // Any hash a client can name was committed before it could learn it
  // (head_ moves after the commit), so the Store's reader has it.
  if (auto height = recent_blocks_->height_of(hash)) return height;
  auto found = store_->block_by_hash(hash);
  if (!found || !found->has_value()) return std::nullopt;
  return (*found)->height;
}

std::expected<core::Hash256, InvalidTx> Chain::accept(const near::SignedTransaction& stx, const core::Hash256& hash,
                                                      std::optional<std::uint64_t> reference_height) {
  const near::Transaction& tx = stx.transaction;
  std::lock_guard lock(mu_);
  if (pending_->contains(hash)) return hash;
  auto signer = accounts_.find(tx.signer_id);
  auto cost = validate_transaction(
      tx, ChainView{signer == accounts_.end() ? nullptr : &signer->second, head_.height, reference_height,
                    options_.tx_validity_blocks});
  if (!cost) return std::unexpected(std::move(cost.error()));
  // Accepted: the nonce is consumed and deposits are taken even if actions fail.
  signer->second.keys[tx.public_key].nonce = tx.nonce;
  signer->second.balance -= cost->deposits;
  pending_->dirty_accounts.insert(tx.signer_id);
  Execution execution = execute_actions(ExecutionEnv{tx, hash, head_.height + 1, contract_account_id_, head_.timestamp_ns + 1}, accounts_, contract_);
  record(stx, hash, *cost, std::move(execution));
  return hash;
}

void Chain::record(const near::SignedTransaction& stx, const core::Hash256& hash, const TxCost& cost, Execution execution) {
  const near::Transaction& tx = stx.transaction;
  if (execution.ok()) {
    for (auto& [id, account] : execution.accounts) {
      if (account) {
        accounts_[id] = std::move(*account);
        pending_->deleted_accounts.erase(id);
        pending_->dirty_accounts.insert(id);
      } else {
        accounts_.erase(id);
        pending_->dirty_accounts.erase(id);
        pending_->deleted_accounts.insert(id);
      }
    }
    if (execution.contract) contract_ = std::move(*execution.contract);
    if (execution.contract || execution.contract_changed_in_place) pending_->contract_dirty = true;
    if (execution.yield) {
      const contract::YieldCreate& y = *execution.yield;
      open_yields_[y.data_id] = OpenYield{y.data_id, hash, tx.signer_id, tx.public_key, y.callback_method, y.callback_args,
                                          head_.height + 1};
      pending_->opened_yields.push_back(y.data_id);
    }
    for (auto& r : execution.resumed) pending_->resumes.push_back(std::move(r));
  } else {
    accounts_.at(tx.signer_id).balance += cost.deposits;  // failed actions: deposits come back
  }
  pending_->tx_index[hash] = pending_->txs.size();
  pending_->txs.push_back(TxRecord{hash, tx.signer_id, head_.height + 1, outcome_view(stx, hash, execution)});
}

TxRecord* Chain::unfinished_record(const core::Hash256& tx_hash) {
  if (auto it = pending_->tx_index.find(tx_hash); it != pending_->tx_index.end()) return &pending_->txs[it->second];
  if (auto it = unfinished_txs_.find(tx_hash); it != unfinished_txs_.end()) return &it->second;
  return nullptr;
}

void Chain::run_yield_callback(const core::Hash256& data_id, std::optional<core::Bytes> result, std::uint64_t height) {
  auto it = open_yields_.find(data_id);
  if (it == open_yields_.end()) {
    // Resumed twice, or after its timeout: NEAR ignores such a resume.
    return;
  }
  const OpenYield y = std::move(it->second);
  open_yields_.erase(it);
  if (auto opened = std::find(pending_->opened_yields.begin(), pending_->opened_yields.end(), data_id);
      opened != pending_->opened_yields.end()) {
    pending_->opened_yields.erase(opened);  // created and resolved in this block: never stored
  } else {
    pending_->closed_yields.push_back(data_id);
  }
  pending_->contract_dirty = true;

  // The callback runs as the contract calling itself, for the original signer.
  auto call = [&](const std::string& method, core::ByteView args, std::vector<std::optional<core::Bytes>> results) {
    contract::CallContext ctx{y.signer_id, contract_account_id_, contract_account_id_, y.signer_public_key, 0, height};
    ctx.prepaid_gas = contract::kMaxPrepaidGas;
    ctx.block_timestamp_ns = head_.timestamp_ns + 1;  // as for transactions (ExecutionEnv::timestamp_ns)
    ctx.promise_results = std::move(results);
    core::Result<contract::CallOutcome> out = core::fail(core::ErrorCode::kInternal, "not called");
    try {
      out = contract_.call(ctx, method, args);
    } catch (const std::exception& e) {
      spdlog::error("yield callback {} of transaction {} threw: {}", method, hash_to_base58(y.tx_hash), e.what());
      out = core::fail(core::ErrorCode::kInternal, "internal error while executing the callback");
    }
    return out;
  };
  const bool timed_out = !result.has_value();
  std::vector<std::optional<core::Bytes>> results;
  results.push_back(std::move(result));
  auto out = call(y.callback_method, y.callback_args, std::move(results));

  TxRecord* record = unfinished_record(y.tx_hash);
  if (record == nullptr) {
    spdlog::error("yield {} resolved, but its transaction {} has no record", hash_to_base58(data_id), hash_to_base58(y.tx_hash));
    return;
  }
  json& outcome = record->outcome;
  const std::string callback_id = yield_callback_receipt_id(y.tx_hash);
  json final_status;
  if (!out) {
    final_status = panic_status(out.error().message);
    append_receipt_outcome(outcome, callback_id, contract_account_id_, final_status, {}, {});
  } else if (out->then) {
    // On timeout the callback returns a call to fail_on_timeout as its result.
    const std::string then_id = yield_timeout_receipt_id(y.tx_hash);
    append_receipt_outcome(outcome, callback_id, contract_account_id_, json{{"SuccessReceiptId", then_id}}, out->logs, {then_id});
    auto then = call(out->then->method, out->then->args, {});
    final_status = then ? success_value_status(then->return_value) : panic_status(then.error().message);
    append_receipt_outcome(outcome, then_id, contract_account_id_, final_status, then ? then->logs : std::vector<std::string>{}, {});
  } else {
    final_status = success_value_status(out->return_value);
    append_receipt_outcome(outcome, callback_id, contract_account_id_, final_status, out->logs, {});
  }
  outcome["status"] = final_status;
  if (!pending_->contains(y.tx_hash)) pending_->completed_txs.insert(y.tx_hash);
  spdlog::debug("yield of transaction {} {}", hash_to_base58(y.tx_hash), timed_out ? "timed out" : "resumed");
}

core::Status Chain::produce_block(std::uint64_t timestamp_ns) {
  std::vector<std::pair<std::vector<Waiter>, TxRecord>> ready;
  {
    std::lock_guard lock(mu_);
    const std::uint64_t height = head_.height + 1;
    // Yield callbacks: those resumed by this block's transactions, in order,
    // then those whose timeout falls at this height, oldest first.
    for (auto& r : pending_->resumes) run_yield_callback(r.data_id, std::move(r.payload), height);
    std::vector<std::pair<std::uint64_t, core::Hash256>> expired;
    for (const auto& [id, y] : open_yields_) {
      if (y.created_height + yield_timeout_blocks_ <= height) expired.emplace_back(y.created_height, id);
    }
    std::stable_sort(expired.begin(), expired.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [created, id] : expired) run_yield_callback(id, std::nullopt, height);

    BlockCommit commit;
    commit.block.height = height;
    commit.block.prev_hash = head_.hash;
    commit.block.timestamp_ns = std::max(timestamp_ns, head_.timestamp_ns + 1);
    for (const auto& tx : pending_->txs) commit.block.tx_hashes.push_back(tx.hash);
    commit.block.hash = block_hash_of(commit.block);
    for (const auto& id : pending_->dirty_accounts) {
      auto it = accounts_.find(id);
      if (it != accounts_.end()) commit.accounts[id] = it->second;
    }
    commit.deleted_accounts.assign(pending_->deleted_accounts.begin(), pending_->deleted_accounts.end());
    if (pending_->contract_dirty) commit.contracts[contract_account_id_] = contract_.serialize();
    // The pending records move into the commit (a copy of each was a good
    // part of a transaction's cost); if the commit fails they move back as
    // they were, for the next attempt.
    const std::size_t n_pending = pending_->txs.size();
    commit.txs = std::move(pending_->txs);
    for (const auto& hash : pending_->completed_txs) commit.txs.push_back(unfinished_txs_.at(hash));
    const std::string block_hash = hash_to_base58(commit.block.hash);
    std::vector<json*> stamped;  // receipts of pending records given this block's hash
    for (std::size_t i = 0; i < commit.txs.size(); ++i) {
      TxRecord& tx = commit.txs[i];
      if (i < n_pending) {
        tx.block_height = commit.block.height;
        tx.outcome["transaction_outcome"]["block_hash"] = block_hash;
      }
      // Receipts executed in this block: the new ones.
      for (auto& r : tx.outcome["receipts_outcome"]) {
        if (r.contains("block_hash")) continue;
        r["block_hash"] = block_hash;
        if (i < n_pending) stamped.push_back(&r);
      }
    }
    for (const auto& id : pending_->opened_yields) commit.opened_yields.push_back(open_yields_.at(id));
    commit.closed_yields = pending_->closed_yields;
    if (auto st = store_->commit(commit); !st) {
      for (json* r : stamped) r->erase("block_hash");
      commit.txs.resize(n_pending);
      pending_->txs = std::move(commit.txs);
      return st;
    }
    recent_blocks_->add(commit.block);
    head_ = commit.block;
    for (auto& tx : commit.txs) {
      const bool finished = tx.finished();
      if (finished) {
        unfinished_txs_.erase(tx.hash);
      } else {
        unfinished_txs_[tx.hash] = tx;
      }
      auto w = waiters_.find(tx.hash);
      if (w == waiters_.end()) continue;
      std::vector<Waiter> due;
      std::erase_if(w->second, [&](Waiter& waiter) {
        if (!finished && waiter.wait == TxWait::kExecuted) return false;
        due.push_back(std::move(waiter));
        return true;
      });
      if (w->second.empty()) waiters_.erase(w);
      if (!due.empty()) ready.emplace_back(std::move(due), std::move(tx));  // the commit is done with it
    }
    pending_ = std::make_unique<Pending>();
  }
  // The block is committed; a waiter that throws must not keep the others
  // (or the block producer calling us) from going on.
  for (auto& [waiters, tx] : ready) {
    for (auto& waiter : waiters) {
      try {
        waiter.done(tx);
      } catch (const std::exception& e) {
        spdlog::error("a waiter for transaction {} threw: {}", hash_to_base58(tx.hash), e.what());
      } catch (...) {
        spdlog::error("a waiter for transaction {} threw", hash_to_base58(tx.hash));
      }
    }
  }
  return {};
}

std::uint64_t Chain::when_final(const core::Hash256& hash, TxWait wait, TxWaiter done) {
  {
    std::lock_guard lock(mu_);
    if (pending_->contains(hash) || (wait == TxWait::kExecuted && unfinished_txs_.contains(hash))) {
      const std::uint64_t id = next_waiter_id_++;
      waiters_[hash].push_back(Waiter{id, wait, std::move(done)});
      return id;
    }
  }
  // Committed (and, for kExecuted, finished): the Store has it.
  auto rec = final_tx(hash);
  done(rec ? *rec : std::nullopt);
  return 0;
}

void Chain::cancel_wait(const core::Hash256& hash, std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto w = waiters_.find(hash);
  if (w == waiters_.end()) return;
  std::erase_if(w->second, [&](const Waiter& waiter) { return waiter.id == id; });
  if (w->second.empty()) waiters_.erase(w);
}

core::Result<std::optional<TxRecord>> Chain::final_tx(const core::Hash256& hash) { return store_->find_tx(hash); }

std::vector<OpenYield> Chain::open_yields() {
  std::lock_guard lock(mu_);
  std::vector<OpenYield> out;
  for (const auto& [id, y] : open_yields_) out.push_back(y);
  std::stable_sort(out.begin(), out.end(), [](const OpenYield& a, const OpenYield& b) { return a.created_height < b.created_height; });
  return out;
}

bool Chain::is_pending(const core::Hash256& hash) {
  std::lock_guard lock(mu_);
  return pending_->contains(hash);
}

Block Chain::head() {
  std::lock_guard lock(mu_);
  return head_;
}

std::string Chain::chain_id() { return chain_id_; }

core::Result<std::optional<Block>> Chain::block_by_height(std::uint64_t height) { return store_->block_by_height(height); }

core::Result<std::optional<Block>> Chain::block_by_hash(const core::Hash256& hash) { return store_->block_by_hash(hash); }

std::expected<Account, QueryError> Chain::view_account(const std::string& account_id) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) {
    return std::unexpected(QueryError{QueryErrorKind::kUnknownAccount, "account " + account_id + " does not exist while viewing"});
  }
  return it->second;
}

std::expected<AccessKeyEntry, QueryError> Chain::view_access_key(const std::string& account_id, const core::NearPublicKey& key) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) {
    return std::unexpected(QueryError{QueryErrorKind::kUnknownAccount, "account " + account_id + " does not exist while viewing"});
  }
  auto k = it->second.keys.find(key);
  if (k == it->second.keys.end()) {
    return std::unexpected(QueryError{QueryErrorKind::kUnknownAccessKey,
                                      "access key " + key.to_string() + " does not exist while viewing"});
  }
  return k->second;
}

std::expected<ViewResult, QueryError> Chain::call_view(const std::string& account_id, const std::string& method,
                                                       core::ByteView args) {
  std::lock_guard lock(mu_);
  auto it = accounts_.find(account_id);
  if (it == accounts_.end()) {
    return std::unexpected(QueryError{QueryErrorKind::kUnknownAccount, "account " + account_id + " does not exist while viewing"});
  }
  if (!it->second.has_contract || account_id != contract_account_id_) {
    return std::unexpected(QueryError{QueryErrorKind::kNoContractCode, "contract code for account " + account_id + " does not exist"});
  }
  core::Result<std::shared_ptr<const std::string>> out = core::fail(core::ErrorCode::kInternal, "not called");
  if (auto st = check_contract_args(args); !st) {
    out = std::unexpected(st.error());
  } else {
    try {
      out = contract_.view_text(method, args);
    } catch (const std::exception& e) {
      spdlog::error("contract view {} threw: {}", method, e.what());
      out = core::fail(core::ErrorCode::kInternal, "internal error while executing the view");
    }
  }
  if (!out) {
    if (out.error().code == core::ErrorCode::kNotFound && out.error().message.starts_with("Method ")) {
      return std::unexpected(QueryError{QueryErrorKind::kContractExecution,
                                        "wasm execution failed with error: MethodResolveError(MethodNotFound)"});
    }
    return std::unexpected(QueryError{QueryErrorKind::kContractExecution,
                                      "wasm execution failed with error: FunctionCallError(HostError(GuestPanic { panic_msg: \"" +
                                          out.error().message + "\" }))"});
  }
  return ViewResult{std::move(*out), {}};
}

}  // namespace mpc::sandbox
