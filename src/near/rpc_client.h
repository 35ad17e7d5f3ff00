// NEAR JSON-RPC client and transaction signer (interop §7).
//
// Error classification (core::ErrorCode; use the helpers below):
//   kUnavailable / kTimeout  RPC unreachable: DNS, refused, reset, TLS, HTTP
//                            429/5xx without a JSON-RPC body, or no answer in
//                            time (also the node's own TIMEOUT_ERROR).
//                            Messages start with "RPC unreachable: " for
//                            transport failures.        -> is_rpc_unreachable()
//   kTxRejected              the chain refused the transaction before executing
//                            it (INVALID_TRANSACTION, or an InvalidTxError
//                            outcome): "transaction rejected: InvalidNonce {…}".
//                                                       -> is_tx_rejected()
//   kContractPanic           a function call executed and failed: the
//                            outcome's ActionError.kind.FunctionCallError, or a
//                            view call's CONTRACT_EXECUTION_ERROR:
//                            "contract panicked: <message>". -> is_contract_panic()
//   kFailedPrecondition      any other action failed during execution
//                            ("transaction failed: action 0: AccountDoesNotExist …")
//   kNotFound                unknown account / access key / block / tx / no code
//   kInvalidArgument         a bad URL, or the node rejected our request's shape
//   kInternal                the endpoint answered something that is not NEAR
//                            JSON-RPC (not JSON, no result, malformed fields)
// Messages name the endpoint as host:port only, never the URL's path, query or
// userinfo (RPC URLs may carry API keys).
//
// Thread safety: RpcClient and Signer are safe to share between threads
// (requests are serialised per client, transactions per signer).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/near_key.h"
#include "near/transaction.h"
#include "net/http_client.h"

namespace simdjson::dom {
class parser;
}

namespace mpc::near {

using json = nlohmann::json;

inline bool is_rpc_unreachable(const core::Error& e) {
  return e.code == core::ErrorCode::kUnavailable || e.code == core::ErrorCode::kTimeout;
}
inline bool is_tx_rejected(const core::Error& e) { return e.code == core::ErrorCode::kTxRejected; }
inline bool is_contract_panic(const core::Error& e) { return e.code == core::ErrorCode::kContractPanic; }

struct BlockRef {
  std::uint64_t height = 0;
  std::array<std::uint8_t, 32> hash{};
};

struct AccessKeyView {
  std::uint64_t nonce = 0;
  AccessKeyPermission permission = FullAccessPermission{};
};

struct AccessKeyInfo {
  core::NearPublicKey public_key;
  AccessKeyView access_key;
};

struct CallResult {
  core::Bytes result;
  std::vector<std::string> logs;
  std::uint64_t block_height = 0;  // the block the answer is for (0 when the RPC did not say)
};

// A view's JSON value and the block it was read at.
struct ViewAnswer {
  json value;
  std::uint64_t block_height = 0;
};

struct TxOutcome {
  std::string tx_hash;          // base58
  core::Bytes success_value;    // decoded SuccessValue (empty for none)
  std::vector<std::string> logs;
  json raw;                     // the FinalExecutionOutcome
};

struct RpcClientOptions {
  std::chrono::milliseconds timeout{30'000};  // per HTTP request
  std::size_t response_limit = 64 << 20;
};

class RpcClient {
 public:
  // REQUIRES: url is http(s)://host[:port][/path][?query]. kInvalidArgument otherwise.
  static core::Result<std::unique_ptr<RpcClient>> create(std::string_view url, RpcClientOptions options = {});
  ~RpcClient();

  // One JSON-RPC call; returns "result" or the classified error.
  core::Result<json> call(const std::string& method, const json& params);
  // What call_with found at result.result (a call_function's bytes).
  struct ResultBytes {
    bool present = false;  // an array was there
    bool valid = false;    // ... of numbers 0..255 only
    core::Bytes bytes;
  };
  // call(), with result.result's array read into `bytes` (when not null)
  // instead of the returned tree (which then lacks it).
  core::Result<json> call_with(const std::string& method, const json& params, ResultBytes* bytes);

