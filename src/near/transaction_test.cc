#include "near/transaction.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "near/borsh.h"
#include "support/fixtures.h"

namespace mpc::near {
namespace {

// The near-api-js 5.1.1 vectors: tests/fixtures/near-api-js/transactions.json
// (its README says how each was produced; fuzz/make_seeds.cc seeds from
// them too). "function_calls": node0.sandbox -> mpc.sandbox, nonce 42, block
// hash 32 x 0x09, actions FunctionCall, Transfer, AddKey, DeleteKey,
// CreateAccount. "with_delegate": nonce 43, block hash 32 x 0x03, actions
// DeployContract, Stake, AddKey, DeleteAccount, a signed delegate.
const nlohmann::json& vectors() {
  static const nlohmann::json j = [] {
    std::ifstream in(mpc::testing::fixture_path("near-api-js/transactions.json"));
    auto parsed = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) ADD_FAILURE() << "cannot read near-api-js/transactions.json";
    return parsed;
  }();
  return j;
}
std::string vector_text(const std::string& pointer) {
  const auto ptr = nlohmann::json::json_pointer(pointer);
  return vectors().contains(ptr) ? vectors().at(ptr).get<std::string>() : std::string();
}
std::string secret_text() { return vector_text("/secret_key"); }
std::string secp_text() { return vector_text("/secp256k1_public_key"); }
std::string signed_b64(const std::string& which) { return vector_text("/transactions/" + which + "/signed_base64"); }
std::string hash_text(const std::string& which) { return vector_text("/transactions/" + which + "/hash"); }

Transaction reference_transaction() {
  auto key = *core::parse_ed25519_secret_key(secret_text());
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

Transaction reference_transaction2() {
  auto key = *core::parse_ed25519_secret_key(secret_text());
  core::NearPublicKey pk{key.public_key()};
  DelegateAction d;
  d.sender_id = "node1.sandbox";
  d.receiver_id = "mpc.sandbox";
  d.actions = {function_call("m", R"({"x":2})", 1'000'000'000'000ull, 0), TransferAction{7}};
  d.nonce = 5;
  d.max_block_height = 1000;
  d.public_key = pk;
  Transaction tx;
  tx.signer_id = "node0.sandbox";
  tx.public_key = pk;
  tx.nonce = 43;
  tx.receiver_id = "mpc.sandbox";
  tx.block_hash.fill(3);
  tx.actions.push_back(DeployContractAction{{0, 97, 115, 109}});
  tx.actions.push_back(StakeAction{1000, *core::NearPublicKey::parse(secp_text())});
  tx.actions.push_back(AddKeyAction{pk, AccessKey{0, FullAccessPermission{}}});
  tx.actions.push_back(DeleteAccountAction{"beneficiary.sandbox"});
  tx.actions.push_back(sign_delegate_action(std::move(d), key));
  return tx;
}

TEST(Transaction, EncodesTheOtherActionsAndDelegateExactlyAsNearApiJs) {
  auto key = *core::parse_ed25519_secret_key(secret_text());
  auto signed_tx = sign_transaction(reference_transaction2(), key);
  EXPECT_EQ(core::base64_encode(encode_signed_transaction(signed_tx)), signed_b64("with_delegate"));
  EXPECT_EQ(core::base58_encode(transaction_hash(signed_tx.transaction)), hash_text("with_delegate"));

  auto bytes = *core::base64_decode(signed_b64("with_delegate"));
  auto decoded = decode_signed_transaction(bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->transaction, reference_transaction2());
  EXPECT_TRUE(verify_signature(*decoded));
  // The delegate signature near-api-js made verifies under our NEP-461 hash.
  const auto& delegate = std::get<SignedDelegateAction>(decoded->transaction.actions.at(4));
  EXPECT_TRUE(verify_signature(delegate));
  auto tampered = delegate;
  tampered.delegate_action.max_block_height += 1;
  EXPECT_FALSE(verify_signature(tampered));
}

TEST(Transaction, EveryTruncationOfTheDelegateVectorIsRejected) {
  auto bytes = *core::base64_decode(signed_b64("with_delegate"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_signed_transaction(core::ByteView(bytes).first(n))) << n;
  }
}

TEST(Transaction, ADelegateInsideADelegateIsRejected) {
  BorshWriter w;
  w.string("a");
  w.u8(0);
  w.fixed(core::Bytes(32, 1));
  w.u64(1);
  w.string("b");
  w.fixed(core::Bytes(32, 2));
  w.u32(1);  // one action
  w.u8(8);   // Delegate
  w.string("s");
  w.string("r");
  w.u32(1);
  w.u8(8);  // nested Delegate
  auto r = decode_transaction(w.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("another delegate"), std::string::npos) << r.error().message;
}

TEST(Transaction, BadOptionAndPermissionTagsAreRejected) {
  auto tx = reference_transaction();
  tx.actions = {AddKeyAction{tx.public_key, AccessKey{0, FunctionCallPermission{std::nullopt, "r", {}}}}};
  auto bytes = encode_transaction(tx);
  ASSERT_TRUE(decode_transaction(bytes));
  // Layout from the end: perm tag(1) option tag(1) receiver "r"(4+1) count(4).
  auto bad_option = bytes;
  bad_option[bad_option.size() - 10] = 2;
  auto r = decode_transaction(bad_option);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Option"), std::string::npos) << r.error().message;
  auto bad_perm = bytes;
  bad_perm[bad_perm.size() - 11] = 2;
  r = decode_transaction(bad_perm);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("permission tag 2"), std::string::npos) << r.error().message;
}

TEST(Transaction, EncodeDecodeRoundTripsEveryAction) {
  auto tx = reference_transaction2();
  for (const auto& a : reference_transaction().actions) tx.actions.push_back(a);
  auto decoded = decode_transaction(encode_transaction(tx));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, tx);
  SignedTransaction secp{tx, Signature{1, core::Bytes(65, 9)}};
  auto d2 = decode_signed_transaction(encode_signed_transaction(secp));
  ASSERT_TRUE(d2) << d2.error().message;
  EXPECT_EQ(*d2, secp);
  EXPECT_FALSE(verify_signature(secp));
}

