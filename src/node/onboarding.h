// Onboarding: a node that is the destination of a migration concludes it.
//
// A background thread re-evaluates decide_onboarding() whenever it is woken
// (new chain view, shares imported) and at least every `recheck`. When the
// decision is kConcluding it calls `conclude(keyset)` (the
// conclude_node_migration transaction); failures are retried with capped
// exponential backoff. After a successful call it waits for the chain view to
// change (the contract listing this node) instead of calling again. When the
// migration is cancelled or the protocol leaves Running, the decision turns
// kIdle and nothing more is sent. It runs for the process's lifetime, so a
// later migration towards this node (A -> B -> A) onboards again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "net/metrics.h"
#include "node/chain_view.h"

namespace mpc::node {

struct OnboardingDeps {
  std::function<std::optional<NodeView>()> view;            // latest view; nullopt before the first poll
  std::function<bool(const model::Keyset&)> holds;           // store holds exactly this keyset
  std::function<core::Status(const model::Keyset&)> conclude;  // sends conclude_node_migration
  std::function<void()> after_conclude;                     // e.g. poke the chain watcher
};

struct OnboardingOptions {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds recheck{1'000};
  core::Clock* clock = &core::steady_clock();  // must outlive the Onboarding
};

class Onboarding {
 public:
  Onboarding(OnboardingDeps deps, OnboardingOptions options, net::MetricsRegistry& metrics);
  ~Onboarding();
  Onboarding(const Onboarding&) = delete;
  Onboarding& operator=(const Onboarding&) = delete;

  void start();
  void stop();
  void wake();
  OnboardingStep step() const;

 private:
  void loop();
  void publish(OnboardingStep step);

  OnboardingDeps deps_;
  OnboardingOptions options_;
  net::MetricsRegistry& metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  OnboardingStep step_ = OnboardingStep::kIdle;
  std::thread thread_;
};

}  // namespace mpc::node
