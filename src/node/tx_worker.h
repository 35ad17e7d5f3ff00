// One thread that submits the node's transactions in order, so that callers
// on the mesh's delivery thread or the io threads never wait for a block.
// Bounded: beyond `capacity` queued jobs, submit() refuses (the caller
// retries later: a signature request stays pending on the chain).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mpc::node {

class TxWorker {
 public:
  explicit TxWorker(std::size_t capacity = 256);
  ~TxWorker();  // stop()
  TxWorker(const TxWorker&) = delete;
  TxWorker& operator=(const TxWorker&) = delete;

  // Queues `job` under `key`; a job already queued (not yet running) with the
  // same key is not queued twice. False when full or stopped.
  bool submit(std::string key, std::function<void()> job);
  // Runs nothing more; waits for the job in progress to return.
  void stop();

 private:
  void loop();

  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::function<void()>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mpc::node