  core::Result<json> status();
  // The latest final block (`block` with finality final).
  core::Result<BlockRef> block_final();
  core::Result<BlockRef> final_block() { return block_final(); }
  core::Result<json> view_account(const std::string& account_id);
  core::Result<AccessKeyView> view_access_key(const std::string& account_id, const core::NearPublicKey& key);
  core::Result<std::vector<AccessKeyInfo>> view_access_key_list(const std::string& account_id);
  // A view call; args are sent as JSON (args_base64).
  core::Result<CallResult> call_function(const std::string& contract_id, const std::string& method, const json& args);
  // call_function whose result is parsed as JSON (kInternal if it is not JSON).
  core::Result<json> view(const std::string& contract_id, const std::string& method, const json& args = json::object());
  // The same, with the block height the answer is for.
  core::Result<ViewAnswer> view_answer(const std::string& contract_id, const std::string& method, const json& args = json::object());

  // send_tx, waiting until `wait_until` ("NONE", "INCLUDED", "EXECUTED_OPTIMISTIC",
  // "EXECUTED", "FINAL"...). With "NONE" only tx_hash is filled in.
  core::Result<TxOutcome> send_tx(const SignedTransaction& tx, const std::string& wait_until = "FINAL");
  // The legacy method: waits for execution.
  core::Result<TxOutcome> broadcast_tx_commit(const SignedTransaction& tx);
  // `tx`: the final outcome of a known transaction.
  core::Result<TxOutcome> tx_status(const std::string& tx_hash_base58, const std::string& sender_id);

  // host:port, for messages.
  std::string endpoint() const { return http_.url().host_port(); }

 private:
  RpcClient(net::Url url, RpcClientOptions options);
  std::mutex mu_;
  // call_function's answers are read with it (mu_); it keeps its buffers
  // from one answer to the next.
  std::unique_ptr<simdjson::dom::parser> answer_parser_;
  net::HttpClient http_;
  std::uint64_t next_id_ = 1;
};

// A call_function result parsed as a view's JSON value (what view() does
// with it; kInternal "view M on C did not return JSON" otherwise).
core::Result<json> view_value(const CallResult& result, const std::string& contract_id, const std::string& method);

// Interprets a FinalExecutionOutcome (see the classification above).
core::Result<TxOutcome> parse_outcome(const json& outcome);
// Classifies a JSON-RPC `error` object.
core::Error classify_rpc_error(const json& error);
// NEAR's JSON access key permission: "FullAccess" or {"FunctionCall":{…}}.
core::Result<AccessKeyPermission> parse_access_key_permission(const json& j);

// Signs and sends transactions for one account and access key. The nonce is
// fetched once (view_access_key) and cached; it is refreshed after any failure
// other than a contract panic, and an InvalidNonce (or Expired) rejection is
// retried once with a fresh nonce and block hash.
class Signer {
 public:
  Signer(RpcClient& rpc, std::string account_id, core::Ed25519SecretKey key);
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Signs, sends (wait_until FINAL) and returns the outcome.
  core::Result<TxOutcome> send(const std::string& receiver_id, std::vector<Action> actions);
  core::Result<TxOutcome> call(const std::string& contract_id, const std::string& method, const json& args,
                               u128 deposit = 0, std::uint64_t gas = kDefaultGas);
  // A function call whose SuccessValue is parsed as JSON (null when empty).
  core::Result<json> call_function_json(const std::string& contract_id, const std::string& method, const json& args,
                                        u128 deposit = 0, std::uint64_t gas = kDefaultGas);

  const std::string& account_id() const { return account_id_; }
  core::NearPublicKey public_key() const { return core::NearPublicKey{key_.public_key()}; }

  static constexpr std::uint64_t kDefaultGas = 100'000'000'000'000ull;  // 100 Tgas

 private:
  core::Result<SignedTransaction> build(const std::string& receiver_id, const std::vector<Action>& actions, bool refresh);
  RpcClient& rpc_;
  std::string account_id_;
  core::Ed25519SecretKey key_;
  std::mutex mu_;
  std::optional<std::uint64_t> nonce_;
};

}  // namespace mpc::near
