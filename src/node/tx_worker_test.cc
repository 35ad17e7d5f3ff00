#include "node/tx_worker.h"

#include <gtest/gtest.h>

#include <future>

namespace mpc::node {
namespace {

TEST(TxWorker, RunsJobsInOrderQueuesAKeyOnceAndRefusesBeyondCapacity) {
  TxWorker worker(2);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> first_running;
  std::vector<int> ran;
  std::mutex mu;
  ASSERT_TRUE(worker.submit("a", [&] {
    first_running.set_value();
    gate.wait();
    std::lock_guard lock(mu);
    ran.push_back(1);
  }));
  first_running.get_future().wait();  // "a" runs; the queue is empty
  std::promise<void> done;
  ASSERT_TRUE(worker.submit("b", [&] {
    std::lock_guard lock(mu);
    ran.push_back(2);
  }));
  EXPECT_TRUE(worker.submit("b", [&] { ADD_FAILURE() << "a key already queued runs once"; }));
  ASSERT_TRUE(worker.submit("c", [&] {
    {
      std::lock_guard lock(mu);
      ran.push_back(3);
    }
    done.set_value();
  }));
  EXPECT_FALSE(worker.submit("d", [] {})) << "capacity 2: b and c are queued";
  release.set_value();
  done.get_future().wait();
  std::lock_guard lock(mu);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
}

TEST(TxWorker, StopDropsWhatIsQueuedAndRefusesMore) {
  TxWorker worker;
  worker.stop();
  EXPECT_FALSE(worker.submit("x", [] { ADD_FAILURE() << "ran after stop"; }));
}

}  // namespace
}  // namespace mpc::node
