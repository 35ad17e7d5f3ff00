#include "node/onboarding.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace mpc::node {
namespace {

using namespace std::chrono_literals;

NodeView destination_view() {
  NodeView v;
  v.protocol = "Running";
  v.running = true;
  v.running_keyset = core::Keyset{7, {}};
  v.account_migration = core::DestinationNodeInfo{};
  v.is_migration_destination = true;
  return v;
}

bool eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 400; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

struct Harness {
  std::mutex mu;
  std::optional<NodeView> view;
  std::atomic<bool> holds{false};
  std::atomic<int> calls{0};
  std::atomic<int> fail_first{0};
  net::MetricsRegistry metrics;
  std::unique_ptr<Onboarding> onboarding;

  Harness() {
    onboarding = std::make_unique<Onboarding>(
        OnboardingDeps{[this] {
                         std::lock_guard lock(mu);
                         return view;
                       },
                       [this](const core::Keyset&) { return holds.load(); },
                       [this](const core::Keyset& ks) -> core::Status {
                         EXPECT_EQ(ks.epoch_id, 7u);
                         if (++calls <= fail_first.load()) return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable: test");
                         return {};
                       },
                       nullptr},
        OnboardingOptions{5ms, 20ms, 10ms}, metrics);
  }
  void set(std::optional<NodeView> v) {
    {
      std::lock_guard lock(mu);
      view = std::move(v);
    }
    onboarding->wake();
  }
};

TEST(Onboarding, WaitsForSharesThenConcludesOnceAndRetriesFailures) {
  Harness h;
  h.fail_first = 2;
  h.set(destination_view());
  h.onboarding->start();
  ASSERT_TRUE(eventually([&] { return h.onboarding->step() == OnboardingStep::kAwaitingShares; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(h.calls.load(), 0);  // no shares, no conclude
  h.holds = true;
  h.onboarding->wake();
  ASSERT_TRUE(eventually([&] { return h.calls.load() == 3; }));  // two failures, then success
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(h.calls.load(), 3);  // not called again while the view is unchanged
  NodeView done;
  done.protocol = "Running";
  done.running = true;
  done.is_active_participant = true;
  h.set(done);
  ASSERT_TRUE(eventually([&] { return h.onboarding->step() == OnboardingStep::kDone; }));
  EXPECT_NE(h.metrics.render().find("mpc_onboarding_conclude_calls_total{outcome=\"failed\"} 2"), std::string::npos);
  h.onboarding->stop();
}

TEST(Onboarding, StopsWhenTheMigrationIsCancelledAndRunsAgainLater) {
  Harness h;
  h.fail_first = 1000;  // conclude never succeeds
  h.holds = true;
  h.set(destination_view());
  h.onboarding->start();
  ASSERT_TRUE(eventually([&] { return h.calls.load() >= 2; }));
  NodeView cancelled;
  cancelled.protocol = "Running";
  cancelled.running = true;
  h.set(cancelled);
  ASSERT_TRUE(eventually([&] { return h.onboarding->step() == OnboardingStep::kIdle; }));
  const int after = h.calls.load();
  std::this_thread::sleep_for(80ms);
  EXPECT_LE(h.calls.load(), after + 1);  // at most one attempt already in flight
  // A later migration towards this node onboards again (A -> B -> A).
  h.fail_first = 0;
  h.calls = 0;
  h.set(destination_view());
  ASSERT_TRUE(eventually([&] { return h.calls.load() >= 1; }));
  h.onboarding->stop();
}

}  // namespace
}  // namespace mpc::node
