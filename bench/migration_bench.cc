// Migration latency on a local network (mpc-devnet), figures printed:
//   soft launch: `backup-cli start-migration` + `put-keyshares` by the
//     operator, until the contract lists the new node;
//   hard launch: only `start-migration`; `backup-cli run` pushes the shares
//     by itself; from start_node_migration landing on-chain until the
//     contract lists the new node.
// Each run migrates node0's account to a fresh node. Median and spread of N
// runs, with the block interval and poll intervals beside them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "../tests/e2e/e2e_support.h"

using namespace mpc;
using namespace std::chrono;

namespace {

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

void print(const char* what, std::vector<double> ms, const std::string& beside) {
  std::sort(ms.begin(), ms.end());
  const double median = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
  std::printf("  %-58s median %7.0f ms  (min %.0f, max %.0f, %zu runs)  %s\n", what, median, ms.front(), ms.back(), ms.size(),
              beside.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"migration latency on a local devnet"};
  int runs = 10, block_ms = 100, daemon_poll_s = 1;
  app.add_option("--runs", runs)->capture_default_str();
  app.add_option("--block-interval-ms", block_ms)->capture_default_str();
  app.add_option("--daemon-poll-seconds", daemon_poll_s)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<testsupport::Child> daemon;
  try {
    e2e::Network net(e2e::dealt_spec(), milliseconds(block_ms));
    const std::string beside = "block interval " + std::to_string(block_ms) + " ms, node poll 100 ms";
    auto gen = net.backup_cli(0, {"generate-keys"});
    auto reg = net.backup_cli(0, {"register"});
    auto get = net.backup_cli(0, {"get-keyshares", "--mpc-node-address", net.node(0).migration_addr, "--mpc-node-p2p-key",
                                  key_text(net.node_tls_key(0))});
    if (gen.exit_code || reg.exit_code || get.exit_code) throw std::runtime_error("setup: " + gen.output + reg.output + get.output);

    std::printf("migration latency, 3-node devnet, 2 domains\n");
    std::vector<double> soft;
    std::vector<std::unique_ptr<e2e::NewNode>> nodes;
    for (int r = 0; r < runs; ++r) {
      auto dest = std::make_unique<e2e::NewNode>(net.new_node(0));
      const auto t0 = steady_clock::now();
      auto s = net.backup_cli(0, {"start-migration", "--destination-url", dest->url(), "--destination-tls-key", dest->tls_text(),
                                  "--destination-access-key", dest->access_text()});
      auto p = net.backup_cli(0, {"put-keyshares", "--mpc-node-address", dest->addr, "--mpc-node-p2p-key", dest->tls_text()});
      if (s.exit_code || p.exit_code) throw std::runtime_error("soft launch run: " + s.output + p.output);
      if (!net.wait_participant_key(dest->account_id, dest->tls_key, 30s)) throw std::runtime_error("no conclusion");
      soft.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
      dest->process->terminate();
    }
    print("soft launch: start-migration + put-keyshares -> new node", soft, beside);

    // Hard launch: the daemon does the restore. Each new machine listens on
    // the same migration port (the first one's), as every real node listens
    // on 8079 of its own host; the daemon reaches it there.
    std::vector<double> hard;
    std::uint16_t migration_port = 0;
    for (int r = 0; r < runs; ++r) {
      auto dest = std::make_unique<e2e::NewNode>(net.new_node_at(0, "127.0.0.1", migration_port));
      migration_port = dest->migration_port();
      if (r == 0) {
        daemon = std::make_unique<testsupport::Child>(
            std::vector<std::string>{testsupport::binary("apps/backup-cli").string(), "--home-dir", net.backup_home(0).string(),
                                     "run", "--mpc-node-address", net.node(0).migration_addr, "--mpc-node-p2p-key",
                                     key_text(net.node_tls_key(0)), "--poll-interval-seconds", std::to_string(daemon_poll_s),
                                     "--destination-migration-port", std::to_string(migration_port)},
            net.dir() / "daemon.log");
      }
      auto s = net.backup_cli(0, {"start-migration", "--destination-url", dest->url(), "--destination-tls-key", dest->tls_text(),
                                  "--destination-access-key", dest->access_text()});
      // start-migration returns once the transaction is final: it has landed.
      const auto landed = steady_clock::now();
      if (s.exit_code) throw std::runtime_error("start-migration: " + s.output);
      if (!net.wait_participant_key(dest->account_id, dest->tls_key, 60s)) throw std::runtime_error("daemon did not restore");
      hard.push_back(duration<double, std::milli>(steady_clock::now() - landed).count());
      std::this_thread::sleep_for(milliseconds(200));
      dest->process->terminate();
    }
    print("hard launch: start_node_migration landed -> new node (daemon)", hard,
          beside + ", daemon poll " + std::to_string(daemon_poll_s) + " s");
    daemon->terminate();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "migration_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
