#include "near/transaction.h"

#include "near/borsh.h"

namespace mpc::near {

namespace {

void write_public_key(BorshWriter& w, const core::NearPublicKey& pk) {
  if (pk.is_ed25519()) {
    w.u8(0);
    w.fixed(pk.ed25519().bytes);
  } else {
    w.u8(1);
    w.fixed(std::get<core::Secp256k1PublicKey>(pk.key).bytes);
  }
}

core::Result<core::NearPublicKey> read_public_key(BorshReader& r, const char* what) {
  MPC_ASSIGN(auto type, r.u8(what));
  if (type == 0) {
    MPC_ASSIGN(auto b, r.fixed(32, what));
    core::Ed25519PublicKey k;
    std::copy(b.begin(), b.end(), k.bytes.begin());
    return core::NearPublicKey{k};
  }
  if (type == 1) {
    MPC_ASSIGN(auto b, r.fixed(64, what));
    core::Secp256k1PublicKey k;
    std::copy(b.begin(), b.end(), k.bytes.begin());
    return core::NearPublicKey{k};
  }
  return core::invalid(std::string("borsh: unknown key type ") + std::to_string(type) + " in " + what);
}

void write_signature(BorshWriter& w, const Signature& sig) {
  w.u8(sig.key_type);
  w.fixed(sig.data);
}

core::Result<Signature> read_signature(BorshReader& r, const char* what) {
  Signature sig;
  MPC_ASSIGN(sig.key_type, r.u8(what));
  std::size_t size = 0;
  if (sig.key_type == 0) {
    size = 64;
  } else if (sig.key_type == 1) {
    size = 65;
  } else {
    return core::invalid(std::string("borsh: unknown signature key type ") + std::to_string(sig.key_type) + " in " +
                         what);
  }
  MPC_ASSIGN(auto bytes, r.fixed(size, what));
  sig.data.assign(bytes.begin(), bytes.end());
  return sig;
}

void write_access_key(BorshWriter& w, const AccessKey& key) {
  w.u64(key.nonce);
  if (auto* fc = std::get_if<FunctionCallPermission>(&key.permission)) {
    w.u8(0);
    w.option_tag(fc->allowance.has_value());
    if (fc->allowance) w.u128(*fc->allowance);
    w.string(fc->receiver_id);
    w.count(fc->method_names.size());
    for (const auto& m : fc->method_names) w.string(m);
  } else {
    w.u8(1);
  }
}

core::Result<AccessKey> read_access_key(BorshReader& r) {
  AccessKey key;
  MPC_ASSIGN(key.nonce, r.u64("AccessKey.nonce"));
  MPC_ASSIGN(auto perm, r.u8("AccessKey.permission tag"));
  if (perm == 1) {
    key.permission = FullAccessPermission{};
    return key;
  }
  if (perm != 0) return core::invalid("borsh: unknown access key permission tag " + std::to_string(perm));
  FunctionCallPermission p;
  MPC_ASSIGN(bool has_allowance, r.option_tag("FunctionCallPermission.allowance"));
  if (has_allowance) {
    MPC_ASSIGN(p.allowance, r.u128("FunctionCallPermission.allowance"));
  }
  MPC_ASSIGN(p.receiver_id, r.string("FunctionCallPermission.receiver_id"));
  MPC_ASSIGN(auto n, r.count("FunctionCallPermission.method_names", 4));
  p.method_names.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    MPC_ASSIGN(auto m, r.string("FunctionCallPermission.method_names[]"));
    p.method_names.push_back(std::move(m));
  }
  key.permission = std::move(p);
  return key;
}

void write_delegate_action(BorshWriter& w, const DelegateAction& d);

// Writes an Action or a NonDelegateAction: the variant index is the borsh tag.
template <typename ActionVariant>
void write_action(BorshWriter& w, const ActionVariant& action) {
  w.u8(static_cast<std::uint8_t>(action.index()));
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, DeployContractAction>) {
          w.bytes(a.code);
        } else if constexpr (std::is_same_v<T, FunctionCallAction>) {
          w.string(a.method_name);
          w.bytes(a.args);
          w.u64(a.gas);
          w.u128(a.deposit);
        } else if constexpr (std::is_same_v<T, TransferAction>) {
          w.u128(a.deposit);
        } else if constexpr (std::is_same_v<T, StakeAction>) {
          w.u128(a.stake);
          write_public_key(w, a.public_key);
        } else if constexpr (std::is_same_v<T, AddKeyAction>) {
          write_public_key(w, a.public_key);
          write_access_key(w, a.access_key);
        } else if constexpr (std::is_same_v<T, DeleteKeyAction>) {
          write_public_key(w, a.public_key);
        } else if constexpr (std::is_same_v<T, DeleteAccountAction>) {
          w.string(a.beneficiary_id);
        } else if constexpr (std::is_same_v<T, SignedDelegateAction>) {
          write_delegate_action(w, a.delegate_action);
          write_signature(w, a.signature);
        } else {
          static_assert(std::is_same_v<T, CreateAccountAction>, "every action needs an encoding");
        }
      },
      action);
}

