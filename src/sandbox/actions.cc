#include "sandbox/actions.h"

#include <spdlog/spdlog.h>

#include <array>
#include <expected>
#include <variant>

#include "core/json_limits.h"
#include "sandbox/validation.h"

namespace mpc::sandbox {

namespace {

// Contract call arguments are untrusted JSON: checked for size (NEAR's
// max_arguments_length), depth and value count (the largest call, a vote
// with 100 participants, holds ~1,000; 100,000 parsed values stay under
// ~8 MB) before the contract parses them, in the words the contract uses
// for arguments it cannot read.
constexpr core::JsonLimits kContractArgsLimits{4 << 20, 64, 100'000};

bool is_sub_account(const std::string& child, const std::string& parent) {
  return child.size() > parent.size() + 1 && child.ends_with("." + parent) &&
         child.find('.') == child.size() - parent.size() - 1;
}

// One transaction's execution, as the handlers see it.
class ActionContext {
 public:
  ActionContext(const ExecutionEnv& env, const std::map<std::string, Account>& accounts, contract::MpcContract& contract,
                Execution& out)
      : env_(env), accounts_(accounts), contract_(contract), out_(out) {}

  const ExecutionEnv& env() const { return env_; }
  const near::Transaction& tx() const { return env_.tx; }
  Execution& out() { return out_; }

  // The account as this transaction has left it so far (copied on first
  // touch); nullptr if it does not exist or was deleted.
  Account* account(const std::string& id) {
    auto touched = out_.accounts.find(id);
    if (touched != out_.accounts.end()) return touched->second ? &*touched->second : nullptr;
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return nullptr;
    return &*(out_.accounts[id] = it->second);
  }
  void create_receiver() {
    out_.accounts[tx().receiver_id] = Account{};
    receiver_created_ = true;
  }
  void delete_receiver() { out_.accounts[tx().receiver_id] = std::nullopt; }

  // Actions on the receiver's keys or existence need the receiver to be the
  // signer, or an account this transaction created.
  bool acts_for_receiver() const { return tx().receiver_id == tx().signer_id || receiver_created_; }

  // The contract a FunctionCall runs on: the contract itself when it is the
  // transaction's only action (MpcContract::call is atomic), else a copy.
  bool calls_in_place() const { return tx().actions.size() == 1; }
  contract::MpcContract& contract_for_call() {
    if (calls_in_place()) return contract_;
    if (!out_.contract) out_.contract = contract_.clone();
    return *out_.contract;
  }

 private:
  const ExecutionEnv& env_;
  const std::map<std::string, Account>& accounts_;
  contract::MpcContract& contract_;
  Execution& out_;
  bool receiver_created_ = false;
};

// A handler's result: the ActionErrorKind on failure.
using ActionStatus = std::expected<void, json>;

std::unexpected<json> actor_no_permission(const near::Transaction& tx) {
  return std::unexpected(json{{"ActorNoPermission", {{"account_id", tx.receiver_id}, {"actor_id", tx.signer_id}}}});
}
std::unexpected<json> account_does_not_exist(const std::string& id) {
  return std::unexpected(json{{"AccountDoesNotExist", {{"account_id", id}}}});
}
std::unexpected<json> function_call_error(json error) { return std::unexpected(json{{"FunctionCallError", std::move(error)}}); }
std::unexpected<json> contract_panicked(const std::string& why) {
  return function_call_error({{"ExecutionError", "Smart contract panicked: " + why}});
}

// ---- the handlers, one per Action kind

ActionStatus create_account(const near::CreateAccountAction&, ActionContext& ctx) {
  const auto& tx = ctx.tx();
  if (ctx.account(tx.receiver_id) != nullptr) {
    return std::unexpected(json{{"AccountAlreadyExists", {{"account_id", tx.receiver_id}}}});
  }
  if (!is_sub_account(tx.receiver_id, tx.signer_id)) {
    return std::unexpected(
        json{{"CreateAccountNotAllowed", {{"account_id", tx.receiver_id}, {"predecessor_id", tx.signer_id}}}});
  }
  ctx.create_receiver();
  return {};
}

ActionStatus transfer(const near::TransferAction& t, ActionContext& ctx) {
  Account* receiver = ctx.account(ctx.tx().receiver_id);
  if (receiver == nullptr) return account_does_not_exist(ctx.tx().receiver_id);
  receiver->balance += t.deposit;
  return {};
}

ActionStatus function_call(const near::FunctionCallAction& fc, ActionContext& ctx) {
  const auto& tx = ctx.tx();
  Account* receiver = ctx.account(tx.receiver_id);
  if (receiver == nullptr) return account_does_not_exist(tx.receiver_id);
  if (!receiver->has_contract || tx.receiver_id != ctx.env().contract_account_id) {
    return function_call_error({{"CompilationError", {{"CodeDoesNotExist", {{"account_id", tx.receiver_id}}}}}});
  }
  contract::MpcContract& contract = ctx.contract_for_call();
  if (auto st = check_contract_args(fc.args); !st) return contract_panicked(st.error().message);
  contract::CallContext call{tx.signer_id, tx.signer_id, ctx.env().contract_account_id, tx.public_key, fc.deposit,
                             ctx.env().height};
  call.prepaid_gas = fc.gas;
  call.block_timestamp_ns = ctx.env().timestamp_ns;
  call.yield_data_id = yield_data_id(ctx.env().tx_hash);
  core::Result<contract::CallOutcome> out = core::fail(core::ErrorCode::kInternal, "not called");
  try {
    out = contract.call(call, fc.method_name, fc.args);
  } catch (const std::exception& e) {
    // MpcContract::call works on a scratch copy, so a throw leaves the
    // contract as it was: the transaction fails, the chain goes on.
    spdlog::error("contract call {} of transaction {} threw: {}", fc.method_name, hash_to_base58(ctx.env().tx_hash), e.what());
    out = core::fail(core::ErrorCode::kInternal, "internal error while executing the call");
  }
  if (!out) {
    if (out.error().code == core::ErrorCode::kNotFound && out.error().message.starts_with("Method ")) {
      return function_call_error({{"MethodResolveError", "MethodNotFound"}});
    }
    return contract_panicked(out.error().message);
  }
  if (out->yield && !ctx.calls_in_place()) {
    // The copy the call ran on is dropped with the failure.
    return contract_panicked("mpc-sandbox runs a call that yields (" + fc.method_name +
                             ") only as its transaction's single action");
  }
  if (out->then) return contract_panicked("mpc-sandbox runs promises only as yield callbacks");
  if (ctx.calls_in_place()) ctx.out().contract_changed_in_place = true;
  if (out->yield) ctx.out().yield = std::move(out->yield);
  for (auto& r : out->resumed) ctx.out().resumed.push_back(std::move(r));
  receiver->balance += fc.deposit - out->refund;
  if (out->refund != 0) {
    if (Account* signer = ctx.account(tx.signer_id)) signer->balance += out->refund;
  }
  ctx.out().return_value = std::move(out->return_value);
  ctx.out().logs.insert(ctx.out().logs.end(), out->logs.begin(), out->logs.end());
  return {};
}

ActionStatus add_key(const near::AddKeyAction& ak, ActionContext& ctx) {
  const auto& tx = ctx.tx();
  if (!ctx.acts_for_receiver()) return actor_no_permission(tx);
  Account* receiver = ctx.account(tx.receiver_id);
  if (receiver == nullptr) return account_does_not_exist(tx.receiver_id);
  if (receiver->keys.contains(ak.public_key)) {
    return std::unexpected(
        json{{"AddKeyAlreadyExists", {{"account_id", tx.receiver_id}, {"public_key", ak.public_key.to_string()}}}});
  }
  AccessKeyEntry entry;
  entry.nonce = (ctx.env().height - 1) * kNonceRangePerBlock;  // as NEAR does, so replays across re-added keys fail
  if (const auto* p = std::get_if<near::FunctionCallPermission>(&ak.access_key.permission)) {
    entry.permission.full_access = false;
    entry.permission.allowance = p->allowance;
    entry.permission.receiver_id = p->receiver_id;
    entry.permission.method_names = p->method_names;
  }
  receiver->keys[ak.public_key] = entry;
  return {};
}

ActionStatus delete_key(const near::DeleteKeyAction& dk, ActionContext& ctx) {
  const auto& tx = ctx.tx();
  if (!ctx.acts_for_receiver()) return actor_no_permission(tx);
  Account* receiver = ctx.account(tx.receiver_id);
  if (receiver == nullptr) return account_does_not_exist(tx.receiver_id);
  if (receiver->keys.erase(dk.public_key) == 0) {
    return std::unexpected(
        json{{"DeleteKeyDoesNotExist", {{"account_id", tx.receiver_id}, {"public_key", dk.public_key.to_string()}}}});
  }
  return {};
}

ActionStatus delete_account(const near::DeleteAccountAction& da, ActionContext& ctx) {
  const auto& tx = ctx.tx();
  if (!ctx.acts_for_receiver()) return actor_no_permission(tx);
  Account* receiver = ctx.account(tx.receiver_id);
  if (receiver == nullptr) return account_does_not_exist(tx.receiver_id);
  if (receiver->has_contract) return actor_no_permission(tx);
  const u128 balance = receiver->balance;
  ctx.delete_receiver();
  if (Account* beneficiary = ctx.account(da.beneficiary_id)) beneficiary->balance += balance;
  return {};
}

// ---- the table

using Handler = ActionStatus (*)(const near::Action&, ActionContext&);

template <class A, ActionStatus (*F)(const A&, ActionContext&)>
ActionStatus run(const near::Action& action, ActionContext& ctx) {
  return F(std::get<A>(action), ctx);
}

template <class A, std::size_t I = 0>
constexpr std::size_t index_of() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, near::Action>, A>) {
    return I;
  } else {
    return index_of<A, I + 1>();
  }
}

// Indexed by near::Action's alternative. No handler: DeployContract (the
// sandbox hosts only its built-in contract), Stake, SignedDelegateAction.
constexpr auto kHandlers = [] {
  std::array<Handler, std::variant_size_v<near::Action>> table{};
  table[index_of<near::CreateAccountAction>()] = &run<near::CreateAccountAction, &create_account>;
  table[index_of<near::FunctionCallAction>()] = &run<near::FunctionCallAction, &function_call>;
  table[index_of<near::TransferAction>()] = &run<near::TransferAction, &transfer>;
  table[index_of<near::AddKeyAction>()] = &run<near::AddKeyAction, &add_key>;
  table[index_of<near::DeleteKeyAction>()] = &run<near::DeleteKeyAction, &delete_key>;
  table[index_of<near::DeleteAccountAction>()] = &run<near::DeleteAccountAction, &delete_account>;
  return table;
}();

}  // namespace

