// mpc-node: holds key shares, serves them encrypted to its registered backup
// service over mutual TLS, and onboards as the destination of a migration.
#include <CLI/CLI.hpp>

#include "cli/cli.h"

#include "core/json_limits.h"
#include "core/logging.h"
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/allocator.h"
#include "core/file_util.h"
#include "model/types.h"
#include "near/rpc_client.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "node/node_runtime.h"

namespace {

using namespace mpc;
using json = nlohmann::json;


const std::string kApp = "mpc-node";
int fail_with(const core::Error& e, int code = cli::kOther) { return cli::fail(kApp, e, code); }


// The operator's AES-256 key from MPC_BACKUP_ENCRYPTION_KEY_HEX: exactly 64
// hex characters. The value is never echoed.
core::Result<core::SecretBytes> encryption_key_from_env() {
  const char* value = std::getenv("MPC_BACKUP_ENCRYPTION_KEY_HEX");
  if (value == nullptr || *value == '\0')
    return core::invalid(
        "MPC_BACKUP_ENCRYPTION_KEY_HEX is not set: the node needs the operator's AES-256 key (64 hex characters) "
        "to serve or accept key shares");
  auto key = core::parse_aes256_key_hex(value, "MPC_BACKUP_ENCRYPTION_KEY_HEX");
  // The key now lives in wiped memory only: scrub it from the environment.
  core::secure_wipe(const_cast<char*>(value), std::strlen(value));
  ::unsetenv("MPC_BACKUP_ENCRYPTION_KEY_HEX");
  return key;
}

// A keyset from a file holding either a Keyset or a whole contract state
// (view `state`), or from the chain.
core::Result<model::Keyset> load_keyset(const std::string& keyset_file, const std::string& rpc_url,
                                       const std::string& contract_id) {
  json j;
  if (!keyset_file.empty()) {
    MPC_ASSIGN(std::string text, core::read_file(keyset_file, 64 << 20));
    j = core::parse_json(text, {64 << 20, 64}).value_or(json::value_t::discarded);
    if (j.is_discarded()) return core::invalid("--keyset-file: " + keyset_file + " is not JSON");
    if (j.is_object() && j.contains("epoch_id") && j.contains("domains")) {
      auto ks = model::parse_keyset(j);
      if (!ks) return std::unexpected(ks.error().context("--keyset-file"));
      return *ks;
    }
  } else {
    MPC_ASSIGN(auto rpc, near::RpcClient::create(rpc_url));
    MPC_ASSIGN(j, rpc->view(contract_id, "state"));
  }
  auto state = model::parse_protocol_state(j);
  if (!state) return std::unexpected(state.error().context("contract state"));
  auto keyset = model::keyset_to_back_up(*state);
  if (!keyset)
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      std::string("the contract is ") + state->name() + " with no keyset to hold yet");
  return *keyset;
}

int cmd_import(const std::string& home_dir, const std::string& shares_file, const std::string& keyset_file,
               const std::string& rpc_url, const std::string& contract_id) {
  auto home = node::NodeHome::load(home_dir);
  if (!home) return fail_with(home.error(), cli::kUsage);
  auto keyset = load_keyset(keyset_file, rpc_url, contract_id);
  // A keyset file is the operator's input (usage); the chain's answer goes by the table.
  if (!keyset) return fail_with(keyset.error(), keyset_file.empty() ? cli::exit_code_for(keyset.error()) : cli::kUsage);
  auto raw = core::read_file(shares_file, 64 << 20);
  if (!raw) return fail_with(raw.error(), cli::kUsage);
  core::SecretString text(std::move(*raw));
  json parsed = core::parse_json(text.reveal(), {64 << 20, 64}).value_or(json::value_t::discarded);
  if (parsed.is_discarded()) return fail_with(core::invalid("--shares-file: not JSON").error(), cli::kUsage);
  auto shares = model::parse_keyshares(parsed);
  model::wipe_private_shares(parsed);
  if (!shares) return fail_with(shares.error().context("--shares-file"), cli::kUsage);
  auto store = node::KeyshareStore::open(home->keyshare_file(), home->local_storage_key.clone());
  if (!store) return fail_with(store.error());
  const std::size_t count = shares->size();
  if (auto st = (*store)->import(std::move(*shares), *keyset); !st) return fail_with(st.error(), cli::kValidation);
  std::cout << "imported " << count << " key share(s) of epoch " << keyset->epoch_id << " into "
            << home->keyshare_file().string() << "\n";
  return 0;
}

