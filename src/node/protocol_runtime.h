// The node's threshold protocols, wired: the P2P mesh (p2p/mesh.h) to the
// other participants, the signing service (node/signing_service.h), the
// key event service (node/key_event_service.h: key generation and
// resharing) and the presigning service (node/presign_service.h: threshold
// ECDSA presignatures, pooled in "presignatures/" of the home), a timer
// thread that ticks them, and a transaction worker that submits their
// transactions (`respond`, key event starts and votes) in order. Mesh
// messages are routed by their header: key event messages
// (threshold::is_key_event_message) to the key event service, ECDSA
// presigning messages to the presigning service, the rest (signing, and the
// ECDSA SignShare) to the signing service.
//
// It follows the chain through on_chain (the runtime's chain watcher): the
// mesh starts once the contract lists this node's account as a participant
// (its participant id is then known; during a resharing, a participant of
// the new set counts) and follows the participant list (a migrated
// participant's old key is dropped, the new one accepted; during a resharing
// the old and the new participants together); the signing service sees the
// pending requests and signs as a participant only while the contract lists
// this node's TLS key; the key event service takes part in the contract's
// current key event.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.h"
#include "near/contract_view.h"
#include "near/rpc_client.h"
#include "net/metrics.h"
#include "node/home.h"
#include "node/key_event_service.h"
#include "node/keyshare_store.h"
#include "node/presign_service.h"
#include "node/signing_service.h"
#include "node/tx_worker.h"
#include "p2p/mesh.h"

namespace mpc::node {

struct ProtocolRuntimeOptions {
  std::string contract_id;
  // Where the mesh listens: a bound, not yet listening socket inherited from
  // a supervisor (>= 0), else `listen_addr` (HOST:PORT).
  int listen_fd = -1;
  std::string listen_addr;
  p2p::MeshOptions mesh;
  SigningOptions signing;
  KeyEventOptions key_events;
  PresignOptions presign;
  // The service is ticked at its next deadline, and at least this often (a
  // peer coming back can make a request leadable).
  std::chrono::milliseconds max_tick{200};
};

// "p2p.addr" in the home: the mesh's bound address, once it listens.
std::filesystem::path p2p_addr_file(const std::filesystem::path& home);
// "key_event.journal" in the home: the key event attempt this node last started.
std::filesystem::path key_event_journal_file(const std::filesystem::path& home);
// "presignatures" in the home: the threshold ECDSA presignature pools.
std::filesystem::path presignature_dir(const std::filesystem::path& home);

class ProtocolRuntime {
 public:
  // `home`, `store`, `signer` and `metrics` must outlive the runtime.
  // `poke_chain` asks the chain watcher for a read soon.
  static core::Result<std::unique_ptr<ProtocolRuntime>> create(ProtocolRuntimeOptions options, const NodeHome& home,
                                                              KeyshareStore& store, near::Signer& signer,
                                                              net::MetricsRegistry& metrics, std::function<void()> poke_chain);
  ~ProtocolRuntime();
  ProtocolRuntime(const ProtocolRuntime&) = delete;
  ProtocolRuntime& operator=(const ProtocolRuntime&) = delete;

  // A new contract snapshot. Errors (the mesh cannot listen, a participant
  // list the mesh refuses) are logged and retried with the next snapshot.
  void on_chain(const near::ContractView& view);
  void stop();

  // The mesh's bound endpoint, once it listens.
  std::optional<boost::asio::ip::tcp::endpoint> p2p_endpoint() const;

 private:
  ProtocolRuntime(ProtocolRuntimeOptions options, const NodeHome& home, KeyshareStore& store, near::Signer& signer,
                 net::MetricsRegistry& metrics, std::function<void()> poke_chain);
  core::Status ensure_mesh(std::uint64_t self_id);
  // Starts the mesh if the contract lists our account and it is not running
  // yet (then gives it the current peers); returns it (null if not running).
  p2p::Mesh* try_start_mesh();
  void tick_loop();
  void respond(const PendingSignature& request, const core::SignatureResponse& response);

  ProtocolRuntimeOptions options_;
  const NodeHome& home_;
  KeyshareStore& store_;
  near::Signer& signer_;
  net::MetricsRegistry& metrics_;
  std::function<void()> poke_chain_;
  TxWorker tx_;
  std::unique_ptr<SigningService> service_;
  std::unique_ptr<KeyEventService> key_events_;
  std::unique_ptr<PresignService> presign_;

  mutable std::mutex mu_;  // mesh_, keyset_, endpoint_, stopping_
  std::condition_variable cv_;
  std::unique_ptr<p2p::Mesh> mesh_;
  std::atomic<p2p::Mesh*> mesh_ptr_{nullptr};  // mesh_, for the service's ports (set once, cleared after the mesh stopped)
  std::optional<std::uint64_t> mesh_self_;
  std::optional<std::uint64_t> wanted_self_;  // our account's participant id in the last snapshot
  std::vector<p2p::Peer> peers_;              // the last snapshot's participants
  std::optional<model::Keyset> keyset_;
  std::optional<boost::asio::ip::tcp::endpoint> endpoint_;
  bool stopping_ = false;
  std::atomic<bool> listen_failed_logged_{false};
  bool no_pending_view_logged_ = false;  // watcher thread only
  std::thread ticker_;
};

}  // namespace mpc::node
