// The node's background presigning for threshold ECDSA (threshold/
// ecdsa_presign.h, the reference's DamgardEtAl): it keeps, for every
// secp256k1 domain signed with DamgardEtAl, a pool of presignatures this
// node owns, takes part in the presigning sessions other participants ask
// for, and hands presignatures to the signing service, each at most once,
// ever (node/presignature_store.h makes that durable).
//
// A state machine over ports, like the signing service: the runtime feeds it
// chain snapshots (on_chain), mesh messages (on_message: ECDSA types 32..34
// and 36) and time (tick); it sends through the ports. Every entry point
// takes the service's lock; ports are called with it held and must not call
// back into the service.
//
// Ownership. A node asks for a presignature by sending PresignRequest (a new
// session id, the epoch, the domain, the presigning set) to the others of
// its set; the presignature is then the asker's: only it may lead a
// signature with it (the signing service's leader takes one of its own,
// take_own), and every other member hands its part only to that owner, for
// that set (take_for). The set is exactly 2T - 1 participants including the
// owner, all reachable when the session starts; with more participants than
// that, successive sessions rotate through them.
//
// What a node presigns for. It joins a session only when the asker is a
// current participant (the mesh authenticated it) and a member of the set,
// the network is Running at the epoch the request names, the domain is a
// DamgardEtAl secp256k1 domain whose share this node holds, the set has
// exactly 2T - 1 current participants including this node, and it has room:
// at most `max_sessions` sessions of others at once (`max_sessions_per_peer`
// per asker) and at most `max_pool_per_owner` stored presignatures of any one
// owner per domain. Messages of a session this node has not joined yet (the
// other members' shares can overtake the asker's request) wait in a bounded
// buffer for `session_timeout`. A request that may pass with the next chain
// read (this node has not seen the network Running, the epoch or the domain
// yet) or once the mesh reaches every member of the set waits too, at most
// `max_held_requests` of them (a quarter per asker) for `session_timeout`;
// so nodes that start together do not lose their first sessions.
//
// The pool of every domain belongs to one context: the epoch, the domain
// and the current participants (their ids, accounts and TLS keys). A
// snapshot with another epoch or participant set — a migrated participant
// too: its new machine holds none of its parts — discards the pools
// (use_context) and ends every running session.
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

#include "core/bytes.h"
#include "core/clock.h"
#include "core/env.h"
#include "core/result.h"
#include "core/secret.h"
#include "net/metrics.h"
#include "node/presignature_store.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/signing_session.h"

namespace mpc::node {

struct PresignChainView {
  bool running = false;
  std::optional<std::uint64_t> self;       // this node's participant id (its TLS key listed)
  std::uint64_t epoch_id = 0;
  std::vector<std::uint64_t> participants;  // current participant ids, ascending
  // A digest of who they are (accounts and TLS keys): a migration changes it.
  std::string members;
  std::size_t threshold = 0;
  std::set<std::uint64_t> ecdsa_domains;    // DamgardEtAl domains with a secp256k1 key
};

struct PresignPorts {
  // Queues a message for a peer; false when it cannot be sent now.
  std::function<bool(std::uint64_t to, core::Bytes message)> send;
  // Peers with a live mesh channel.
  std::function<std::set<std::uint64_t>()> reachable;
  // Asks for a chain read soon (a peer asked for a session this node cannot
  // place yet). May be empty.
  std::function<void()> refresh_chain;
  // This node's secp256k1 key share of a domain (32 bytes, big-endian).
  std::function<core::Result<core::SecretBytes>(std::uint64_t domain_id)> key_share;
};

struct PresignOptions {
  std::size_t pool_target = 16;            // own presignatures kept per domain
  std::size_t max_led_per_domain = 2;      // own sessions running at once per domain
  std::size_t max_pool_per_owner = 64;     // stored presignatures of another owner per domain
  std::size_t max_sessions = 64;           // sessions of others at once
  std::size_t max_sessions_per_peer = 8;   // sessions of one asker at once
  std::size_t max_early_messages = 1024;   // messages of sessions not joined yet
  std::size_t max_held_requests = 64;      // requests waiting for a chain read or a connection
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds retry_delay{1'000};  // after a failed own session
};

// A presignature handed to the signing service, used once.
struct HeldPresignature {
  threshold::SessionId id{};
  threshold::Presignature presignature;
};

class PresignService {
 public:
  // Pools live in `pool_dir` (created 0700), one file per domain, sealed
  // with `local_key` (32 bytes).
  PresignService(PresignPorts ports, PresignOptions options, std::filesystem::path pool_dir, core::SecretBytes local_key,
                 core::Clock& clock, net::MetricsRegistry& metrics,
                 threshold::RandomSource random = threshold::os_random_source(), core::Env& env = core::default_env());
  ~PresignService();
  PresignService(const PresignService&) = delete;
  PresignService& operator=(const PresignService&) = delete;

