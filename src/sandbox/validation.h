// Validation of a signed NEAR transaction before it runs: pure functions
// that return NEAR's InvalidTxError kinds as typed values (InvalidTx). The
// JSON form and the message of every kind are written in one place
// (InvalidTx::to_json and InvalidTx::message in validation.cc).
//
// A rejected transaction changes nothing; a transaction that passes is
// charged (nonce, deposits) and its actions run (actions.h), failing or not.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <variant>

#include "near/transaction.h"
#include "sandbox/ledger.h"

namespace mpc::sandbox {

// NEAR's AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER: a nonce may run at
// most this far ahead per block, and a key added at block h starts at
// (h - 1) * kNonceRangePerBlock.
inline constexpr std::uint64_t kNonceRangePerBlock = 1'000'000;
// The largest nonce a transaction included in block `block_height` may use,
// exclusive (saturating).
std::uint64_t nonce_upper_bound(std::uint64_t block_height);

// NEAR's per-transaction gas limit (300 Tgas).
inline constexpr std::uint64_t kMaxPrepaidGas = 300'000'000'000'000ull;

// The InvalidTxError kinds the sandbox reports; each renders as nearcore's
// (core/primitives/src/errors.rs), e.g. InvalidNonce as
// {"InvalidNonce":{"tx_nonce":5,"ak_nonce":7}}.
namespace invalid_tx {
struct Deserialization {  // the borsh bytes are not a SignedTransaction
  std::string detail;
};
struct InvalidSignature {
  enum class Why { kKeyNotEd25519, kDoesNotVerify } why;
};
struct InvalidSignerId {
  std::string signer_id;
};
struct InvalidReceiverId {
  std::string receiver_id;
};
struct SignerDoesNotExist {
  std::string signer_id;
};
// InvalidAccessKeyError::*
struct AccessKeyNotFound {
  std::string account_id;
  core::NearPublicKey public_key;
};
struct RequiresFullAccess {};
struct ReceiverMismatch {
  std::string tx_receiver;
  std::string ak_receiver;
};
struct DepositWithFunctionCall {};
struct MethodNameMismatch {
  std::string method_name;
};
struct InvalidNonce {
  std::uint64_t tx_nonce = 0;
  std::uint64_t ak_nonce = 0;
};
struct NonceTooLarge {
  std::uint64_t tx_nonce = 0;
  std::uint64_t upper_bound = 0;
};
struct Expired {
  enum class Why { kUnknownBlock, kTooOld } why;
};
// ActionsValidation::*
struct EmptyActions {};
struct UnsupportedAction {
  near::Action action;
};
struct TotalPrepaidGasExceeded {
  std::uint64_t total_prepaid_gas = 0;
  std::uint64_t limit = 0;
};
struct NotEnoughBalance {
  std::string signer_id;
  u128 balance = 0;
  u128 cost = 0;
};
}  // namespace invalid_tx

using InvalidTxKind =
    std::variant<invalid_tx::Deserialization, invalid_tx::InvalidSignature, invalid_tx::InvalidSignerId,
                 invalid_tx::InvalidReceiverId, invalid_tx::SignerDoesNotExist, invalid_tx::AccessKeyNotFound,
                 invalid_tx::RequiresFullAccess, invalid_tx::ReceiverMismatch, invalid_tx::DepositWithFunctionCall,
                 invalid_tx::MethodNameMismatch, invalid_tx::InvalidNonce, invalid_tx::NonceTooLarge, invalid_tx::Expired,
                 invalid_tx::EmptyActions, invalid_tx::UnsupportedAction, invalid_tx::TotalPrepaidGasExceeded,
                 invalid_tx::NotEnoughBalance>;

// Why a transaction was rejected.
struct InvalidTx {
  InvalidTxKind kind;

  template <class Kind>
  bool is() const {
    return std::holds_alternative<Kind>(kind);
  }
  // NEAR's InvalidTxError value, e.g. {"InvalidNonce":{"tx_nonce":5,"ak_nonce":7}} or "Expired".
  json to_json() const;
  // What was wrong, for people (account ids, public keys and numbers only).
  std::string message() const;
};

// What a transaction's actions cost its signer up front.
struct TxCost {
  u128 deposits = 0;              // attached to FunctionCall and Transfer actions
  std::uint64_t prepaid_gas = 0;  // attached to FunctionCall actions
};

// The chain state a transaction is validated against.
struct ChainView {
  const Account* signer = nullptr;                 // nullptr: the signer account does not exist
  std::uint64_t head_height = 0;                   // the transaction goes into block head_height + 1
  std::optional<std::uint64_t> reference_height;   // the height of tx.block_hash, if it is a block of this chain
  std::uint64_t tx_validity_blocks = 86'400;       // how old that block may be
};

// Stateless: the signature covers sha256(borsh(tx)) and verifies against
// tx.public_key, which must be an ed25519 key. The costly check (one
// signature verification), so callers run it before taking any lock.
std::optional<InvalidTx> check_signature(const near::SignedTransaction& stx);

// Stateless: the actions alone (NEAR's validate_actions): at least one, each
// of a kind the sandbox executes (is_supported_action), at most
// kMaxPrepaidGas in all. Returns what they cost the signer.
std::expected<TxCost, InvalidTx> validate_actions(const near::Transaction& tx);

// Everything but the signature, against `view`, in the order the sandbox
// reports rejections: account ids, signer, access key, nonce, nonce bound,
// expiry, actions (validate_actions), access-key permission, balance.
// Pure: no I/O, no clock; the same transaction and view give the same answer.
std::expected<TxCost, InvalidTx> validate_transaction(const near::Transaction& tx, const ChainView& view);

}  // namespace mpc::sandbox
