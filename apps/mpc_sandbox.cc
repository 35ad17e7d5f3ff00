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
#include "sandbox/setup.h"

namespace {

using namespace mpc;
using sandbox::json;

int fail_with(const core::Error& e, int code = 1) {
  std::cerr << "mpc-sandbox: error: " << e.message << "\n";
  return code;
}

core::Status init_home(const std::filesystem::path& home, const sandbox::LocalChainSpec& spec, const std::string& genesis_file) {
  sandbox::Genesis genesis;
  if (!genesis_file.empty()) {
    MPC_ASSIGN(genesis, sandbox::read_genesis_file(genesis_file));
  } else {
    MPC_ASSIGN(genesis, sandbox::write_local_genesis(home, spec));
  }
  return sandbox::create_chain(home, genesis);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-sandbox: a durable local chain that speaks NEAR JSON-RPC and hosts the MPC contract"};
  app.require_subcommand(1);

  std::string home;
  sandbox::LocalChainSpec spec;
  std::string genesis_file;
  auto* init = app.add_subcommand("init", "Create a chain: genesis, accounts and their credential files");
  init->add_option("--home", home, "Directory for the chain (created 0700)")->required();
  init->add_option("--participants", spec.participants, "Participant accounts node0.sandbox ... (contract starts Running)")
      ->capture_default_str();
  init->add_option("--threshold", spec.threshold, "Signing threshold of the initial participants")->capture_default_str();
  init->add_option("--genesis", genesis_file, "A genesis JSON file (accounts, keys, initial contract state) instead of generated accounts")
      ->check(CLI::ExistingFile);
  init->add_option("--chain-id", spec.chain_id, "Chain id reported by status")->capture_default_str();

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
    if (auto st = init_home(home, spec, genesis_file); !st) return fail_with(st.error());
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