  void on_chain(const PresignChainView& view);
  // A threshold ECDSA presigning message (types 32..34, 36) from an
  // authenticated peer.
  void on_message(std::uint64_t from, core::ByteView bytes);
  // Ends sessions past their deadline and starts own sessions where a pool
  // is below its target.
  void tick();
  std::optional<core::Clock::time_point> next_wakeup() const;

  // The leader's: durably takes (removes from the pool, oldest first) a
  // presignature this node owns for `domain_id` whose set is all in
  // `reachable` (this node implied); nullopt when there is none.
  core::Result<std::optional<HeldPresignature>> take_own(std::uint64_t domain_id, const std::set<std::uint64_t>& reachable);
  // A signer's: durably takes presignature `id` of `domain_id`, but only
  // when its owner is `owner` and its set is `signers`; an error that says
  // why otherwise (unknown, used already, another owner or set), and then
  // nothing is taken.
  core::Result<threshold::Presignature> take_for(std::uint64_t domain_id, const threshold::SessionId& id, std::uint64_t owner,
                                                 const std::vector<std::uint64_t>& signers);

  // Introspection for tests and metrics.
  std::size_t available(std::uint64_t domain_id) const;  // all owners
  std::size_t owned(std::uint64_t domain_id) const;
  std::size_t running_sessions() const;

 private:
  struct Session;
  struct Early;
  struct Held {
    std::uint64_t from = 0;
    threshold::PresignRequestMessage request;
    core::Clock::time_point deadline;
  };

  void tick_locked(core::Clock::time_point now);
  core::Result<PresignatureStore*> pool(std::uint64_t domain_id);
  PresignatureContext context_for(std::uint64_t domain_id) const;
  std::size_t owned_locked(std::uint64_t domain_id) const;
  bool lead(std::uint64_t domain_id, const std::set<std::uint64_t>& reachable, core::Clock::time_point now);
  void on_request(std::uint64_t from, threshold::PresignRequestMessage request, core::Clock::time_point now);
  // Why a request is refused, and whether that may pass with the next chain
  // read or mesh connection (the asker may be a read ahead of this node).
  struct Refusal {
    std::string why;
    bool may_pass = false;
  };
  std::optional<Refusal> refuse_request(std::uint64_t from, const threshold::PresignRequestMessage& request) const;
  void join(std::uint64_t from, threshold::PresignRequestMessage request, core::Clock::time_point now);
  // Requests held for a later chain read or connection: joined, refused or expired.
  void retry_held(core::Clock::time_point now);
  // Sends a session's outgoing messages; false when a peer is unreachable.
  bool send_all(Session& session, std::vector<threshold::Outgoing> out);
  // Feeds one message to a session; stores the output when it completes.
  void step(const threshold::SessionId& id, std::uint64_t from, core::ByteView bytes, core::Clock::time_point now);
  void finish(const threshold::SessionId& id, core::Clock::time_point now);
  void end(const threshold::SessionId& id, const std::string& why, core::Clock::time_point now);
  void drain_early(const threshold::SessionId& id, core::Clock::time_point now);

  mutable std::mutex mu_;
  PresignPorts ports_;
  PresignOptions options_;
  std::filesystem::path pool_dir_;
  core::SecretBytes local_key_;
  core::Clock& clock_;
  net::MetricsRegistry& metrics_;
  threshold::RandomSource random_;
  core::Env& env_;
  PresignChainView view_;
  std::map<std::uint64_t, std::unique_ptr<PresignatureStore>> pools_;  // by domain, opened on first use
  std::map<threshold::SessionId, std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Early>> early_;  // oldest first
  std::vector<Held> held_;                     // oldest first
  std::map<std::uint64_t, core::Clock::time_point> not_before_;  // own sessions per domain, after a failure
  std::size_t rotation_ = 0;                  // where the next own set starts among the others
  std::set<std::uint64_t> unsignable_logged_;  // domains whose threshold the network cannot serve
};

}  // namespace mpc::node
