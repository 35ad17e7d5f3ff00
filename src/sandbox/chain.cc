#include "sandbox/chain.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <limits>
#include <set>

#include "core/json_limits.h"
#include "core/types.h"
#include "near/transaction.h"

namespace mpc::sandbox {

namespace {

constexpr std::uint64_t kMaxGas = 300'000'000'000'000ull;  // 300 Tgas, NEAR's per-transaction limit
constexpr std::uint64_t kGasPerAction = 2'428'000'000'000ull;  // a nominal figure for outcome views

std::string b64(core::ByteView b) { return core::base64_encode(b); }

bool is_sub_account(const std::string& child, const std::string& parent) {
  return child.size() > parent.size() + 1 && child.ends_with("." + parent) &&
         child.find('.') == child.size() - parent.size() - 1;
}

json action_view(const near::Action& action) {
  return std::visit(
      [](const auto& a) -> json {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, near::CreateAccountAction>) {
          return "CreateAccount";
        } else if constexpr (std::is_same_v<T, near::DeployContractAction>) {
          return json{{"DeployContract", {{"code", b64(core::sha256(a.code))}}}};
        } else if constexpr (std::is_same_v<T, near::FunctionCallAction>) {
          return json{{"FunctionCall",
                       {{"method_name", a.method_name},
                        {"args", b64(a.args)},
                        {"gas", a.gas},
                        {"deposit", core::u128_to_string(a.deposit)}}}};
        } else if constexpr (std::is_same_v<T, near::TransferAction>) {
          return json{{"Transfer", {{"deposit", core::u128_to_string(a.deposit)}}}};
        } else if constexpr (std::is_same_v<T, near::StakeAction>) {
          return json{{"Stake", {{"stake", core::u128_to_string(a.stake)}, {"public_key", a.public_key.to_string()}}}};
        } else if constexpr (std::is_same_v<T, near::AddKeyAction>) {
          KeyPermission p;
          if (auto* fc = std::get_if<near::FunctionCallPermission>(&a.access_key.permission)) {
            p.full_access = false;
            p.allowance = fc->allowance;
            p.receiver_id = fc->receiver_id;
            p.method_names = fc->method_names;
          }
          return json{{"AddKey",
                       {{"public_key", a.public_key.to_string()},
                        {"access_key", {{"nonce", a.access_key.nonce}, {"permission", permission_to_json(p)}}}}}};
        } else if constexpr (std::is_same_v<T, near::DeleteKeyAction>) {
          return json{{"DeleteKey", {{"public_key", a.public_key.to_string()}}}};
        } else if constexpr (std::is_same_v<T, near::DeleteAccountAction>) {
          return json{{"DeleteAccount", {{"beneficiary_id", a.beneficiary_id}}}};
        } else {
          return "Unsupported";
        }
      },
      action);
}

core::Hash256 derive_id(const core::Hash256& tx_hash, std::string_view what) {
  core::Bytes data(tx_hash.begin(), tx_hash.end());
  data.insert(data.end(), what.begin(), what.end());
  return core::sha256(data);
}

core::Hash256 block_hash_of(const Block& b) {
  core::Bytes data(b.prev_hash.begin(), b.prev_hash.end());
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<std::uint8_t>(b.height >> (8 * i)));
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<std::uint8_t>(b.timestamp_ns >> (8 * i)));
  for (const auto& h : b.tx_hashes) data.insert(data.end(), h.begin(), h.end());
  return core::sha256(data);
}

// The result of executing a transaction's actions.
struct ActionResult {
  bool ok = true;
  json failure;  // ActionError kind when !ok
  std::size_t failed_index = 0;
  core::Bytes return_value;
  std::vector<std::string> logs;
};

TxRejection reject(json error, std::string message) { return TxRejection{std::move(error), std::move(message)}; }

