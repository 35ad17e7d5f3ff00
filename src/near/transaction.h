// NEAR transactions: the borsh schema of interop §7, signing and strict
// decoding.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/crypto.h"
#include "core/near_key.h"
#include "core/u128.h"

namespace mpc::near {

using core::u128;

struct FunctionCallPermission {
  std::optional<u128> allowance;
  std::string receiver_id;
  std::vector<std::string> method_names;
  bool operator==(const FunctionCallPermission&) const = default;
};
struct FullAccessPermission {
  bool operator==(const FullAccessPermission&) const = default;
};
using AccessKeyPermission = std::variant<FunctionCallPermission, FullAccessPermission>;

struct AccessKey {
  std::uint64_t nonce = 0;
  AccessKeyPermission permission = FullAccessPermission{};
  bool operator==(const AccessKey&) const = default;
};

struct CreateAccountAction {
  bool operator==(const CreateAccountAction&) const = default;
};
struct DeployContractAction {
  core::Bytes code;
  bool operator==(const DeployContractAction&) const = default;
};
struct FunctionCallAction {
  std::string method_name;
  core::Bytes args;
  std::uint64_t gas = 0;
  u128 deposit = 0;
  bool operator==(const FunctionCallAction&) const = default;
};
struct TransferAction {
  u128 deposit = 0;
  bool operator==(const TransferAction&) const = default;
};
struct StakeAction {
  u128 stake = 0;
  core::NearPublicKey public_key;
  bool operator==(const StakeAction&) const = default;
};
struct AddKeyAction {
  core::NearPublicKey public_key;
  AccessKey access_key;
  bool operator==(const AddKeyAction&) const = default;
};
struct DeleteKeyAction {
  core::NearPublicKey public_key;
  bool operator==(const DeleteKeyAction&) const = default;
};
struct DeleteAccountAction {
  std::string beneficiary_id;
  bool operator==(const DeleteAccountAction&) const = default;
};

// Borsh tags 0..7, in this order.
using Action = std::variant<CreateAccountAction, DeployContractAction, FunctionCallAction, TransferAction, StakeAction,
                            AddKeyAction, DeleteKeyAction, DeleteAccountAction>;

struct Transaction {
  std::string signer_id;
  core::NearPublicKey public_key;
  std::uint64_t nonce = 0;
  std::string receiver_id;
  std::array<std::uint8_t, 32> block_hash{};
  std::vector<Action> actions;
  bool operator==(const Transaction&) const = default;
};

struct Signature {
  std::uint8_t key_type = 0;  // 0 = ed25519
  core::Bytes data;           // 64 bytes for ed25519
  bool operator==(const Signature&) const = default;
};

struct SignedTransaction {
  Transaction transaction;
  Signature signature;
  bool operator==(const SignedTransaction&) const = default;
};

// The largest transaction decode_signed_transaction accepts.
inline constexpr std::size_t kMaxTransactionBytes = 4 << 20;

core::Bytes encode_transaction(const Transaction& tx);
core::Bytes encode_signed_transaction(const SignedTransaction& stx);
// Strict: unknown tags, truncation and trailing bytes are errors naming what was wrong.
core::Result<Transaction> decode_transaction(core::ByteView data);
core::Result<SignedTransaction> decode_signed_transaction(core::ByteView data);

// sha256(borsh(tx)): what is signed, and the transaction's id.
core::Hash256 transaction_hash(const Transaction& tx);
SignedTransaction sign_transaction(Transaction tx, const core::Ed25519SecretKey& key);
// True if the signature is a valid ed25519 signature of transaction_hash by tx.public_key.
bool verify_signature(const SignedTransaction& stx);

// Convenience for building a single function call.
FunctionCallAction function_call(std::string method, std::string args_json, std::uint64_t gas = 100'000'000'000'000ull,
                                 u128 deposit = 0);

}  // namespace mpc::near
