// Follows the contract's `state` and `migration_info` views.
//
// A background thread polls the chain every `interval`. A failed poll (RPC
// down, garbage answer) is logged and retried with capped exponential
// backoff; it is never fatal and the last good snapshot stays current. Each
// new snapshot that differs from the previous one is handed to `on_change`
// (on the watcher thread), saying whether its contents changed or only the
// block it was read at (which moves at nearly every poll: key event
// attempts expire by it, but nothing else need be derived again).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "near/rpc_client.h"
#include "node/chain_view.h"

namespace mpc::node {

// Where snapshots come from (the RPC in production, a fake in tests).
class ChainSource {
 public:
  virtual ~ChainSource() = default;
  virtual core::Result<near::ContractView> fetch() = 0;
};

class RpcChainSource : public ChainSource {
 public:
  RpcChainSource(near::RpcClient& rpc, std::string contract_id, near::ContractViewOptions options = {})
      : rpc_(rpc), contract_id_(std::move(contract_id)), options_(options) {}
  core::Result<near::ContractView> fetch() override;

 private:
  near::RpcClient& rpc_;
  std::string contract_id_;
  near::ContractViewOptions options_;
  near::ContractViewCache cache_;  // fetch() runs on the watcher's thread only
};

struct ChainWatcherOptions {
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds max_backoff{30'000};
  core::Clock* clock = &core::steady_clock();  // must outlive the watcher
};

class ChainWatcher {
 public:
  using OnChange = std::function<void(const near::ContractView&, bool contents_changed)>;
  ChainWatcher(ChainSource& source, ChainWatcherOptions options, OnChange on_change);
  ~ChainWatcher();
  ChainWatcher(const ChainWatcher&) = delete;
  ChainWatcher& operator=(const ChainWatcher&) = delete;

  // Polls once synchronously (so a caller can start with a snapshot), then
  // starts the thread. The first poll's error is returned but not fatal.
  core::Status start();
  void stop();
  // Asks for a poll now (e.g. right after our own transaction).
  void poke();

  std::optional<near::ContractView> latest() const;
  std::uint64_t failures() const { return failures_.load(); }
  // Unix seconds of the last successful poll (0 = never).
  std::int64_t last_success_unix() const { return last_success_unix_.load(); }

 private:
  core::Status poll_once();
  void loop();

  ChainSource& source_;
  ChainWatcherOptions options_;
  OnChange on_change_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool poked_ = false;
  std::optional<near::ContractView> latest_;
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::int64_t> last_success_unix_{0};
  std::thread thread_;
};

}  // namespace mpc::node
