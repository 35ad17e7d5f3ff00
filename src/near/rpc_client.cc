#include "near/rpc_client.h"

namespace mpc::near {

namespace {

std::string first_key(const json& j) { return j.is_object() && !j.empty() ? j.begin().key() : (j.is_string() ? j.get<std::string>() : ""); }

// A readable one-line description of NEAR's nested error enums:
// {"InvalidNonce":{"tx_nonce":5,"ak_nonce":7}} -> InvalidNonce {"tx_nonce":5,"ak_nonce":7}
std::string describe(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.size() == 1) {
    const auto& inner = j.begin().value();
    if (inner.is_object() && inner.size() == 1 && !inner.begin().value().is_primitive()) {
      return j.begin().key() + "." + describe(inner);
    }
    if (inner.is_string()) return j.begin().key() + ": " + inner.get<std::string>();
    return j.begin().key() + " " + inner.dump();
  }
  return j.dump();
}

core::Error classify_rpc_error(const json& error) {
  const json cause = error.value("cause", json::object());
  const std::string cause_name = cause.value("name", std::string());
  const json info = cause.value("info", json::object());
  const json data = error.value("data", json());
  std::string text = info.is_object() ? info.value("error_message", std::string()) : std::string();
  if (text.empty()) text = data.is_string() ? data.get<std::string>() : data.dump();
  if (cause_name == "INVALID_TRANSACTION") {
    json why = data;
    if (why.is_object() && why.contains("TxExecutionError")) why = why["TxExecutionError"];
    if (why.is_object() && why.contains("InvalidTxError")) why = why["InvalidTxError"];
    std::string msg = "transaction rejected: " + describe(why);
    if (!text.empty() && text != data.dump()) msg += " (" + text + ")";
    return core::Error{core::ErrorCode::kTxRejected, msg};
  }
  if (cause_name == "UNKNOWN_ACCOUNT" || cause_name == "UNKNOWN_ACCESS_KEY" || cause_name == "UNKNOWN_TRANSACTION" ||
      cause_name == "UNKNOWN_BLOCK" || cause_name == "NO_CONTRACT_CODE") {
    return core::Error{core::ErrorCode::kNotFound, text};
  }
  if (cause_name == "CONTRACT_EXECUTION_ERROR") {
    return core::Error{core::ErrorCode::kContractPanic, "contract panicked: " + text};
  }
  if (cause_name == "TIMEOUT_ERROR") {
    return core::Error{core::ErrorCode::kTimeout, "the RPC node timed out waiting for the transaction: " + text};
  }
  std::string name = cause_name.empty() ? error.value("name", std::string("RPC error")) : cause_name;
  return core::Error{core::ErrorCode::kInternal, "RPC error " + name + ": " + text};
}

}  // namespace

RpcClient::RpcClient(net::Url url, RpcClientOptions options)
    : http_(std::move(url), net::HttpClientOptions{options.timeout, 64 << 20}) {}

core::Result<std::unique_ptr<RpcClient>> RpcClient::create(std::string_view url, RpcClientOptions options) {
  auto parsed = net::Url::parse(url);
  if (!parsed) return core::invalid("RPC URL: " + parsed.error().message);
  return std::unique_ptr<RpcClient>(new RpcClient(std::move(*parsed), options));
}

core::Result<json> RpcClient::call(const std::string& method, const json& params) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_id_++;
  json req = {{"jsonrpc", "2.0"}, {"id", std::to_string(id)}, {"method", method}, {"params", params}};
  auto res = http_.request(boost::beast::http::verb::post, req.dump());
  if (!res) {
    auto e = res.error();
    if (e.code == core::ErrorCode::kUnavailable || e.code == core::ErrorCode::kTimeout) {
      e.message = "RPC unreachable: " + e.message;
    }
    return std::unexpected(e);
  }
  json body = json::parse(res->body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return core::fail(core::ErrorCode::kInternal, "RPC at " + http_.url().host_port() + " answered HTTP " +
                                                      std::to_string(res->status) + " with a body that is not JSON-RPC");
  }
  if (body.contains("error") && !body["error"].is_null()) return std::unexpected(classify_rpc_error(body["error"]));
  if (!body.contains("result")) {
    return core::fail(core::ErrorCode::kInternal, "RPC at " + http_.url().host_port() + " answered without a result");
  }
  json result = std::move(body["result"]);
  // Older nodes report query errors inside the result.
  if (result.is_object() && result.contains("error") && result["error"].is_string()) {
    const std::string text = result["error"].get<std::string>();
    if (text.find("does not exist") != std::string::npos) return core::fail(core::ErrorCode::kNotFound, text);
    return core::fail(core::ErrorCode::kContractPanic, "contract panicked: " + text);
  }
  return result;
}