int cmd_shares(const std::string& home_dir) {
  auto home = node::NodeHome::load(home_dir);
  if (!home) return fail_with(home.error(), cli::kUsage);
  auto store = node::KeyshareStore::open(home->keyshare_file(), home->local_storage_key.clone());
  if (!store) return fail_with(store.error());
  auto summary = (*store)->summary();
  if (summary.domains.empty()) {
    std::cout << "no key shares held\n";
    return 0;
  }
  std::cout << "epoch " << summary.epoch_id << ", " << summary.domains.size() << " domain(s)\n";
  for (const auto& d : summary.domains)
    std::cout << "  domain " << d.domain_id << " attempt " << d.attempt_id << " " << model::curve_name(d.kind)
              << " group key " << d.public_key << "\n";
  std::cout << "digest " << summary.digest << "\n";
  return 0;
}

}  // namespace

// The allocator.
//
// jemalloc (linked unless a sanitizer is on; see CMakeLists.txt). A fresh
// mutual-TLS handshake makes hundreds of small allocations inside OpenSSL,
// and each request some dozens in Beast and the handler. glibc's
// per-thread cache holds 7 blocks of a size, so the two I/O threads kept
// falling through to their shared arena and its lock (strace -k: futex
// calls under malloc on every handshake); jemalloc's thread caches are deep
// enough that they rarely do. bench/node_vs_nginx, 1 domain, three runs
// alternating the two builds: node CPU per fresh-handshake request
// 1.13-1.21x nginx's with glibc, 1.04-1.11x with jemalloc (keep-alive
// 1.45-1.55x and 1.27-1.48x). One arena for all threads (narenas:1): the
// thread caches already keep the I/O threads apart, and each further arena
// keeps freed 200-300 KB buffers of its own: peak RSS under 32 clients at
// 1,000 domains 42-44 MiB (glibc: 41-42 MiB), 52 MiB with jemalloc's default
// of 4 arenas per CPU. MALLOC_CONF in the environment adds to
// or overrides this.
#ifdef MPC_NODE_JEMALLOC
// Read by jemalloc when it starts (its documented configuration symbol).
extern "C" {
const char* malloc_conf = "narenas:1";
}
#endif

namespace {
// glibc (sanitizer builds). At 1,000 domains a request body is ~220 KB and
// a chain view answer ~800 KB. With glibc's defaults (an arena per thread,
// and an mmap threshold that rises past such sizes once one is freed) those
// buffers stay in many heaps after use: 32 clients left a peak RSS of 57
// MiB. Two arenas bound that. Buffers below 1 MiB come from the heaps, not
// from mmap: a freshly mapped 220 KB body costs ~55 page faults to fill and
// a munmap with a TLB shootdown of every thread once freed, which was a
// seventh of the node's CPU under keep-alive load at a 128 KiB threshold
// (bench/node_vs_nginx, perf). Free memory is returned to the kernel past
// 4 MiB at the top of a heap. An operator's own GLIBC_TUNABLES malloc
// settings win.
void configure_allocator() {
#ifndef MPC_NODE_JEMALLOC
  if (const char* t = std::getenv("GLIBC_TUNABLES"); t != nullptr && std::strstr(t, "glibc.malloc.") != nullptr) return;
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
#endif
}
}  // namespace

