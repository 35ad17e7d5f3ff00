// Load driver for mpc-sandbox: signed function-call transactions per second
// through JSON-RPC on loopback, and view-call latency, with 100 participants
// in the contract state. Prints the machine's ed25519 verification rate
// measured in the same run, and the ratio.
//
// The sandbox runs as its own process (the real binary); clients are threads
// here, one per participant account (each with its own access key and nonce).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/crypto.h"
#include "near/rpc_client.h"
#include "sandbox/setup.h"
#include "support/process.h"

namespace {

using namespace mpc;
using Clock = std::chrono::steady_clock;
using near::json;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

double ed25519_verify_rate(double seconds) {
  auto key = core::Ed25519SecretKey::generate();
  core::Bytes msg = core::random_bytes(32);
  auto sig = key.sign(msg);
  std::uint64_t n = 0;
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    for (int i = 0; i < 256; ++i) n += core::ed25519_verify(key.public_key(), msg, sig) ? 1 : 0;
  }
  return static_cast<double>(n) / seconds_since(start);
}

struct Client {
  std::string account;
  core::Ed25519SecretKey key;
  std::unique_ptr<near::RpcClient> rpc;
  std::uint64_t nonce = 0;
};

near::SignedTransaction register_tx(Client& c, const near::BlockRef& block) {
  near::Transaction tx;
  tx.signer_id = c.account;
  tx.public_key = core::NearPublicKey{c.key.public_key()};
  tx.nonce = ++c.nonce;
  tx.receiver_id = "mpc.sandbox";
  tx.block_hash = block.hash;
  const std::string args =
      json{{"backup_service_info", {{"public_key", core::ed25519_public_key_to_string(core::Ed25519SecretKey::generate().public_key())}}}}
          .dump();
  tx.actions = {near::function_call("register_backup_service", args, 30'000'000'000'000ull, 1)};
  return near::sign_transaction(std::move(tx), c.key);
}

// Every client sends transactions for `seconds`; `wait` selects how long each
// send blocks ("NONE": accepted and executed; "FINAL": sealed in a block).
double run_load(std::vector<Client>& clients, const std::string& wait, double seconds, std::uint64_t* failures) {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& c : clients) {
    threads.emplace_back([&, client = &c] {
      auto block = client->rpc->final_block();
      if (!block) {
        ++failed;
        return;
      }
      std::uint64_t sent = 0;
      while (seconds_since(start) < seconds) {
        if (++sent % 200 == 0) {
          if (auto b = client->rpc->final_block()) block = b;
        }
        auto r = client->rpc->send_tx(register_tx(*client, *block), wait);
        if (r) {
          ++ok;
        } else {
          ++failed;
          auto ak = client->rpc->view_access_key(client->account, core::NearPublicKey{client->key.public_key()});
          if (ak) client->nonce = ak->nonce;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  *failures = failed.load();
  return static_cast<double>(ok.load()) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-sandbox load driver"};
  int participants = 100;
  int clients_n = 100;
  double seconds = 10;
  int block_interval_ms = 500;
  int views = 2000;
  std::string sandbox_bin = testsupport::binary("apps/mpc-sandbox").string();
  app.add_option("--participants", participants, "Participants in the contract state")->capture_default_str();
  app.add_option("--clients", clients_n, "Concurrent clients (one account each, <= participants)")->capture_default_str();
  app.add_option("--seconds", seconds, "Duration of each load phase")->capture_default_str();
  app.add_option("--block-interval-ms", block_interval_ms, "Sandbox block interval")->capture_default_str();
  app.add_option("--views", views, "View calls for the latency figures")->capture_default_str();
  app.add_option("--sandbox", sandbox_bin, "mpc-sandbox binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  clients_n = std::min(clients_n, participants);

  const auto home = std::filesystem::temp_directory_path() / ("mpc-sandbox-bench-" + core::hex_encode(core::random_bytes(4)));
  auto genesis = sandbox::write_local_genesis(home, {participants, (participants * 3 + 4) / 5, "mpc-sandbox"});
  if (!genesis || !sandbox::create_chain(home, *genesis)) {
    std::fprintf(stderr, "cannot create the chain\n");
    return 1;
  }
  int rc = 0;
  {
    testsupport::Child sandbox({sandbox_bin, "run", "--home", home.string(), "--rpc-addr", "127.0.0.1:0", "--block-interval-ms",
                                std::to_string(block_interval_ms)},
                               home / "sandbox.log");
    auto addr = testsupport::wait_for_file(home / "rpc.addr", std::chrono::seconds(10));
    if (!addr) {
      std::fprintf(stderr, "mpc-sandbox did not start (log: %s)\n", (home / "sandbox.log").c_str());
      return 1;
    }
    const std::string url = "http://" + *addr;

    std::vector<Client> clients;
    for (int i = 0; i < clients_n; ++i) {
      const std::string id = "node" + std::to_string(i) + ".sandbox";
      auto creds = core::read_credentials_file(home / "credentials" / (id + ".json"));
      Client c{id, std::move(creds->secret_key), std::move(*near::RpcClient::create(url)), 0};
      c.nonce = c.rpc->view_access_key(id, core::NearPublicKey{c.key.public_key()})->nonce;
      clients.push_back(std::move(c));
    }

    const double verify_rate = ed25519_verify_rate(2.0);

    // View latency with the 100-participant state.
    std::vector<double> latencies;
    auto& rpc = *clients[0].rpc;
    std::size_t state_bytes = 0;
    for (int i = 0; i < views; ++i) {
      auto t = Clock::now();
      auto r = rpc.call_function("mpc.sandbox", "state", json::object());
      latencies.push_back(seconds_since(t) * 1e3);
      if (!r) {
        std::fprintf(stderr, "view failed: %s\n", r.error().message.c_str());
        rc = 1;
        break;
      }
      state_bytes = r->result.size();
    }

    std::uint64_t failed_async = 0;
    std::uint64_t failed_final = 0;
    const double tps_async = run_load(clients, "NONE", seconds, &failed_async);
    const double tps_final = run_load(clients, "FINAL", seconds, &failed_final);
    const auto head = rpc.final_block();

    std::printf("mpc-sandbox load (participants=%d, clients=%d, block interval=%d ms, %.0f s per phase)\n", participants,
                clients_n, block_interval_ms, seconds);
    std::printf("  view call `state` (%zu bytes):    p50 %.3f ms   p99 %.3f ms   (%d calls)\n", state_bytes,
                percentile(latencies, 0.50), percentile(latencies, 0.99), views);
    std::printf("  signed function calls, executed (wait NONE):   %8.0f tx/s   failures %llu\n", tps_async,
                static_cast<unsigned long long>(failed_async));
    std::printf("  signed function calls, final (wait FINAL):     %8.0f tx/s   failures %llu\n", tps_final,
                static_cast<unsigned long long>(failed_final));
    std::printf("  ed25519 verifications on this machine (1 core): %8.0f /s\n", verify_rate);
    std::printf("  ratio executed tx/s : verifications/s           %8.3f\n", tps_async / verify_rate);
    std::printf("  chain head after the run: #%llu\n", head ? static_cast<unsigned long long>(head->height) : 0ull);
    if (failed_async + failed_final > 0) rc = 1;
    sandbox.terminate();
  }
  std::filesystem::remove_all(home);
  return rc;
}
