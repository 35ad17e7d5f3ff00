#include "sandbox/chain.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <set>

#include "core/types.h"
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
  return json{{"chain_id", g.chain_id},
              {"genesis_time_ns", g.genesis_time_ns},
              {"contract_account_id", g.contract_account_id},
              {"contract_state", g.contract_state},
              {"accounts", accounts}};
}

core::Result<Genesis> genesis_from_json(const json& j) {
  if (!j.is_object()) return core::invalid("genesis must be a JSON object");
  Genesis g;
  g.chain_id = j.value("chain_id", std::string("mpc-sandbox"));
  if (j.contains("genesis_time_ns")) {
    auto t = core::json_u64(j["genesis_time_ns"]);
    if (!t) return core::invalid("genesis.genesis_time_ns must be an unsigned integer");
    g.genesis_time_ns = *t;
  }
  g.contract_account_id = j.value("contract_account_id", std::string("mpc.sandbox"));
  if (!core::is_valid_account_id(g.contract_account_id)) return core::invalid("genesis.contract_account_id is not a valid account id");
  g.contract_state = j.value("contract_state", json(nullptr));
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
  std::set<core::Hash256> tx_hashes;
  std::set<std::string> dirty_accounts;
  std::set<std::string> deleted_accounts;
  bool contract_dirty = false;
  std::map<core::Hash256, std::vector<std::function<void(std::optional<TxRecord>)>>> waiters;

  bool contains(const core::Hash256& hash) const { return tx_hashes.contains(hash); }
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
  return std::unique_ptr<Chain>(new Chain(std::move(store), options, std::move(loaded), std::move(*contract)));
}

Chain::Chain(std::unique_ptr<Store> store, Options options, StoredChain loaded, contract::MpcContract contract)
    : store_(std::move(store)),
      recent_blocks_(std::make_unique<RecentBlocks>()),
      options_(options),
      chain_id_(loaded.meta["chain_id"]),
      contract_account_id_(loaded.meta["contract_account_id"]),
      accounts_(std::move(loaded.accounts)),
      contract_(std::move(contract)),
      head_(std::move(loaded.head)),
      pending_(std::make_unique<Pending>()) {
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
  Execution execution = execute_actions(ExecutionEnv{tx, hash, head_.height + 1, contract_account_id_}, accounts_, contract_);
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
  } else {
    accounts_.at(tx.signer_id).balance += cost.deposits;  // failed actions: deposits come back
  }
  pending_->tx_hashes.insert(hash);
  pending_->txs.push_back(TxRecord{hash, tx.signer_id, head_.height + 1, outcome_view(stx, hash, execution)});
}

core::Status Chain::produce_block(std::uint64_t timestamp_ns) {
  std::vector<std::pair<std::vector<std::function<void(std::optional<TxRecord>)>>, TxRecord>> ready;
  {
    std::lock_guard lock(mu_);
    BlockCommit commit;
    commit.block.height = head_.height + 1;
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
    commit.txs = pending_->txs;
    for (auto& tx : commit.txs) {
      tx.block_height = commit.block.height;
      tx.outcome["transaction_outcome"]["block_hash"] = hash_to_base58(commit.block.hash);
      for (auto& r : tx.outcome["receipts_outcome"]) r["block_hash"] = hash_to_base58(commit.block.hash);
    }
    MPC_TRY(store_->commit(commit));
    recent_blocks_->add(commit.block);
    head_ = commit.block;
    for (auto& tx : commit.txs) {
      auto w = pending_->waiters.find(tx.hash);
      if (w != pending_->waiters.end()) {
        ready.emplace_back(std::move(w->second), tx);
        pending_->waiters.erase(w);
      }
    }
    auto next = std::make_unique<Pending>();
    next->waiters = std::move(pending_->waiters);
    pending_ = std::move(next);
  }
  // The block is committed; a waiter that throws must not keep the others
  // (or the block producer calling us) from going on.
  for (auto& [callbacks, tx] : ready) {
    for (auto& cb : callbacks) {
      try {
        cb(tx);
      } catch (const std::exception& e) {
        spdlog::error("a waiter for transaction {} threw: {}", hash_to_base58(tx.hash), e.what());
      } catch (...) {
        spdlog::error("a waiter for transaction {} threw", hash_to_base58(tx.hash));
      }
    }
  }
  return {};
}

void Chain::when_final(const core::Hash256& hash, std::function<void(std::optional<TxRecord>)> done) {
  {
    std::lock_guard lock(mu_);
    if (pending_->contains(hash)) {
      pending_->waiters[hash].push_back(std::move(done));
      return;
    }
  }
  auto rec = final_tx(hash);
  done(rec ? *rec : std::nullopt);
}

core::Result<std::optional<TxRecord>> Chain::final_tx(const core::Hash256& hash) { return store_->find_tx(hash); }

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
  core::Result<core::Bytes> out = core::fail(core::ErrorCode::kInternal, "not called");
  if (auto st = check_contract_args(args); !st) {
    out = std::unexpected(st.error());
  } else {
    try {
      out = contract_.view(method, args);
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
