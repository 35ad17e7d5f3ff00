#include "node/protocol_runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/file_util.h"
#include "core/secret.h"
#include "net/host_port.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "threshold/frost.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/key_event.h"

namespace mpc::node {

namespace fs = std::filesystem;

fs::path p2p_addr_file(const fs::path& home) { return home / "p2p.addr"; }
fs::path key_event_journal_file(const fs::path& home) { return home / "key_event.journal"; }
fs::path presignature_dir(const fs::path& home) { return home / "presignatures"; }


ProtocolRuntime::ProtocolRuntime(ProtocolRuntimeOptions options, const NodeHome& home, KeyshareStore& store, near::Signer& signer,
                               net::MetricsRegistry& metrics, std::function<void()> poke_chain)
    : options_(std::move(options)), home_(home), store_(store), signer_(signer), metrics_(metrics), poke_chain_(std::move(poke_chain)) {}

core::Result<std::unique_ptr<ProtocolRuntime>> ProtocolRuntime::create(ProtocolRuntimeOptions options, const NodeHome& home,
                                                                     KeyshareStore& store, near::Signer& signer,
                                                                     net::MetricsRegistry& metrics, std::function<void()> poke_chain) {
  if (options.listen_fd < 0) {
    MPC_TRY(net::parse_listen_address(options.listen_addr));
  }
  std::unique_ptr<ProtocolRuntime> rt(new ProtocolRuntime(std::move(options), home, store, signer, metrics, std::move(poke_chain)));
  ProtocolRuntime* self = rt.get();
  // The mesh as both services see it. Called with a service's lock held: no mu_ here.
  auto send = [self](std::uint64_t to, core::Bytes message) {
    auto* mesh = self->mesh_ptr_.load();
    return mesh != nullptr && mesh->send(to, std::move(message));
  };
  auto reachable = [self]() -> std::set<std::uint64_t> {
    auto* mesh = self->mesh_ptr_.load();
    if (mesh == nullptr) return {};
    auto peers = mesh->connected_peers();
    return {peers.begin(), peers.end()};
  };
  auto refresh_chain = [self] {
    if (self->poke_chain_) self->poke_chain_();
  };
  // This node's held share of a domain of the running keyset.
  auto held_share = [self](std::uint64_t domain_id) -> core::Result<model::Keyshare> {
    std::optional<model::Keyset> keyset;
    {
      std::lock_guard lock(self->mu_);
      keyset = self->keyset_;
    }
    if (!keyset) return core::fail(core::ErrorCode::kFailedPrecondition, "no running keyset");
    MPC_ASSIGN(auto shares, self->store_.shares_for(*keyset));
    for (auto& share : shares)
      if (share.key_id.domain_id == domain_id) return std::move(share);
    return core::fail(core::ErrorCode::kNotFound, "no share of domain " + std::to_string(domain_id));
  };
  PresignPorts presign_ports;
  presign_ports.send = send;
  presign_ports.reachable = reachable;
  presign_ports.refresh_chain = refresh_chain;
  presign_ports.key_share = [held_share](std::uint64_t domain_id) -> core::Result<core::SecretBytes> {
    MPC_ASSIGN(auto share, held_share(domain_id));
    auto bytes = core::hex_decode(share.private_share.reveal());
    if (!bytes || bytes->size() != 32) return core::fail(core::ErrorCode::kInternal, "the held share of domain " + std::to_string(domain_id) + " is malformed");
    return core::SecretBytes::take(*bytes);
  };
  rt->presign_ = std::make_unique<PresignService>(std::move(presign_ports), rt->options_.presign, presignature_dir(home.dir),
                                                  home.local_storage_key.clone(), core::steady_clock(), metrics);
  PresignService* presign = rt->presign_.get();
  SigningPorts ports;
  ports.send = send;
  ports.reachable = reachable;
  ports.key_package = [held_share](std::uint64_t domain_id) -> core::Result<threshold::KeyPackage> {
    MPC_ASSIGN(auto share, held_share(domain_id));
    return threshold::key_package_from_keyshare(share);
  };
  ports.take_own_presignature = [presign](std::uint64_t domain_id, const std::set<std::uint64_t>& reachable) {
    return presign->take_own(domain_id, reachable);
  };
  ports.take_presignature = [presign](std::uint64_t domain_id, const threshold::SessionId& id, std::uint64_t owner,
                                      const std::vector<std::uint64_t>& signers) { return presign->take_for(domain_id, id, owner, signers); };
  ports.respond = [self](const PendingSignature& request, const core::SignatureResponse& response) { self->respond(request, response); };
  ports.refresh_chain = refresh_chain;
  rt->service_ = std::make_unique<SigningService>(std::move(ports), rt->options_.signing, core::steady_clock(), metrics);
  KeyEventPorts key_ports;
  key_ports.send = send;
  key_ports.reachable = reachable;
  key_ports.submit = [self](KeyEventTx tx) {
    const bool queued = self->tx_.submit(tx.key, [self, tx] {
      auto out = self->signer_.call(self->options_.contract_id, tx.method, tx.args);
      if (!out) {
        self->metrics_.counter("mpc_key_event_transaction_failures_total", "key event transactions that failed", {{"method", tx.method}}).inc();
        spdlog::warn("key events: {} failed: {}", tx.method, out.error().message);
        return;
      }
      spdlog::info("key events: {} landed", tx.method);
      if (self->poke_chain_) self->poke_chain_();
    });
    if (!queued) spdlog::warn("key events: the transaction queue is full; {} is submitted again later", tx.method);
  };
  key_ports.refresh_chain = refresh_chain;
  rt->key_events_ = std::make_unique<KeyEventService>(std::move(key_ports), rt->options_.key_events, store,
                                                      key_event_journal_file(home.dir), core::steady_clock(), metrics);
  rt->ticker_ = std::thread([self] { self->tick_loop(); });
  return rt;
}

ProtocolRuntime::~ProtocolRuntime() { stop(); }

void ProtocolRuntime::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  tx_.stop();
  std::unique_ptr<p2p::Mesh> mesh;
  {
    std::lock_guard lock(mu_);
    mesh = std::move(mesh_);
  }
  // The mesh's delivery thread may be inside the service: stop() joins it.
  if (mesh) mesh->stop();
  mesh_ptr_.store(nullptr);
  std::error_code ec;
  fs::remove(p2p_addr_file(home_.dir), ec);
}

