// The node's part in the contract's key events: key generation for new
// domains (Initializing) and resharing to new parameters (Resharing), run
// with the other participants over the P2P mesh (threshold/key_event.h).
//
// A state machine over ports, like node/signing_service.h: the runtime
// feeds it chain snapshots (on_chain), mesh messages (on_message) and time
// (tick); it sends and submits transactions through the ports and keeps its
// results in the node's key-share store.
//
// What it does, per chain snapshot (the contract is the only coordinator):
//   - Running: promotes the keyset into the held set once every domain's
//     share is held or pending (KeyshareStore::promote); after a resharing
//     that is the moment the old epoch's shares are deleted. A node whose
//     account the resharing removed deletes its shares of the older epochs
//     then too (they must not outlive the epoch on any machine).
//   - Initializing / Resharing, for the current key event:
//       * the leader (lowest participant id of the event) starts the next
//         attempt (`start_keygen_instance` / `start_reshare_instance`) when
//         none is active (none yet, aborted, or expired by block height);
//       * a participant of the event runs the active attempt: it stores the
//         output as a pending share (durably) and only then votes
//         (`vote_pk` with the group key / `vote_reshared`);
//       * an attempt it cannot finish (the session failed, or it was
//         restarted mid-attempt and lost its secret polynomial: the journal
//         file says it had started it) gets `vote_abort_key_event_instance`;
//         an attempt that stalls (a peer that never answers) expires by the
//         contract's `expires_on` and the leader starts the next one.
//
// Hostile peers: messages are taken only from participants of the active
// attempt; messages for an attempt this node has not seen on chain yet are
// buffered (bounded: kMaxBufferedMessages, kMaxBufferedBytes) until the next
// snapshot, and dropped when it does not show that attempt.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/result.h"
#include "model/types.h"
#include "net/metrics.h"
#include "node/keyshare_store.h"
#include "threshold/key_event.h"

namespace mpc::node {

// What the service needs of the chain.
struct KeyEventChainView {
  std::uint64_t block_height = 0;
  std::string account_id;                 // this node's account
  core::Ed25519PublicKey tls_public_key;  // this node's P2P key: it takes part only while the contract lists it
  // Running: the keyset to hold, and whether this node's account is a
  // participant (a node removed by a resharing deletes its old shares).
  std::optional<model::Keyset> running_keyset;
  bool running_participant = false;
  // Initializing or Resharing: the current key event.
  enum class Kind { kNone, kKeygen, kReshare };
  Kind kind = Kind::kNone;
  model::KeyEventView event;
  // Resharing: the parameters and keyset being reshared from.
  model::ThresholdParameters previous_parameters;
  model::Keyset previous_keyset;
};

// Reads a chain snapshot into the service's view (nullopt fields as above).
core::Result<KeyEventChainView> key_event_view_of(const model::ProtocolState& state, std::uint64_t block_height,
                                                  const std::string& account_id, const core::Ed25519PublicKey& tls_public_key);

// A transaction for the contract.
struct KeyEventTx {
  std::string method;
  nlohmann::json args;
  std::string key;  // the same key is not queued twice
};

struct KeyEventPorts {
  // Queues a message for a peer; false when it cannot be sent now (the
  // service keeps it and tries again on the next tick).
  std::function<bool(std::uint64_t to, core::Bytes message)> send;
  // Peers with a live mesh channel.
  std::function<std::set<std::uint64_t>()> reachable;
  // Submits a transaction (asynchronously: must not block).
  std::function<void(KeyEventTx tx)> submit;
  // Asks for a chain read soon.
  std::function<void()> refresh_chain;
};

struct KeyEventOptions {
  // How long a session may wait for complaint answers before the dealers
  // that did not answer are excluded (threshold/key_event.h).
  std::chrono::milliseconds complaint_timeout{5'000};
  // How often the same transaction (a start, a vote) is submitted again
  // while the chain does not show its effect.
  std::chrono::milliseconds resubmit_interval{3'000};
  // The leader starts an attempt once every participant of the event is
  // reachable over the mesh, or after this long regardless (an attempt with
  // a participant that is down expires and the next one is started).
  std::chrono::milliseconds start_grace{10'000};
};

// The group key of a key event output as the contract shows keys.
core::Result<model::PublicKeyExtended> group_key_extended(model::CurveKind kind, core::ByteView compressed);
// The curve a domain's keys are on (its "curve" field, else its protocol).
core::Result<model::CurveKind> domain_curve(const model::DomainConfig& domain);

class KeyEventService {
 public:
  static constexpr std::size_t kMaxBufferedMessages = 1024;
  static constexpr std::size_t kMaxBufferedBytes = 16u << 20;

  // `store` must outlive the service. `journal` is a file in the node's home
  // (the attempt this node last started; no secret in it), written via `env`.
  KeyEventService(KeyEventPorts ports, KeyEventOptions options, KeyshareStore& store, std::filesystem::path journal,
                  core::Clock& clock, net::MetricsRegistry& metrics,
                  threshold::RandomSource random = threshold::os_random_source(), core::Env& env = core::default_env());
  ~KeyEventService();
  KeyEventService(const KeyEventService&) = delete;
  KeyEventService& operator=(const KeyEventService&) = delete;

  void on_chain(const KeyEventChainView& view);
  void on_message(std::uint64_t from, core::ByteView bytes);
  void tick();

  // Introspection for tests.
  std::optional<model::KeyEventId> running_attempt() const;
  std::size_t buffered_messages() const;

 private:
  struct Session;

  void step_locked();
  void start_session_locked(const model::KeyEventId& id);
  void deliver_locked(std::vector<threshold::Outgoing> out);
  void send_locked(std::uint64_t to, core::Bytes payload);
  void finish_locked();
  // False when the same transaction was submitted less than resubmit_interval ago.
  bool submit_locked(const std::string& method, nlohmann::json args);
  std::optional<std::uint64_t> self_locked() const;

  mutable std::mutex mu_;
  KeyEventPorts ports_;
  KeyEventOptions options_;
  KeyshareStore& store_;
  std::filesystem::path journal_;
  core::Clock& clock_;
  net::MetricsRegistry& metrics_;
  threshold::RandomSource random_;
  core::Env& env_;
  KeyEventChainView view_;
  std::unique_ptr<Session> session_;
  std::optional<model::KeyEventId> journal_id_;  // read at construction, then as written
  std::set<std::string> failed_attempts_;        // attempts this node voted to abort
  std::map<std::string, core::Clock::time_point> submitted_;  // tx key -> when
  std::optional<std::pair<model::KeyEventId, core::Clock::time_point>> start_wanted_;  // the attempt to lead, since when
  struct Buffered {
    std::uint64_t from = 0;
    core::Bytes bytes;
  };
  std::map<threshold::SessionId, std::vector<Buffered>> buffer_;
  std::size_t buffered_count_ = 0;
  std::size_t buffered_bytes_ = 0;
};

}  // namespace mpc::node
