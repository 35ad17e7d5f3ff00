#include "net/metrics.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mpc::net {

namespace {

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

std::string format_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help, bool is_counter) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.help = help;
    it->second.is_counter = is_counter;
  } else if (it->second.is_counter != is_counter) {
    std::abort();  // a name registered as both a counter and a gauge
  }
  return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, true);
  auto& slot = f.counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, false);
  auto& slot = f.gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + (f.is_counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, c] : f.counters) out += name + labels + " " + std::to_string(c->value()) + "\n";
    for (const auto& [labels, g] : f.gauges) out += name + labels + " " + format_double(g->value()) + "\n";
  }
  return out;
}

HttpHandler metrics_handler(const MetricsRegistry& registry) {
  return [&registry](HttpRequest&& req, Responder respond) {
    std::string_view target = req.target();
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target == "/metrics")
      respond(make_response(200, registry.render(), "text/plain; version=0.0.4", req.version(), req.keep_alive()));
    else if (target == "/health")
      respond(make_response(200, "ok\n", "text/plain", req.version(), req.keep_alive()));
    else
      respond(make_response(404, "not found\n", "text/plain", req.version(), req.keep_alive()));
  };
}

double unix_now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace mpc::net
