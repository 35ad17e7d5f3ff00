#include "node/onboarding.h"

#include <spdlog/spdlog.h>

namespace mpc::node {

Onboarding::Onboarding(OnboardingDeps deps, OnboardingOptions options, net::MetricsRegistry& metrics)
    : deps_(std::move(deps)), options_(options), metrics_(metrics) {
  publish(OnboardingStep::kIdle);
}

Onboarding::~Onboarding() { stop(); }

void Onboarding::start() { thread_ = std::thread([this] { loop(); }); }

void Onboarding::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Onboarding::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

OnboardingStep Onboarding::step() const {
  std::lock_guard lock(mu_);
  return step_;
}

void Onboarding::publish(OnboardingStep step) {
  {
    std::lock_guard lock(mu_);
    step_ = step;
  }
  for (auto s : {OnboardingStep::kIdle, OnboardingStep::kAwaitingShares, OnboardingStep::kConcluding, OnboardingStep::kDone})
    metrics_.gauge("mpc_onboarding_state", "1 for the node's current onboarding step", {{"state", onboarding_step_name(s)}})
        .set(s == step ? 1 : 0);
}

void Onboarding::loop() {
  auto backoff = options_.initial_backoff;
  core::Clock::time_point next_attempt{};
  std::optional<NodeView> concluded_at;  // the view in which our conclude call succeeded
  OnboardingStep last = OnboardingStep::kIdle;
  std::string last_reason;
  for (;;) {
    auto wait = options_.recheck;
    // A thread entry point: nothing escapes it; an unexpected error is
    // logged and the loop re-evaluates after `recheck`.
    try {
      auto view = deps_.view();
      OnboardingDecision decision;
      if (view) {
        const bool holds = view->running_keyset && deps_.holds(*view->running_keyset);
        decision = decide_onboarding(*view, holds);
      }
      if (decision.step != last || decision.reason != last_reason) {
        spdlog::info("onboarding: {} ({})", onboarding_step_name(decision.step), decision.reason);
        if (decision.step != OnboardingStep::kConcluding) {
          backoff = options_.initial_backoff;
          next_attempt = {};
        }
        last = decision.step;
        last_reason = decision.reason;
      }
      publish(decision.step);
      if (concluded_at && view && !(*concluded_at == *view)) concluded_at.reset();

      if (decision.step == OnboardingStep::kConcluding && !concluded_at) {
        const auto now = options_.clock->now();
        if (now >= next_attempt) {
          auto status = deps_.conclude(*decision.conclude_with);
          if (status) {
            metrics_.counter("mpc_onboarding_conclude_calls_total", "conclude_node_migration calls by outcome", {{"outcome", "ok"}}).inc();
            spdlog::info("onboarding: conclude_node_migration succeeded for epoch {}; waiting for the contract to list this node",
                         decision.conclude_with->epoch_id);
            concluded_at = view;
            backoff = options_.initial_backoff;
            if (deps_.after_conclude) deps_.after_conclude();
          } else {
            metrics_.counter("mpc_onboarding_conclude_calls_total", "conclude_node_migration calls by outcome", {{"outcome", "failed"}}).inc();
            spdlog::warn("onboarding: conclude_node_migration failed: {}; retrying in {} ms", status.error().message,
                         backoff.count());
            next_attempt = now + backoff;
            wait = backoff;
            backoff = std::min(options_.max_backoff, backoff * 2);
          }
        } else {
          wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt - now);
        }
      }
    } catch (const std::exception& e) {
      spdlog::error("onboarding: unexpected error: {}; re-evaluating", e.what());
      wait = options_.recheck;
    }
    std::unique_lock lock(mu_);
    options_.clock->wait_for(lock, cv_, wait, [&] { return stopping_ || woken_; });
    if (stopping_) return;
    woken_ = false;
  }
}

}  // namespace mpc::node
