// Test-only (and bench): a connection flood against a TCP listener, on its
// own io_context and thread, loopback only. `idle` connections from
// 127.0.0.1 that never send a byte, and each `reopeners` address keeping
// `per_source` connections open, reopening each one as soon as the server
// closes it (or at once when connecting fails), until `max_reopens` attempts
// or stop(). Header-only: mtls_test (net_tests) and bench/connection_flood
// share it.
#pragma once

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mpc::testing {

// Raises the soft open-files limit to the hard one; returns the new soft limit.
inline rlim_t raise_open_files_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

class ConnectionFlood {
 public:
  using tcp = boost::asio::ip::tcp;

  ConnectionFlood(tcp::endpoint target, std::size_t idle, const std::vector<boost::asio::ip::address>& reopeners,
                  std::size_t per_source, std::size_t max_reopens = std::numeric_limits<std::size_t>::max())
      : target_(target), max_reopens_(max_reopens) {
    for (std::size_t i = 0; i < idle; ++i) {
      auto s = std::make_shared<tcp::socket>(ioc_);
      boost::system::error_code ec;
      s->open(tcp::v4(), ec);
      if (!ec) s->bind({boost::asio::ip::make_address("127.0.0.1"), 0}, ec);
      if (ec) break;  // out of files or ports: idle_started() says how many
      s->async_connect(target_, [this, s](boost::system::error_code e) { (e ? idle_failed_ : idle_connected_).fetch_add(1); });
      idle_.push_back(std::move(s));
    }
    for (const auto& source : reopeners)
      for (std::size_t k = 0; k < per_source; ++k) reopen(source);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ConnectionFlood() { stop(); }
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;

  void stop() {
    if (stopped_.exchange(true)) return;
    boost::asio::post(ioc_, [this] { ioc_.stop(); });
    thread_.join();
  }
  std::size_t idle_started() const { return idle_.size(); }
  std::size_t idle_connected() const { return idle_connected_.load(); }
  std::size_t idle_settled() const { return idle_connected_.load() + idle_failed_.load(); }
  std::size_t reopened() const { return reopened_.load(); }  // attempts
  std::size_t opened() const { return opened_.load(); }      // reopened connections that connected

 private:
  void reopen(boost::asio::ip::address source) {
    if (stopped_.load() || reopened_.fetch_add(1) >= max_reopens_) return;
    auto s = std::make_shared<tcp::socket>(ioc_);
    boost::system::error_code ec;
    s->open(tcp::v4(), ec);
    if (!ec) s->bind({source, 0}, ec);
    if (ec) {  // out of ports or files for a moment: try again shortly
      auto t = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds(10));
      t->async_wait([this, t, source](boost::system::error_code) { reopen(source); });
      return;
    }
    s->async_connect(target_, [this, s, source](boost::system::error_code e) {
      if (e) return reopen(source);
      opened_.fetch_add(1);
      auto byte = std::make_shared<char>();
      // Wait for the server to close it (eviction, deadline), then reopen.
      s->async_read_some(boost::asio::buffer(byte.get(), 1), [this, s, source, byte](boost::system::error_code, std::size_t) {
        boost::system::error_code ignored;
        s->close(ignored);
        reopen(source);
      });
    });
  }

  tcp::endpoint target_;
  std::size_t max_reopens_;
  boost::asio::io_context ioc_;
  std::vector<std::shared_ptr<tcp::socket>> idle_;
  std::atomic<std::size_t> idle_connected_{0}, idle_failed_{0}, reopened_{0}, opened_{0};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace mpc::testing
