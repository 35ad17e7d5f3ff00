// mpc-devnet: a local MPC network on one machine (sandbox chain + nodes).
#include <CLI/CLI.hpp>

#include "cli/cli.h"

#include <iostream>

#include "devnet/network.h"
#include "devnet/supervisor.h"
#include "near/contract_view.h"
#include "near/rpc_client.h"
#include "node/home.h"

namespace {

using namespace mpc;


const std::string kApp = "mpc-devnet";
int fail_with(const core::Error& e, int code = cli::kOther) { return cli::fail(kApp, e, code); }

std::filesystem::path bin_dir() {
  if (const char* d = std::getenv("MPC_BIN_DIR"); d && *d) return d;
  return devnet::self_dir();
}

void print_processes(const devnet::Devnet& net, const std::vector<devnet::ProcessInfo>& procs) {
  std::cout << "chain   " << net.rpc_url() << "  contract " << net.contract_id << "\n";
  for (const auto& p : procs) {
    std::cout << "  " << p.name << (p.running ? "  pid " + std::to_string(p.pid) : "  stopped") << "  log " << p.log.string() << "\n";
  }
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    const auto& n = net.nodes[i];
    std::cout << "  node" << i << " " << n.account_id << " (participant " << n.participant_id << "): P2P " << n.p2p_url() << ", migration " << n.migration_addr
              << ", metrics http://" << n.metrics_addr << "/metrics, home " << net.path(n.home).string() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-devnet: create and run a local MPC network (mpc-sandbox chain + mpc-node processes) on loopback"};
  mpc::cli::add_version_flag(app, "mpc-devnet");
  app.footer(mpc::cli::exit_codes_help());
  app.require_subcommand(1);
  std::string dir;
  devnet::DevnetSpec spec;
  std::string domains = "secp256k1,ed25519";
  auto* create = app.add_subcommand(
      "create", "Create accounts, keys and node homes, and a chain that starts Initializing: the nodes generate every domain's key "
                "together once up (distributed key generation), or, with --dealer, Running with a keyset a trusted dealer dealt");
  create->add_option("--dir", dir, "Directory to create (must not exist, or be empty)")->required();
  auto* nodes_opt = create->add_option("--nodes", spec.nodes, "Number of participants")->capture_default_str();
  create->add_option("--candidates", spec.candidates,
                     "Extra nodes (account, operator, home; started by `up`) that are not participants: candidates a resharing "
                     "can add with vote_new_parameters")
      ->capture_default_str();
  create->add_option("--threshold", spec.threshold, "Signing threshold")->capture_default_str();
  auto* domains_opt = create->add_option("--domains", domains, "Comma-separated domain curves (secp256k1, ed25519)")->capture_default_str();
  create
      ->add_option("--import-keyshares", spec.import_keyshares,
                   "Instead of dealing keys: a directory of plaintext keyshare files, <participant id>.json for participants 0..N-1 "
                   "(each a JSON array of that participant's keyshares), checked against their group keys and the threshold")
      ->excludes(nodes_opt)
      ->excludes(domains_opt);
  create->add_flag("--hard-launch", spec.hard_launch,
                   "Hard launch: the nodes give shares only to a backup service the contract holds an attestation for "
                   "(--require-attested-backup-service; locally: backup-cli run --tee --mock-attestation)");
  bool dealer = false;
  create->add_flag("--dealer", dealer,
                   "Deal the keys with a trusted dealer now instead (the whole secret exists for a moment in this process): "
                   "for tests that need no key generation");

  devnet::UpOptions up_options;
  int block_ms = 200, poll_ms = 200;
  int keys_timeout_s = 120;
  auto* up = app.add_subcommand("up", "Start the chain and every node; wait until all are healthy and, while the nodes "
                                      "generate the keys (a devnet created without --dealer), until every domain has its key");
  up->add_option("--dir", dir, "A devnet directory")->required();
  up->add_option("--keygen-timeout-s", keys_timeout_s, "How long to wait for the keys")->check(CLI::Range(1, 3600))->capture_default_str();
  up->add_option("--block-interval-ms", block_ms, "Sandbox block interval")->check(CLI::Range(10, 60000))->capture_default_str();
  up->add_option("--poll-interval-ms", poll_ms, "Nodes' chain poll interval")->check(CLI::Range(50, 60000))->capture_default_str();

  auto* down = app.add_subcommand("down", "Stop every process of the devnet (by recorded pid)");
  down->add_option("--dir", dir, "A devnet directory")->required();

  auto* status = app.add_subcommand("status", "Show which processes run and where");
  status->add_option("--dir", dir, "A devnet directory")->required();

  std::size_t env_node = 0;
  auto* env = app.add_subcommand("env", "Print shell variables for one node and its operator (paths to secrets, never secrets)");
  env->add_option("--dir", dir, "A devnet directory")->required();
  env->add_option("--node", env_node, "Node index")->required();

  if (auto code = cli::parse(app, argc, argv)) return *code;

  if (create->parsed()) {
    auto kinds = devnet::parse_domain_list(domains);
    if (!kinds) return fail_with(kinds.error(), cli::kUsage);
    spec.domains = *kinds;
    spec.keys = dealer ? devnet::DevnetSpec::Keys::kDealer : devnet::DevnetSpec::Keys::kGenerate;
    auto net = devnet::create_devnet(dir, spec);
    if (!net) return fail_with(net.error(), net.error().code == core::ErrorCode::kInvalidArgument ? cli::kUsage : 1);
    std::cout << "created devnet in " << net->dir.string() << ": " << net->nodes.size() << " nodes, threshold " << net->threshold
              << ", "
              << (!spec.import_keyshares.empty() ? "the keyset of " + spec.import_keyshares.string()
                  : dealer                       ? std::to_string(spec.domains.size()) + " dealt domain(s)"
                                                 : std::to_string(spec.domains.size()) + " domain(s) whose keys the nodes generate once up")
              << ", chain at " << net->rpc_url() << " (start it with `mpc-devnet up`)\n";
    for (const auto& w : net->warnings) std::cerr << "warning: " << w << "\n";
    return 0;
  }
  auto net = devnet::Devnet::load(dir);
  if (!net) return fail_with(net.error(), cli::kUsage);
  if (up->parsed()) {
    up_options.bin_dir = bin_dir();
    up_options.block_interval = std::chrono::milliseconds(block_ms);
    up_options.poll_interval = std::chrono::milliseconds(poll_ms);
    auto procs = devnet::devnet_up(*net, up_options);
    if (!procs) return fail_with(procs.error());
    std::cout << "devnet is up (block interval " << block_ms << " ms, node poll interval " << poll_ms << " ms)\n";
    print_processes(*net, *procs);
    auto rpc = near::RpcClient::create(net->rpc_url(), near::RpcClientOptions{std::chrono::seconds(10)});
    auto view = rpc ? near::read_contract_view(**rpc, net->contract_id) : std::unexpected(rpc.error());
    if (view && std::holds_alternative<model::InitializingState>(view->state.state)) {
      std::cout << "the nodes are generating the keys (distributed key generation)...\n" << std::flush;
      const auto started = std::chrono::steady_clock::now();
      auto keyset = devnet::wait_for_keys(*net, std::chrono::seconds(keys_timeout_s));
      if (!keyset) return fail_with(keyset.error());
      std::cout << "keys generated in "
                << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
                << " ms: epoch " << keyset->epoch_id << ", " << keyset->domains.size() << " domain(s)\n";
      for (const auto& d : keyset->domains) std::cout << "  domain " << d.domain_id << ": " << model::to_json(d.key).dump() << "\n";
    }
    return 0;
  }
  if (down->parsed()) {
    auto procs = devnet::devnet_down(*net);
    if (!procs) return fail_with(procs.error());
    std::size_t n = 0;
    for (const auto& p : *procs) n += p.running;
    std::cout << "stopped " << n << " process(es)\n";
    return 0;
  }
  if (status->parsed()) {
    print_processes(*net, devnet::devnet_processes(*net));
    return 0;
  }
  // env
  if (env_node >= net->nodes.size()) return fail_with(core::invalid("--node: the devnet has " + std::to_string(net->nodes.size()) + " nodes").error(), cli::kUsage);
  const auto& n = net->nodes[env_node];
  auto home = node::NodeHome::load(net->path(n.home));
  if (!home) return fail_with(home.error());
  std::cout << "export MPC_RPC_URL=" << net->rpc_url() << "\n"
            << "export MPC_CONTRACT_ID=" << net->contract_id << "\n"
            << "export NODE_ACCOUNT_ID=" << n.account_id << "\n"
            << "export NODE_HOME=" << net->path(n.home).string() << "\n"
            << "export NODE_P2P_URL=" << n.p2p_url() << "\n"
            << "export NODE_MIGRATION_ADDR=" << n.migration_addr << "\n"
            << "export NODE_METRICS_ADDR=" << n.metrics_addr << "\n"
            << "export NODE_P2P_KEY=" << core::ed25519_public_key_to_string(home->tls_key.public_key()) << "\n"
            << "export OPERATOR_KEY_FILE=" << net->path(n.operator_key).string() << "\n"
            << "export BACKUP_ENCRYPTION_KEY_FILE=" << net->path(n.encryption_key).string() << "\n";
  return 0;
}
