// Transaction validation as pure functions: every rejection kind from a
// hand-built transaction and chain view, with NEAR's JSON form and message.
#include "sandbox/validation.h"

#include <gtest/gtest.h>

#include <functional>

namespace mpc::sandbox {
namespace {

core::Ed25519SecretKey key(std::uint8_t tag) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(tag);
  return *core::Ed25519SecretKey::from_seed(seed);
}

core::NearPublicKey public_key(std::uint8_t tag) { return core::NearPublicKey{key(tag).public_key()}; }

constexpr std::uint64_t kHead = 10;
const std::string kSigner = "alice.sandbox";
const std::string kContract = "mpc.sandbox";

// A transaction alice may send to the contract at block kHead + 1.
near::Transaction valid_tx() {
  near::Transaction tx;
  tx.signer_id = kSigner;
  tx.public_key = public_key(1);
  tx.nonce = 5;
  tx.receiver_id = kContract;
  tx.block_hash.fill(0x42);
  tx.actions = {near::function_call("register_backup_service", "{}", 30'000'000'000'000ull, 1)};
  return tx;
}

Account alice() {
  Account a;
  a.balance = 1000;
  a.keys[public_key(1)] = AccessKeyEntry{4, KeyPermission{}};
  KeyPermission fc;
  fc.full_access = false;
  fc.receiver_id = kContract;
  fc.method_names = {"conclude_node_migration"};
  a.keys[public_key(2)] = AccessKeyEntry{4, fc};
  return a;
}

struct Case {
  std::string name;
  std::function<void(near::Transaction&, ChainView&, Account&)> change;
  std::string json;     // NEAR's InvalidTxError
  std::string message;
};

std::expected<TxCost, InvalidTx> validate(const Case& c) {
  near::Transaction tx = valid_tx();
  Account signer = alice();
  ChainView view{&signer, kHead, kHead - 1, 100};
  c.change(tx, view, signer);
  return validate_transaction(tx, view);
}

const std::string kUnsupported =
    "mpc-sandbox hosts only its built-in MPC contract and supports the actions CreateAccount, FunctionCall, Transfer, "
    "AddKey, DeleteKey and DeleteAccount";

const std::vector<Case>& rejections() {
  static const std::vector<Case> cases = {
      {"invalid signer id", [](auto& tx, auto&, auto&) { tx.signer_id = "Not Valid"; },
       R"({"InvalidSignerId":{"signer_id":"Not Valid"}})", "signer id Not Valid is not a valid account id"},
      {"invalid receiver id", [](auto& tx, auto&, auto&) { tx.receiver_id = "-bad-"; },
       R"({"InvalidReceiverId":{"receiver_id":"-bad-"}})", "receiver id -bad- is not a valid account id"},
      {"signer does not exist", [](auto&, auto& view, auto&) { view.signer = nullptr; },
       R"({"SignerDoesNotExist":{"signer_id":"alice.sandbox"}})", "signer account alice.sandbox does not exist"},
      {"access key not found", [](auto& tx, auto&, auto&) { tx.public_key = public_key(3); },
       R"({"InvalidAccessKeyError":{"AccessKeyNotFound":{"account_id":"alice.sandbox","public_key":")" +
           public_key(3).to_string() + R"("}}})",
       "access key " + public_key(3).to_string() + " does not exist on account alice.sandbox"},
      {"nonce not above the key's", [](auto& tx, auto&, auto&) { tx.nonce = 4; },
       R"({"InvalidNonce":{"ak_nonce":4,"tx_nonce":4}})", "nonce 4 must be greater than the access key's nonce 4"},
      {"nonce beyond a million per block", [](auto& tx, auto&, auto&) { tx.nonce = 11'000'000; },
       R"({"NonceTooLarge":{"tx_nonce":11000000,"upper_bound":11000000}})",
       "nonce 11000000 is larger than the upper bound 11000000 given by the block height"},
      {"unknown block", [](auto&, auto& view, auto&) { view.reference_height.reset(); }, R"("Expired")",
       "the transaction's block hash is not a block of this chain"},
      {"block too old", [](auto&, auto& view, auto&) { view.tx_validity_blocks = 0; }, R"("Expired")",
       "the transaction's block hash is too old; sign it again with a recent block"},
      {"no actions", [](auto& tx, auto&, auto&) { tx.actions.clear(); }, R"({"ActionsValidation":"EmptyActions"})",
       "the transaction has no actions"},
      {"deploy contract", [](auto& tx, auto&, auto&) { tx.actions = {near::DeployContractAction{core::Bytes{1}}}; },
       R"({"ActionsValidation":{"UnsupportedAction":{"DeployContract":{"code":"S/USLzRFVMU73i67jNK349FgCtYxw4Wl18ziPHeFRZo="}}}})",
       kUnsupported},
      {"stake", [](auto& tx, auto&, auto&) { tx.actions = {near::TransferAction{1}, near::StakeAction{7, public_key(1)}}; },
       R"({"ActionsValidation":{"UnsupportedAction":{"Stake":{"public_key":")" + public_key(1).to_string() +
           R"(","stake":"7"}}}})",
       kUnsupported},
      {"delegate action", [](auto& tx, auto&, auto&) { tx.actions = {near::SignedDelegateAction{}}; },
       R"({"ActionsValidation":{"UnsupportedAction":"Unsupported"}})", kUnsupported},
      {"more than 300 Tgas",
       [](auto& tx, auto&, auto&) {
         tx.actions = {near::function_call("a", "{}", 200'000'000'000'000ull), near::function_call("b", "{}", 100'000'000'000'001ull)};
       },
       R"({"ActionsValidation":{"TotalPrepaidGasExceeded":{"limit":300000000000000,"total_prepaid_gas":300000000000001}}})",
       "the transaction attaches more than 300 Tgas"},
      {"function-call key, two actions",
       [](auto& tx, auto&, auto&) {
         tx.public_key = public_key(2);
         tx.actions = {near::function_call("conclude_node_migration", "{}"), near::function_call("conclude_node_migration", "{}")};
       },
       R"({"InvalidAccessKeyError":"RequiresFullAccess"})", "a function-call access key can sign only a single FunctionCall action"},
      {"function-call key, other receiver",
       [](auto& tx, auto&, auto&) {
         tx.public_key = public_key(2);
         tx.receiver_id = "bob.sandbox";
         tx.actions = {near::function_call("conclude_node_migration", "{}")};
       },
       R"({"InvalidAccessKeyError":{"ReceiverMismatch":{"ak_receiver":"mpc.sandbox","tx_receiver":"bob.sandbox"}}})",
       "this function-call access key may call only mpc.sandbox, not bob.sandbox"},
      {"function-call key with a deposit",
       [](auto& tx, auto&, auto&) {
         tx.public_key = public_key(2);
         tx.actions = {near::function_call("conclude_node_migration", "{}", 1'000, 1)};
       },
       R"({"InvalidAccessKeyError":"DepositWithFunctionCall"})",
       "a function-call access key cannot attach a deposit; use a full-access key"},
      {"function-call key, other method",
       [](auto& tx, auto&, auto&) {
         tx.public_key = public_key(2);
         tx.actions = {near::function_call("vote_pk", "{}")};
       },
       R"({"InvalidAccessKeyError":{"MethodNameMismatch":{"method_name":"vote_pk"}}})",
       "this function-call access key may not call method vote_pk"},
      {"deposits beyond the balance", [](auto& tx, auto&, auto&) { tx.actions = {near::TransferAction{600}, near::TransferAction{401}}; },
       R"({"NotEnoughBalance":{"balance":"1000","cost":"1001","signer_id":"alice.sandbox"}})",
       "account alice.sandbox cannot pay the attached deposits"},
  };
  return cases;
}