core::Result<json> RpcClient::status() { return call("status", json::array()); }

core::Result<BlockRef> RpcClient::final_block() {
  MPC_ASSIGN(json block, call("block", json{{"finality", "final"}}));
  const json header = block.value("header", json::object());
  if (!header.contains("height") || !header["height"].is_number_unsigned() || !header.contains("hash") ||
      !header["hash"].is_string()) {
    return core::fail(core::ErrorCode::kInternal, "RPC block response has no header.height/hash");
  }
  BlockRef ref;
  ref.height = header["height"].get<std::uint64_t>();
  auto hash = core::base58_decode(header["hash"].get<std::string>());
  if (!hash || hash->size() != 32) return core::fail(core::ErrorCode::kInternal, "RPC block hash is not 32 bytes of base58");
  std::copy(hash->begin(), hash->end(), ref.hash.begin());
  return ref;
}

core::Result<json> RpcClient::view_account(const std::string& account_id) {
  return call("query", json{{"request_type", "view_account"}, {"finality", "final"}, {"account_id", account_id}});
}

core::Result<AccessKeyView> RpcClient::view_access_key(const std::string& account_id, const core::NearPublicKey& key) {
  MPC_ASSIGN(json r, call("query", json{{"request_type", "view_access_key"},
                                        {"finality", "final"},
                                        {"account_id", account_id},
                                        {"public_key", key.to_string()}}));
  if (!r.contains("nonce") || !r["nonce"].is_number_unsigned()) {
    return core::fail(core::ErrorCode::kInternal, "RPC access key response has no nonce");
  }
  return AccessKeyView{r["nonce"].get<std::uint64_t>(), r.value("permission", json())};
}

core::Result<CallResult> RpcClient::call_function(const std::string& contract_id, const std::string& method,
                                                  const json& args) {
  const std::string args_text = args.dump();
  MPC_ASSIGN(json r, call("query", json{{"request_type", "call_function"},
                                        {"finality", "final"},
                                        {"account_id", contract_id},
                                        {"method_name", method},
                                        {"args_base64", core::base64_encode(core::as_bytes(args_text))}}));
  if (!r.contains("result") || !r["result"].is_array()) {
    return core::fail(core::ErrorCode::kInternal, "RPC call_function response has no result bytes");
  }
  CallResult out;
  for (const auto& b : r["result"]) {
    if (!b.is_number_unsigned() || b.get<std::uint64_t>() > 255) {
      return core::fail(core::ErrorCode::kInternal, "RPC call_function result is not an array of bytes");
    }
    out.result.push_back(static_cast<std::uint8_t>(b.get<std::uint64_t>()));
  }
  for (const auto& l : r.value("logs", json::array())) {
    if (l.is_string()) out.logs.push_back(l.get<std::string>());
  }
  return out;
}

core::Result<json> RpcClient::view(const std::string& contract_id, const std::string& method, const json& args) {
  MPC_ASSIGN(auto r, call_function(contract_id, method, args));
  json j = json::parse(r.result.begin(), r.result.end(), nullptr, false);
  if (j.is_discarded()) {
    return core::fail(core::ErrorCode::kInternal, "view " + method + " on " + contract_id + " did not return JSON");
  }
  return j;
}

