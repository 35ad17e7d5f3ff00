// mpc-sandbox: a durable, single-process local chain that speaks NEAR
// JSON-RPC and hosts the MPC contract.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "core/file_util.h"
#include "core/near_key.h"
#include "sandbox/chain.h"
#include "sandbox/server.h"

namespace {

using namespace mpc;
using sandbox::json;

constexpr const char* kDefaultBalance = "1000000000000000000000000000";  // 1000 NEAR

int fail_with(const core::Error& e, int code = 1) {
  std::cerr << "mpc-sandbox: error: " << e.message << "\n";
  return code;
}

// Writes a near-cli credential file for a fresh key and returns its public key.
core::Result<core::Ed25519PublicKey> new_credentials(const std::filesystem::path& dir, const std::string& account_id,
                                                     const std::string& suffix = "") {
  core::NearCredentials creds{account_id, core::Ed25519SecretKey::generate()};
  MPC_TRY(core::write_credentials_file(dir / (account_id + suffix + ".json"), creds));
  return creds.secret_key.public_key();
}

core::Status init_home(const std::filesystem::path& home, int participants, int threshold, const std::string& genesis_file,
                       const std::string& chain_id) {
  if (std::filesystem::exists(sandbox::database_path(home))) {
    return core::fail(core::ErrorCode::kAlreadyExists,
                      home.string() + " already holds a chain; refusing to overwrite it (choose another --home)");
  }
  sandbox::Genesis genesis;
  if (!genesis_file.empty()) {
    MPC_ASSIGN(std::string text, core::read_file(genesis_file, 64 << 20));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return core::invalid("genesis file " + genesis_file + " is not valid JSON");
    auto g = sandbox::genesis_from_json(j);
    if (!g) return core::invalid("genesis file " + genesis_file + ": " + g.error().message);
    genesis = std::move(*g);
    MPC_TRY(core::ensure_directory(home, 0700));
  } else {
    if (participants < 0 || participants > 1000) return core::invalid("--participants must be between 0 and 1000");
    if (participants > 0 && (threshold < 1 || threshold > participants)) {
      return core::invalid("--threshold must be between 1 and --participants");
    }
    MPC_TRY(core::ensure_directory(home, 0700));
    const auto cred_dir = home / "credentials";
    MPC_TRY(core::ensure_directory(cred_dir, 0700));
    genesis.chain_id = chain_id;
    genesis.genesis_time_ns = sandbox::now_ns();
    genesis.contract_account_id = "mpc.sandbox";
    auto balance = *core::parse_u128(kDefaultBalance);
    MPC_ASSIGN(auto contract_key, new_credentials(cred_dir, genesis.contract_account_id));
    genesis.accounts.push_back({genesis.contract_account_id, balance, {{core::NearPublicKey{contract_key}, {}}}});
    json entries = json::array();
    for (int i = 0; i < participants; ++i) {
      const std::string id = "node" + std::to_string(i) + ".sandbox";
      MPC_ASSIGN(auto key, new_credentials(cred_dir, id));
      // The participant's P2P/TLS identity, for a node to import later.
      MPC_ASSIGN(auto tls_key, new_credentials(cred_dir, id, ".tls_key"));
      genesis.accounts.push_back({id, balance, {{core::NearPublicKey{key}, {}}}});
      entries.push_back(json::array({id, i, {{"url", "https://node" + std::to_string(i) + ".sandbox:443"},
                                             {"tls_public_key", core::ed25519_public_key_to_string(tls_key)}}}));
    }
    if (participants > 0) {
      genesis.contract_state = {
          {"protocol_state",
           {{"Running",
             {{"domains", {{"domains", json::array()}, {"next_domain_id", 0}}},
              {"keyset", {{"epoch_id", 0}, {"domains", json::array()}}},
              {"parameters", {{"participants", {{"next_id", participants}, {"participants", entries}}}, {"threshold", threshold}}},
              {"parameters_votes", {{"proposal_by_account", json::object()}}},
              {"add_domains_votes", {{"proposal_by_account", json::object()}}}}}}}};
    }
    MPC_TRY(core::write_file_exclusive(home / "genesis.json", core::as_bytes(sandbox::genesis_to_json(genesis).dump(2) + "\n"), 0644));
  }
  MPC_ASSIGN(auto store, sandbox::Store::open(sandbox::database_path(home)));
  return sandbox::Chain::create(*store, genesis);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-sandbox: a durable local chain that speaks NEAR JSON-RPC and hosts the MPC contract"};
  app.require_subcommand(1);

  std::string home;
  int participants = 3;
  int threshold = 2;
  std::string genesis_file;
  std::string chain_id = "mpc-sandbox";
  auto* init = app.add_subcommand("init", "Create a chain: genesis, accounts and their credential files");
  init->add_option("--home", home, "Directory for the chain (created 0700)")->required();
  init->add_option("--participants", participants, "Participant accounts node0.sandbox ... (contract starts Running)")
      ->capture_default_str();
  init->add_option("--threshold", threshold, "Signing threshold of the initial participants")->capture_default_str();
  init->add_option("--genesis", genesis_file, "A genesis JSON file (accounts, keys, initial contract state) instead of generated accounts")
      ->check(CLI::ExistingFile);
  init->add_option("--chain-id", chain_id, "Chain id reported by status")->capture_default_str();

  sandbox::ServerOptions run_options;
  int block_interval_ms = 500;
  auto* run = app.add_subcommand("run", "Serve NEAR JSON-RPC and produce blocks");
  run->add_option("--home", home, "Directory created by init")->required();
  run->add_option("--rpc-addr", run_options.rpc_addr, "Listen address HOST:PORT (port 0 picks one; see HOME/rpc.addr)")
      ->envname("MPC_SANDBOX_RPC_ADDR")
      ->capture_default_str();
  run->add_option("--block-interval-ms", block_interval_ms, "Milliseconds between blocks")
      ->envname("MPC_SANDBOX_BLOCK_INTERVAL_MS")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  run->add_option("--max-body-bytes", run_options.max_body_bytes, "Largest accepted request body")
      ->check(CLI::Range(1024, 64 << 20))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ mpc-sandbox %v");

  if (init->parsed()) {
    if (auto st = init_home(home, participants, threshold, genesis_file, chain_id); !st) return fail_with(st.error());
    std::cout << "created chain in " << home << "\n";
    if (genesis_file.empty()) std::cout << "credential files (0600): " << (std::filesystem::path(home) / "credentials") << "\n";
    return 0;
  }

  run_options.home = home;
  run_options.block_interval = std::chrono::milliseconds(block_interval_ms);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads inherit the mask; we sigwait below
  auto server = sandbox::SandboxServer::start(run_options);
  if (!server) return fail_with(server.error());
  auto head = (*server)->chain().head();
  spdlog::info("serving NEAR JSON-RPC on {} (chain {}, head #{}, block interval {} ms)", (*server)->rpc_url(),
               (*server)->chain().chain_id(), head.height, block_interval_ms);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->stop();
  return 0;
}
