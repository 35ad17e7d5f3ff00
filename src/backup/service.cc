#include "backup/service.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "backup/daemon.h"
#include "net/http_server.h"
#include "net/io_thread.h"
#include "net/metrics.h"

namespace mpc::backup {

core::Status run_service(const ServiceConfig& config, near::RpcClient& rpc, const Secrets& secrets,
                         const core::SecretBytes& encryption_key, const std::function<void()>& wait_for_stop) {
  BackupStore disk_store(config.home_dir, secrets.local_storage_aes_key.clone());
  MemoryBackupStore memory_store;
  if (!config.memory_only) MPC_TRY(disk_store.load_newest());  // an unreadable home is fatal

  net::MetricsRegistry metrics;
  boost::asio::io_context ioc;
  std::shared_ptr<net::HttpServer> metrics_server;
  if (config.metrics) {
    net::HttpServerOptions hopts;
    hopts.max_connections = 32;
    hopts.body_limit = 4096;
    metrics_server = std::make_shared<net::HttpServer>(ioc, hopts, net::metrics_handler(metrics));
    MPC_ASSIGN(auto bound, metrics_server->listen(*config.metrics));
    spdlog::info("metrics on http://{}/metrics", net::HostPort::from_endpoint(bound).to_string());
  }
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io_thread([&ioc] { net::run_io_context(ioc, "backup-cli"); });

  const core::Ed25519SecretKey& own_key = secrets.p2p_private_key;
  const auto timeout = config.request_timeout;
  DaemonPorts ports;
  ports.read_chain = [&rpc, &config] { return near::read_contract_view(rpc, config.contract_id); };
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
  ports.fetch = [&own_key, &encryption_key, timeout](const NodeTarget& t, const model::Keyset& keyset) {
    NodeClient client({t.address, t.key, timeout}, own_key, encryption_key);
    return client.get_keyshares(keyset);
  };
  ports.push = [&own_key, &encryption_key, timeout](const NodeTarget& t, const std::vector<model::Keyshare>& shares) {
    NodeClient client({t.address, t.key, timeout}, own_key, encryption_key);
    return client.put_keyshares(shares);
  };
  DaemonOptions options;
  options.account_id = config.account_id;
  options.initial_node = config.node;
  options.migration_port = config.migration_port;
  options.poll_interval = config.poll_interval;
  options.max_backoff = config.poll_interval;
  BackupDaemon daemon(options, std::move(ports), metrics);

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

}  // namespace mpc::backup