int main(int argc, char** argv) {
  configure_allocator();
  CLI::App app{
      "mpc-node: holds MPC key shares, serves them encrypted to its registered backup service over mutual TLS, "
      "and onboards as the destination of a node migration.\n"
      "Secrets come only from the home directory and MPC_BACKUP_ENCRYPTION_KEY_HEX (never from flags)."};
  app.footer(mpc::cli::exit_codes_help());
  mpc::cli::add_version_flag(app, "mpc-node");
  app.require_subcommand(1);
  app.fallthrough();
  std::string log_format;
  cli::add_log_format_option(app, log_format, "MPC_LOG_FORMAT");
  std::string home;

  std::string account_id;
  auto* init = app.add_subcommand("init", "Create a node home: TLS (P2P) key, NEAR access key, local storage key (0600)");
  init->add_option("--home", home, "Node home directory (created 0700)")->envname("MPC_NODE_HOME")->required();
  init->add_option("--account-id", account_id, "The operator's NEAR account this node serves")->required();

  auto* keys = app.add_subcommand("keys", "Print the node's public keys (TLS key and access key) as JSON");
  keys->add_option("--home", home, "Node home directory")->envname("MPC_NODE_HOME")->required();

  node::NodeRunOptions run_options;
  int poll_interval_ms = 1000;
  auto* run = app.add_subcommand("run", "Follow the contract, serve the migration endpoint, onboard when migrated to");
  run->add_option("--home", home, "Node home directory")->envname("MPC_NODE_HOME")->required();
  run->add_option("--rpc-url", run_options.rpc_url, "NEAR JSON-RPC endpoint")->envname("MPC_RPC_URL")->required();
  run->add_option("--contract-id", run_options.contract_id, "The MPC contract account")
      ->envname("MPC_CONTRACT_ID")
      ->required();
  run->add_option("--p2p-url", run_options.p2p_url,
                  "The node's P2P address, http(s)://host:port: the `url` the contract lists for this node's TLS key "
                  "(what start_node_migration registers)")
      ->envname("MPC_P2P_URL")
      ->required();
  run->add_option("--migration-addr", run_options.migration_addr,
                  "Listen address of the mutual-TLS migration endpoint, HOST:PORT, a port of its own (8079 by convention; "
                  "port 0 picks one; the bound address is written to HOME/migration.addr)")
      ->envname("MPC_MIGRATION_ADDR")
      ->capture_default_str();
  run->add_option("--metrics-addr", run_options.metrics_addr, "Plain-HTTP address for /metrics, HOST:PORT (off when empty)")
      ->envname("MPC_METRICS_ADDR");
  run->add_option("--p2p-listen-addr", run_options.p2p_listen_addr,
                  "Where the node-to-node mesh (mutual TLS) listens, HOST:PORT (default: 0.0.0.0 on the port of --p2p-url; "
                  "the bound address is written to HOME/p2p.addr)")
      ->envname("MPC_P2P_LISTEN_ADDR");
  run->add_option("--p2p-listen-fd", run_options.p2p_listen_fd,
                  "Listen on this inherited TCP socket, bound or already listening, instead (a supervisor holding the P2P port)")
      ->check(CLI::Range(0, 1 << 20));
  int takeover_ms = 3000, session_ms = 5000;
  run->add_option("--sign-takeover-ms", takeover_ms,
                  "Signing: how long the next participant waits, per participant ahead of it, before leading a pending request")
      ->check(CLI::Range(50, 600'000))
      ->capture_default_str();
  run->add_option("--sign-session-timeout-ms", session_ms, "Signing: how long a session may take before its leader retries")
      ->check(CLI::Range(50, 600'000))
      ->capture_default_str();
  run->add_flag("--require-attested-backup-service", run_options.require_attested_backup_service,
                "Hard launch: serve GET /get_keyshares and accept PUT /set_keyshares only for a backup service whose TEE "
                "attestation the contract holds (valid, unexpired, binding the connecting TLS key); refusals are logged "
                "and counted in mpc_connections_refused_total{reason}");
  run->add_option("--tee-attestation", run_options.tee_attestation,
                  "Where this node's TEE attestation comes from: dstack (the dstack guest agent, collateral from --pccs-url), "
                  "mock (the reference's Mock: only a contract configured for development accepts it), or none. It is "
                  "submitted (submit_participant_info) before concluding a migration and every 6 days while a participant")
      ->check(CLI::IsMember({"dstack", "mock", "none"}))
      ->capture_default_str();
  run->add_option("--dstack-socket", run_options.dstack_socket, "The dstack guest agent's unix socket")->capture_default_str();
  run->add_option("--pccs-url", run_options.pccs_url, "Where the quote's collateral comes from (Intel PCS API v4)")->capture_default_str();
  run->add_option("--poll-interval-ms", poll_interval_ms, "How often to read the contract")
      ->envname("MPC_CHAIN_POLL_INTERVAL_MS")
      ->check(CLI::Range(50, 600'000))
      ->capture_default_str();

  int handshake_timeout_ms = 5000, request_timeout_ms = 10000;
  run->add_option("--handshake-timeout-ms", handshake_timeout_ms, "Deadline for a peer's TLS handshake")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  run->add_option("--request-timeout-ms", request_timeout_ms, "Deadline for a peer to send a whole request (headers and body)")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  run->add_option("--max-body-bytes", run_options.body_limit, "Largest accepted request body on the migration endpoint")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30))
      ->capture_default_str();
  int first_bytes_timeout_ms = 2000;
  run->add_option("--first-bytes-timeout-ms", first_bytes_timeout_ms, "Deadline for a new connection's first TLS bytes")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  run->add_option("--max-preauth-connections", run_options.max_preauth_connections,
                  "Connections still in the TLS handshake allowed at once (when full, the oldest is evicted)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  run->add_option("--max-preauth-per-source", run_options.max_preauth_per_source,
                  "Connections in the TLS handshake allowed at once from one source address")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  run->add_option("--max-connections", run_options.max_connections,
                  "Authenticated migration connections allowed at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();

  std::string shares_file, keyset_file, rpc_url, contract_id;
  auto* import = app.add_subcommand(
      "import-shares",
      "Operator action: import plaintext key shares (e.g. from a trusted dealer on a local network) after checking them "
      "against the keyset; run it while the node is stopped");
  import->add_option("--home", home, "Node home directory")->envname("MPC_NODE_HOME")->required();
  import->add_option("--shares-file", shares_file, "JSON array of Keyshare (interop §5 plaintext)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* keyset_opt = import->add_option("--keyset-file", keyset_file, "A Keyset JSON, or a contract state JSON")
                         ->check(CLI::ExistingFile);
  auto* rpc_opt = import->add_option("--rpc-url", rpc_url, "Take the keyset from the chain instead")->envname("MPC_RPC_URL");
  import->add_option("--contract-id", contract_id, "The MPC contract account (with --rpc-url)")->envname("MPC_CONTRACT_ID");
  keyset_opt->excludes(rpc_opt);

  auto* shares = app.add_subcommand("shares", "Summarise the held key shares (epoch, domains, group keys, digest; no secrets)");
  shares->add_option("--home", home, "Node home directory")->envname("MPC_NODE_HOME")->required();

  if (auto code = cli::parse(app, argc, argv)) return *code;
  cli::setup_logging(kApp, log_format);
#ifdef MPC_NODE_JEMALLOC
  if (run->parsed() && !core::allocator_name().starts_with("jemalloc"))
    spdlog::warn("mpc-node was built with jemalloc but runs on {} (LD_PRELOAD of another allocator?); it works, with more CPU per handshake",
                 core::allocator_name());
#endif

  if (init->parsed()) {
    auto h = node::NodeHome::init(home, account_id);
    if (!h) return fail_with(h.error(), h.error().code == core::ErrorCode::kAlreadyExists ? 1 : cli::kUsage);
    std::cout << "created node home " << home << " for " << account_id << "\n"
              << "tls_public_key    " << core::ed25519_public_key_to_string(h->tls_key.public_key()) << "\n"
              << "access public key " << core::ed25519_public_key_to_string(h->access_key.secret_key.public_key()) << "\n";
    return 0;
  }
  if (keys->parsed()) {
    auto h = node::NodeHome::load(home);
    if (!h) return fail_with(h.error(), cli::kUsage);
    std::cout << json{{"account_id", h->account_id},
                      {"tls_public_key", core::ed25519_public_key_to_string(h->tls_key.public_key())},
                      {"access_public_key", core::ed25519_public_key_to_string(h->access_key.secret_key.public_key())}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (import->parsed()) {
    if (keyset_file.empty() && (rpc_url.empty() || contract_id.empty()))
      return fail_with(core::invalid("import-shares needs --keyset-file, or --rpc-url with --contract-id").error(), cli::kUsage);
    return cmd_import(home, shares_file, keyset_file, rpc_url, contract_id);
  }
  if (shares->parsed()) return cmd_shares(home);

  // run
  auto key = encryption_key_from_env();
  if (!key) return fail_with(key.error(), cli::kUsage);
  run_options.home = home;
  run_options.poll_interval = std::chrono::milliseconds(poll_interval_ms);
  run_options.sign_takeover_delay = std::chrono::milliseconds(takeover_ms);
  run_options.sign_session_timeout = std::chrono::milliseconds(session_ms);
  run_options.handshake_timeout = std::chrono::milliseconds(handshake_timeout_ms);
  run_options.request_timeout = std::chrono::milliseconds(request_timeout_ms);
  run_options.first_bytes_timeout = std::chrono::milliseconds(first_bytes_timeout_ms);
  cli::SignalWaiter signals;  // before any thread starts: they inherit the mask
  auto runtime = node::NodeRuntime::start(run_options, std::move(*key));
  // What start() refuses is the operator's configuration (flags, home), or a fatal condition.
  if (!runtime)
    return fail_with(runtime.error(), runtime.error().code == core::ErrorCode::kInvalidArgument ? cli::kUsage : cli::kOther);
  spdlog::info("received {}, stopping", cli::SignalWaiter::name(signals.wait()));
  (*runtime)->stop();
  return 0;
}
