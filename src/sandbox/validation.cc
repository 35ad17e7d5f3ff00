#include "sandbox/validation.h"

#include <algorithm>
#include <limits>

#include "model/types.h"
#include "sandbox/actions.h"
#include "sandbox/outcome.h"

namespace mpc::sandbox {

namespace {

template <class Kind>
std::unexpected<InvalidTx> reject(Kind kind) {
  return std::unexpected(InvalidTx{std::move(kind)});
}

// std::visit over overloaded lambdas.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

}  // namespace

std::uint64_t nonce_upper_bound(std::uint64_t block_height) {
  if (block_height > std::numeric_limits<std::uint64_t>::max() / kNonceRangePerBlock) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return block_height * kNonceRangePerBlock;
}

// ---------------------------------------------------------------- InvalidTx

json InvalidTx::to_json() const {
  using namespace invalid_tx;
  auto access_key_error = [](json e) { return json{{"InvalidAccessKeyError", std::move(e)}}; };
  auto actions_error = [](json e) { return json{{"ActionsValidation", std::move(e)}}; };
  return std::visit(
      Overloaded{
          [](const Deserialization&) -> json { return "Deserialization"; },
          [](const InvalidSignature&) -> json { return "InvalidSignature"; },
          [](const InvalidSignerId& e) -> json { return {{"InvalidSignerId", {{"signer_id", e.signer_id}}}}; },
          [](const InvalidReceiverId& e) -> json { return {{"InvalidReceiverId", {{"receiver_id", e.receiver_id}}}}; },
          [](const SignerDoesNotExist& e) -> json { return {{"SignerDoesNotExist", {{"signer_id", e.signer_id}}}}; },
          [&](const AccessKeyNotFound& e) -> json {
            return access_key_error(
                {{"AccessKeyNotFound", {{"account_id", e.account_id}, {"public_key", e.public_key.to_string()}}}});
          },
          [&](const RequiresFullAccess&) -> json { return access_key_error("RequiresFullAccess"); },
          [&](const ReceiverMismatch& e) -> json {
            return access_key_error({{"ReceiverMismatch", {{"tx_receiver", e.tx_receiver}, {"ak_receiver", e.ak_receiver}}}});
          },
          [&](const DepositWithFunctionCall&) -> json { return access_key_error("DepositWithFunctionCall"); },
          [&](const MethodNameMismatch& e) -> json {
            return access_key_error({{"MethodNameMismatch", {{"method_name", e.method_name}}}});
          },
          [](const InvalidNonce& e) -> json { return {{"InvalidNonce", {{"tx_nonce", e.tx_nonce}, {"ak_nonce", e.ak_nonce}}}}; },
          [](const NonceTooLarge& e) -> json {
            return {{"NonceTooLarge", {{"tx_nonce", e.tx_nonce}, {"upper_bound", e.upper_bound}}}};
          },
          [](const Expired&) -> json { return "Expired"; },
          [&](const EmptyActions&) -> json { return actions_error("EmptyActions"); },
          [&](const UnsupportedAction& e) -> json { return actions_error({{"UnsupportedAction", action_view(e.action)}}); },
          [&](const TotalPrepaidGasExceeded& e) -> json {
            return actions_error(
                {{"TotalPrepaidGasExceeded", {{"total_prepaid_gas", e.total_prepaid_gas}, {"limit", e.limit}}}});
          },
          [](const NotEnoughBalance& e) -> json {
            return {{"NotEnoughBalance",
                     {{"signer_id", e.signer_id},
                      {"balance", core::u128_to_string(e.balance)},
                      {"cost", core::u128_to_string(e.cost)}}}};
          },
      },
      kind);
}

std::string InvalidTx::message() const {
  using namespace invalid_tx;
  return std::visit(
      Overloaded{
          [](const Deserialization& e) { return "the transaction could not be decoded: " + e.detail; },
          [](const InvalidSignature& e) -> std::string {
            return e.why == InvalidSignature::Why::kKeyNotEd25519
                       ? "only ed25519 access keys are supported by mpc-sandbox"
                       : "the transaction signature does not verify against its public key";
          },
          [](const InvalidSignerId& e) { return "signer id " + e.signer_id + " is not a valid account id"; },
          [](const InvalidReceiverId& e) { return "receiver id " + e.receiver_id + " is not a valid account id"; },
          [](const SignerDoesNotExist& e) { return "signer account " + e.signer_id + " does not exist"; },
          [](const AccessKeyNotFound& e) {
            return "access key " + e.public_key.to_string() + " does not exist on account " + e.account_id;
          },
          [](const RequiresFullAccess&) -> std::string {
            return "a function-call access key can sign only a single FunctionCall action";
          },
          [](const ReceiverMismatch& e) {
            return "this function-call access key may call only " + e.ak_receiver + ", not " + e.tx_receiver;
          },
          [](const DepositWithFunctionCall&) -> std::string {
            return "a function-call access key cannot attach a deposit; use a full-access key";
          },
          [](const MethodNameMismatch& e) { return "this function-call access key may not call method " + e.method_name; },
          [](const InvalidNonce& e) {
            return "nonce " + std::to_string(e.tx_nonce) + " must be greater than the access key's nonce " +
                   std::to_string(e.ak_nonce);
          },
          [](const NonceTooLarge& e) {
            return "nonce " + std::to_string(e.tx_nonce) + " is larger than the upper bound " +
                   std::to_string(e.upper_bound) + " given by the block height";
          },
          [](const Expired& e) -> std::string {
            return e.why == Expired::Why::kUnknownBlock
                       ? "the transaction's block hash is not a block of this chain"
                       : "the transaction's block hash is too old; sign it again with a recent block";
          },
          [](const EmptyActions&) -> std::string { return "the transaction has no actions"; },
          [](const UnsupportedAction&) -> std::string {
            return "mpc-sandbox hosts only its built-in MPC contract and supports the actions "
                   "CreateAccount, FunctionCall, Transfer, AddKey, DeleteKey and DeleteAccount";
          },
          [](const TotalPrepaidGasExceeded&) -> std::string { return "the transaction attaches more than 300 Tgas"; },
          [](const NotEnoughBalance& e) { return "account " + e.signer_id + " cannot pay the attached deposits"; },
      },
      kind);
}

// ---------------------------------------------------------------- checks

std::optional<InvalidTx> check_signature(const near::SignedTransaction& stx) {
  using invalid_tx::InvalidSignature;
  if (!stx.transaction.public_key.is_ed25519()) return InvalidTx{InvalidSignature{InvalidSignature::Why::kKeyNotEd25519}};
  if (!near::verify_signature(stx)) return InvalidTx{InvalidSignature{InvalidSignature::Why::kDoesNotVerify}};
  return std::nullopt;
}

std::expected<TxCost, InvalidTx> validate_actions(const near::Transaction& tx) {
  if (tx.actions.empty()) return reject(invalid_tx::EmptyActions{});
  TxCost cost;
  for (const auto& action : tx.actions) {
    if (!is_supported_action(action)) return reject(invalid_tx::UnsupportedAction{action});
    if (const auto* fc = std::get_if<near::FunctionCallAction>(&action)) {
      cost.deposits += fc->deposit;
      cost.prepaid_gas += fc->gas;
    } else if (const auto* t = std::get_if<near::TransferAction>(&action)) {
      cost.deposits += t->deposit;
    }
  }
  if (cost.prepaid_gas > kMaxPrepaidGas) {
    return reject(invalid_tx::TotalPrepaidGasExceeded{cost.prepaid_gas, kMaxPrepaidGas});
  }
  return cost;
}

namespace {

// A function-call access key may sign one FunctionCall, without deposit, to
// its receiver and (if it names any) one of its methods.
std::optional<InvalidTx> check_permission(const near::Transaction& tx, const KeyPermission& p) {
  if (p.full_access) return std::nullopt;
  const auto* fc = tx.actions.size() == 1 ? std::get_if<near::FunctionCallAction>(&tx.actions[0]) : nullptr;
  if (fc == nullptr) return InvalidTx{invalid_tx::RequiresFullAccess{}};
  if (tx.receiver_id != p.receiver_id) return InvalidTx{invalid_tx::ReceiverMismatch{tx.receiver_id, p.receiver_id}};
  if (fc->deposit != 0) return InvalidTx{invalid_tx::DepositWithFunctionCall{}};
  if (!p.method_names.empty() &&
      std::find(p.method_names.begin(), p.method_names.end(), fc->method_name) == p.method_names.end()) {
    return InvalidTx{invalid_tx::MethodNameMismatch{fc->method_name}};
  }
  return std::nullopt;
}

}  // namespace

std::expected<TxCost, InvalidTx> validate_transaction(const near::Transaction& tx, const ChainView& view) {
  if (!core::is_valid_account_id(tx.signer_id)) return reject(invalid_tx::InvalidSignerId{tx.signer_id});
  if (!core::is_valid_account_id(tx.receiver_id)) return reject(invalid_tx::InvalidReceiverId{tx.receiver_id});
  if (view.signer == nullptr) return reject(invalid_tx::SignerDoesNotExist{tx.signer_id});
  const Account& signer = *view.signer;
  const auto key = signer.keys.find(tx.public_key);
  if (key == signer.keys.end()) return reject(invalid_tx::AccessKeyNotFound{tx.signer_id, tx.public_key});
  if (tx.nonce <= key->second.nonce) return reject(invalid_tx::InvalidNonce{tx.nonce, key->second.nonce});
  // As NEAR: a nonce may run at most 10^6 per block ahead, so that a key's
  // nonce cannot be pushed to the end of the range and the key bricked.
  if (const std::uint64_t upper_bound = nonce_upper_bound(view.head_height + 1); tx.nonce >= upper_bound) {
    return reject(invalid_tx::NonceTooLarge{tx.nonce, upper_bound});
  }
  using Expired = invalid_tx::Expired;
  if (!view.reference_height) return reject(Expired{Expired::Why::kUnknownBlock});
  if (view.head_height > *view.reference_height && view.head_height - *view.reference_height > view.tx_validity_blocks) {
    return reject(Expired{Expired::Why::kTooOld});
  }
  auto cost = validate_actions(tx);
  if (!cost) return cost;
  if (auto denied = check_permission(tx, key->second.permission)) return std::unexpected(std::move(*denied));
  if (cost->deposits > signer.balance) return reject(invalid_tx::NotEnoughBalance{tx.signer_id, signer.balance, cost->deposits});
  return cost;
}

}  // namespace mpc::sandbox
