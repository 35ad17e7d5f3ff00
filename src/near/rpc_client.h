// NEAR JSON-RPC client and transaction signer (interop §7).
//
// Errors are classified by core::ErrorCode:
//   kUnavailable / kTimeout  the RPC endpoint could not be reached or did not answer
//   kTxRejected              the chain refused the transaction ("transaction rejected: <why>")
//   kContractPanic           the call executed and failed ("contract panicked: <message>")
//   kNotFound                unknown account / access key / transaction
//   kInternal                the endpoint answered something that is not NEAR JSON-RPC
// Messages never contain the RPC URL's path, query or credentials.
//
// Thread safety: RpcClient and Signer are safe to share between threads
// (requests are serialised per client).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/near_key.h"
#include "near/transaction.h"
#include "net/http_client.h"

namespace mpc::near {

using json = nlohmann::json;

struct BlockRef {
  std::uint64_t height = 0;
  std::array<std::uint8_t, 32> hash{};
};

struct AccessKeyView {
  std::uint64_t nonce = 0;
  json permission;  // "FullAccess" or {"FunctionCall":{...}}
};

struct CallResult {
  core::Bytes result;
  std::vector<std::string> logs;
};

struct TxOutcome {
  std::string tx_hash;          // base58
  core::Bytes success_value;    // decoded SuccessValue
  std::vector<std::string> logs;
  json raw;                     // the FinalExecutionOutcome
};

struct RpcClientOptions {
  std::chrono::milliseconds timeout{30'000};
};

class RpcClient {
 public:
  // REQUIRES: url is http(s)://host[:port][/path].
  static core::Result<std::unique_ptr<RpcClient>> create(std::string_view url, RpcClientOptions options = {});

  // One JSON-RPC call; returns "result" or the classified error.
  core::Result<json> call(const std::string& method, const json& params);

  core::Result<json> status();
  core::Result<BlockRef> final_block();
  core::Result<json> view_account(const std::string& account_id);
  core::Result<AccessKeyView> view_access_key(const std::string& account_id, const core::NearPublicKey& key);
  core::Result<CallResult> call_function(const std::string& contract_id, const std::string& method, const json& args);
  // call_function whose result is parsed as JSON.
  core::Result<json> view(const std::string& contract_id, const std::string& method, const json& args = json::object());

  // Sends a signed transaction and waits for its final outcome.
  core::Result<TxOutcome> send_tx(const SignedTransaction& tx, const std::string& wait_until = "FINAL");
  core::Result<TxOutcome> tx_status(const std::string& tx_hash_base58, const std::string& sender_id);

  std::string endpoint() const { return http_.url().host_port(); }

 private:
  RpcClient(net::Url url, RpcClientOptions options);
  std::mutex mu_;
  net::HttpClient http_;
  std::uint64_t next_id_ = 1;
};

// Interprets a FinalExecutionOutcome: SuccessValue -> TxOutcome, Failure -> kContractPanic.
core::Result<TxOutcome> parse_outcome(const json& outcome);

// Signs and sends transactions for one account and access key, tracking the nonce.
class Signer {
 public:
  Signer(RpcClient& rpc, std::string account_id, core::Ed25519SecretKey key);

  core::Result<TxOutcome> send(const std::string& receiver_id, std::vector<Action> actions);
  core::Result<TxOutcome> call(const std::string& contract_id, const std::string& method, const json& args,
                               u128 deposit = 0, std::uint64_t gas = 100'000'000'000'000ull);

  const std::string& account_id() const { return account_id_; }
  core::NearPublicKey public_key() const { return core::NearPublicKey{key_.public_key()}; }

 private:
  core::Result<SignedTransaction> build(const std::string& receiver_id, const std::vector<Action>& actions, bool refresh);
  RpcClient& rpc_;
  std::string account_id_;
  core::Ed25519SecretKey key_;
  std::mutex mu_;
  std::optional<std::uint64_t> nonce_;
};

}  // namespace mpc::near
