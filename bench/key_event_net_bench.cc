// Key events on a local network (mpc-devnet, real node processes over the
// loopback mesh), figures printed for n = 3, 7 and 15 nodes (threshold
// ceil(0.6 n), the contract's minimum):
//   keygen:   two domains (Ed25519 and secp256k1) added by the operators'
//             votes, from the last vote landing until the contract is Running
//             with both keys (the two key generations run one after the other);
//   reshare:  a refresh (vote_new_parameters with the same set), from the
//             last vote until Running at the next epoch, both domains;
// and, per node, the bytes of key event messages it sent
// (mpc_key_event_bytes_sent_total), mean and max over the nodes. Beside the
// wall times: the block interval (each key event needs a start and a vote
// transaction per domain, so about 2-3 blocks of it are the chain's).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "../tests/e2e/e2e_support.h"

using namespace mpc;
using namespace std::chrono;
using json = nlohmann::json;

namespace {

double bytes_sent(e2e::Network& net, std::size_t i, const char* kind) {
  const auto text = e2e::fetch_metrics(net.node(i).metrics_addr);
  return std::max(0.0, e2e::metric_value(text, std::string("mpc_key_event_bytes_sent_total{kind=\"") + kind + "\"}"));
}

bool running_at(e2e::Network& net, std::uint64_t epoch, std::size_t domains) {
  const auto s = net.state();
  const auto* r = s.running();
  return r != nullptr && r->keyset.epoch_id == epoch && r->keyset.domains.size() == domains;
}

struct Figures {
  double ms = 0;
  double mean_bytes = 0;
  double max_bytes = 0;
};

Figures measure(e2e::Network& net, std::size_t n, const char* kind, const std::function<void()>& votes,
                const std::function<bool()>& done) {
  std::vector<double> before(n);
  for (std::size_t i = 0; i < n; ++i) before[i] = bytes_sent(net, i, kind);
  const auto t0 = steady_clock::now();
  votes();
  if (!e2e::wait_for(done, minutes(5))) throw std::runtime_error(std::string(kind) + " did not finish; state " + net.state().name());
  Figures f;
  f.ms = duration<double, std::milli>(steady_clock::now() - t0).count();
  // The counters are read from each node's metrics: wait until they settle
  // (every node has sent what it sends before it votes).
  std::vector<double> sent(n);
  for (std::size_t i = 0; i < n; ++i) sent[i] = bytes_sent(net, i, kind) - before[i];
  f.mean_bytes = std::accumulate(sent.begin(), sent.end(), 0.0) / static_cast<double>(n);
  f.max_bytes = *std::max_element(sent.begin(), sent.end());
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"key generation and resharing on a local devnet"};
  std::vector<std::size_t> sizes = {3, 7, 15};
  int block_ms = 100;
  app.add_option("--nodes", sizes, "Network sizes")->capture_default_str();
  app.add_option("--block-interval-ms", block_ms)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::printf("key events on a local devnet (real nodes, loopback mTLS mesh), block interval %d ms, node poll 100 ms\n", block_ms);
  std::printf("  %3s %3s  %-8s %10s %14s %14s\n", "n", "t", "event", "wall ms", "bytes/node", "max bytes");
  std::vector<std::pair<std::size_t, Figures>> keygen_rows, reshare_rows;
  try {
    for (auto n : sizes) {
      devnet::DevnetSpec spec = e2e::dealt_spec();
      spec.nodes = n;
      spec.threshold = std::max<std::size_t>(2, (3 * n + 4) / 5);  // the contract requires at least 60 % of n
      spec.domains = {model::CurveKind::kEd25519};
      e2e::Network net(spec, milliseconds(block_ms));
      const json add = {{"domains", json::array({{{"id", 1}, {"protocol", "Frost"}, {"purpose", "Sign"}},
                                                 {{"id", 2}, {"protocol", "CaitSith"}, {"purpose", "Sign"}}})}};
      auto keygen = measure(
          net, n, "keygen",
          [&] {
            for (std::size_t i = 0; i < n; ++i)
              if (!net.operator_call(i, "vote_add_domains", add, false)) throw std::runtime_error("vote_add_domains");
          },
          [&] { return running_at(net, 0, 3); });
      std::printf("  %3zu %3zu  %-8s %10.0f %14.0f %14.0f\n", n, spec.threshold, "keygen", keygen.ms, keygen.mean_bytes, keygen.max_bytes);
      const auto parameters = net.state().running()->parameters;
      const json vote = {{"prospective_epoch_id", 1}, {"proposal", model::to_json(parameters)}};
      auto reshare = measure(
          net, n, "reshare",
          [&] {
            for (std::size_t i = 0; i < n; ++i)
              if (!net.operator_call(i, "vote_new_parameters", vote, false)) throw std::runtime_error("vote_new_parameters");
          },
          [&] { return running_at(net, 1, 3); });
      std::printf("  %3zu %3zu  %-8s %10.0f %14.0f %14.0f   (3 domains)\n", n, spec.threshold, "reshare", reshare.ms,
                  reshare.mean_bytes, reshare.max_bytes);
      std::fflush(stdout);
      keygen_rows.push_back({n, keygen});
      reshare_rows.push_back({n, reshare});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "key_event_net_bench: %s\n", e.what());
    return 1;
  }
  if (keygen_rows.size() >= 2) {
    const auto& a = keygen_rows.front();
    const auto& b = keygen_rows.back();
    const double nr = static_cast<double>(b.first) / static_cast<double>(a.first);
    std::printf("  growth %zu -> %zu nodes (x%.1f): keygen time x%.1f, bytes/node x%.1f; reshare time x%.1f, bytes/node x%.1f\n",
                a.first, b.first, nr, b.second.ms / a.second.ms, b.second.mean_bytes / a.second.mean_bytes,
                reshare_rows.back().second.ms / reshare_rows.front().second.ms,
                reshare_rows.back().second.mean_bytes / reshare_rows.front().second.mean_bytes);
  }
  return 0;
}
