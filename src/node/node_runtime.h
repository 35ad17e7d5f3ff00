// A running mpc-node: chain watcher, migration endpoint (mTLS), onboarding,
// signing and the metrics endpoint, on one io_context. The header is the
// runtime's whole surface (options in, start, stop); what it runs is in
// node_runtime.cc behind NodeRuntime::Impl.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/secret.h"
#include "net/host_port.h"

namespace mpc::node {

// The reference deployment's migration endpoint: its own port, 8079.
inline constexpr std::string_view kDefaultMigrationAddr = "0.0.0.0:8079";

// The migration endpoint must not share the P2P port on the same host (a
// wildcard listen address counts as every host). Pure; no DNS.
// `migration` is the listen address (an IP literal or localhost, as
// net::parse_listen_address takes it).
core::Status check_listeners_apart(const std::string& p2p_url, const net::HostPort& migration);

struct NodeRunOptions {
  std::filesystem::path home;
  std::string rpc_url;
  std::string contract_id;
  // The node's P2P address, as the contract lists it for its TLS key
  // (http(s)://host:port, as in the participant's `url`). The migration endpoint is a separate listener.
  std::string p2p_url;
  std::string migration_addr = std::string(kDefaultMigrationAddr);
  std::string metrics_addr;  // empty: no metrics endpoint
  // Where the P2P mesh listens: a bound socket handed down by a supervisor
  // (>= 0), else p2p_listen_addr (HOST:PORT; empty: 0.0.0.0 on the port of p2p_url).
  int p2p_listen_fd = -1;
  std::string p2p_listen_addr;
  // Signing: a leader that has not answered is taken over after this, per
  // participant ahead of the next one; a session without an answer ends after session_timeout.
  std::chrono::milliseconds sign_takeover_delay{3'000};
  std::chrono::milliseconds sign_session_timeout{5'000};
  // Hard launch: serve and accept shares only for a backup service whose
  // attestation the contract holds (valid, unexpired, for its TLS key).
  bool require_attested_backup_service = false;
  // Where this node's own TEE attestation comes from ("dstack": the dstack
  // guest agent + a PCCS for the collateral; "mock": the reference's Mock,
  // which only a contract configured for development accepts; "none": never
  // submit one). It is submitted (submit_participant_info) before concluding
  // a migration to this node, and every `reattest_interval` while the node
  // is an active participant.
  std::string tee_attestation = "dstack";
  std::filesystem::path dstack_socket = "/var/run/dstack.sock";
  std::string pccs_url = "https://pccs.phala.network";
  std::chrono::hours reattest_interval{24 * 6};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds rpc_timeout{10'000};
  std::size_t threads = 2;
  // Migration endpoint limits.
  std::size_t body_limit = 8 << 20;
  std::size_t max_connections = 64;           // authenticated connections
  std::size_t max_preauth_connections = 256;  // handshakes in progress, all sources
  std::size_t max_preauth_per_source = 8;     // handshakes in progress, one source address
  std::chrono::milliseconds first_bytes_timeout{2'000};
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds request_timeout{10'000};
};

// Written once the listeners are bound: "HOST:PORT".
std::filesystem::path migration_addr_file(const std::filesystem::path& home);
std::filesystem::path metrics_addr_file(const std::filesystem::path& home);

class NodeRuntime {
 public:
  ~NodeRuntime();  // stops
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  // Loads the home, opens the store, binds the listeners and starts every
  // loop. `encryption_key` is the operator's AES-256 key.
  static core::Result<std::unique_ptr<NodeRuntime>> start(const NodeRunOptions& options, core::SecretBytes encryption_key);

  // Stops every loop and listener, waits for the io threads, removes the
  // address files. Idempotent.
  void stop();
  // The bound migration endpoint (its port when the options said 0).
  net::HostPort migration_address() const;

 private:
  struct Impl;
  explicit NodeRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::node
