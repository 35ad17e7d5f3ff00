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

void write_action(BorshWriter& w, const Action& action) {
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
          w.u64(a.access_key.nonce);
          if (auto* fc = std::get_if<FunctionCallPermission>(&a.access_key.permission)) {
            w.u8(0);
            w.u8(fc->allowance ? 1 : 0);
            if (fc->allowance) w.u128(*fc->allowance);
            w.string(fc->receiver_id);
            w.u32(static_cast<std::uint32_t>(fc->method_names.size()));
            for (const auto& m : fc->method_names) w.string(m);
          } else {
            w.u8(1);
          }
        } else if constexpr (std::is_same_v<T, DeleteKeyAction>) {
          write_public_key(w, a.public_key);
        } else if constexpr (std::is_same_v<T, DeleteAccountAction>) {
          w.string(a.beneficiary_id);
        }
      },
      action);
}

core::Result<Action> read_action(BorshReader& r) {
  MPC_ASSIGN(auto tag, r.u8("action tag"));
  switch (tag) {
    case 0: return Action{CreateAccountAction{}};
    case 1: {
      MPC_ASSIGN(auto code, r.bytes("DeployContract.code"));
      return Action{DeployContractAction{std::move(code)}};
    }
    case 2: {
      FunctionCallAction a;
      MPC_ASSIGN(a.method_name, r.string("FunctionCall.method_name"));
      MPC_ASSIGN(a.args, r.bytes("FunctionCall.args"));
      MPC_ASSIGN(a.gas, r.u64("FunctionCall.gas"));
      MPC_ASSIGN(a.deposit, r.u128("FunctionCall.deposit"));
      return Action{std::move(a)};
    }
    case 3: {
      MPC_ASSIGN(auto deposit, r.u128("Transfer.deposit"));
      return Action{TransferAction{deposit}};
    }
    case 4: {
      StakeAction a;
      MPC_ASSIGN(a.stake, r.u128("Stake.stake"));
      MPC_ASSIGN(a.public_key, read_public_key(r, "Stake.public_key"));
      return Action{std::move(a)};
    }
    case 5: {
      AddKeyAction a;
      MPC_ASSIGN(a.public_key, read_public_key(r, "AddKey.public_key"));
      MPC_ASSIGN(a.access_key.nonce, r.u64("AddKey.access_key.nonce"));
      MPC_ASSIGN(auto perm, r.u8("AddKey.access_key.permission"));
      if (perm == 1) {
        a.access_key.permission = FullAccessPermission{};
      } else if (perm == 0) {
        FunctionCallPermission p;
        MPC_ASSIGN(auto has_allowance, r.u8("AddKey permission allowance option"));
        if (has_allowance > 1) return core::invalid("borsh: invalid Option tag in AddKey allowance");
        if (has_allowance == 1) {
          MPC_ASSIGN(p.allowance, r.u128("AddKey permission allowance"));
        }
        MPC_ASSIGN(p.receiver_id, r.string("AddKey permission receiver_id"));
        MPC_ASSIGN(auto n, r.count("AddKey permission method_names", 4));
        for (std::uint32_t i = 0; i < n; ++i) {
          MPC_ASSIGN(auto m, r.string("AddKey permission method name"));
          p.method_names.push_back(std::move(m));
        }
        a.access_key.permission = std::move(p);
      } else {
        return core::invalid("borsh: unknown access key permission tag " + std::to_string(perm));
      }
      return Action{std::move(a)};
    }
    case 6: {
      MPC_ASSIGN(auto pk, read_public_key(r, "DeleteKey.public_key"));
      return Action{DeleteKeyAction{pk}};
    }
    case 7: {
      MPC_ASSIGN(auto b, r.string("DeleteAccount.beneficiary_id"));
      return Action{DeleteAccountAction{std::move(b)}};
    }
    default:
      return core::invalid("borsh: unsupported action tag " + std::to_string(tag) +
                           " (supported: 0 CreateAccount .. 7 DeleteAccount)");
  }
}

void write_transaction(BorshWriter& w, const Transaction& tx) {
  w.string(tx.signer_id);
  write_public_key(w, tx.public_key);
  w.u64(tx.nonce);
  w.string(tx.receiver_id);
  w.fixed(tx.block_hash);
  w.u32(static_cast<std::uint32_t>(tx.actions.size()));
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
  w.u8(stx.signature.key_type);
  w.fixed(stx.signature.data);
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
  MPC_ASSIGN(stx.signature.key_type, r.u8("signature key type"));
  if (stx.signature.key_type == 0) {
    MPC_ASSIGN(auto sig, r.fixed(64, "ed25519 signature"));
    stx.signature.data.assign(sig.begin(), sig.end());
  } else if (stx.signature.key_type == 1) {
    MPC_ASSIGN(auto sig, r.fixed(65, "secp256k1 signature"));
    stx.signature.data.assign(sig.begin(), sig.end());
  } else {
    return core::invalid("borsh: unknown signature key type " + std::to_string(stx.signature.key_type));
  }
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

FunctionCallAction function_call(std::string method, std::string args_json, std::uint64_t gas, u128 deposit) {
  return FunctionCallAction{std::move(method), core::Bytes(args_json.begin(), args_json.end()), gas, deposit};
}

}  // namespace mpc::near
