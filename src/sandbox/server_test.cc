// The sandbox's io threads are catch-and-log boundaries; stopping it seals
// and answers what was accepted.
#include "sandbox/server.h"

#include <gtest/gtest.h>

#include <future>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "support/sandbox/test_chain.h"

namespace mpc::sandbox {
namespace {

TEST(SandboxServer, AnIoThreadSurvivesAHandlerThatThrows) {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::promise<void> later_ran;
  boost::asio::post(ioc, [] { throw std::runtime_error("boom"); });
  boost::asio::post(ioc, [] { throw 42; });  // not even a std::exception
  boost::asio::post(ioc, [&] { later_ran.set_value(); });
  std::thread t([&] { run_io_thread(ioc); });
  auto ran = later_ran.get_future();
  EXPECT_EQ(ran.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  work.reset();
  ioc.stop();
  t.join();  // returns once the context stops
}

TEST(SandboxServer, StoppingSealsAWaitingTransactionAndAnswersItsClient) {
  // Blocks an hour apart: only stop() seals a block during this test.
  testing::LocalChain c(3, 2, std::chrono::hours(1));
  const std::uint64_t height_before = c.chain().head().height;
  auto creds = c.credentials("node0.sandbox");
  near::Transaction tx;
  tx.signer_id = "node0.sandbox";
  tx.public_key = core::NearPublicKey{creds.secret_key.public_key()};
  tx.nonce = c.rpc().view_access_key(tx.signer_id, tx.public_key)->nonce + 1;
  tx.receiver_id = "node1.sandbox";
  tx.block_hash = c.rpc().final_block()->hash;
  tx.actions = {near::TransferAction{1}};
  const auto stx = near::sign_transaction(std::move(tx), creds.secret_key);
  const core::Hash256 hash = near::transaction_hash(stx.transaction);

  // Its own client (and connection): the chain's is replaced by restart().
  auto client = near::RpcClient::create(c.rpc_url(), near::RpcClientOptions{std::chrono::seconds(30)});
  ASSERT_TRUE(client) << client.error().message;
  auto waiting = std::async(std::launch::async, [&] { return (*client)->send_tx(stx, "FINAL"); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!c.chain().is_pending(hash)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the transaction was never accepted";
    ASSERT_NE(waiting.wait_for(std::chrono::milliseconds(5)), std::future_status::ready) << "answered before any block";
  }

  c.restart();  // stop() (as on SIGTERM), then start again on the same home

  auto outcome = waiting.get();
  ASSERT_TRUE(outcome) << outcome.error().message;
  auto final = c.chain().final_tx(hash);
  ASSERT_TRUE(final && final->has_value());
  EXPECT_EQ((*final)->block_height, height_before + 1);
  EXPECT_EQ(c.chain().head().height, height_before + 1);
}

}  // namespace
}  // namespace mpc::sandbox