TEST(Transaction, EncodesAndSignsExactlyAsNearApiJs) {
  auto key = *core::parse_ed25519_secret_key(secret_text());
  auto signed_tx = sign_transaction(reference_transaction(), key);
  EXPECT_EQ(core::base64_encode(encode_signed_transaction(signed_tx)), signed_b64("function_calls"));
  EXPECT_EQ(core::base58_encode(transaction_hash(signed_tx.transaction)), hash_text("function_calls"));
  EXPECT_TRUE(verify_signature(signed_tx));
}

TEST(Transaction, DecodesNearApiJsBytesToTheSameValue) {
  auto bytes = *core::base64_decode(signed_b64("function_calls"));
  auto decoded = decode_signed_transaction(bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->transaction, reference_transaction());
  EXPECT_TRUE(verify_signature(*decoded));
  EXPECT_EQ(encode_signed_transaction(*decoded), bytes);
}

TEST(Transaction, TamperingBreaksTheSignature) {
  auto bytes = *core::base64_decode(signed_b64("function_calls"));
  auto decoded = *decode_signed_transaction(bytes);
  decoded.transaction.nonce = 43;
  EXPECT_FALSE(verify_signature(decoded));
}

TEST(Transaction, RejectsTruncatedInputAtEveryLength) {
  auto bytes = *core::base64_decode(signed_b64("function_calls"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_signed_transaction(core::ByteView(bytes).first(n));
    EXPECT_FALSE(r) << "accepted a prefix of " << n << " bytes";
  }
}

TEST(Transaction, RejectsTrailingBytes) {
  auto bytes = *core::base64_decode(signed_b64("function_calls"));
  bytes.push_back(0);
  auto r = decode_signed_transaction(bytes);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("trailing"), std::string::npos);
}

TEST(Transaction, RejectsUnknownActionTagsAndKeyTypes) {
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

TEST(Borsh, AHugeLengthPrefixIsRejectedWithoutAllocating) {
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

TEST(Borsh, StringsMustBeValidUtf8AsRustRequires) {
  for (const std::string& bad : {std::string("\xff"), std::string("ok\xc0\xaf"), std::string("\xed\xa0\x80"),
                                std::string("trunc\xe2\x82")}) {
    BorshWriter w;
    w.string(bad);
    BorshReader r(w.data());
    auto s = r.string("method_name");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("method_name is not valid UTF-8"), std::string::npos) << s.error().message;
  }
  BorshWriter w;
  w.string("r\xc3\xa9gion \xf0\x9f\x98\x80");
  BorshReader r(w.data());
  EXPECT_EQ(*r.string("s"), "r\xc3\xa9gion \xf0\x9f\x98\x80");
}

TEST(Transaction, AMethodNameOrAccountIdThatIsNotUtf8IsRejectedAtDecode) {
  auto key = *core::parse_ed25519_secret_key(secret_text());
  auto bad_method = reference_transaction();
  bad_method.actions = {function_call("m\xff\xfe", "{}", 1'000'000'000'000ull, 0)};
  auto r1 = decode_signed_transaction(encode_signed_transaction(sign_transaction(bad_method, key)));
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().message.find("FunctionCall.method_name is not valid UTF-8"), std::string::npos) << r1.error().message;

  auto bad_signer = reference_transaction();
  bad_signer.signer_id = "node0\x80.sandbox";
  auto r2 = decode_transaction(encode_transaction(bad_signer));
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("signer_id is not valid UTF-8"), std::string::npos) << r2.error().message;

  auto bad_receiver = reference_transaction();
  bad_receiver.receiver_id = "mpc.sandbox\xc0";
  EXPECT_FALSE(decode_transaction(encode_transaction(bad_receiver)));

  auto bad_permission = reference_transaction();
  bad_permission.actions = {AddKeyAction{bad_permission.public_key,
                                         AccessKey{0, FunctionCallPermission{std::nullopt, "mpc.sandbox", {"ok", "\xe0\x80\x80"}}}}};
  auto r3 = decode_transaction(encode_transaction(bad_permission));
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message.find("method_names[] is not valid UTF-8"), std::string::npos) << r3.error().message;
}

TEST(Borsh, IntegersAreLittleEndianAndU128RoundTrips) {
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

namespace mpc::near {
namespace {

TEST(Transaction, CorruptingAnyByteNeverCrashesAndRoundTripsWhenAccepted) {
  const auto original = *core::base64_decode(signed_b64("with_delegate"));
  for (std::size_t i = 0; i < original.size(); ++i) {
    for (std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0xff}, std::uint8_t{0x09}}) {
      auto bytes = original;
      bytes[i] = v;
      auto r = decode_signed_transaction(bytes);
      if (r) {
        EXPECT_EQ(encode_signed_transaction(*r), bytes) << "byte " << i;
      }
    }
  }
}

}  // namespace
}  // namespace mpc::near
