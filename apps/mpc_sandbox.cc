// mpc-sandbox: a durable, single-process local chain that speaks NEAR
// JSON-RPC and hosts the MPC contract.
#include <CLI/CLI.hpp>

#include "cli/cli.h"

#include "core/json_limits.h"
#include "core/logging.h"
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>

#include "core/file_util.h"
#include "core/near_key.h"
#include "core/u128.h"
#include "near/rpc_client.h"
#include "sandbox/chain.h"
#include "sandbox/server.h"
#include "sandbox/setup.h"

namespace {

using namespace mpc;
using sandbox::json;

const std::string kApp = "mpc-sandbox";
int fail_with(const core::Error& e, int code = cli::kOther) { return cli::fail(kApp, e, code); }

core::Status init_home(const std::filesystem::path& home, const sandbox::LocalChainSpec& spec, const std::string& genesis_file) {
  sandbox::Genesis genesis;
  if (!genesis_file.empty()) {
    MPC_ASSIGN(genesis, sandbox::read_genesis_file(genesis_file));
  } else {
    MPC_ASSIGN(genesis, sandbox::write_local_genesis(home, spec));
  }
  return sandbox::create_chain(home, genesis);
}


struct ClientOptions {
  std::string rpc_url;
  std::string contract_id = "mpc.sandbox";
  int timeout_seconds = 30;
  std::string credentials;
  std::string method;
  std::string args = "{}";
  std::string deposit = "0";
  bool full_access = false;
};

enum class Command { kView, kCall, kAddKey };


int run_client(Command command, const ClientOptions& o) {
  json args = core::parse_json(o.args, {4 << 20, 64}).value_or(json::value_t::discarded);
  if (args.is_discarded() || !args.is_object()) return fail_with(core::Error{core::ErrorCode::kInvalidArgument, "--args must be a JSON object"}, cli::kUsage);
  auto deposit = core::parse_u128(o.deposit);
  if (!deposit) return fail_with(core::Error{core::ErrorCode::kInvalidArgument, "--deposit-yocto: " + deposit.error().message}, cli::kUsage);
  auto rpc = near::RpcClient::create(o.rpc_url, near::RpcClientOptions{std::chrono::seconds(o.timeout_seconds)});
  if (!rpc) return fail_with(rpc.error(), cli::kUsage);
  if (command == Command::kView) {
    auto r = (*rpc)->view(o.contract_id, o.method, args);
    if (!r) return fail_with(r.error(), cli::exit_code_for(r.error()));
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  auto creds = core::read_credentials_file(o.credentials);
  if (!creds) return fail_with(creds.error(), cli::kUsage);
  near::Signer signer(**rpc, creds->account_id, std::move(creds->secret_key));
  core::Result<near::TxOutcome> out = core::fail(core::ErrorCode::kInternal, "no command");
  if (command == Command::kCall) {
    out = signer.call(o.contract_id, o.method, args, *deposit);
  } else {
    auto pk = core::NearPublicKey::parse(o.method);
    if (!pk) return fail_with(core::Error{core::ErrorCode::kInvalidArgument, "public_key: " + pk.error().message}, cli::kUsage);
    near::AccessKey key;
    if (!o.full_access) key.permission = near::FunctionCallPermission{std::nullopt, o.contract_id, {}};
    out = signer.send(creds->account_id, {near::AddKeyAction{*pk, key}});
  }
  if (!out) return fail_with(out.error(), cli::exit_code_for(out.error()));
  std::cout << "transaction " << out->tx_hash << " succeeded";
  for (const auto& l : out->logs) std::cout << "\n  log: " << l;
  if (!out->success_value.empty()) std::cout << "\n  result: " << core::to_string(out->success_value);
  std::cout << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-sandbox: a durable local chain that speaks NEAR JSON-RPC and hosts the MPC contract"};
  mpc::cli::add_version_flag(app, "mpc-sandbox");
  app.footer(mpc::cli::exit_codes_help());
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_format;
  cli::add_log_format_option(app, log_format, "MPC_LOG_FORMAT");

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
  init->add_option("--key-event-timeout-blocks", spec.key_event_timeout_blocks,
                   "Blocks a key generation or resharing attempt lasts (the contract's key_event_timeout_blocks; default 30)")
      ->check(CLI::NonNegativeNumber)  // CLI11 would wrap -1 into an unsigned 2^64 - 1
      ->excludes("--genesis");
  init->add_option("--attestation", spec.attestation,
                   "TEE attestations the contract accepts: mock (development: Mock attestations, unattested backup "
                   "services; the default) or dstack (production: verified Dstack attestations only)")
      ->check(CLI::IsMember({"mock", "dstack"}))
      ->excludes("--genesis");

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

  // Client commands: talk to mpc-sandbox (or any NEAR RPC) like near-cli.
  ClientOptions client;
  auto add_client_options = [&](CLI::App* cmd, bool signs) {
    cmd->add_option("--rpc-url", client.rpc_url, "NEAR JSON-RPC endpoint, e.g. http://127.0.0.1:3030")
        ->envname("MPC_RPC_URL")
        ->required();
    cmd->add_option("--contract-id", client.contract_id, "The contract account")->capture_default_str();
    cmd->add_option("--timeout-seconds", client.timeout_seconds, "Deadline of each RPC request")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    if (signs) {
      cmd->add_option("--credentials", client.credentials, "near-cli credential file of the signing account")
          ->required()
          ->check(CLI::ExistingFile);
    }
  };
  auto* view = app.add_subcommand("view", "Call a view method of the contract and print its JSON result");
  add_client_options(view, false);
  view->add_option("method", client.method, "View method (state, migration_info, ...)")->required();
  view->add_option("--args", client.args, "JSON arguments")->capture_default_str();

  auto* call = app.add_subcommand("call", "Sign and send a function call to the contract; print its outcome");
  add_client_options(call, true);
  call->add_option("method", client.method, "Method name")->required();
  call->add_option("--args", client.args, "JSON arguments")->capture_default_str();
  call->add_option("--deposit-yocto", client.deposit, "Attached deposit in yoctoNEAR")->capture_default_str();

  auto* add_key = app.add_subcommand("add-key", "Add an access key to the signing account (full access, or limited to the contract)");
  add_client_options(add_key, true);
  add_key->add_option("public_key", client.method, "The key to add, ed25519:<base58>")->required();
  add_key->add_flag("--full-access", client.full_access, "Full-access key (default: a function-call key for --contract-id)");

  std::string keygen_account;
  std::string keygen_out;
  auto* keygen = app.add_subcommand("keygen", "Create a new ed25519 key as a near-cli credential file (0600) and print its public key");
  keygen->add_option("--account-id", keygen_account, "Account the key is for")->required();
  keygen->add_option("--out", keygen_out, "File to create (refuses to overwrite)")->required();

  if (auto code = cli::parse(app, argc, argv)) return *code;
  cli::setup_logging(kApp, log_format);

  if (init->parsed()) {
    if (auto st = init_home(home, spec, genesis_file); !st) return fail_with(st.error());
    std::cout << "created chain in " << home << "\n";
    if (genesis_file.empty()) std::cout << "credential files (0600): " << (std::filesystem::path(home) / "credentials") << "\n";
    return 0;
  }

  if (keygen->parsed()) {
    if (!core::is_valid_account_id(keygen_account)) {
      return fail_with(core::Error{core::ErrorCode::kInvalidArgument, "--account-id is not a valid NEAR account id"}, cli::kUsage);
    }
    core::NearCredentials creds{keygen_account, core::Ed25519SecretKey::generate()};
    if (auto st = core::write_credentials_file(keygen_out, creds); !st) return fail_with(st.error());
    std::cout << core::ed25519_public_key_to_string(creds.secret_key.public_key()) << "\n";
    return 0;
  }
  if (view->parsed() || call->parsed() || add_key->parsed()) {
    const Command command = view->parsed() ? Command::kView : call->parsed() ? Command::kCall : Command::kAddKey;
    return run_client(command, client);
  }

  run_options.home = home;
  run_options.block_interval = std::chrono::milliseconds(block_interval_ms);
  cli::SignalWaiter signals;  // before any thread starts: they inherit the mask
  auto server = sandbox::SandboxServer::start(run_options);
  if (!server) return fail_with(server.error());
  auto head = (*server)->chain().head();
  spdlog::info("serving NEAR JSON-RPC on {} (chain {}, head #{}, block interval {} ms)", (*server)->rpc_url(),
               (*server)->chain().chain_id(), head.height, block_interval_ms);
  spdlog::info("received {}, stopping", cli::SignalWaiter::name(signals.wait()));
  (*server)->stop();
  return 0;
}