std::optional<boost::asio::ip::tcp::endpoint> ProtocolRuntime::p2p_endpoint() const {
  std::lock_guard lock(mu_);
  return endpoint_;
}

core::Status ProtocolRuntime::ensure_mesh(std::uint64_t self_id) {
  std::unique_lock lock(mu_);
  if (stopping_) return {};
  if (mesh_ && mesh_self_ == self_id) return {};
  if (mesh_) {
    // Our participant id changed (the account left and joined again): the
    // channels and sessions of the old id are void. Rare; a restart of the
    // mesh on the same socket is not possible, so the node asks to be restarted.
    spdlog::error("p2p: this account's participant id changed from {} to {}; restart the node to rejoin the mesh", *mesh_self_, self_id);
    return {};
  }
  SigningService* service = service_.get();
  KeyEventService* key_events = key_events_.get();
  PresignService* presign = presign_.get();
  MPC_ASSIGN(auto mesh, p2p::Mesh::create(
                            self_id, home_.tls_key, options_.mesh,
                            [service, key_events, presign](std::uint64_t from, std::vector<std::uint8_t> payload) {
                              if (threshold::is_key_event_message(payload)) {
                                key_events->on_message(from, payload);
                              } else if (threshold::is_ecdsa_message(payload) &&
                                         payload[1] != static_cast<std::uint8_t>(threshold::EcdsaMessageType::kSignShare)) {
                                presign->on_message(from, payload);
                              } else {
                                service->on_message(from, payload);
                              }
                              // A private Share / PresignShares message holds secret scalars.
                              core::secure_wipe(payload.data(), payload.size());
                            },
                            &metrics_));
  core::Result<boost::asio::ip::tcp::endpoint> bound = core::invalid("");
  if (options_.listen_fd >= 0) {
    bound = mesh->start_on_socket(options_.listen_fd);
  } else {
    MPC_ASSIGN(auto ep, net::parse_listen_address(options_.listen_addr));
    bound = mesh->start(ep);
  }
  if (!bound) return std::unexpected(bound.error().context("P2P listener"));
  MPC_TRY(core::write_file_atomic(p2p_addr_file(home_.dir), core::as_bytes(net::HostPort::from_endpoint(*bound).to_string() + "\n"), 0644));
  endpoint_ = *bound;
  mesh_ = std::move(mesh);
  mesh_ptr_.store(mesh_.get());
  mesh_self_ = self_id;
  return {};
}

