#include "node/node_runtime.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/allocator.h"
#include "core/file_util.h"
#include "near/rpc_client.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_thread.h"
#include "net/metrics.h"
#include "net/mtls_server.h"
#include "node/chain_watcher.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "node/migration_service.h"
#include "node/onboarding.h"
#include "node/protocol_runtime.h"
#include "node/tx_worker.h"
#include "attest/report_data.h"
#include "tee/attestation_source.h"
#include "tls/tls.h"

namespace mpc::node {

namespace fs = std::filesystem;

fs::path migration_addr_file(const fs::path& home) { return home / "migration.addr"; }
fs::path metrics_addr_file(const fs::path& home) { return home / "metrics.addr"; }

core::Status check_listeners_apart(const std::string& p2p_url, const net::HostPort& migration) {
  auto url = net::Url::parse(p2p_url);
  if (!url) return core::invalid("--p2p-url: expected http(s)://host:port, the node's P2P address as the contract lists it");
  if (url->target != "/") return core::invalid("--p2p-url: expected http(s)://host:port with no path");
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(migration.host == "localhost" ? "127.0.0.1" : migration.host, ec);
  const auto& host = url->host;
  const bool same_host = (!ec && ip.is_unspecified()) || host == migration.host || (!ec && host == ip.to_string()) ||
                         (host == "localhost" && !ec && ip.is_loopback());
  if (same_host && url->address().port == migration.port)
    return core::invalid("the migration endpoint (--migration-addr " + migration.to_string() +
                         ") would share the P2P port of --p2p-url (" + url->host_port() +
                         "): give the migration endpoint its own port (8079 by convention)");
  return {};
}

struct NodeRuntime::Impl {
  ~Impl() { stop(); }
  void on_chain_change(const near::ContractView& snapshot, bool contents_changed);
  void apply_contract_contents(const near::ContractView& snapshot);
  void attest_if_due();
  core::Status conclude(const model::Keyset& keyset);
  void stop();

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
  std::unique_ptr<ProtocolRuntime> protocols_;
  // This node's own attestation (null: --tee-attestation none).
  std::unique_ptr<tee::AttestationSource> attestation_;
  TxWorker attest_tx_{4};
  std::mutex attest_mu_;
  std::optional<std::chrono::steady_clock::time_point> last_attested_;  // attest_mu_
  core::Status submit_attestation();
  // One io_context per I/O thread, each run by that thread alone (hint 1):
  // each accepts the migration endpoint's connections and runs those it
  // accepted (net/mtls_server.h "Threads"); the metrics listener runs on
  // the first.
  std::vector<std::unique_ptr<boost::asio::io_context>> io_;
  boost::asio::io_context& ioc() { return *io_.front(); }
  std::shared_ptr<net::MtlsServer> migration_server_;
  std::shared_ptr<net::HttpServer> metrics_server_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex io_mu_;
  std::condition_variable io_done_;
  std::size_t io_threads_done_ = 0;
  boost::asio::ip::tcp::endpoint migration_endpoint_;
  std::mutex view_mu_;
  std::optional<NodeView> view_;
  bool stopped_ = false;
};

NodeRuntime::NodeRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeRuntime::~NodeRuntime() = default;  // Impl's destructor stops
void NodeRuntime::stop() { impl_->stop(); }
net::HostPort NodeRuntime::migration_address() const { return net::HostPort::from_endpoint(impl_->migration_endpoint_); }

core::Result<std::unique_ptr<NodeRuntime>> NodeRuntime::start(const NodeRunOptions& options, core::SecretBytes encryption_key) {
  auto impl = std::make_unique<Impl>();
  Impl* const rt = impl.get();
  rt->options_ = options;
  {
    MPC_ASSIGN(auto home, NodeHome::load(options.home));
    rt->home_ = std::make_unique<NodeHome>(std::move(home));
  }
  MPC_ASSIGN(rt->store_, KeyshareStore::open(rt->home_->keyshare_file(), rt->home_->local_storage_key.clone()));
  MPC_ASSIGN(auto migration_ep, net::parse_listen_address(options.migration_addr));
  MPC_TRY(check_listeners_apart(options.p2p_url, net::HostPort::from_endpoint(migration_ep)));
  std::optional<boost::asio::ip::tcp::endpoint> metrics_ep;
  if (!options.metrics_addr.empty()) {
    MPC_ASSIGN(auto ep, net::parse_listen_address(options.metrics_addr));
    metrics_ep = ep;
  }
  {
    // Two clients: an RPC client serialises its calls, and the chain watcher's
    // reads must never wait behind a transaction the signer is waiting on.
    auto rpc = near::RpcClient::create(options.rpc_url, near::RpcClientOptions{options.rpc_timeout});
    if (!rpc) return core::invalid("--rpc-url: " + rpc.error().message);
    rt->rpc_ = std::move(*rpc);
    rt->tx_rpc_ = std::move(*near::RpcClient::create(options.rpc_url, near::RpcClientOptions{options.rpc_timeout}));
  }
  if (!core::is_valid_account_id(options.contract_id))
    return core::invalid("--contract-id: '" + options.contract_id + "' is not a valid NEAR account id");
  rt->signer_ = std::make_unique<near::Signer>(*rt->tx_rpc_, rt->home_->account_id, rt->home_->access_key.secret_key.clone());
  if (options.tee_attestation == "mock") {
    rt->attestation_ = std::make_unique<tee::MockAttestationSource>();
  } else if (options.tee_attestation == "dstack") {
    rt->attestation_ = std::make_unique<tee::DstackAttestationSource>(tee::DstackSourceOptions{options.dstack_socket, options.pccs_url});
  } else if (options.tee_attestation != "none") {
    return core::invalid("--tee-attestation must be dstack, mock or none, not '" + options.tee_attestation + "'");
  }
  near::ContractViewOptions view_options{.pending_signatures = true};
  if (options.require_attested_backup_service) view_options.backup_attestation_account = rt->home_->account_id;
  rt->source_ = std::make_unique<RpcChainSource>(*rt->rpc_, options.contract_id, view_options);

  Impl* const self = rt;
  rt->service_ = std::make_unique<MigrationService>(*rt->store_, std::move(encryption_key), rt->metrics_,
                                                    [self] {
                                                      if (self->onboarding_) self->onboarding_->wake();
                                                    });
  if (options.require_attested_backup_service) {
    rt->service_->require_attested_backup_service([] {
      return static_cast<std::int64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    });
  }
  rt->onboarding_ = std::make_unique<Onboarding>(
      OnboardingDeps{[self]() -> std::optional<NodeView> {
                       std::lock_guard lock(self->view_mu_);
                       return self->view_;
                     },
                     [self](const model::Keyset& ks) { return self->store_->holds(ks); },
                     [self](const model::Keyset& ks) { return self->conclude(ks); },
                     [self] {
                       if (self->watcher_) self->watcher_->poke();
                     }},
      OnboardingOptions{}, rt->metrics_);
  {
    ProtocolRuntimeOptions sopts;
    sopts.contract_id = options.contract_id;
    sopts.listen_fd = options.p2p_listen_fd;
    sopts.listen_addr = options.p2p_listen_addr;
    if (sopts.listen_fd < 0 && sopts.listen_addr.empty()) {
      auto url = net::Url::parse(options.p2p_url);
      if (!url) return core::invalid("--p2p-url: expected http(s)://host:port, the node's P2P address as the contract lists it");
      sopts.listen_addr = net::HostPort{"0.0.0.0", url->address().port}.to_string();
    }
    sopts.signing.takeover_delay = options.sign_takeover_delay;
    sopts.signing.session_timeout = options.sign_session_timeout;
    MPC_ASSIGN(rt->protocols_, ProtocolRuntime::create(std::move(sopts), *rt->home_, *rt->store_, *rt->signer_, rt->metrics_, [self] {
                 if (self->watcher_) self->watcher_->poke();
               }));
  }
  rt->watcher_ = std::make_unique<ChainWatcher>(*rt->source_, ChainWatcherOptions{options.poll_interval, std::chrono::seconds(30)},
                                                [self](const near::ContractView& s, bool contents_changed) { self->on_chain_change(s, contents_changed); });

  // Listeners.
  const std::size_t io_threads = std::max<std::size_t>(1, options.threads);
  std::vector<boost::asio::io_context*> connection_contexts;
  for (std::size_t i = 0; i < io_threads; ++i) {
    rt->io_.push_back(std::make_unique<boost::asio::io_context>(1));
    connection_contexts.push_back(rt->io_.back().get());
  }
  MPC_ASSIGN(auto tls_ctx, tls::make_server_context(rt->home_->tls_key));
  net::MtlsServerOptions mopts;
  mopts.body_limit = options.body_limit;
  mopts.max_connections = options.max_connections;
  mopts.max_preauth_connections = options.max_preauth_connections;
  mopts.max_preauth_per_source = options.max_preauth_per_source;
  mopts.first_bytes_timeout = options.first_bytes_timeout;
  mopts.handshake_timeout = options.handshake_timeout;
  mopts.request_timeout = options.request_timeout;
  rt->migration_server_ = std::make_shared<net::MtlsServer>(
      tls_ctx, mopts, [self](const core::Ed25519PublicKey& peer) { return self->service_->authorize(peer); },
      [self](net::HttpRequest&& req, const core::Ed25519PublicKey& peer, net::Responder respond) { respond(self->service_->handle(req, peer)); },
      &rt->metrics_, std::move(connection_contexts));
  rt->migration_server_->expect_bodies([self](const net::RequestHeader& header) { return self->service_->expected_body(header); });
  MPC_ASSIGN(rt->migration_endpoint_, rt->migration_server_->listen(migration_ep));
  if (metrics_ep) {
    net::HttpServerOptions hopts;
    hopts.max_connections = 32;
    hopts.body_limit = 4096;
    rt->metrics_server_ = std::make_shared<net::HttpServer>(rt->ioc(), hopts, net::metrics_handler(rt->metrics_));
    MPC_ASSIGN(auto bound, rt->metrics_server_->listen(*metrics_ep));
    MPC_TRY(core::write_file_atomic(metrics_addr_file(options.home), core::as_bytes(net::HostPort::from_endpoint(bound).to_string() + "\n"), 0644));
  }
  for (auto& io : rt->io_) rt->work_.push_back(boost::asio::make_work_guard(*io));
  for (std::size_t i = 0; i < rt->io_.size(); ++i) rt->threads_.emplace_back([self, i, ctx = rt->io_[i].get()] {
      // Named, so that top -H, perf and /proc/PID/task tell the I/O threads apart.
      pthread_setname_np(pthread_self(), ("mpc-io-" + std::to_string(i)).c_str());
      net::run_io_context(*ctx, "mpc-node");
      {
        std::lock_guard lock(self->io_mu_);
        ++self->io_threads_done_;
      }
      self->io_done_.notify_all();
    });

  rt->metrics_.gauge("mpc_node_info", "Static node information", {{"account_id", rt->home_->account_id},
                                                                     {"tls_public_key", core::ed25519_public_key_to_string(rt->home_->tls_key.public_key())},
                                                                     {"p2p_url", options.p2p_url},
                                                                     {"allocator", core::allocator_name()}})
      .set(1);
  if (auto first = rt->watcher_->start(); !first)
    spdlog::warn("chain: first read of the contract failed ({}); the node keeps trying and refuses peers until it succeeds",
                 first.error().message);
  rt->onboarding_->start();
  MPC_TRY(core::write_file_atomic(migration_addr_file(options.home), core::as_bytes(net::HostPort::from_endpoint(rt->migration_endpoint_).to_string() + "\n"), 0644));
  spdlog::info("mpc-node for {} (TLS key {}, P2P {}, allocator {}): migration endpoint (mutual TLS) on {}{}", rt->home_->account_id,
               core::ed25519_public_key_to_string(rt->home_->tls_key.public_key()), options.p2p_url, core::allocator_name(),
               net::HostPort::from_endpoint(rt->migration_endpoint_).to_string(),
               metrics_ep ? ", metrics on http://" + options.metrics_addr + "/metrics" : "");
  return std::unique_ptr<NodeRuntime>(new NodeRuntime(std::move(impl)));
}

// At every poll that read a new block. What follows from the contract's
// contents is derived again only when they changed; the protocols see every
// block (key event attempts expire by height), and re-attestation falls due
// with time.
void NodeRuntime::Impl::on_chain_change(const near::ContractView& snapshot, bool contents_changed) {
  if (contents_changed) apply_contract_contents(snapshot);
  attest_if_due();
  metrics_.gauge("mpc_chain_last_poll_timestamp_seconds", "Unix time of the last successful contract read").set(net::unix_now_seconds());
  if (onboarding_) onboarding_->wake();
  if (protocols_) protocols_->on_chain(snapshot);
}

void NodeRuntime::Impl::attest_if_due() {
  if (!attestation_) return;
  {
    std::lock_guard lock(view_mu_);
    if (!view_ || !view_->is_active_participant) return;
  }
  bool due = false;
  {
    std::lock_guard lock(attest_mu_);
    due = !last_attested_ || std::chrono::steady_clock::now() - *last_attested_ >= options_.reattest_interval;
  }
  // Off the watcher thread: obtaining a quote and a final transaction take a while.
  if (due) {
    attest_tx_.submit("attest", [this] {
      if (auto st = submit_attestation(); !st) spdlog::warn("attestation: {}", st.error().message);
      else spdlog::info("attestation: submitted this node's {} attestation", attestation_->name());
    });
  }
}

void NodeRuntime::Impl::apply_contract_contents(const near::ContractView& snapshot) {
  metrics_.counter("mpc_chain_changes_total", "Contract states read that differ from the previous one").inc();
  NodeView view = derive_node_view(snapshot, home_->account_id, home_->tls_key.public_key());
  std::optional<NodeView> before;
  {
    std::lock_guard lock(view_mu_);
    before = view_;
    view_ = view;
  }
  service_->update_view(view);
  if (before && authorization_changed(*before, view)) {
    // Only the peer key decides who stays connected: connections of a key that
    // is no longer the registered one end once their exchange in flight is
    // answered; the registered key's connections (and handshakes in progress,
    // authorised afresh when they finish) are untouched. Migration status is
    // checked per request, so a change of it closes nothing.
    const auto closing = migration_server_->close_connections_if(
        [this](const core::Ed25519PublicKey& peer) { return service_->authorize(peer).has_value(); });
    if (closing > 0)
      spdlog::info("chain: the backup service registered for this account changed; closing {} migration connection(s) of "
                   "a key that is no longer registered",
                   closing);
  }
  if (!before || before->protocol != view.protocol || before->backup_service_key != view.backup_service_key ||
      before->is_migration_destination != view.is_migration_destination || before->is_active_participant != view.is_active_participant) {
    spdlog::info("chain: protocol {}, {}, backup service {}, {}", view.protocol,
                 view.is_active_participant ? "listed as participant " + std::to_string(view.participant_id.value_or(0))
                                            : std::string("not listed with this TLS key"),
                 view.backup_service_key ? core::ed25519_public_key_to_string(*view.backup_service_key) : std::string("none registered"),
                 view.is_migration_destination ? "destination of a migration" : "no migration towards this node");
  }
  metrics_.gauge("mpc_migration_destination", "1 while the contract shows this node as a migration destination")
      .set(view.is_migration_destination ? 1 : 0);
  metrics_.gauge("mpc_backup_service_registered", "1 while a backup service is registered for this node's account")
      .set(view.backup_service_key ? 1 : 0);
  if (view.running_keyset)
    metrics_.gauge("mpc_contract_epoch", "Epoch of the contract's running keyset").set(static_cast<double>(view.running_keyset->epoch_id));
}

core::Status NodeRuntime::Impl::submit_attestation() {
  if (!attestation_) return {};
  const auto report_data = attest::report_data_v1(home_->tls_key.public_key(), home_->access_key.secret_key.public_key());
  auto attestation = attestation_->attest(report_data);
  if (!attestation) return std::unexpected(attestation.error().context("obtaining this node's " + attestation_->name() + " attestation"));
  auto out = signer_->call(options_.contract_id, "submit_participant_info",
                           {{"proposed_participant_attestation", *attestation},
                            {"tls_public_key", core::ed25519_public_key_to_string(home_->tls_key.public_key())}});
  if (!out) {
    metrics_.counter("mpc_attestation_submissions_total", "this node's submit_participant_info calls", {{"outcome", "failed"}}).inc();
    return std::unexpected(out.error().context("submit_participant_info"));
  }
  metrics_.counter("mpc_attestation_submissions_total", "this node's submit_participant_info calls", {{"outcome", "accepted"}}).inc();
  std::lock_guard lock(attest_mu_);
  last_attested_ = std::chrono::steady_clock::now();
  return {};
}

core::Status NodeRuntime::Impl::conclude(const model::Keyset& keyset) {
  // The contract requires the destination's attestation (its TLS key and
  // access key in the report data) before it concludes.
  if (auto st = submit_attestation(); !st) return std::unexpected(st.error());
  auto out = signer_->call(options_.contract_id, "conclude_node_migration", {{"keyset", to_json(keyset)}});
  if (!out) return std::unexpected(out.error());
  return {};
}

void NodeRuntime::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (watcher_) watcher_->stop();
  if (onboarding_) onboarding_->stop();
  attest_tx_.stop();
  if (protocols_) protocols_->stop();
  if (migration_server_) migration_server_->stop();
  if (metrics_server_) metrics_server_->stop();
  work_.clear();
  // The servers dropped their connections: the io threads run out of work
  // once the cancelled handlers have run. Wait for that (an event), and only
  // after a grace period stop the loops outright.
  {
    std::unique_lock lock(io_mu_);
    io_done_.wait_for(lock, std::chrono::seconds(2), [&] { return io_threads_done_ == threads_.size(); });
  }
  for (auto& io : io_) io->stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  // What is left on the contexts (after a start that failed once the
  // listeners were up, or after the grace period above) runs now, while
  // every context is alive: those handlers hold the servers, whose sockets
  // belong to the contexts' services, and the last of them, destroyed with
  // one context, would close a socket of another context already gone.
  // The servers stopped: nothing they left posts work forever. Then only
  // the members hold them, destroyed before io_ (declared after it).
  for (bool ran = true; ran;) {
    ran = false;
    for (auto& io : io_) {
      io->restart();
      if (io->poll() > 0) ran = true;
    }
  }
  std::error_code ec;
  std::filesystem::remove(migration_addr_file(options_.home), ec);
  std::filesystem::remove(metrics_addr_file(options_.home), ec);
}

}  // namespace mpc::node
