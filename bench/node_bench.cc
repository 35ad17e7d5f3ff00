// GET /get_keyshares load on a real mpc-node (mutual TLS 1.3, loopback):
// requests/s and p50/p99 latency with a fresh handshake per request and with
// keep-alive, 1 and 32 concurrent clients, for 1 and 1,000 domains; the
// node's peak RSS; and a bare mutual-TLS handshake loop with the same
// certificates, with the ratio of the two.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "backup/home.h"
#include "core/file_util.h"
#include "e2e/e2e_support.h"
#include "net/host_port.h"
#include "net/mtls_client.h"
#include "tls/tls.h"

using namespace mpc;
using namespace std::chrono;
namespace http = boost::beast::http;

namespace {

struct Figures {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::size_t errors = 0;
};

Figures measure(int clients, double seconds, const std::function<bool(std::size_t, std::vector<double>&)>& one) {
  std::vector<std::vector<double>> lat(clients);
  std::atomic<std::size_t> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto t0 = steady_clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      while (!stop.load()) {
        if (!one(static_cast<std::size_t>(c), lat[c])) errors.fetch_add(1);
      }
    });
  std::this_thread::sleep_for(duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = duration<double>(steady_clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Figures f;
  f.errors = errors.load();
  if (all.empty()) return f;
  f.rps = static_cast<double>(all.size()) / elapsed;
  f.p50_ms = all[all.size() / 2];
  f.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  return f;
}

long vm_hwm_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-node GET /get_keyshares load driver"};
  double seconds = 2;
  std::vector<int> domain_counts = {1, 1000};
  app.add_option("--seconds", seconds, "Seconds per phase")->capture_default_str();
  app.add_option("--domains", domain_counts, "Domain counts to test")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    for (int domains : domain_counts) {
      devnet::DevnetSpec spec;
      spec.keys = devnet::DevnetSpec::Keys::kDealer;
      spec.nodes = 2;
      spec.threshold = 2;
      spec.domains.clear();
      for (int d = 0; d < domains; ++d) spec.domains.push_back(d % 2 ? model::CurveKind::kEd25519 : model::CurveKind::kSecp256k1);
      const auto t_create = steady_clock::now();
      e2e::Network net(spec, milliseconds(100));
      const double create_s = duration<double>(steady_clock::now() - t_create).count();
      auto gen = net.backup_cli(0, {"generate-keys"});
      auto reg = net.backup_cli(0, {"register"});
      if (gen.exit_code || reg.exit_code) throw std::runtime_error("register: " + reg.output);
      std::this_thread::sleep_for(milliseconds(500));
      auto secrets = backup::BackupHome(net.backup_home(0)).load_secrets();
      const auto ctx = *tls::make_client_context(secrets->p2p_private_key);
      const auto addr = net.node(0).migration_addr;
      const auto address = net::HostPort::parse(addr).value();
      const std::string host = address.host;
      const std::uint16_t port = address.port;
      const auto server_key = net.node_tls_key(0);
      const std::string body = to_json(net.keyset()).dump();
      const pid_t node_pid = std::stoi(*core::read_file(net.devnet().run_dir() / "node0.pid"));

      std::printf("\nmpc-node GET /get_keyshares, %d domain(s) (keyset %zu bytes; devnet created in %.1f s), %.0f s per phase\n",
                  domains, body.size(), create_s, seconds);
      double fresh_rps_1 = 0;
      for (bool keep_alive : {false, true}) {
        for (int clients : {1, 32}) {
          std::vector<std::unique_ptr<net::MtlsClient>> pool;
          for (int c = 0; c < clients; ++c) {
            net::MtlsClientOptions o;
            o.timeout = std::chrono::milliseconds(10000);
            o.keep_alive = keep_alive;
            pool.push_back(std::make_unique<net::MtlsClient>(ctx, host, port, server_key, o));
          }
          auto f = measure(clients, seconds, [&](std::size_t c, std::vector<double>& lat) {
            const auto t = steady_clock::now();
            auto r = pool[c]->request(http::verb::get, "/get_keyshares", body);
            if (!r || r->status != 200) return false;
            lat.push_back(duration<double, std::milli>(steady_clock::now() - t).count());
            return true;
          });
          if (!keep_alive && clients == 1) fresh_rps_1 = f.rps;
          std::printf("  %-28s %2d client(s): %8.1f req/s   p50 %7.2f ms   p99 %7.2f ms   errors %zu\n",
                      keep_alive ? "keep-alive" : "fresh mTLS handshake", clients, f.rps, f.p50_ms, f.p99_ms, f.errors);
        }
      }
      // The bare mutual handshake with the same certificates (and the key check).
      double bare_rps_1 = 0;
      for (int clients : {1, 32}) {
        std::vector<std::unique_ptr<net::MtlsClient>> pool;
        for (int c = 0; c < clients; ++c) {
          net::MtlsClientOptions o;
          o.timeout = std::chrono::milliseconds(10000);
          pool.push_back(std::make_unique<net::MtlsClient>(ctx, host, port, server_key, o));
        }
        auto f = measure(clients, seconds, [&](std::size_t c, std::vector<double>& lat) {
          const auto t = steady_clock::now();
          auto st = pool[c]->connect();
          pool[c]->close();
          if (!st) return false;
          lat.push_back(duration<double, std::milli>(steady_clock::now() - t).count());
          return true;
        });
        if (clients == 1) bare_rps_1 = f.rps;
        std::printf("  %-28s %2d client(s): %8.1f hs/s    p50 %7.2f ms   p99 %7.2f ms   errors %zu\n", "bare TLS 1.3 mutual handshake",
                    clients, f.rps, f.p50_ms, f.p99_ms, f.errors);
      }
      std::printf("  ratio fresh-handshake requests/s : bare handshakes/s (1 client)  %.2f\n",
                  bare_rps_1 > 0 ? fresh_rps_1 / bare_rps_1 : 0.0);
      std::printf("  node peak RSS (VmHWM)  %.1f MiB\n", static_cast<double>(vm_hwm_kb(node_pid)) / 1024.0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
