#include "node/chain_watcher.h"

#include <spdlog/spdlog.h>

namespace mpc::node {

core::Result<near::ContractView> RpcChainSource::fetch() { return near::read_contract_view(rpc_, contract_id_, options_, cache_); }

ChainWatcher::ChainWatcher(ChainSource& source, ChainWatcherOptions options, OnChange on_change)
    : source_(source), options_(options), on_change_(std::move(on_change)) {}

ChainWatcher::~ChainWatcher() { stop(); }

core::Status ChainWatcher::start() {
  auto first = poll_once();
  thread_ = std::thread([this] { loop(); });
  return first;
}

void ChainWatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChainWatcher::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

std::optional<near::ContractView> ChainWatcher::latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

core::Status ChainWatcher::poll_once() {
  auto snapshot = source_.fetch();
  if (!snapshot) {
    failures_.fetch_add(1);
    return std::unexpected(snapshot.error());
  }
  last_success_unix_.store(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
  bool contents_changed = false;
  bool height_moved = false;
  {
    std::lock_guard lock(mu_);
    if (!latest_) {
      contents_changed = true;
    } else {
      // Every field but the height, compared as the whole view compares
      // (a field added later is compared too).
      const std::uint64_t height = snapshot->block_height;
      snapshot->block_height = latest_->block_height;
      contents_changed = !(*latest_ == *snapshot);
      snapshot->block_height = height;
      height_moved = latest_->block_height != height;
    }
    if (contents_changed) latest_ = *snapshot;
    else if (height_moved) latest_->block_height = snapshot->block_height;
  }
  if ((contents_changed || height_moved) && on_change_) on_change_(*snapshot, contents_changed);
  return {};
}

void ChainWatcher::loop() {
  auto delay = options_.interval;
  std::uint64_t consecutive_failures = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      options_.clock->wait_for(lock, cv_, delay, [&] { return stopping_ || poked_; });
      if (stopping_) return;
      poked_ = false;
    }
    // A thread entry point: nothing escapes it (a throw counts as a failed poll).
    core::Status status;
    try {
      status = poll_once();
    } catch (const std::exception& e) {
      failures_.fetch_add(1);
      status = core::fail(core::ErrorCode::kInternal, std::string("unexpected error: ") + e.what());
    }
    if (status) {
      if (consecutive_failures > 0)
        spdlog::info("chain: reachable again after {} failed poll(s)", consecutive_failures);
      consecutive_failures = 0;
      delay = options_.interval;
    } else {
      ++consecutive_failures;
      delay = std::min(options_.max_backoff, std::max(options_.interval, delay * 2));
      spdlog::warn("chain: poll failed ({}); keeping the last known state, next try in {} ms", status.error().message,
                   delay.count());
    }
  }
}

}  // namespace mpc::node
