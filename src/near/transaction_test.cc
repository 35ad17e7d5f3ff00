#include "near/transaction.h"

#include <gtest/gtest.h>

#include "near/borsh.h"

namespace mpc::near {
namespace {

// Produced with near-api-js 5.1.1 (tests/compat's dependency): a transaction
// from node0.sandbox to mpc.sandbox, nonce 42, block hash 32 x 0x09, signed
// by the key whose seed is 32 x 0x07, with actions FunctionCall
// register_backup_service {"a":1} 30 Tgas deposit 1, Transfer 5,
// AddKey (function-call key: allowance 10, mpc.sandbox, [m1, m2]),
// DeleteKey, CreateAccount, signed with transactions.signTransaction and an
// InMemorySigner. encode() gave the signed bytes below and
// baseEncode(sha256(tx)) the hash.
constexpr const char* kSecret =
    "ed25519:99eUso3aSbE9tqGSTXzo3TLfKb9RkMTURrHKQ1K7Zh3StnzFNUx8FKCPPPPpR479qsw5zv2WNBKmgiz7WqgAJfM";
constexpr const char* kSignedB64 =
    "DQAAAG5vZGUwLnNhbmRib3gA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iwqAAAAAAAAAAsAAABtcGMuc2FuZGJveAkJCQkJCQkJCQkJCQkJ"
    "CQkJCQkJCQkJCQkJCQkJCQkJBQAAAAIXAAAAcmVnaXN0ZXJfYmFja3VwX3NlcnZpY2UHAAAAeyJhIjoxfQDgV+tIGwAAAQAAAAAAAAAAAAAAAAAAAAMF"
    "AAAAAAAAAAAAAAAAAAAABQDqSmxj4pxSCr71UHsTLsX5lUd2rr6+e5JCHuppFEbSLAAAAAAAAAAAAAEKAAAAAAAAAAAAAAAAAAAACwAAAG1wYy5zYW5k"
    "Ym94AgAAAAIAAABtMQIAAABtMgYA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iwAABLeRAPByqre4lC2AiQte7eNd5aZh8OBL3WlAAesG5bc"
    "6vXe+miR5HDtVsocpZ4FZPb79og0g7XZ1buNfbMw1Ag=";
constexpr const char* kHash = "5DvhNDZNUbwhhXMqG4VGjpZ6agqX649HC7iz2hfCKfng";

Transaction reference_transaction() {
  auto key = *core::parse_ed25519_secret_key(kSecret);
  core::NearPublicKey pk{key.public_key()};
  Transaction tx;
  tx.signer_id = "node0.sandbox";
  tx.public_key = pk;
  tx.nonce = 42;
  tx.receiver_id = "mpc.sandbox";
  tx.block_hash.fill(9);
  tx.actions.push_back(function_call("register_backup_service", R"({"a":1})", 30'000'000'000'000ull, 1));
  tx.actions.push_back(TransferAction{5});
  tx.actions.push_back(AddKeyAction{pk, AccessKey{0, FunctionCallPermission{10, "mpc.sandbox", {"m1", "m2"}}}});
  tx.actions.push_back(DeleteKeyAction{pk});
  tx.actions.push_back(CreateAccountAction{});
  return tx;
}

TEST(Transaction, encodes_and_signs_exactly_as_near_api_js) {
  auto key = *core::parse_ed25519_secret_key(kSecret);
  auto signed_tx = sign_transaction(reference_transaction(), key);
  EXPECT_EQ(core::base64_encode(encode_signed_transaction(signed_tx)), kSignedB64);
  EXPECT_EQ(core::base58_encode(transaction_hash(signed_tx.transaction)), kHash);
  EXPECT_TRUE(verify_signature(signed_tx));
}

TEST(Transaction, decodes_near_api_js_bytes_to_the_same_value) {
  auto bytes = *core::base64_decode(kSignedB64);
  auto decoded = decode_signed_transaction(bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->transaction, reference_transaction());
  EXPECT_TRUE(verify_signature(*decoded));
  EXPECT_EQ(encode_signed_transaction(*decoded), bytes);
}

TEST(Transaction, tampering_breaks_the_signature) {
  auto bytes = *core::base64_decode(kSignedB64);
  auto decoded = *decode_signed_transaction(bytes);
  decoded.transaction.nonce = 43;
  EXPECT_FALSE(verify_signature(decoded));
}

TEST(Transaction, rejects_truncated_input_at_every_length) {
  auto bytes = *core::base64_decode(kSignedB64);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_signed_transaction(core::ByteView(bytes).first(n));
    EXPECT_FALSE(r) << "accepted a prefix of " << n << " bytes";
  }
}

TEST(Transaction, rejects_trailing_bytes) {
  auto bytes = *core::base64_decode(kSignedB64);
  bytes.push_back(0);
  auto r = decode_signed_transaction(bytes);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("trailing"), std::string::npos);
}

TEST(Transaction, rejects_unknown_action_tags_and_key_types) {
  auto tx = reference_transaction();
  tx.actions = {TransferAction{1}};
  auto bytes = encode_transaction(tx);
  // The action tag sits right after the u32 action count, 17 bytes from the end.
  bytes[bytes.size() - 17] = 9;
  auto r = decode_transaction(bytes);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("action tag 9"), std::string::npos);
  auto bytes2 = encode_transaction(tx);
  bytes2[4 + tx.signer_id.size()] = 7;  // key type
  EXPECT_FALSE(decode_transaction(bytes2));
}

TEST(Borsh, a_huge_length_prefix_is_rejected_without_allocating) {
  BorshWriter w;
  w.string("a");
  w.u8(0);
  w.fixed(core::Bytes(32, 1));
  w.u64(1);
  w.string("b");
  w.fixed(core::Bytes(32, 2));
  w.u32(0xffffffffu);  // action count
  auto r = decode_transaction(w.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("claims"), std::string::npos);
  BorshReader reader(core::Bytes{0xff, 0xff, 0xff, 0x7f, 1});
  EXPECT_FALSE(reader.bytes("blob"));
}

TEST(Borsh, integers_are_little_endian_and_u128_round_trips) {
  BorshWriter w;
  w.u32(0x01020304);
  w.u128((static_cast<core::u128>(0x1122334455667788ull) << 64) | 0x99aabbccddeeff00ull);
  EXPECT_EQ(core::hex_encode(w.data()), "0403020100ffeeddccbbaa998877665544332211");
  BorshReader r(w.data());
  EXPECT_EQ(*r.u32("a"), 0x01020304u);
  EXPECT_EQ(static_cast<std::uint64_t>(*r.u128("b") >> 64), 0x1122334455667788ull);
  EXPECT_TRUE(r.finish());
}

}  // namespace
}  // namespace mpc::near
