// The migration endpoint under a connection flood, on a real mpc-node
// (devnet, loopback): 10,000 idle TCP connections from one address (never a
// byte sent) and attackers on 16 source addresses (127.0.0.1..127.0.0.16)
// reopening connections as fast as they can, while the registered backup
// service (from 127.0.0.100) runs GET /get_keyshares, each under a 1 s
// deadline with backup-cli's retry policy. Prints the success count, latency
// p50/p99, the node's RSS, the attack's rate and the node's eviction
// counters. Not part of any test suite: run it by hand or with `make bench`.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "backup/home.h"
#include "backup/node_client.h"
#include "core/file_util.h"
#include "e2e/e2e_support.h"
#include "net/host_port.h"
#include "net/http_client.h"
#include "net/mtls_client.h"
#include "support/net/flood.h"
#include "tls/tls.h"

using namespace mpc;
using namespace std::chrono;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

long proc_status_kb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const std::string prefix = std::string(field) + ":";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return -1;
}

std::string node_metrics(const std::string& addr) {
  auto url = net::Url::parse("http://" + addr + "/metrics");
  net::HttpClient c(*url, net::HttpClientOptions{seconds(2)});
  auto r = c.get();
  return r ? r->body : "";
}

double metric(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  return pos == std::string::npos ? 0 : std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-node migration endpoint under a connection flood"};
  std::size_t idle = 10'000;
  int sources = 16;
  std::size_t per_source = 64;
  int tries = 100;
  int deadline_ms = 1000;
  app.add_option("--idle", idle, "Idle connections from 127.0.0.1")->capture_default_str();
  app.add_option("--sources", sources, "Reopening source addresses 127.0.0.1..N")->capture_default_str();
  app.add_option("--per-source", per_source, "Connections each source keeps reopening")->capture_default_str();
  app.add_option("--tries", tries, "GET /get_keyshares tries by the registered client")->capture_default_str();
  app.add_option("--deadline-ms", deadline_ms, "Deadline of each try (retries included)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const rlim_t files = mpc::testing::raise_open_files_limit();  // before the devnet starts: mpc-node inherits it
    const std::size_t headroom = 200 + static_cast<std::size_t>(sources) * per_source;
    if (files < idle + headroom) {
      const std::size_t fit = files > headroom ? static_cast<std::size_t>(files) - headroom : 0;
      std::printf("RLIMIT_NOFILE is %llu: %zu idle connections instead of %zu\n", static_cast<unsigned long long>(files), fit, idle);
      idle = fit;
    }
    devnet::DevnetSpec spec;
    spec.keys = devnet::DevnetSpec::Keys::kDealer;
    spec.nodes = 2;
    spec.threshold = 2;
    e2e::Network net(spec, milliseconds(100));
    auto gen = net.backup_cli(0, {"generate-keys"});
    auto reg = net.backup_cli(0, {"register"});
    if (gen.exit_code || reg.exit_code) throw std::runtime_error("register: " + reg.output);
    auto secrets = backup::BackupHome(net.backup_home(0)).load_secrets();
    const auto ctx = *tls::make_client_context(secrets->p2p_private_key);
    const auto addr = net.node(0).migration_addr;
    const auto address = net::HostPort::parse(addr).value();
    const std::string host = address.host;
    const std::uint16_t port = address.port;
    const auto server_key = net.node_tls_key(0);
    const std::string body = to_json(net.keyset()).dump();
    const pid_t node_pid = std::stoi(*core::read_file(net.devnet().run_dir() / "node0.pid"));

    auto one_get = [&](milliseconds deadline) {
      backup::RetryPolicy policy;
      policy.initial_backoff = milliseconds(20);
      policy.max_backoff = milliseconds(200);
      int attempts = 0;
      auto res = backup::exchange_with_retries(
          [&](milliseconds left) {
            ++attempts;
            net::MtlsClientOptions o;
            o.timeout = left;
            o.keep_alive = false;
            o.local_address = asio::ip::make_address("127.0.0.100");
            net::MtlsClient c(ctx, host, port, server_key, o);
            return c.request(http::verb::get, "/get_keyshares", body);
          },
          deadline, policy, {});
      return std::make_pair(res && res->status == 200, attempts);
    };
    // The node sees the registration on its next poll.
    const auto ready_by = steady_clock::now() + seconds(20);
    while (!one_get(milliseconds(2000)).first)
      if (steady_clock::now() > ready_by) throw std::runtime_error("the node never served the registered client");
    const long rss_before_kb = proc_status_kb(node_pid, "VmRSS");

    const auto t_attack = steady_clock::now();
    std::vector<asio::ip::address> reopeners;
    for (int i = 1; i <= sources; ++i) reopeners.push_back(asio::ip::make_address("127.0.0." + std::to_string(i)));
    mpc::testing::ConnectionFlood flood(tcp::endpoint(asio::ip::make_address(host), port), idle, reopeners, per_source);
    if (flood.idle_started() < idle) std::fprintf(stderr, "only %zu idle connections could be opened\n", flood.idle_started());
    const auto settle_by = steady_clock::now() + seconds(60);
    while (flood.idle_settled() < idle && steady_clock::now() < settle_by) std::this_thread::sleep_for(milliseconds(50));
    const double settle_s = duration<double>(steady_clock::now() - t_attack).count();
    const std::size_t opened_before = flood.opened();
    const auto t0 = steady_clock::now();

    std::vector<double> lat;
    int ok = 0;
    int retried = 0;
    long peak_rss_kb = 0;
    for (int i = 0; i < tries; ++i) {
      const auto t = steady_clock::now();
      auto [success, attempts] = one_get(milliseconds(deadline_ms));
      const double ms = duration<double, std::milli>(steady_clock::now() - t).count();
      if (success && ms <= deadline_ms) ++ok;
      if (attempts > 1) ++retried;
      lat.push_back(ms);
      peak_rss_kb = std::max(peak_rss_kb, proc_status_kb(node_pid, "VmRSS"));
      std::this_thread::sleep_for(milliseconds(20));
    }
    const double attack_s = duration<double>(steady_clock::now() - t0).count();
    const std::size_t opened = flood.opened() - opened_before;
    const auto m = node_metrics(net.node(0).metrics_addr);
    flood.stop();
    std::sort(lat.begin(), lat.end());
    std::printf("\nmpc-node migration endpoint under a connection flood (loopback, 2 nodes, 1 domain)\n");
    std::printf("  attack: %zu idle connections from 127.0.0.1 (%zu connected, settled in %.1f s); %d sources x %zu reopening: "
                "%.0f connections/s during the measurement\n",
                idle, flood.idle_connected(), settle_s, sources, per_source, static_cast<double>(opened) / attack_s);
    std::printf("  registered client (127.0.0.100), GET /get_keyshares under a %d ms deadline: %d/%d succeeded "
                "(%d needed a retry); p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                deadline_ms, ok, tries, retried, lat[lat.size() / 2], lat[std::min(lat.size() - 1, lat.size() * 99 / 100)],
                lat.back());
    std::printf("  node RSS: %.1f MiB before the attack, %.1f MiB peak sampled during it, VmHWM %.1f MiB\n",
                static_cast<double>(rss_before_kb) / 1024.0, static_cast<double>(peak_rss_kb) / 1024.0,
                static_cast<double>(proc_status_kb(node_pid, "VmHWM")) / 1024.0);
    std::printf("  node counters: evicted_per_source %.0f, evicted_preauth %.0f, timeout %.0f, handshake_failed %.0f, "
                "too_many_connections %.0f\n",
                metric(m, "mpc_connections_refused_total{reason=\"evicted_per_source\"}"),
                metric(m, "mpc_connections_refused_total{reason=\"evicted_preauth\"}"),
                metric(m, "mpc_connections_refused_total{reason=\"timeout\"}"),
                metric(m, "mpc_connections_refused_total{reason=\"handshake_failed\"}"),
                metric(m, "mpc_connections_refused_total{reason=\"too_many_connections\"}"));
    return ok >= tries * 99 / 100 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "connection_flood: %s\n", e.what());
    return 1;
  }
}
