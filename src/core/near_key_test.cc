#include "core/near_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/file_util.h"

namespace mpc::core {
namespace {

TEST(NearPublicKey, ParsesAndFormatsBothCurves) {
  // From the mainnet fixture.
  const std::string ed = "ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF";
  const std::string secp =
      "secp256k1:3tFRbMqmoa6AAALMrEFAYCEoHcqKxeW38YptwowBVBtXK1vo36HDbUWuR6EZmoK4JcH6HDkNMGGqP1ouV7VZUWya";
  auto a = NearPublicKey::parse(ed);
  auto b = NearPublicKey::parse(secp);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->is_ed25519());
  EXPECT_FALSE(b->is_ed25519());
  EXPECT_EQ(a->to_string(), ed);
  EXPECT_EQ(b->to_string(), secp);
}

TEST(NearPublicKey, RejectsMissingPrefixWrongLengthAndBadBase58) {
  EXPECT_FALSE(NearPublicKey::parse("G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF"));
  EXPECT_FALSE(NearPublicKey::parse("ed25519:abc"));
  EXPECT_FALSE(NearPublicKey::parse("ed25519:0OIl"));
  EXPECT_FALSE(NearPublicKey::parse("secp256k1:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF"));
  EXPECT_FALSE(parse_ed25519_public_key("secp256k1:3tFRbMqmoa6AAALMrEFAYCEoHcqKxeW38YptwowBVBtXK1vo36HDbUWuR6EZmoK4JcH6HDkNMGGqP1ouV7VZUWya"));
}

TEST(NearSecretKey, RoundTripsAndNeverEchoesInput) {
  auto key = Ed25519SecretKey::generate();
  auto text = ed25519_secret_key_to_string(key);
  auto back = parse_ed25519_secret_key(text.reveal());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->public_key(), key.public_key());
  std::string bad = text.reveal();
  bad.back() = bad.back() == '2' ? '3' : '2';  // public half no longer matches
  auto r = parse_ed25519_secret_key(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find(bad.substr(8)), std::string::npos);
}

TEST(AccountId, FollowsNearRules) {
  EXPECT_TRUE(is_valid_account_id("node0.sandbox"));
  EXPECT_TRUE(is_valid_account_id("mpc-lgns.near"));
  EXPECT_TRUE(is_valid_account_id("a_b"));
  EXPECT_FALSE(is_valid_account_id("a"));
  EXPECT_FALSE(is_valid_account_id("Upper.near"));
  EXPECT_FALSE(is_valid_account_id(".near"));
  EXPECT_FALSE(is_valid_account_id("a..near"));
  EXPECT_FALSE(is_valid_account_id("near."));
  EXPECT_FALSE(is_valid_account_id(std::string(65, 'a')));
}

class CredentialsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mpc-cred-test-" + hex_encode(random_bytes(6)));
    ASSERT_TRUE(ensure_directory(dir_));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(CredentialsFile, Writes0600ReadsBackAndRefusesToOverwrite) {
  auto path = dir_ / "node0.sandbox.json";
  NearCredentials creds{"node0.sandbox", Ed25519SecretKey::generate()};
  ASSERT_TRUE(write_credentials_file(path, creds));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_credentials_file(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->account_id, "node0.sandbox");
  EXPECT_EQ(back->secret_key.public_key(), creds.secret_key.public_key());
  auto again = write_credentials_file(path, NearCredentials{"node0.sandbox", Ed25519SecretKey::generate()});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(read_credentials_file(path)->secret_key.public_key(), creds.secret_key.public_key());
}

TEST_F(CredentialsFile, RejectsMalformedFilesWithClearErrors) {
  auto write = [&](const char* name, const std::string& text) {
    auto p = dir_ / name;
    EXPECT_TRUE(write_file_exclusive(p, as_bytes(text)));
    return p;
  };
  auto key = Ed25519SecretKey::generate();
  auto sk = ed25519_secret_key_to_string(key);
  EXPECT_FALSE(read_credentials_file(write("a", "not json")));
  EXPECT_FALSE(read_credentials_file(write("b", R"({"account_id":"x.near"})")));
  EXPECT_FALSE(read_credentials_file(write("c", "{\"account_id\":\"BAD\",\"private_key\":\"" + sk.reveal() + "\"}")));
  auto other = ed25519_public_key_to_string(Ed25519SecretKey::generate().public_key());
  auto r = read_credentials_file(write("d", "{\"account_id\":\"x.near\",\"public_key\":\"" + other +
                                                "\",\"private_key\":\"" + sk.reveal() + "\"}"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos);
  EXPECT_EQ(r.error().message.find(sk.reveal().substr(8)), std::string::npos);
  EXPECT_EQ(read_credentials_file(dir_ / "missing").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mpc::core