TEST(TxValidation, AValidTransactionPassesAndCostsItsDepositsAndGas) {
  near::Transaction tx = valid_tx();
  tx.actions.push_back(near::TransferAction{10});
  Account signer = alice();
  auto cost = validate_transaction(tx, ChainView{&signer, kHead, kHead, 100});
  ASSERT_TRUE(cost) << cost.error().message();
  EXPECT_EQ(cost->deposits, 11u);
  EXPECT_EQ(cost->prepaid_gas, 30'000'000'000'000ull);
}

TEST(TxValidation, EachRejectionKindHasNearsJsonAndAMessageNamingWhatIsWrong) {
  for (const auto& c : rejections()) {
    SCOPED_TRACE(c.name);
    auto r = validate(c);
    ASSERT_FALSE(r) << "accepted";
    EXPECT_EQ(r.error().to_json().dump(), json::parse(c.json).dump());
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(TxValidation, RejectionsAreTyped) {
  auto kind_of = [](const std::string& name) {
    for (const auto& c : rejections()) {
      if (c.name == name) return validate(c).error();
    }
    throw std::logic_error("no case " + name);
  };
  EXPECT_TRUE(kind_of("nonce not above the key's").is<invalid_tx::InvalidNonce>());
  EXPECT_TRUE(kind_of("unknown block").is<invalid_tx::Expired>());
  EXPECT_TRUE(kind_of("stake").is<invalid_tx::UnsupportedAction>());
  EXPECT_TRUE(kind_of("function-call key, other method").is<invalid_tx::MethodNameMismatch>());
  EXPECT_TRUE(kind_of("deposits beyond the balance").is<invalid_tx::NotEnoughBalance>());
}

TEST(TxValidation, TheSignersKeyNonceAndBlockAreCheckedBeforeTheActions) {
  // The order the sandbox has always reported rejections in.
  near::Transaction tx = valid_tx();
  tx.actions.clear();
  Account signer = alice();
  EXPECT_TRUE(validate_transaction(tx, ChainView{nullptr, kHead, kHead, 100}).error().is<invalid_tx::SignerDoesNotExist>());
  tx.nonce = 1;
  EXPECT_TRUE(validate_transaction(tx, ChainView{&signer, kHead, kHead, 100}).error().is<invalid_tx::InvalidNonce>());
  tx.nonce = 5;
  EXPECT_TRUE(validate_transaction(tx, ChainView{&signer, kHead, std::nullopt, 100}).error().is<invalid_tx::Expired>());
  EXPECT_TRUE(validate_transaction(tx, ChainView{&signer, kHead, kHead, 100}).error().is<invalid_tx::EmptyActions>());
}

TEST(TxValidation, ABlockExactlyAtTheValidityLimitIsNotExpired) {
  near::Transaction tx = valid_tx();
  Account signer = alice();
  EXPECT_TRUE(validate_transaction(tx, ChainView{&signer, kHead, kHead - 3, 3}));
  EXPECT_TRUE(validate_transaction(tx, ChainView{&signer, kHead, kHead - 4, 3}).error().is<invalid_tx::Expired>());
}

TEST(TxValidation, TheNonceBoundSaturatesInsteadOfWrapping) {
  EXPECT_EQ(nonce_upper_bound(3), 3'000'000u);
  EXPECT_EQ(nonce_upper_bound(std::numeric_limits<std::uint64_t>::max() / 1000), std::numeric_limits<std::uint64_t>::max());
}

TEST(TxSignature, ASignedTransactionVerifiesAndAChangedOneDoesNot) {
  auto stx = near::sign_transaction(valid_tx(), key(1));
  EXPECT_FALSE(check_signature(stx));
  stx.transaction.nonce += 1;
  auto bad = check_signature(stx);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->to_json(), "InvalidSignature");
  EXPECT_EQ(bad->message(), "the transaction signature does not verify against its public key");
}

TEST(TxSignature, AKeyThatIsNotEd25519IsRefused) {
  auto stx = near::sign_transaction(valid_tx(), key(1));
  core::Secp256k1PublicKey secp{};
  secp.bytes[0] = 4;
  stx.transaction.public_key = core::NearPublicKey{secp};
  auto bad = check_signature(stx);
  ASSERT_TRUE(bad);
  EXPECT_TRUE(bad->is<invalid_tx::InvalidSignature>());
  EXPECT_EQ(bad->message(), "only ed25519 access keys are supported by mpc-sandbox");
}

TEST(TxRejection, UndecodableBytesRenderAsDeserialization) {
  InvalidTx e{invalid_tx::Deserialization{"borsh: truncated input"}};
  EXPECT_EQ(e.to_json(), "Deserialization");
  EXPECT_EQ(e.message(), "the transaction could not be decoded: borsh: truncated input");
}

}  // namespace
}  // namespace mpc::sandbox