// Contract call arguments are untrusted JSON: checked for size (NEAR's
// max_arguments_length), depth and value count (the largest call, a vote
// with 100 participants, holds ~1,000; 100,000 parsed values stay under
// ~8 MB) before the contract parses them, in the words the contract uses
// for arguments it cannot read.
constexpr core::JsonLimits kContractArgsLimits{4 << 20, 64, 100'000};

core::Status check_contract_args(core::ByteView args) {
  auto st = core::check_json_limits(std::string_view(reinterpret_cast<const char*>(args.data()), args.size()), kContractArgsLimits);
  if (!st) return core::invalid("Failed to deserialize input from JSON: " + st.error().message);
  return {};
}

// NEAR's AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER.
constexpr std::uint64_t kNonceRangePerBlock = 1'000'000;

std::uint64_t nonce_upper_bound(std::uint64_t block_height) {
  if (block_height > std::numeric_limits<std::uint64_t>::max() / kNonceRangePerBlock) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return block_height * kNonceRangePerBlock;
}

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
  std::set<std::string> dirty_accounts;
  std::set<std::string> deleted_accounts;
  bool contract_dirty = false;
  std::map<core::Hash256, std::vector<std::function<void(std::optional<TxRecord>)>>> waiters;
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
      options_(options),
      chain_id_(loaded.meta["chain_id"]),
      contract_account_id_(loaded.meta["contract_account_id"]),
      accounts_(std::move(loaded.accounts)),
      contract_(std::move(contract)),
      head_(std::move(loaded.head)),
      pending_(std::make_unique<Pending>()) {}

Chain::~Chain() = default;

std::expected<core::Hash256, TxRejection> Chain::submit(core::ByteView signed_tx_borsh) {
  auto decoded = near::decode_signed_transaction(signed_tx_borsh);
  if (!decoded) {
    return std::unexpected(reject("Deserialization",
                                  "the transaction could not be decoded: " + decoded.error().message));
  }
  const near::SignedTransaction& stx = *decoded;
  const near::Transaction& tx = stx.transaction;
  const core::Bytes tx_bytes = near::encode_transaction(tx);
  const core::Hash256 hash = core::sha256(tx_bytes);
  const std::string pk_text = tx.public_key.to_string();

  // Stateless checks first: the signature covers sha256(borsh(tx)).
  if (!tx.public_key.is_ed25519()) {
    return std::unexpected(reject("InvalidSignature", "only ed25519 access keys are supported by mpc-sandbox"));
  }
  if (!near::verify_signature(stx)) {
    return std::unexpected(reject("InvalidSignature", "the transaction signature does not verify against its public key"));
  }

  std::unique_lock lock(mu_);
  if (std::any_of(pending_->txs.begin(), pending_->txs.end(), [&](const TxRecord& r) { return r.hash == hash; })) {
    return hash;
  }
  if (auto known = store_->find_tx(hash); known && known->has_value()) return hash;

  auto signer_it = accounts_.find(tx.signer_id);
  if (!core::is_valid_account_id(tx.signer_id)) {
    return std::unexpected(reject(json{{"InvalidSignerId", {{"signer_id", tx.signer_id}}}},
                                  "signer id " + tx.signer_id + " is not a valid account id"));
  }
  if (!core::is_valid_account_id(tx.receiver_id)) {
    return std::unexpected(reject(json{{"InvalidReceiverId", {{"receiver_id", tx.receiver_id}}}},
                                  "receiver id " + tx.receiver_id + " is not a valid account id"));
  }
  if (signer_it == accounts_.end()) {
    return std::unexpected(reject(json{{"SignerDoesNotExist", {{"signer_id", tx.signer_id}}}},
                                  "signer account " + tx.signer_id + " does not exist"));
  }
  Account& signer = signer_it->second;
  auto key_it = signer.keys.find(tx.public_key);
  if (key_it == signer.keys.end()) {
    return std::unexpected(
        reject(json{{"InvalidAccessKeyError", {{"AccessKeyNotFound", {{"account_id", tx.signer_id}, {"public_key", pk_text}}}}}},
               "access key " + pk_text + " does not exist on account " + tx.signer_id));
  }
  AccessKeyEntry& key = key_it->second;
  if (tx.nonce <= key.nonce) {
    return std::unexpected(reject(json{{"InvalidNonce", {{"tx_nonce", tx.nonce}, {"ak_nonce", key.nonce}}}},
                                  "nonce " + std::to_string(tx.nonce) + " must be greater than the access key's nonce " +
                                      std::to_string(key.nonce)));
  }
  // As NEAR: a nonce may run at most 10^6 per block ahead, so that a key's
  // nonce cannot be pushed to the end of the range and the key bricked.
  if (const std::uint64_t upper_bound = nonce_upper_bound(head_.height + 1); tx.nonce >= upper_bound) {
    return std::unexpected(reject(json{{"NonceTooLarge", {{"tx_nonce", tx.nonce}, {"upper_bound", upper_bound}}}},
                                  "nonce " + std::to_string(tx.nonce) + " is larger than the upper bound " +
                                      std::to_string(upper_bound) + " given by the block height"));
  }
  core::Hash256 block_hash{};
  std::copy(tx.block_hash.begin(), tx.block_hash.end(), block_hash.begin());
  std::uint64_t ref_height = 0;
  if (block_hash == head_.hash) {
    ref_height = head_.height;
  } else {
    auto ref = store_->block_by_hash(block_hash);
    if (!ref || !ref->has_value()) {
      return std::unexpected(reject("Expired", "the transaction's block hash is not a block of this chain"));
    }
    ref_height = (*ref)->height;
  }
  if (head_.height - ref_height > options_.tx_validity_blocks) {
    return std::unexpected(reject("Expired", "the transaction's block hash is too old; sign it again with a recent block"));
  }
  if (tx.actions.empty()) {
    return std::unexpected(reject(json{{"ActionsValidation", "EmptyActions"}}, "the transaction has no actions"));
  }

  // Access-key permissions.
  u128 cost = 0;
  std::uint64_t total_gas = 0;
  for (const auto& action : tx.actions) {
    if (std::holds_alternative<near::DeployContractAction>(action) || std::holds_alternative<near::StakeAction>(action) ||
        !(std::holds_alternative<near::CreateAccountAction>(action) || std::holds_alternative<near::FunctionCallAction>(action) ||
          std::holds_alternative<near::TransferAction>(action) || std::holds_alternative<near::AddKeyAction>(action) ||
          std::holds_alternative<near::DeleteKeyAction>(action) || std::holds_alternative<near::DeleteAccountAction>(action))) {
      return std::unexpected(reject(json{{"ActionsValidation", {{"UnsupportedAction", action_view(action)}}}},
                                    "mpc-sandbox hosts only its built-in MPC contract and supports the actions "
                                    "CreateAccount, FunctionCall, Transfer, AddKey, DeleteKey and DeleteAccount"));
    }
    if (auto* fc = std::get_if<near::FunctionCallAction>(&action)) {
      cost += fc->deposit;
      total_gas += fc->gas;
    } else if (auto* t = std::get_if<near::TransferAction>(&action)) {
      cost += t->deposit;
    }
  }
  if (total_gas > kMaxGas) {
    return std::unexpected(reject(json{{"ActionsValidation", {{"TotalPrepaidGasExceeded", {{"total_prepaid_gas", total_gas}, {"limit", kMaxGas}}}}}},
                                  "the transaction attaches more than 300 Tgas"));
  }
  if (!key.permission.full_access) {
    const KeyPermission& p = key.permission;
    const auto* fc = tx.actions.size() == 1 ? std::get_if<near::FunctionCallAction>(&tx.actions[0]) : nullptr;
    if (fc == nullptr) {
      return std::unexpected(reject(json{{"InvalidAccessKeyError", "RequiresFullAccess"}},
                                    "a function-call access key can sign only a single FunctionCall action"));
    }
    if (tx.receiver_id != p.receiver_id) {
      return std::unexpected(reject(
          json{{"InvalidAccessKeyError", {{"ReceiverMismatch", {{"tx_receiver", tx.receiver_id}, {"ak_receiver", p.receiver_id}}}}}},
          "this function-call access key may call only " + p.receiver_id + ", not " + tx.receiver_id));
    }
    if (fc->deposit != 0) {
      return std::unexpected(reject(json{{"InvalidAccessKeyError", "DepositWithFunctionCall"}},
                                    "a function-call access key cannot attach a deposit; use a full-access key"));
    }
    if (!p.method_names.empty() &&
        std::find(p.method_names.begin(), p.method_names.end(), fc->method_name) == p.method_names.end()) {
      return std::unexpected(reject(json{{"InvalidAccessKeyError", {{"MethodNameMismatch", {{"method_name", fc->method_name}}}}}},
                                    "this function-call access key may not call method " + fc->method_name));
    }
  }
  if (cost > signer.balance) {
    return std::unexpected(reject(json{{"NotEnoughBalance",
                                        {{"signer_id", tx.signer_id},
                                         {"balance", core::u128_to_string(signer.balance)},
                                         {"cost", core::u128_to_string(cost)}}}},
                                  "account " + tx.signer_id + " cannot pay the attached deposits"));
  }

  // Accepted: the nonce is consumed and deposits are taken even if actions fail.
  key.nonce = tx.nonce;
  signer.balance -= cost;
  pending_->dirty_accounts.insert(tx.signer_id);

  // Execute actions on copies; commit them only if every action succeeds.
  std::map<std::string, std::optional<Account>> touched;  // nullopt = deleted
  auto get_account = [&](const std::string& id) -> Account* {
    auto t = touched.find(id);
    if (t != touched.end()) return t->second ? &*t->second : nullptr;
    auto a = accounts_.find(id);
    if (a == accounts_.end()) return nullptr;
    return &*(touched[id] = a->second);
  };
  std::optional<contract::MpcContract> contract_copy;
  ActionResult result;
  bool receiver_created_here = false;
  const std::uint64_t height = head_.height + 1;
  for (std::size_t i = 0; i < tx.actions.size() && result.ok; ++i) {
    const near::Action& action = tx.actions[i];
    auto fail = [&](json kind) {
      result.ok = false;
      result.failed_index = i;
      result.failure = std::move(kind);
    };
    const bool needs_own_account = !std::holds_alternative<near::FunctionCallAction>(action) &&
                                   !std::holds_alternative<near::TransferAction>(action) &&
                                   !std::holds_alternative<near::CreateAccountAction>(action);
    if (needs_own_account && tx.receiver_id != tx.signer_id && !receiver_created_here) {
      fail(json{{"ActorNoPermission", {{"account_id", tx.receiver_id}, {"actor_id", tx.signer_id}}}});
      break;
    }
    if (std::holds_alternative<near::CreateAccountAction>(action)) {
      if (get_account(tx.receiver_id) != nullptr) {
        fail(json{{"AccountAlreadyExists", {{"account_id", tx.receiver_id}}}});
      } else if (!is_sub_account(tx.receiver_id, tx.signer_id)) {
        fail(json{{"CreateAccountNotAllowed", {{"account_id", tx.receiver_id}, {"predecessor_id", tx.signer_id}}}});
      } else {
        touched[tx.receiver_id] = Account{};
        receiver_created_here = true;
      }
      continue;
    }
    Account* receiver = get_account(tx.receiver_id);
    if (receiver == nullptr && !std::holds_alternative<near::DeleteAccountAction>(action)) {
      fail(json{{"AccountDoesNotExist", {{"account_id", tx.receiver_id}}}});
      break;
    }
    if (auto* t = std::get_if<near::TransferAction>(&action)) {
      receiver->balance += t->deposit;
    } else if (auto* fc = std::get_if<near::FunctionCallAction>(&action)) {
      if (!receiver->has_contract || tx.receiver_id != contract_account_id_) {
        fail(json{{"FunctionCallError", {{"CompilationError", {{"CodeDoesNotExist", {{"account_id", tx.receiver_id}}}}}}}});
        break;
      }
      // MpcContract::call is atomic by itself; a copy is needed only when a
      // later action of the same transaction could still fail.
      const bool only_action = tx.actions.size() == 1;
      if (!only_action && !contract_copy) contract_copy = contract_.clone();
      contract::MpcContract& target = only_action ? contract_ : *contract_copy;
      if (auto st = check_contract_args(fc->args); !st) {
        fail(json{{"FunctionCallError", {{"ExecutionError", "Smart contract panicked: " + st.error().message}}}});
        break;
      }
      contract::CallContext ctx{tx.signer_id, tx.signer_id, contract_account_id_, tx.public_key, fc->deposit, height};
      core::Result<contract::CallOutcome> out = core::fail(core::ErrorCode::kInternal, "not called");
      try {
        out = target.call(ctx, fc->method_name, fc->args);
      } catch (const std::exception& e) {
        // MpcContract::call works on a scratch copy, so a throw leaves the
        // contract as it was: the transaction fails, the chain goes on.
        spdlog::error("contract call {} of transaction {} threw: {}", fc->method_name, hash_to_base58(hash), e.what());
        out = core::fail(core::ErrorCode::kInternal, "internal error while executing the call");
      }
      if (out && only_action) pending_->contract_dirty = true;
      if (!out) {
        if (out.error().code == core::ErrorCode::kNotFound && out.error().message.starts_with("Method ")) {
          fail(json{{"FunctionCallError", {{"MethodResolveError", "MethodNotFound"}}}});
        } else {
          fail(json{{"FunctionCallError", {{"ExecutionError", "Smart contract panicked: " + out.error().message}}}});
        }
        break;
      }
      receiver->balance += fc->deposit - out->refund;
      if (out->refund != 0) {
        Account* s = get_account(tx.signer_id);
        if (s != nullptr) s->balance += out->refund;
      }
      result.return_value = std::move(out->return_value);
      result.logs.insert(result.logs.end(), out->logs.begin(), out->logs.end());
    } else if (auto* ak = std::get_if<near::AddKeyAction>(&action)) {
      if (receiver->keys.contains(ak->public_key)) {
        fail(json{{"AddKeyAlreadyExists", {{"account_id", tx.receiver_id}, {"public_key", ak->public_key.to_string()}}}});
        break;
      }
      AccessKeyEntry entry;
      entry.nonce = (height - 1) * kNonceRangePerBlock;  // as NEAR does, so replays across re-added keys fail
      if (auto* p = std::get_if<near::FunctionCallPermission>(&ak->access_key.permission)) {
        entry.permission.full_access = false;
        entry.permission.allowance = p->allowance;
        entry.permission.receiver_id = p->receiver_id;
        entry.permission.method_names = p->method_names;
      }
      receiver->keys[ak->public_key] = entry;
    } else if (auto* dk = std::get_if<near::DeleteKeyAction>(&action)) {
      if (receiver->keys.erase(dk->public_key) == 0) {
        fail(json{{"DeleteKeyDoesNotExist", {{"account_id", tx.receiver_id}, {"public_key", dk->public_key.to_string()}}}});
        break;
      }
    } else if (auto* da = std::get_if<near::DeleteAccountAction>(&action)) {
      if (receiver == nullptr) {
        fail(json{{"AccountDoesNotExist", {{"account_id", tx.receiver_id}}}});
        break;
      }
      if (receiver->has_contract) {
        fail(json{{"ActorNoPermission", {{"account_id", tx.receiver_id}, {"actor_id", tx.signer_id}}}});
        break;
      }
      u128 balance = receiver->balance;
      touched[tx.receiver_id] = std::nullopt;
      if (Account* b = get_account(da->beneficiary_id)) b->balance += balance;
    }
  }

  if (result.ok) {
    for (auto& [id, acc] : touched) {
      if (acc) {
        accounts_[id] = std::move(*acc);
        pending_->deleted_accounts.erase(id);
        pending_->dirty_accounts.insert(id);
      } else {
        accounts_.erase(id);
        pending_->dirty_accounts.erase(id);
        pending_->deleted_accounts.insert(id);
      }
    }
    if (contract_copy) {
      contract_ = std::move(*contract_copy);
      pending_->contract_dirty = true;
    }
  } else {
    signer.balance += cost;  // failed actions: deposits come back
  }

  // The outcome view.
  const std::string tx_id = hash_to_base58(hash);
  const std::string receipt_id = hash_to_base58(derive_id(hash, "receipt"));
  json actions = json::array();
  for (const auto& a : tx.actions) actions.push_back(action_view(a));
  json status = result.ok ? json{{"SuccessValue", b64(result.return_value)}}
                          : json{{"Failure", {{"ActionError", {{"index", result.failed_index}, {"kind", result.failure}}}}}};
  const std::uint64_t gas = kGasPerAction * tx.actions.size();
  json metadata = {{"version", 1}, {"gas_profile", nullptr}};
  json outcome = {
      {"status", status},
      {"transaction",
       {{"signer_id", tx.signer_id},
        {"public_key", pk_text},
        {"nonce", tx.nonce},
        {"receiver_id", tx.receiver_id},
        {"actions", actions},
        {"priority_fee", 0},
        {"signature", "ed25519:" + core::base58_encode(stx.signature.data)},
        {"hash", tx_id}}},
      {"transaction_outcome",
       {{"proof", json::array()},
        {"id", tx_id},
        {"outcome",
         {{"logs", json::array()},
          {"receipt_ids", {receipt_id}},
          {"gas_burnt", gas},
          {"tokens_burnt", "0"},
          {"executor_id", tx.signer_id},
          {"status", {{"SuccessReceiptId", receipt_id}}},
          {"metadata", metadata}}}}},
      {"receipts_outcome",
       {{{"proof", json::array()},
         {"id", receipt_id},
         {"outcome",
          {{"logs", result.logs},
           {"receipt_ids", json::array()},
           {"gas_burnt", gas},
           {"tokens_burnt", "0"},
           {"executor_id", tx.receiver_id},
           {"status", status},
           {"metadata", metadata}}}}}},
  };
  pending_->txs.push_back(TxRecord{hash, tx.signer_id, height, std::move(outcome)});
  return hash;
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
    head_ = commit.block;
    for (auto& tx : commit.txs) {
      auto w = pending_->waiters.find(tx.hash);
      if (w != pending_->waiters.end()) {
        ready.emplace_back(std::move(w->second), tx);
        pending_->waiters.erase(w);
      }
    }
    pending_ = std::make_unique<Pending>(Pending{{}, {}, {}, false, std::move(pending_->waiters)});
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
    if (std::any_of(pending_->txs.begin(), pending_->txs.end(), [&](const TxRecord& r) { return r.hash == hash; })) {
      pending_->waiters[hash].push_back(std::move(done));
      return;
    }
  }
  auto rec = final_tx(hash);
  done(rec ? *rec : std::nullopt);
}

core::Result<std::optional<TxRecord>> Chain::final_tx(const core::Hash256& hash) {
  std::lock_guard lock(mu_);
  return store_->find_tx(hash);
}

bool Chain::is_pending(const core::Hash256& hash) {
  std::lock_guard lock(mu_);
  return std::any_of(pending_->txs.begin(), pending_->txs.end(), [&](const TxRecord& r) { return r.hash == hash; });
}

Block Chain::head() {
  std::lock_guard lock(mu_);
  return head_;
}

std::string Chain::chain_id() { return chain_id_; }

core::Result<std::optional<Block>> Chain::block_by_height(std::uint64_t height) {
  std::lock_guard lock(mu_);
  return store_->block_by_height(height);
}

core::Result<std::optional<Block>> Chain::block_by_hash(const core::Hash256& hash) {
  std::lock_guard lock(mu_);
  return store_->block_by_hash(hash);
}

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