void write_delegate_action(BorshWriter& w, const DelegateAction& d) {
  w.string(d.sender_id);
  w.string(d.receiver_id);
  w.count(d.actions.size());
  for (const auto& a : d.actions) write_action(w, a);
  w.u64(d.nonce);
  w.u64(d.max_block_height);
  write_public_key(w, d.public_key);
}

// Tags 0..7, shared by Action and NonDelegateAction.
template <typename ActionVariant>
core::Result<ActionVariant> read_basic_action(BorshReader& r, std::uint8_t tag) {
  switch (tag) {
    case 0: return ActionVariant{CreateAccountAction{}};
    case 1: {
      MPC_ASSIGN(auto code, r.bytes("DeployContract.code"));
      return ActionVariant{DeployContractAction{std::move(code)}};
    }
    case 2: {
      FunctionCallAction a;
      MPC_ASSIGN(a.method_name, r.string("FunctionCall.method_name"));
      MPC_ASSIGN(a.args, r.bytes("FunctionCall.args"));
      MPC_ASSIGN(a.gas, r.u64("FunctionCall.gas"));
      MPC_ASSIGN(a.deposit, r.u128("FunctionCall.deposit"));
      return ActionVariant{std::move(a)};
    }
    case 3: {
      MPC_ASSIGN(auto deposit, r.u128("Transfer.deposit"));
      return ActionVariant{TransferAction{deposit}};
    }
    case 4: {
      StakeAction a;
      MPC_ASSIGN(a.stake, r.u128("Stake.stake"));
      MPC_ASSIGN(a.public_key, read_public_key(r, "Stake.public_key"));
      return ActionVariant{std::move(a)};
    }
    case 5: {
      AddKeyAction a;
      MPC_ASSIGN(a.public_key, read_public_key(r, "AddKey.public_key"));
      MPC_ASSIGN(a.access_key, read_access_key(r));
      return ActionVariant{std::move(a)};
    }
    case 6: {
      MPC_ASSIGN(auto pk, read_public_key(r, "DeleteKey.public_key"));
      return ActionVariant{DeleteKeyAction{pk}};
    }
    case 7: {
      MPC_ASSIGN(auto b, r.string("DeleteAccount.beneficiary_id"));
      return ActionVariant{DeleteAccountAction{std::move(b)}};
    }
    default:
      return core::invalid("borsh: unsupported action tag " + std::to_string(tag) +
                           " (known: 0 CreateAccount .. 7 DeleteAccount, 8 Delegate)");
  }
}

core::Result<DelegateAction> read_delegate_action(BorshReader& r) {
  DelegateAction d;
  MPC_ASSIGN(d.sender_id, r.string("DelegateAction.sender_id"));
  MPC_ASSIGN(d.receiver_id, r.string("DelegateAction.receiver_id"));
  MPC_ASSIGN(auto n, r.count("DelegateAction.actions", 1));
  d.actions.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    MPC_ASSIGN(auto tag, r.u8("DelegateAction action tag"));
    if (tag == 8) return core::invalid("borsh: a delegate action cannot contain another delegate action (tag 8)");
    MPC_ASSIGN(auto a, read_basic_action<NonDelegateAction>(r, tag));
    d.actions.push_back(std::move(a));
  }
  MPC_ASSIGN(d.nonce, r.u64("DelegateAction.nonce"));
  MPC_ASSIGN(d.max_block_height, r.u64("DelegateAction.max_block_height"));
  MPC_ASSIGN(d.public_key, read_public_key(r, "DelegateAction.public_key"));
  return d;
}

core::Result<Action> read_action(BorshReader& r) {
  MPC_ASSIGN(auto tag, r.u8("action tag"));
  if (tag == 8) {
    SignedDelegateAction a;
    MPC_ASSIGN(a.delegate_action, read_delegate_action(r));
    MPC_ASSIGN(a.signature, read_signature(r, "Delegate.signature"));
    return Action{std::move(a)};
  }
  return read_basic_action<Action>(r, tag);
}