namespace {

// The participants the mesh connects: the current ones; during a key event
// those of the event too (a resharing's new set, with newcomers).
std::vector<model::ParticipantEntry> mesh_participants(const model::ProtocolState& state, const KeyEventChainView& key_view) {
  std::vector<model::ParticipantEntry> out;
  auto add = [&](const model::Participants& list) {
    for (const auto& p : list.participants) {
      if (std::none_of(out.begin(), out.end(), [&](const auto& e) { return e.id == p.id; })) out.push_back(p);
    }
  };
  if (const auto* running = state.running()) add(running->parameters.participants);
  if (const auto* resharing = std::get_if<model::ResharingState>(&state.state)) add(resharing->previous_running_state.parameters.participants);
  if (key_view.kind != KeyEventChainView::Kind::kNone) add(key_view.event.parameters.participants);
  return out;
}

}  // namespace

void ProtocolRuntime::on_chain(const near::ContractView& view) {
  const auto* running = view.state.running();
  auto key_view = key_event_view_of(view.state, view.block_height, home_.account_id, home_.tls_key.public_key());
  if (!key_view) {
    spdlog::error("key events: the contract's key event does not parse: {}", key_view.error().message);
    key_view = KeyEventChainView{};
  }
  SigningChainView sv;
  PresignChainView pv;
  std::optional<std::uint64_t> account_id_in_contract;
  std::vector<p2p::Peer> peers;
  for (const auto& p : mesh_participants(view.state, *key_view)) {
    if (p.account_id == home_.account_id) account_id_in_contract = p.id;
    auto url = net::Url::parse(p.info.url);
    if (!url) {
      spdlog::warn("p2p: participant {} ({}) has an unusable url; it is left out of the mesh", p.id, p.account_id);
      continue;
    }
    const auto address = url->address();
    p2p::Peer peer;
    peer.participant_id = p.id;
    peer.account_id = p.account_id;
    peer.tls_public_key = p.info.tls_public_key;
    peer.host = address.host;
    peer.port = address.port;
    peers.push_back(std::move(peer));
  }
  if (running) {
    sv.running = true;
    sv.threshold = running->parameters.threshold;
    for (const auto& p : running->parameters.participants.participants) {
      sv.participants.push_back(p.id);
      if (p.account_id == home_.account_id && p.info.tls_public_key == home_.tls_key.public_key()) sv.self = p.id;
    }
    for (const auto& d : running->domains.domains) {
      const auto* key = running->keyset.find(d.id);
      if (key && key->key.kind == model::CurveKind::kEd25519 && d.protocol == "Frost") sv.eddsa_domains.insert(d.id);
      if (key && key->key.kind == model::CurveKind::kSecp256k1 && d.protocol == "DamgardEtAl") {
        auto group_key = model::keyshare_group_key(key->key);
        if (!group_key) {
          spdlog::error("signing: the key of domain {} does not parse: {}", d.id, group_key.error().message);
          continue;
        }
        sv.ecdsa_domains.emplace(d.id, std::move(*group_key));
        pv.ecdsa_domains.insert(d.id);
      }
    }
    pv.running = true;
    pv.self = sv.self;
    pv.epoch_id = running->keyset.epoch_id;
    pv.participants = sv.participants;
    std::sort(pv.participants.begin(), pv.participants.end());
    std::string members;
    for (const auto& p : running->parameters.participants.participants)
      members += std::to_string(p.id) + " " + p.account_id + " " + core::ed25519_public_key_to_string(p.info.tls_public_key) + "\n";
    const auto digest = core::sha256(core::as_bytes(members));
    pv.members = core::hex_encode(core::ByteView(digest.data(), digest.size()));
    pv.threshold = sv.threshold;
    if (!view.pending_signatures && !no_pending_view_logged_) {
      spdlog::warn("signing: the contract has no pending_signature_requests view (not this project's contract?): "
                   "this node cannot learn sign requests and signs nothing");
      no_pending_view_logged_ = true;
    }
    if (view.pending_signatures) {
      for (const auto& r : *view.pending_signatures) {
        PendingSignature p;
        p.request = r;
        p.request_json = to_json(r).dump();
        p.domain_id = r.domain_id;
        p.payload = r.payload.bytes;
        p.tweak = r.tweak;
        sv.pending.push_back(std::move(p));
      }
    }
    std::lock_guard lock(mu_);
    keyset_ = running->keyset;
  } else {
    std::lock_guard lock(mu_);
    keyset_.reset();
  }
  p2p::Mesh* mesh = nullptr;
  {
    std::lock_guard lock(mu_);
    wanted_self_ = account_id_in_contract;
    peers_ = peers;
  }
  if (account_id_in_contract) try_start_mesh();
  mesh = mesh_ptr_.load();
  if (mesh && !peers.empty()) {
    if (auto st = mesh->set_peers(peers); !st) spdlog::error("p2p: the contract's participant list was refused: {}", st.error().message);
  }
  // Key events first: a Running keyset is promoted into the held set before
  // the signing service asks for its shares.
  key_events_->on_chain(*key_view);
  presign_->on_chain(pv);
  service_->on_chain(sv);
  cv_.notify_all();
}

