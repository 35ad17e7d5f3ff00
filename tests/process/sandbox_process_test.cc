// mpc-sandbox as an operator runs it: a real process, killed with SIGKILL.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/near_key.h"
#include "near/rpc_client.h"
#include "near/transaction.h"
#include "net/http_client.h"
#include "support/sandbox/test_chain.h"
#include "support/process.h"

namespace mpc {
namespace {

using near::json;
using testsupport::Child;

class SandboxProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = sandbox::testing::make_temp_dir("mpc-sandbox-proc-");
    chain_home_ = home_ / "chain";
    auto r = testsupport::run({bin_.string(), "init", "--home", chain_home_.string(), "--participants", "3", "--threshold", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  void TearDown() override {
    child_.reset();
    std::filesystem::remove_all(home_);
  }

  // Starts `run` and connects an RPC client to it.
  void start() {
    std::filesystem::remove(chain_home_ / "rpc.addr");
    child_ = std::make_unique<Child>(std::vector<std::string>{bin_.string(), "run", "--home", chain_home_.string(), "--rpc-addr",
                                                              "127.0.0.1:0", "--block-interval-ms", "100"},
                                     home_ / "sandbox.log");
    auto addr = testsupport::wait_for_file(chain_home_ / "rpc.addr", std::chrono::seconds(10));
    ASSERT_TRUE(addr) << "mpc-sandbox did not start";
    rpc_ = std::move(*near::RpcClient::create("http://" + *addr));
  }

  // One JSON-RPC body POSTed as is; the parsed answer (null if it is not JSON).
  json raw_rpc(const std::string& body) {
    auto addr = testsupport::wait_for_file(chain_home_ / "rpc.addr", std::chrono::seconds(1));
    net::HttpClient http(*net::Url::parse("http://" + addr.value_or("")));
    auto r = http.post(body);
    EXPECT_TRUE(r) << r.error().message;
    return r ? json::parse(r->body, nullptr, false) : json();
  }

  // Polls `block` until its height is above `above`, or fails loudly.
  void expect_blocks_after(std::uint64_t above) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::uint64_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto b = rpc_->final_block();
      if (b && (seen = b->height) > above) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "mpc-sandbox produced no block above " << above << " within 10 s (last seen " << seen << ")";
  }

  std::string log_tail() {
    std::ifstream in(home_ / "sandbox.log");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  // The process is still running, still answers, produces blocks and
  // executes an ordinary signed call.
  void expect_alive_and_producing(std::uint64_t height_before) {
    ASSERT_TRUE(child_->running()) << "mpc-sandbox died; its log ends with:\n" << log_tail();
    EXPECT_TRUE(rpc_->status());
    expect_blocks_after(height_before + 2);
    auto backup = core::Ed25519SecretKey::generate();
    EXPECT_TRUE(signer("node0.sandbox")->call(
        "mpc.sandbox", "register_backup_service",
        json{{"backup_service_info", {{"public_key", core::ed25519_public_key_to_string(backup.public_key())}}}}, 1));
    EXPECT_TRUE(child_->running());
    EXPECT_EQ(child_->terminate(), 0);
  }

  std::unique_ptr<near::Signer> signer(const std::string& account) {
    auto c = core::read_credentials_file(chain_home_ / "credentials" / (account + ".json"));
    return std::make_unique<near::Signer>(*rpc_, c->account_id, std::move(c->secret_key));
  }

  std::filesystem::path bin_ = testsupport::binary("apps/mpc-sandbox");
  std::filesystem::path home_;
  std::filesystem::path chain_home_;
  std::unique_ptr<Child> child_;
  std::unique_ptr<near::RpcClient> rpc_;
};

TEST_F(SandboxProcess, AnExecutedTransactionSurvivesKill9) {
  start();
  auto backup = core::Ed25519SecretKey::generate();
  const std::string backup_text = core::ed25519_public_key_to_string(backup.public_key());
  auto out = signer("node0.sandbox")->call("mpc.sandbox", "register_backup_service",
                                           json{{"backup_service_info", {{"public_key", backup_text}}}}, 1);
  ASSERT_TRUE(out) << out.error().message;
  const auto height = rpc_->final_block()->height;
  child_->kill_hard();  // no chance to flush anything

  start();
  EXPECT_GE(rpc_->final_block()->height, height);
  auto info = rpc_->view("mpc.sandbox", "migration_info");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ((*info)["node0.sandbox"][0]["public_key"], backup_text);
  // The nonce survived too: signing continues from where it was.
  EXPECT_TRUE(signer("node0.sandbox")->call("mpc.sandbox", "register_backup_service",
                                            json{{"backup_service_info", {{"public_key", backup_text}}}}, 1));
  EXPECT_EQ(child_->terminate(), 0);
}

std::string text_at(const json& j, const char* pointer) {
  const json::json_pointer p(pointer);
  return j.is_object() && j.contains(p) && j[p].is_string() ? j[p].get<std::string>() : std::string();
}

TEST_F(SandboxProcess, ARequestNested100000DeepGetsAParseErrorAndBlocksGoOn) {
  start();
  const auto height = rpc_->final_block()->height;
  // ~200 KB nested 100,000 deep: it used to overflow mpc-sandbox's stack.
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto answer = raw_rpc(R"({"jsonrpc":"2.0","id":1,"method":"query","params":)" + deep + "}");
  EXPECT_EQ(text_at(answer, "/error/cause/name"), "PARSE_ERROR") << answer.dump().substr(0, 400);
  EXPECT_EQ(text_at(answer, "/error/data"), "the request body: JSON nested deeper than 64 levels");
  expect_alive_and_producing(height);
}

TEST_F(SandboxProcess, ATransactionWhoseMethodNameIsNotUtf8IsRejectedAndBlocksGoOn) {
  start();
  const auto height = rpc_->final_block()->height;
  // It used to be accepted, and recording its outcome threw out of the block timer.
  auto creds = core::read_credentials_file(chain_home_ / "credentials" / "node0.sandbox.json");
  ASSERT_TRUE(creds) << creds.error().message;
  const core::NearPublicKey pk{creds->secret_key.public_key()};
  near::Transaction tx;
  tx.signer_id = "node0.sandbox";
  tx.public_key = pk;
  tx.nonce = rpc_->view_access_key("node0.sandbox", pk)->nonce + 1;
  tx.receiver_id = "mpc.sandbox";
  tx.block_hash = rpc_->final_block()->hash;
  tx.actions = {near::function_call("register_backup_service\xff\xc0", "{}", 100'000'000'000'000ull, 1)};
  const std::string b64 = core::base64_encode(near::encode_signed_transaction(near::sign_transaction(tx, creds->secret_key)));
  auto answer = raw_rpc(json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "send_tx"},
                             {"params", {{"signed_tx_base64", b64}, {"wait_until", "FINAL"}}}}.dump());
  EXPECT_EQ(text_at(answer, "/error/cause/name"), "INVALID_TRANSACTION") << answer.dump();
  EXPECT_NE(text_at(answer, "/error/cause/info/error_message").find("method_name is not valid UTF-8"), std::string::npos)
      << answer.dump();
  expect_alive_and_producing(height);
}

TEST_F(SandboxProcess, ContractArgumentsNested100000DeepFailTheCallAndBlocksGoOn) {
  start();
  const auto height = rpc_->final_block()->height;
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto out = signer("node0.sandbox")->send(
      "mpc.sandbox", {near::function_call("register_backup_service", "{\"backup_service_info\":" + deep + "}",
                                          100'000'000'000'000ull, 1)});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, core::ErrorCode::kContractPanic) << out.error().message;
  EXPECT_NE(out.error().message.find("JSON nested deeper than 64 levels"), std::string::npos) << out.error().message;
  expect_alive_and_producing(height);
}

