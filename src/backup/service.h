// `backup-cli run` wired to the real world: the daemon (backup/daemon.h) on
// the chain over RPC, the node over mutual TLS, the backup store on disk (or
// in memory), and the optional /metrics endpoint.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "backup/home.h"
#include "backup/operator.h"
#include "near/rpc_client.h"

namespace mpc::backup {

struct ServiceConfig {
  std::filesystem::path home_dir;
  std::string contract_id;
  std::string account_id;  // empty: the participant whose TLS key is node.key
  NodeTarget node;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::seconds poll_interval{60};
  std::uint16_t migration_port = kDefaultMigrationPort;
  std::optional<boost::asio::ip::tcp::endpoint> metrics;  // plain HTTP /metrics and /health
  bool memory_only = false;                               // never write shares to disk
};

// Runs the service until `wait_for_stop` returns (backup-cli blocks on
// SIGINT/SIGTERM there), then finishes the current step and returns. Errors
// are fatal conditions a supervisor should see (home unusable, metrics
// address not bindable); everything else is retried inside.
core::Status run_service(const ServiceConfig& config, near::RpcClient& rpc, const Secrets& secrets,
                         const core::SecretBytes& encryption_key, const std::function<void()>& wait_for_stop);

}  // namespace mpc::backup