p2p::Mesh* ProtocolRuntime::try_start_mesh() {
  std::optional<std::uint64_t> self;
  {
    std::lock_guard lock(mu_);
    if (mesh_ || !wanted_self_) return mesh_.get();
    self = wanted_self_;
  }
  if (auto st = ensure_mesh(*self); !st) {
    // Retried by the ticker (a port still held by a previous process, say).
    if (!listen_failed_logged_) spdlog::error("p2p: cannot start the mesh (retrying): {}", st.error().message);
    listen_failed_logged_ = true;
    return nullptr;
  }
  listen_failed_logged_ = false;
  std::vector<p2p::Peer> peers;
  p2p::Mesh* mesh = nullptr;
  {
    std::lock_guard lock(mu_);
    peers = peers_;
    mesh = mesh_.get();
  }
  if (mesh) {
    if (auto st = mesh->set_peers(peers); !st) spdlog::error("p2p: the contract's participant list was refused: {}", st.error().message);
  }
  return mesh;
}

void ProtocolRuntime::tick_loop() {
  std::unique_lock lock(mu_);
  auto next_listen_try = std::chrono::steady_clock::now();
  while (!stopping_) {
    auto deadline = std::chrono::steady_clock::now() + options_.max_tick;
    if (!mesh_ && wanted_self_ && std::chrono::steady_clock::now() >= next_listen_try) {
      lock.unlock();
      try_start_mesh();
      lock.lock();
      next_listen_try = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    lock.unlock();
    if (auto next = service_->next_wakeup(); next && *next < deadline) deadline = *next;
    if (auto next = presign_->next_wakeup(); next && *next < deadline) deadline = *next;
    lock.lock();
    cv_.wait_until(lock, deadline, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    service_->tick();
    key_events_->tick();
    presign_->tick();
    lock.lock();
  }
}

void ProtocolRuntime::respond(const PendingSignature& request, const core::SignatureResponse& response) {
  const auto args = core::respond_args(request.request, response);
  const bool queued = tx_.submit(request.request_json, [this, args, domain = request.domain_id] {
    auto out = signer_.call(options_.contract_id, "respond", args);
    if (!out) {
      metrics_.counter("mpc_respond_failures_total", "respond transactions that failed").inc();
      spdlog::warn("signing: respond for domain {} failed: {}", domain, out.error().message);
      return;
    }
    metrics_.counter("mpc_responds_total", "respond transactions that landed").inc();
    spdlog::info("signing: respond for domain {} landed", domain);
    if (poke_chain_) poke_chain_();
  });
  if (!queued) spdlog::warn("signing: the transaction queue is full; the request stays pending and is signed again later");
}

}  // namespace mpc::node
