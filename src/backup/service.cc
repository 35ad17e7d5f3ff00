#include "backup/service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "backup/daemon.h"
#include "backup/tee.h"
#include "core/file_util.h"
#include "core/near_key.h"
#include "net/http_server.h"
#include "net/io_thread.h"
#include "net/metrics.h"

namespace mpc::backup {

namespace {

// The daemon's chain read: an unchanged view answer is not parsed again
// (near::ContractViewCache).
std::function<core::Result<near::ContractView>()> cached_chain_reader(near::RpcClient& rpc, const std::string& contract_id) {
  struct Cached {
    std::mutex mu;
    near::ContractViewCache cache;
  };
  return [&rpc, contract_id, cached = std::make_shared<Cached>()] {
    std::lock_guard lock(cached->mu);
    return near::read_contract_view(rpc, contract_id, {}, cached->cache);
  };
}

// The node over mutual TLS with `own_key`, the shares under `encryption_key`.
void set_node_ports(DaemonPorts& ports, const core::Ed25519SecretKey& own_key, const core::SecretBytes& encryption_key,
                    std::chrono::milliseconds timeout) {
  ports.fetch = [&own_key, &encryption_key, timeout](const NodeTarget& t, const model::Keyset& keyset) {
    NodeClient client({t.address, t.key, timeout}, own_key, encryption_key);
    return client.get_keyshares(keyset);
  };
  ports.push = [&own_key, &encryption_key, timeout](const NodeTarget& t, const std::vector<model::Keyshare>& shares) {
    NodeClient client({t.address, t.key, timeout}, own_key, encryption_key);
    return client.put_keyshares(shares);
  };
}

DaemonOptions daemon_options(const ServiceConfig& config) {
  DaemonOptions options;
  options.account_id = config.account_id;
  options.initial_node = config.node;
  options.migration_port = config.migration_port;
  options.poll_interval = config.poll_interval;
  options.max_backoff = config.poll_interval;
  return options;
}

std::shared_ptr<net::HttpServer> small_http_server(boost::asio::io_context& ioc, net::HttpHandler handler) {
  net::HttpServerOptions hopts;
  hopts.max_connections = 32;
  hopts.body_limit = 4096;
  return std::make_shared<net::HttpServer>(ioc, hopts, std::move(handler));
}

// The /metrics listener, when configured; its bound address goes to the log
// (tests and operators read it there: it may be port 0).
core::Result<std::shared_ptr<net::HttpServer>> listen_metrics(boost::asio::io_context& ioc, const ServiceConfig& config,
                                                              net::MetricsRegistry& metrics) {
  if (!config.metrics) return std::shared_ptr<net::HttpServer>();
  auto server = small_http_server(ioc, net::metrics_handler(metrics));
  MPC_ASSIGN(auto bound, server->listen(*config.metrics));
  spdlog::info("metrics on http://{}/metrics", net::HostPort::from_endpoint(bound).to_string());
  return server;
}

}  // namespace

std::filesystem::path provision_addr_file(const std::filesystem::path& home) { return home / "provision.addr"; }

core::Status run_service(const ServiceConfig& config, near::RpcClient& rpc, const Secrets& secrets,
                         const core::SecretBytes& encryption_key, const std::function<void()>& wait_for_stop) {
  BackupStore disk_store(config.home_dir, secrets.local_storage_aes_key.clone());
  MemoryBackupStore memory_store;
  if (!config.memory_only) MPC_TRY(disk_store.load_newest());  // an unreadable home is fatal

  net::MetricsRegistry metrics;
  boost::asio::io_context ioc;
  MPC_ASSIGN(auto metrics_server, listen_metrics(ioc, config, metrics));
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io_thread([&ioc] { net::run_io_context(ioc, "backup-cli"); });

  const core::Ed25519SecretKey& own_key = secrets.p2p_private_key;
  const auto timeout = config.request_timeout;
  DaemonPorts ports;
  ports.read_chain = cached_chain_reader(rpc, config.contract_id);
  if (config.memory_only) {
    ports.load_newest = [&memory_store] { return memory_store.load_newest(); };
    ports.store = [&memory_store](const std::vector<model::Keyshare>& s) { return memory_store.store(s); };
  } else {
    ports.load_newest = [&disk_store] { return disk_store.load_newest(); };
    ports.store = [&disk_store](const std::vector<model::Keyshare>& s) -> core::Status {
      MPC_TRY(disk_store.store(s));
      return {};
    };
  }
  set_node_ports(ports, own_key, encryption_key, timeout);
  BackupDaemon daemon(daemon_options(config), std::move(ports), metrics);

  spdlog::info("backing up {}node {} (TLS key {}; contract {} at {}, poll every {} s, destinations on port {}{})",
               config.account_id.empty() ? std::string() : config.account_id + "'s ", config.node.address.to_string(),
               core::ed25519_public_key_to_string(config.node.key), config.contract_id, rpc.endpoint(),
               config.poll_interval.count(), config.migration_port, config.memory_only ? ", memory only" : "");
  std::thread loop([&daemon] { daemon.run(); });
  wait_for_stop();
  daemon.stop();
  loop.join();
  if (metrics_server) metrics_server->stop();
  work.reset();
  ioc.stop();
  io_thread.join();
  spdlog::info("stopped");
  return {};
}

core::Status run_tee_service(const ServiceConfig& config, const TeeServiceConfig& tee, near::RpcClient& rpc,
                             const std::function<void()>& wait_for_stop) {
  if (config.account_id.empty()) return core::invalid("TEE mode needs the operator's account (--signer-account-id)");
  if (!tee.source) return core::invalid("TEE mode needs an attestation source");
  const TeeIdentity identity = TeeIdentity::generate();
  const std::string signer_text = core::ed25519_public_key_to_string(identity.signer_key.public_key());
  const std::string tls_text = core::ed25519_public_key_to_string(identity.tls_key.public_key());
  spdlog::info("TEE mode ({} attestations): keys generated in memory; TLS key {}, X25519 provisioning key {}", tee.source->name(),
               tls_text, core::hex_encode(identity.x25519_public));
  spdlog::info(
      "signer public key: {} -- add it as an access key of {} (the service registers itself with it). A function-call key "
      "cannot attach a deposit: until the contract accepts an attested register_backup_service without one, add it as a "
      "full-access key",
      signer_text, config.account_id);
  auto provisioning_attestation = tee.source->attest(identity.provisioning_report_data());
  if (!provisioning_attestation)
    return std::unexpected(provisioning_attestation.error().context("the provisioning attestation (" + tee.source->name() + ")"));
  KeyProvisioning provisioning(identity, std::move(*provisioning_attestation));

  std::error_code ec;
  std::filesystem::create_directories(config.home_dir, ec);
  if (ec) return core::fail(core::ErrorCode::kInternal, "cannot create the home " + config.home_dir.string() + ": " + ec.message());
  std::filesystem::remove(provision_addr_file(config.home_dir), ec);

  net::MetricsRegistry metrics;
  auto& registered_gauge = metrics.gauge("backup_tee_registered", "1 once this TEE backup service registered with an attestation");
  auto& provisioned_gauge = metrics.gauge("backup_aes_key_provisioned", "1 once the operator's AES key was provisioned");
  boost::asio::io_context ioc;
  MPC_ASSIGN(auto metrics_server, listen_metrics(ioc, config, metrics));
  auto provision_server = small_http_server(ioc, provisioning_handler(provisioning, identity.public_data()));
  MPC_ASSIGN(auto provision_bound, provision_server->listen(tee.provision_addr));
  const std::string provision_text = net::HostPort::from_endpoint(provision_bound).to_string();
  MPC_TRY(core::write_file_atomic(provision_addr_file(config.home_dir), core::as_bytes(provision_text + "\n"), 0644));
  spdlog::info("AES key provisioning on http://{}/provision (GET /public_data; `backup-cli provision-key --backup-service-url "
               "http://{}`)",
               provision_text, provision_text);
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io_thread([&ioc] { net::run_io_context(ioc, "backup-cli"); });

  // The registration: the signer key's permission decides the deposit.
  std::atomic<bool> full_access{false};
  near::Signer signer(rpc, config.account_id, identity.signer_key.clone());
  TeeRegistrationPorts reg_ports;
  reg_ports.signer_key_on_account = [&]() -> core::Result<bool> {
    auto ak = rpc.view_access_key(config.account_id, core::NearPublicKey{identity.signer_key.public_key()});
    if (!ak) {
      if (ak.error().code == core::ErrorCode::kNotFound) return false;
      return std::unexpected(ak.error());
    }
    full_access = std::holds_alternative<near::FullAccessPermission>(ak->permission);
    return true;
  };
  reg_ports.attest = [&tee](const attest::ReportData& rd) { return tee.source->attest(rd); };
  reg_ports.register_service = [&](const nlohmann::json& args) -> core::Status {
    const bool deposit = full_access.load();
    auto out = signer.call(config.contract_id, "register_backup_service", args, deposit ? 1 : 0);
    if (out) return {};
    core::Error e = out.error();
    if (!deposit && e.message.find("deposit") != std::string::npos)
      e.message += " (the signer key is a function-call access key, which cannot attach a deposit: add " + signer_text +
                   " to " + config.account_id + " as a full-access key)";
    return std::unexpected(std::move(e));
  };
  TeeRegistrar registrar(identity, std::move(reg_ports), tee.reattest_interval, core::steady_clock());

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  auto stopped_within = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [&] { return stopping; });
  };
  std::thread registration([&] {
    RegistrationOutcome last = RegistrationOutcome::kUpToDate;
    std::string last_error;
    do {
      RegistrationOutcome outcome = RegistrationOutcome::kFailed;
      try {
        outcome = registrar.step();
      } catch (const std::exception& e) {
        spdlog::error("registration step: {}", e.what());
      }
      if (outcome == RegistrationOutcome::kWaitingForAccessKey && last != outcome)
        spdlog::info("waiting for the signer key {} to be an access key of {}", signer_text, config.account_id);
      if (outcome == RegistrationOutcome::kRegistered) {
        spdlog::info("registered this backup service (TLS key {}) for {} with a {} attestation; next in {} h", tls_text,
                     config.account_id, tee.source->name(), tee.reattest_interval.count() / 3600);
        registered_gauge.set(1);
      }
      if (outcome == RegistrationOutcome::kFailed && registrar.last_error() != last_error)
        spdlog::warn("registration failed (retrying every {} s): {}", config.poll_interval.count(), registrar.last_error());
      last = outcome;
      last_error = outcome == RegistrationOutcome::kFailed ? registrar.last_error() : std::string();
    } while (!stopped_within(config.poll_interval));
  });

  MemoryBackupStore memory_store;
  DaemonPorts ports;
  ports.read_chain = cached_chain_reader(rpc, config.contract_id);
  ports.load_newest = [&memory_store] { return memory_store.load_newest(); };
  ports.store = [&memory_store](const std::vector<model::Keyshare>& s) { return memory_store.store(s); };
  core::SecretBytes encryption_key;  // set by the daemon thread before the daemon runs
  set_node_ports(ports, identity.tls_key, encryption_key, config.request_timeout);
  BackupDaemon daemon(daemon_options(config), std::move(ports), metrics);
  std::thread loop([&] {
    spdlog::info("waiting for the AES key (backup-cli provision-key) before backing up");
    for (;;) {
      if (auto key = provisioning.wait_for_key(std::chrono::milliseconds(200))) {
        encryption_key = std::move(*key);
        break;
      }
      std::lock_guard lock(mu);
      if (stopping) return;
    }
    provisioned_gauge.set(1);
    spdlog::info("backing up {}'s node {} (TLS key {}; contract {} at {}, poll every {} s, destinations on port {}, memory only)",
                 config.account_id, config.node.address.to_string(), core::ed25519_public_key_to_string(config.node.key),
                 config.contract_id, rpc.endpoint(), config.poll_interval.count(), config.migration_port);
    daemon.run();
  });
  wait_for_stop();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  cv.notify_all();
  daemon.stop();
  loop.join();
  registration.join();
  provision_server->stop();
  if (metrics_server) metrics_server->stop();
  work.reset();
  ioc.stop();
  io_thread.join();
  std::filesystem::remove(provision_addr_file(config.home_dir), ec);
  spdlog::info("stopped (the in-memory keys and shares are gone)");
  return {};
}

}  // namespace mpc::backup