core::Status check_contract_args(core::ByteView args) {
  auto st = core::check_json_limits(std::string_view(reinterpret_cast<const char*>(args.data()), args.size()), kContractArgsLimits);
  if (!st) return core::invalid("Failed to deserialize input from JSON: " + st.error().message);
  return {};
}

bool is_supported_action(const near::Action& action) { return kHandlers[action.index()] != nullptr; }

core::Hash256 yield_data_id(const core::Hash256& tx_hash) {
  core::Bytes data(tx_hash.begin(), tx_hash.end());
  constexpr std::string_view kTag = "mpc-sandbox yield";
  data.insert(data.end(), kTag.begin(), kTag.end());
  return core::sha256(data);
}

Execution execute_actions(const ExecutionEnv& env, const std::map<std::string, Account>& accounts,
                          contract::MpcContract& contract) {
  Execution out;
  ActionContext ctx(env, accounts, contract, out);
  for (std::size_t i = 0; i < env.tx.actions.size(); ++i) {
    const near::Action& action = env.tx.actions[i];
    const Handler handler = kHandlers[action.index()];
    ActionStatus status = handler != nullptr ? handler(action, ctx)
                                             : std::unexpected(json{{"UnsupportedAction", "not executed by mpc-sandbox"}});
    if (!status) {
      out.failure = ActionFailure{i, std::move(status.error())};
      break;
    }
  }
  return out;
}

}  // namespace mpc::sandbox
