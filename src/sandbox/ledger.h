// The sandbox chain's data: accounts, access keys, blocks and executed
// transactions, with their NEAR RPC view (JSON) forms.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/near_key.h"
#include "core/u128.h"

namespace mpc::sandbox {

using core::u128;
using json = nlohmann::json;

struct KeyPermission {
  bool full_access = true;
  // Function-call keys only:
  std::optional<u128> allowance;
  std::string receiver_id;
  std::vector<std::string> method_names;  // empty = any method
  bool operator==(const KeyPermission&) const = default;
};

struct AccessKeyEntry {
  std::uint64_t nonce = 0;
  KeyPermission permission;
  bool operator==(const AccessKeyEntry&) const = default;
};

struct Account {
  u128 balance = 0;
  std::map<core::NearPublicKey, AccessKeyEntry> keys;
  bool has_contract = false;  // only the MPC contract account hosts code
  bool operator==(const Account&) const = default;
};

struct Block {
  std::uint64_t height = 0;
  core::Hash256 hash{};
  core::Hash256 prev_hash{};
  std::uint64_t timestamp_ns = 0;
  std::vector<core::Hash256> tx_hashes;
};

// An executed transaction and its FinalExecutionOutcome view.
struct TxRecord {
  core::Hash256 hash{};
  std::string signer_id;
  std::uint64_t block_height = 0;  // the block that includes it
  json outcome;                    // without final_execution_status

  // False while a receipt of the transaction still waits (a yielded `sign`
  // whose callback has not run): its status is then "Started", as NEAR's
  // partial outcomes say.
  bool finished() const { return !outcome.is_object() || !outcome.contains("status") || !outcome["status"].is_string(); }
};

// A yield a transaction's contract call created (NEAR's promise_yield_create)
// that has not run its callback yet. The callback runs when a later call
// resumes `data_id`, or in the first block at created_height + the chain's
// yield timeout, with a failed promise.
struct OpenYield {
  core::Hash256 data_id{};
  core::Hash256 tx_hash{};                 // the transaction whose result waits
  std::string signer_id;                   // that transaction's signer
  core::NearPublicKey signer_public_key;
  std::string callback_method;
  core::Bytes callback_args;               // JSON
  std::uint64_t created_height = 0;        // the block that includes the transaction
  bool operator==(const OpenYield&) const = default;
};

// ---- JSON forms (NEAR RPC views, also used for storage) ----
json permission_to_json(const KeyPermission& p);
core::Result<KeyPermission> permission_from_json(const json& j);
json access_key_to_json(const AccessKeyEntry& k);
core::Result<AccessKeyEntry> access_key_from_json(const json& j);
json account_to_json(const Account& a);  // storage form: balance + keys + has_contract
core::Result<Account> account_from_json(const json& j);
json open_yield_to_json(const OpenYield& y);  // storage form
core::Result<OpenYield> open_yield_from_json(const json& j);

std::string hash_to_base58(const core::Hash256& h);
core::Result<core::Hash256> hash_from_base58(std::string_view text);

}  // namespace mpc::sandbox