void write_transaction(BorshWriter& w, const Transaction& tx) {
  w.string(tx.signer_id);
  write_public_key(w, tx.public_key);
  w.u64(tx.nonce);
  w.string(tx.receiver_id);
  w.fixed(tx.block_hash);
  w.count(tx.actions.size());
  for (const auto& a : tx.actions) write_action(w, a);
}

core::Result<Transaction> read_transaction(BorshReader& r) {
  Transaction tx;
  MPC_ASSIGN(tx.signer_id, r.string("signer_id"));
  MPC_ASSIGN(tx.public_key, read_public_key(r, "public_key"));
  MPC_ASSIGN(tx.nonce, r.u64("nonce"));
  MPC_ASSIGN(tx.receiver_id, r.string("receiver_id"));
  MPC_ASSIGN(auto hash, r.fixed(32, "block_hash"));
  std::copy(hash.begin(), hash.end(), tx.block_hash.begin());
  MPC_ASSIGN(auto n, r.count("actions", 1));
  tx.actions.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    MPC_ASSIGN(auto a, read_action(r));
    tx.actions.push_back(std::move(a));
  }
  return tx;
}

}  // namespace

core::Bytes encode_transaction(const Transaction& tx) {
  BorshWriter w;
  write_transaction(w, tx);
  return w.take();
}

core::Bytes encode_signed_transaction(const SignedTransaction& stx) {
  BorshWriter w;
  write_transaction(w, stx.transaction);
  write_signature(w, stx.signature);
  return w.take();
}

core::Result<Transaction> decode_transaction(core::ByteView data) {
  if (data.size() > kMaxTransactionBytes) return core::invalid("transaction is larger than the limit");
  BorshReader r(data);
  MPC_ASSIGN(auto tx, read_transaction(r));
  MPC_TRY(r.finish());
  return tx;
}

core::Result<SignedTransaction> decode_signed_transaction(core::ByteView data) {
  if (data.size() > kMaxTransactionBytes) return core::invalid("signed transaction is larger than the limit");
  BorshReader r(data);
  SignedTransaction stx;
  MPC_ASSIGN(stx.transaction, read_transaction(r));
  MPC_ASSIGN(stx.signature, read_signature(r, "signature"));
  MPC_TRY(r.finish());
  return stx;
}

core::Hash256 transaction_hash(const Transaction& tx) { return core::sha256(encode_transaction(tx)); }

SignedTransaction sign_transaction(Transaction tx, const core::Ed25519SecretKey& key) {
  auto hash = transaction_hash(tx);
  auto sig = key.sign(hash);
  return SignedTransaction{std::move(tx), Signature{0, core::Bytes(sig.begin(), sig.end())}};
}

bool verify_signature(const SignedTransaction& stx) {
  if (stx.signature.key_type != 0 || !stx.transaction.public_key.is_ed25519()) return false;
  auto hash = transaction_hash(stx.transaction);
  return core::ed25519_verify(stx.transaction.public_key.ed25519(), hash, stx.signature.data);
}

core::Bytes encode_delegate_action(const DelegateAction& action) {
  BorshWriter w;
  write_delegate_action(w, action);
  return w.take();
}

core::Hash256 delegate_action_hash(const DelegateAction& action) {
  BorshWriter w;
  w.u32((1u << 30) + 366);  // NEP-461 prefix for NEP-366 meta transactions
  write_delegate_action(w, action);
  return core::sha256(w.data());
}

SignedDelegateAction sign_delegate_action(DelegateAction action, const core::Ed25519SecretKey& key) {
  auto sig = key.sign(delegate_action_hash(action));
  return SignedDelegateAction{std::move(action), Signature{0, core::Bytes(sig.begin(), sig.end())}};
}

bool verify_signature(const SignedDelegateAction& signed_action) {
  const auto& d = signed_action.delegate_action;
  if (signed_action.signature.key_type != 0 || !d.public_key.is_ed25519()) return false;
  return core::ed25519_verify(d.public_key.ed25519(), delegate_action_hash(d), signed_action.signature.data);
}

FunctionCallAction function_call(std::string method, std::string args_json, std::uint64_t gas, u128 deposit) {
  return FunctionCallAction{std::move(method), core::Bytes(args_json.begin(), args_json.end()), gas, deposit};
}

}  // namespace mpc::near
