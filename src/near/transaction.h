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

struct Signature {
  std::uint8_t key_type = 0;  // 0 = ed25519 (64 bytes), 1 = secp256k1 (65 bytes)
  core::Bytes data;
  bool operator==(const Signature&) const = default;
};

// The actions a DelegateAction may carry (nearcore's NonDelegateAction):
// borsh tags 0..7, in this order.
using NonDelegateAction = std::variant<CreateAccountAction, DeployContractAction, FunctionCallAction, TransferAction,
                                       StakeAction, AddKeyAction, DeleteKeyAction, DeleteAccountAction>;

// NEP-366 meta transaction: `sender_id` signs actions for `receiver_id`, a
// relayer submits them. Signed payload: delegate_action_hash().
struct DelegateAction {
  std::string sender_id;
  std::string receiver_id;
  std::vector<NonDelegateAction> actions;
  std::uint64_t nonce = 0;
  std::uint64_t max_block_height = 0;
  core::NearPublicKey public_key;
  bool operator==(const DelegateAction&) const = default;
};
struct SignedDelegateAction {
  DelegateAction delegate_action;
  Signature signature;
  bool operator==(const SignedDelegateAction&) const = default;
};

// Borsh tags 0..8, in this order (near-api-js 5.1.1's Action enum; nearcore's
// later tags 9+ — global contracts, state init — are rejected by the decoder
// with an error naming the tag).
using Action = std::variant<CreateAccountAction, DeployContractAction, FunctionCallAction, TransferAction, StakeAction,
                            AddKeyAction, DeleteKeyAction, DeleteAccountAction, SignedDelegateAction>;

struct Transaction {
  std::string signer_id;
  core::NearPublicKey public_key;
  std::uint64_t nonce = 0;
  std::string receiver_id;
  std::array<std::uint8_t, 32> block_hash{};
  std::vector<Action> actions;
  bool operator==(const Transaction&) const = default;
};

struct SignedTransaction {
  Transaction transaction;
  Signature signature;
  bool operator==(const SignedTransaction&) const = default;
};

// Encoding is total; decoding is strict: unknown tags (named in the error),
// invalid Option tags, truncation, length prefixes larger than the input and
// trailing bytes are kInvalidArgument errors. decode(encode(x)) == x.

// The largest transaction decode_signed_transaction accepts.
inline constexpr std::size_t kMaxTransactionBytes = 4 << 20;

core::Bytes encode_transaction(const Transaction& tx);
core::Bytes encode_signed_transaction(const SignedTransaction& stx);
core::Result<Transaction> decode_transaction(core::ByteView data);
core::Result<SignedTransaction> decode_signed_transaction(core::ByteView data);

// sha256(borsh(tx)): what is signed, and the transaction's id.
core::Hash256 transaction_hash(const Transaction& tx);
SignedTransaction sign_transaction(Transaction tx, const core::Ed25519SecretKey& key);
// True if the signature is a valid ed25519 signature of transaction_hash by
// tx.public_key (secp256k1 signatures are not verified here: false).
bool verify_signature(const SignedTransaction& stx);

core::Bytes encode_delegate_action(const DelegateAction& action);
// sha256(borsh(u32 2^30 + 366) || borsh(action)): the NEP-461 prefixed payload
// a delegate action's signature covers.
core::Hash256 delegate_action_hash(const DelegateAction& action);
SignedDelegateAction sign_delegate_action(DelegateAction action, const core::Ed25519SecretKey& key);
bool verify_signature(const SignedDelegateAction& signed_action);

// Convenience for building a single function call.
FunctionCallAction function_call(std::string method, std::string args_json, std::uint64_t gas = 100'000'000'000'000ull,
                                 u128 deposit = 0);

}  // namespace mpc::near