TEST_F(SandboxProcess, SigtermExitsCleanlyAndRemovesTheAddressFile) {
  start();
  EXPECT_EQ(child_->terminate(), 0);
  EXPECT_FALSE(std::filesystem::exists(chain_home_ / "rpc.addr"));
}

TEST_F(SandboxProcess, InitRefusesToOverwriteAnExistingChain) {
  auto before = std::filesystem::last_write_time(chain_home_ / "genesis.json");
  auto r = testsupport::run({bin_.string(), "init", "--home", chain_home_.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("refusing to overwrite"), std::string::npos) << r.output;
  EXPECT_EQ(std::filesystem::last_write_time(chain_home_ / "genesis.json"), before);
}

TEST_F(SandboxProcess, RunWithoutAChainOrOnABusyPortFailsClearly) {
  auto missing = testsupport::run({bin_.string(), "run", "--home", (home_ / "nothing").string(), "--rpc-addr", "127.0.0.1:0"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("mpc-sandbox init"), std::string::npos) << missing.output;

  start();
  auto addr = testsupport::wait_for_file(chain_home_ / "rpc.addr", std::chrono::seconds(1));
  auto second_home = home_ / "second";
  ASSERT_EQ(testsupport::run({bin_.string(), "init", "--home", second_home.string()}).exit_code, 0);
  auto busy = testsupport::run({bin_.string(), "run", "--home", second_home.string(), "--rpc-addr", *addr});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.output.find("another process is using this port"), std::string::npos) << busy.output;

  auto bad_addr = testsupport::run({bin_.string(), "run", "--home", chain_home_.string(), "--rpc-addr", "127.0.0.1"});
  EXPECT_NE(bad_addr.exit_code, 0);
  EXPECT_NE(bad_addr.output.find("HOST:PORT"), std::string::npos) << bad_addr.output;
}

TEST_F(SandboxProcess, InitSetsTheContractsKeyEventTimeout) {
  auto target = home_ / "timeout";
  auto r = testsupport::run({bin_.string(), "init", "--home", target.string(), "--key-event-timeout-blocks", "120"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(target / "genesis.json");
  const json genesis = json::parse(in);
  EXPECT_EQ(genesis["contract_state"]["config"], (json{{"key_event_timeout_blocks", 120}}));
  EXPECT_TRUE(genesis["contract_state"]["protocol_state"].contains("Running"));
  // The contract serves it: the `config` view.
  chain_home_ = target;
  start();
  auto config = rpc_->view("mpc.sandbox", "config");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(*config, (json{{"key_event_timeout_blocks", 120}}));

  auto negative = testsupport::run({bin_.string(), "init", "--home", (home_ / "negative").string(), "--key-event-timeout-blocks", "-1"});
  EXPECT_NE(negative.exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(home_ / "negative" / "chain.sqlite"));
  auto with_genesis = testsupport::run({bin_.string(), "init", "--home", (home_ / "both").string(), "--genesis",
                                        (target / "genesis.json").string(), "--key-event-timeout-blocks", "5"});
  EXPECT_NE(with_genesis.exit_code, 0);
  EXPECT_NE(with_genesis.output.find("excludes"), std::string::npos) << with_genesis.output;
}

TEST_F(SandboxProcess, ABadGenesisFileIsRejectedAndCreatesNoChain) {
  auto genesis = home_ / "genesis.json";
  std::ofstream(genesis) << R"({"accounts":[{"account_id":"Bad Account"}]})";
  auto target = home_ / "from-genesis";
  auto r = testsupport::run({bin_.string(), "init", "--home", target.string(), "--genesis", genesis.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("account_id"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(target / "chain.sqlite"));
}

}  // namespace
}  // namespace mpc
