#include "node/tx_worker.h"

#include <algorithm>

namespace mpc::node {

TxWorker::TxWorker(std::size_t capacity) : capacity_(capacity), thread_([this] { loop(); }) {}

TxWorker::~TxWorker() { stop(); }

bool TxWorker::submit(std::string key, std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= capacity_) return false;
    if (std::any_of(queue_.begin(), queue_.end(), [&](const auto& q) { return q.first == key; })) return true;
    queue_.emplace_back(std::move(key), std::move(job));
  }
  cv_.notify_one();
  return true;
}

void TxWorker::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TxWorker::loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front().second);
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace mpc::node