core::Result<TxOutcome> parse_outcome(const json& outcome) {
  if (!outcome.is_object() || !outcome.contains("status")) {
    return core::fail(core::ErrorCode::kInternal, "transaction outcome has no status");
  }
  TxOutcome out;
  out.raw = outcome;
  if (outcome.contains("transaction_outcome")) out.tx_hash = outcome["transaction_outcome"].value("id", std::string());
  for (const auto& r : outcome.value("receipts_outcome", json::array())) {
    for (const auto& l : r.value("outcome", json::object()).value("logs", json::array())) {
      if (l.is_string()) out.logs.push_back(l.get<std::string>());
    }
  }
  const json& status = outcome["status"];
  if (status.is_object() && status.contains("SuccessValue")) {
    const json& v = status["SuccessValue"];
    if (v.is_string() && !v.get<std::string>().empty()) {
      auto bytes = core::base64_decode(v.get<std::string>());
      if (!bytes) return core::fail(core::ErrorCode::kInternal, "transaction SuccessValue is not base64");
      out.success_value = std::move(*bytes);
    }
    return out;
  }
  if (status.is_object() && status.contains("Failure")) {
    const json& f = status["Failure"];
    std::string msg;
    // {"ActionError":{"index":0,"kind":{"FunctionCallError":{"ExecutionError":"Smart contract panicked: ..."}}}}
    const json kind = f.contains("ActionError") ? f["ActionError"].value("kind", json()) : f;
    if (kind.is_object() && kind.contains("FunctionCallError") && kind["FunctionCallError"].is_object() &&
        kind["FunctionCallError"].contains("ExecutionError") && kind["FunctionCallError"]["ExecutionError"].is_string()) {
      msg = kind["FunctionCallError"]["ExecutionError"].get<std::string>();
      constexpr std::string_view kPrefix = "Smart contract panicked: ";
      if (msg.starts_with(kPrefix)) msg = msg.substr(kPrefix.size());
    } else {
      msg = describe(kind);
    }
    return core::fail(core::ErrorCode::kContractPanic,
                      "contract panicked: " + msg + (out.tx_hash.empty() ? "" : " (transaction " + out.tx_hash + ")"));
  }
  return core::fail(core::ErrorCode::kInternal, "transaction outcome status is neither SuccessValue nor Failure: " +
                                                    first_key(status));
}

core::Result<TxOutcome> RpcClient::send_tx(const SignedTransaction& tx, const std::string& wait_until) {
  const auto bytes = encode_signed_transaction(tx);
  MPC_ASSIGN(json r, call("send_tx", json{{"signed_tx_base64", core::base64_encode(bytes)}, {"wait_until", wait_until}}));
  if (wait_until == "NONE") {
    TxOutcome out;
    out.tx_hash = core::base58_encode(transaction_hash(tx.transaction));
    out.raw = r;
    return out;
  }
  return parse_outcome(r);
}

core::Result<TxOutcome> RpcClient::tx_status(const std::string& tx_hash_base58, const std::string& sender_id) {
  MPC_ASSIGN(json r, call("tx", json{{"tx_hash", tx_hash_base58}, {"sender_account_id", sender_id}, {"wait_until", "FINAL"}}));
  return parse_outcome(r);
}

Signer::Signer(RpcClient& rpc, std::string account_id, core::Ed25519SecretKey key)
    : rpc_(rpc), account_id_(std::move(account_id)), key_(std::move(key)) {}

core::Result<SignedTransaction> Signer::build(const std::string& receiver_id, const std::vector<Action>& actions,
                                              bool refresh) {
  if (refresh || !nonce_) {
    auto ak = rpc_.view_access_key(account_id_, public_key());
    if (!ak) {
      if (ak.error().code == core::ErrorCode::kNotFound) {
        return core::fail(core::ErrorCode::kPermissionDenied, "the key " + public_key().to_string() +
                                                                  " is not an access key of account " + account_id_);
      }
      return std::unexpected(ak.error());
    }
    nonce_ = ak->nonce;
  }
  MPC_ASSIGN(auto block, rpc_.final_block());
  Transaction tx;
  tx.signer_id = account_id_;
  tx.public_key = public_key();
  tx.nonce = ++*nonce_;
  tx.receiver_id = receiver_id;
  tx.block_hash = block.hash;
  tx.actions = actions;
  return sign_transaction(std::move(tx), key_);
}

core::Result<TxOutcome> Signer::send(const std::string& receiver_id, std::vector<Action> actions) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    MPC_ASSIGN(auto stx, build(receiver_id, actions, attempt > 0));
    auto r = rpc_.send_tx(stx);
    if (!r && r.error().code == core::ErrorCode::kTxRejected && attempt == 0 &&
        (r.error().message.find("InvalidNonce") != std::string::npos ||
         r.error().message.find("Expired") != std::string::npos)) {
      continue;  // another client used this key, or the block hash aged: refresh and sign again
    }
    if (!r && r.error().code != core::ErrorCode::kContractPanic) nonce_.reset();
    return r;
  }
  return core::fail(core::ErrorCode::kTxRejected, "transaction rejected twice for its nonce");
}

core::Result<TxOutcome> Signer::call(const std::string& contract_id, const std::string& method, const json& args,
                                     u128 deposit, std::uint64_t gas) {
  return send(contract_id, {function_call(method, args.dump(), gas, deposit)});
}

}  // namespace mpc::near
