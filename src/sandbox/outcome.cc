#include "sandbox/outcome.h"

#include "model/types.h"

namespace mpc::sandbox {

namespace {

constexpr std::uint64_t kGasPerAction = 2'428'000'000'000ull;  // a nominal figure for outcome views

std::string b64(core::ByteView b) { return core::base64_encode(b); }

core::Hash256 derive_id(const core::Hash256& tx_hash, std::string_view what) {
  core::Bytes data(tx_hash.begin(), tx_hash.end());
  data.insert(data.end(), what.begin(), what.end());
  return core::sha256(data);
}

}  // namespace

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

std::string receipt_id(const core::Hash256& tx_hash, std::string_view what) { return hash_to_base58(derive_id(tx_hash, what)); }
std::string yield_callback_receipt_id(const core::Hash256& tx_hash) { return receipt_id(tx_hash, "yield-callback"); }
std::string yield_timeout_receipt_id(const core::Hash256& tx_hash) { return receipt_id(tx_hash, "yield-timeout"); }

json success_value_status(core::ByteView value) { return json{{"SuccessValue", b64(value)}}; }

json panic_status(const std::string& message) {
  return json{{"Failure",
               {{"ActionError",
                 {{"index", 0}, {"kind", {{"FunctionCallError", {{"ExecutionError", "Smart contract panicked: " + message}}}}}}}}}};
}

void append_receipt_outcome(json& outcome, const std::string& id, const std::string& executor_id, json status,
                            const std::vector<std::string>& logs, const std::vector<std::string>& receipt_ids) {
  outcome["receipts_outcome"].push_back(
      {{"proof", json::array()},
       {"id", id},
       {"outcome",
        {{"logs", logs},
         {"receipt_ids", receipt_ids},
         {"gas_burnt", kGasPerAction},
         {"tokens_burnt", "0"},
         {"executor_id", executor_id},
         {"status", std::move(status)},
         {"metadata", {{"version", 1}, {"gas_profile", nullptr}}}}}});
}

json outcome_view(const near::SignedTransaction& stx, const core::Hash256& hash, const Execution& execution) {
  const near::Transaction& tx = stx.transaction;
  const std::string tx_id = hash_to_base58(hash);
  const std::string receipt_id = hash_to_base58(derive_id(hash, "receipt"));
  json actions = json::array();
  for (const auto& a : tx.actions) actions.push_back(action_view(a));
  json status = execution.ok() ? json{{"SuccessValue", b64(execution.return_value)}}
                               : json{{"Failure",
                                       {{"ActionError",
                                         {{"index", execution.failure->index}, {"kind", execution.failure->kind}}}}}};
  // A yielded call: its receipt's result is the callback receipt's, which
  // has not run; the transaction has started and not finished.
  json receipt_status = status;
  json receipt_ids = json::array();
  if (execution.ok() && execution.yield) {
    const std::string callback = yield_callback_receipt_id(hash);
    receipt_status = json{{"SuccessReceiptId", callback}};
    receipt_ids.push_back(callback);
    status = "Started";
  }
  const std::uint64_t gas = kGasPerAction * tx.actions.size();
  json metadata = {{"version", 1}, {"gas_profile", nullptr}};
  return {
      {"status", status},
      {"transaction",
       {{"signer_id", tx.signer_id},
        {"public_key", tx.public_key.to_string()},
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
          {{"logs", execution.logs},
           {"receipt_ids", receipt_ids},
           {"gas_burnt", gas},
           {"tokens_burnt", "0"},
           {"executor_id", tx.receiver_id},
           {"status", receipt_status},
           {"metadata", metadata}}}}}},
  };
}

}  // namespace mpc::sandbox
