// A running mpc-node: chain watcher, migration endpoint (mTLS), onboarding
// and the metrics endpoint, on one io_context.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "near/rpc_client.h"
#include "net/http_server.h"
#include "net/metrics.h"
#include "node/chain_watcher.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "node/migration_service.h"
#include "node/onboarding.h"

namespace mpc::net {
class MtlsServer;
}
namespace mpc::node {
class SigningRuntime;
}

namespace mpc::node {

// The reference deployment's migration endpoint: its own port, 8079.
inline constexpr std::string_view kDefaultMigrationAddr = "0.0.0.0:8079";

// The migration endpoint must not share the P2P port on the same host (a
// wildcard listen address counts as every host). Pure; no DNS.
core::Status check_listeners_apart(const std::string& p2p_url, const boost::asio::ip::tcp::endpoint& migration);

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
  ~NodeRuntime();
  NodeRuntime(const NodeRuntime&) = delete;
  NodeRuntime& operator=(const NodeRuntime&) = delete;

  // Loads the home, opens the store, binds the listeners and starts every
  // loop. `encryption_key` is the operator's AES-256 key.
  static core::Result<std::unique_ptr<NodeRuntime>> start(const NodeRunOptions& options, core::SecretBytes encryption_key);

  void stop();
  const boost::asio::ip::tcp::endpoint& migration_endpoint() const { return migration_endpoint_; }

 private:
  NodeRuntime() = default;
  void on_chain_change(const near::ContractView& snapshot);
  core::Status conclude(const core::Keyset& keyset);

  NodeRunOptions options_;
  std::unique_ptr<NodeHome> home_;
  std::unique_ptr<KeyshareStore> store_;
  net::MetricsRegistry metrics_;
  std::unique_ptr<near::RpcClient> rpc_;     // the chain watcher's reads
  std::unique_ptr<near::RpcClient> tx_rpc_;  // the signer's transactions
  std::unique_ptr<near::Signer> signer_;
  std::unique_ptr<RpcChainSource> source_;
  std::unique_ptr<MigrationService> service_;
  std::unique_ptr<ChainWatcher> watcher_;
  std::unique_ptr<Onboarding> onboarding_;
  std::unique_ptr<SigningRuntime> signing_;
  boost::asio::io_context ioc_;
  std::shared_ptr<net::MtlsServer> migration_server_;
  std::shared_ptr<net::HttpServer> metrics_server_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex io_mu_;
  std::condition_variable io_done_;
  std::size_t io_threads_done_ = 0;
  boost::asio::ip::tcp::endpoint migration_endpoint_;
  std::mutex view_mu_;
  std::optional<NodeView> view_;
  bool stopped_ = false;
};

}  // namespace mpc::node
