// `backup-cli run` wired to the real world: the daemon (backup/daemon.h) on
// the chain over RPC, the node over mutual TLS, the backup store on disk (or
// in memory), and the optional /metrics endpoint; `run --tee` adds the TEE
// identity, its attested registration and the AES-key provisioning endpoint
// (backup/tee.h).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "backup/home.h"
#include "backup/operator.h"
#include "near/rpc_client.h"
#include "tee/attestation_source.h"

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

// `backup-cli run --tee`: nothing secret on disk and no secrets.json. The
// service generates a TeeIdentity in memory, logs the signer public key the
// operator adds as an access key of config.account_id (required here), gets
// the provisioning attestation (report data version 2) and serves
// GET /public_data, GET and PUT /provision on `provision_addr` (the bound
// address logged and written to HOME/provision.addr). A TeeRegistrar
// registers the TLS key with an attestation once the signer key is on the
// account (view_access_key) and again every `reattest_interval`: a
// full-access signer key attaches the contract's 1 yoctoNEAR deposit, a
// function-call key cannot attach one and calls without. The daemon starts
// once the AES key is provisioned, connects with the identity's TLS key and
// keeps shares in memory only. Metrics: backup_tee_registered and
// backup_aes_key_provisioned (0/1).
struct TeeServiceConfig {
  std::shared_ptr<tee::AttestationSource> source;
  std::chrono::seconds reattest_interval{144 * 3600};
  boost::asio::ip::tcp::endpoint provision_addr;
};
core::Status run_tee_service(const ServiceConfig& config, const TeeServiceConfig& tee, near::RpcClient& rpc,
                             const std::function<void()>& wait_for_stop);

// The file in the home that names the provisioning endpoint's bound HOST:PORT.
std::filesystem::path provision_addr_file(const std::filesystem::path& home);

}  // namespace mpc::backup
