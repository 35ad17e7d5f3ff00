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
};

// ---- JSON forms (NEAR RPC views, also used for storage) ----
json permission_to_json(const KeyPermission& p);
core::Result<KeyPermission> permission_from_json(const json& j);
json access_key_to_json(const AccessKeyEntry& k);
core::Result<AccessKeyEntry> access_key_from_json(const json& j);
json account_to_json(const Account& a);  // storage form: balance + keys + has_contract
core::Result<Account> account_from_json(const json& j);

std::string hash_to_base58(const core::Hash256& h);
core::Result<core::Hash256> hash_from_base58(std::string_view text);

}  // namespace mpc::sandbox
