// A small Prometheus registry: counters and gauges with fixed label sets,
// rendered in the text exposition format (version 0.0.4). Lock-free updates;
// rendering takes a mutex only to walk the families.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace mpc::net {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class MetricsRegistry {
 public:
  // Returns the series for (name, labels), creating it on first use. The
  // reference stays valid for the registry's lifetime. A name is either a
  // counter or a gauge; mixing is a programming error (aborts).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});

  std::string render() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = false;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // keyed by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
  };
  Family& family(const std::string& name, const std::string& help, bool is_counter);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Unix time in seconds, as a double, for *_timestamp_seconds gauges.
double unix_now_seconds();

}  // namespace mpc::net

#include "net/http_server.h"

namespace mpc::net {

// A handler for a plain-HTTP metrics listener: GET /metrics (Prometheus
// text), GET /health ("ok"), 404 otherwise.
HttpHandler metrics_handler(const MetricsRegistry& registry);

}  // namespace mpc::net
