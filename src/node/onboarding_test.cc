// Onboarding driven by a manual clock: every "it did not call again" is
// checked while the loop is parked in its wait, never after a sleep.
#include "node/onboarding.h"

#include <gtest/gtest.h>

#include <atomic>

#include "support/manual_clock.h"

namespace mpc::node {
namespace {

using namespace std::chrono_literals;

NodeView destination_view() {
  NodeView v;
  v.protocol = "Running";
  v.running = true;
  v.running_keyset = model::Keyset{7, {}};
  v.account_migration = model::DestinationNodeInfo{};
  v.is_migration_destination = true;
  return v;
}

struct Harness {
  testing::ManualClock clock;
  std::mutex mu;
  std::optional<NodeView> view;
  std::atomic<bool> holds{false};
  std::atomic<int> calls{0};
  std::atomic<int> fail_first{0};
  net::MetricsRegistry metrics;
  std::unique_ptr<Onboarding> onboarding;
  std::size_t waits = 0;

  Harness() {
    OnboardingOptions options{5ms, 20ms, 10ms};
    options.clock = &clock;
    onboarding = std::make_unique<Onboarding>(
        OnboardingDeps{[this] {
                         std::lock_guard lock(mu);
                         return view;
                       },
                       [this](const model::Keyset&) { return holds.load(); },
                       [this](const model::Keyset& ks) -> core::Status {
                         EXPECT_EQ(ks.epoch_id, 7u);
                         if (++calls <= fail_first.load()) return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable: test");
                         return {};
                       },
                       nullptr},
        options, metrics);
  }
  // Waits until the loop has evaluated what it was last given and parked.
  void settle() { waits = clock.await_parked(waits); }
  void set(std::optional<NodeView> v) {
    {
      std::lock_guard lock(mu);
      view = std::move(v);
    }
    onboarding->wake();
    settle();
  }
  // Moves the clock past the loop's deadline: it runs once and parks again.
  void advance(std::chrono::milliseconds by) {
    clock.advance(by);
    settle();
  }
  // Moves the clock short of the loop's deadline: it stays parked in the
  // same wait, so nothing can have happened.
  void advance_short(std::chrono::milliseconds by) { clock.advance(by); }
};

TEST(Onboarding, WaitsForSharesThenConcludesOnceAndRetriesFailures) {
  Harness h;
  h.fail_first = 2;
  {
    std::lock_guard lock(h.mu);
    h.view = destination_view();
  }
  h.onboarding->start();
  h.settle();
  EXPECT_EQ(h.onboarding->step(), OnboardingStep::kAwaitingShares);
  EXPECT_EQ(h.calls.load(), 0);  // no shares, no conclude
  h.advance(100ms);
  EXPECT_EQ(h.calls.load(), 0);
  h.holds = true;
  h.onboarding->wake();
  h.settle();
  EXPECT_EQ(h.calls.load(), 1);  // first attempt failed: backoff 5 ms
  h.advance_short(4ms);
  EXPECT_EQ(h.calls.load(), 1);  // not before the backoff
  h.advance(1ms);
  EXPECT_EQ(h.calls.load(), 2);  // failed again: backoff 10 ms
  h.advance(10ms);
  EXPECT_EQ(h.calls.load(), 3);  // succeeded
  for (int i = 0; i < 5; ++i) h.advance(50ms);
  EXPECT_EQ(h.calls.load(), 3);  // not called again while the view is unchanged
  NodeView done;
  done.protocol = "Running";
  done.running = true;
  done.is_active_participant = true;
  h.set(done);
  EXPECT_EQ(h.onboarding->step(), OnboardingStep::kDone);
  EXPECT_NE(h.metrics.render().find("mpc_onboarding_conclude_calls_total{outcome=\"failed\"} 2"), std::string::npos);
  h.onboarding->stop();
}

TEST(Onboarding, BackoffIsCappedAndStopsWhenTheMigrationIsCancelledAndRunsAgainLater) {
  Harness h;
  h.fail_first = 1000;  // conclude never succeeds
  h.holds = true;
  {
    std::lock_guard lock(h.mu);
    h.view = destination_view();
  }
  h.onboarding->start();
  h.settle();
  EXPECT_EQ(h.calls.load(), 1);
  h.advance(5ms);
  EXPECT_EQ(h.calls.load(), 2);
  h.advance(10ms);
  EXPECT_EQ(h.calls.load(), 3);
  h.advance(20ms);  // the cap: 20 ms from now on
  EXPECT_EQ(h.calls.load(), 4);
  h.advance_short(19ms);
  EXPECT_EQ(h.calls.load(), 4);
  h.advance(1ms);
  EXPECT_EQ(h.calls.load(), 5);
  NodeView cancelled;
  cancelled.protocol = "Running";
  cancelled.running = true;
  h.set(cancelled);
  EXPECT_EQ(h.onboarding->step(), OnboardingStep::kIdle);
  for (int i = 0; i < 5; ++i) h.advance(100ms);
  EXPECT_EQ(h.calls.load(), 5);  // nothing more is sent
  // A later migration towards this node onboards again (A -> B -> A).
  h.fail_first = 0;
  h.calls = 0;
  h.set(destination_view());
  EXPECT_EQ(h.calls.load(), 1);
  h.onboarding->stop();
}

}  // namespace
}  // namespace mpc::node
