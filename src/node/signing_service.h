// The node's part in threshold signing: it follows the contract's pending
// `sign` requests, leads those it should (node/signing_plan.h), takes part
// in other leaders' sessions, and hands finished signatures to `respond`.
//
// A state machine over ports, with no thread or socket of its own: the
// runtime feeds it chain snapshots (on_chain), messages from the P2P mesh
// (on_message) and time (tick, at next_wakeup() at the latest); it sends
// through the ports. Every entry point takes the service's lock, so the
// runtime may call them from different threads; ports are called with the
// lock held and must not call back into the service (send queues, respond
// hands the transaction to another thread).
//
// What a node signs. A signer takes part in a session only when
//   - the leader is a current participant (the mesh authenticated it) and
//     the session's signers include this node and number at least the
//     threshold;
//   - the request is pending on the chain as this node last read it — same
//     request (the contract's SignatureRequest JSON), domain, payload and
//     tweak. A session for a request this node has not seen yet waits (at
//     most `unknown_request_wait`, bounded in number) for the next chain read,
//     which it asks for (refresh_chain);
//   - the domain is an Ed25519 (Frost) domain whose share it holds, or a
//     secp256k1 DamgardEtAl domain (threshold ECDSA) for which it holds its
//     part of the presignature the session names: the session id is the
//     presignature's id, the leader must be its owner and the signers its
//     presigning set (exactly 2T - 1), the payload a 32-byte hash. The part
//     is taken from the durable pool (node/presign_service.h) BEFORE the
//     signature share is computed and sent, so it is never used twice, and
//     the share goes only to the leader.
// Per leader at most `max_sessions_per_peer` sessions run at once (a new one
// from the same leader for the same request replaces the old one), and
// `max_sessions` overall; anything beyond is refused with an Abort.
//
// Threshold ECDSA. A leader of a DamgardEtAl request takes one of its own
// presignatures whose set it reaches (waiting `retry_delay` when it has
// none), sends SignRequest (session = the presignature's id, signers = its
// set) and combines the 2T - 1 shares; EcdsaSignCoordinator verifies the
// signature before it is handed to `respond`. The rerandomizing entropy is
// SHA-256 of a label and the request's JSON: public, the same at every
// signer, and fixed before any presignature is chosen (see
// ecdsa_sign_entropy).
//
// Failures. A leader whose session does not finish within `session_timeout`
// aborts it, remembers who did not answer (or sent a bad share) and retries
// after `retry_delay` with other signers where it can. After handing a
// signature to `respond`, it does not lead the request again for
// `respond_grace` (the transaction may still be landing). A request that
// leaves the pending list ends its sessions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/key_derivation.h"
#include "core/result.h"
#include "net/metrics.h"
#include "node/presign_service.h"  // HeldPresignature
#include "threshold/curve.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/ecdsa_sign.h"
#include "threshold/frost.h"
#include "threshold/messages.h"
#include "threshold/signing_session.h"

namespace mpc::node {

// One pending `sign` request as the contract lists it.
struct PendingSignature {
  core::SignatureRequest request;  // as `respond` takes it back
  std::string request_json;  // its JSON (compact): the request's identity between nodes
  std::uint64_t domain_id = 0;
  core::Bytes payload;       // the bytes to sign
  core::Tweak tweak{};
  bool operator==(const PendingSignature&) const = default;
};

// What the service needs to know of the chain.
struct SigningChainView {
  bool running = false;
  std::optional<std::uint64_t> self;             // this node's participant id (its TLS key listed), if any
  std::vector<std::uint64_t> participants;       // current participant ids
  std::size_t threshold = 0;
  std::set<std::uint64_t> eddsa_domains;         // domains the nodes sign with FROST
  // DamgardEtAl domains (threshold ECDSA) and their group keys (33-byte compressed SEC1).
  std::map<std::uint64_t, threshold::CurvePoint> ecdsa_domains;
  std::vector<PendingSignature> pending;
};

struct SigningPorts {
  // Queues a message for a peer; false when it cannot be sent now.
  std::function<bool(std::uint64_t to, core::Bytes message)> send;
  // Peers with a live mesh channel.
  std::function<std::set<std::uint64_t>()> reachable;
  // This node's signing key for an Ed25519 domain (from its key-share store).
  std::function<core::Result<threshold::KeyPackage>(std::uint64_t domain_id)> key_package;
  // The leader's presignature for an ECDSA domain: one it owns whose set is
  // all reachable, taken from the durable pool (nullopt: none now).
  std::function<core::Result<std::optional<HeldPresignature>>(std::uint64_t domain_id, const std::set<std::uint64_t>& reachable)>
      take_own_presignature;
  // A signer's part of presignature `id`, taken from the durable pool only
  // when its owner is `owner` and its set `signers` (else an error saying why).
  std::function<core::Result<threshold::Presignature>(std::uint64_t domain_id, const threshold::SessionId& id, std::uint64_t owner,
                                                       const std::vector<std::uint64_t>& signers)>
      take_presignature;
  // Submits `respond` (asynchronously: must not block).
  std::function<void(const PendingSignature& request, const core::SignatureResponse& response)> respond;
  // Asks for a chain read soon (a leader knows of a request this node has not seen).
  std::function<void()> refresh_chain;
};

struct SigningOptions {
  std::chrono::milliseconds takeover_delay{3'000};
  std::chrono::milliseconds session_timeout{5'000};
  std::chrono::milliseconds retry_delay{500};
  std::chrono::milliseconds respond_grace{10'000};
  std::chrono::milliseconds unknown_request_wait{5'000};
  std::size_t max_sessions = 256;         // signer sessions, all leaders
  std::size_t max_sessions_per_peer = 32;  // signer sessions of one leader
  std::size_t max_led = 64;               // sessions this node leads at once
  std::size_t max_waiting = 64;           // sessions waiting for their request to appear on chain
};

// The rerandomizing entropy of a threshold ECDSA signature for a request:
// SHA-256("mpc-node ecdsa sign entropy v1" || request JSON).
std::array<std::uint8_t, 32> ecdsa_sign_entropy(const std::string& request_json);

class SigningService {
 public:
  SigningService(SigningPorts ports, SigningOptions options, core::Clock& clock, net::MetricsRegistry& metrics,
                 threshold::RandomSource random = threshold::os_random_source());
  ~SigningService();
  SigningService(const SigningService&) = delete;
  SigningService& operator=(const SigningService&) = delete;

  void on_chain(const SigningChainView& view);
  // A message from an authenticated peer (its participant id): a signing
  // message (threshold/messages.h) or a threshold ECDSA SignShare.
  void on_message(std::uint64_t from, core::ByteView bytes);
  // Starts what is due (leading, retries) and ends sessions past their deadline.
  void tick();
  // When tick() has something to do next (nullopt: nothing scheduled).
  std::optional<core::Clock::time_point> next_wakeup() const;

  // Introspection for tests and metrics.
  std::size_t led_sessions() const;
  std::size_t signer_sessions() const;

 private:
  struct Tracked;    // a pending request this node follows
  struct Led;        // a session this node leads
  struct Signing;    // a session this node signs in for another leader
  struct Waiting;    // a SignRequest whose request this node has not seen on chain yet

  void tick_locked(core::Clock::time_point now);
  void lead(Tracked& t, const std::vector<std::uint64_t>& signers, core::Clock::time_point now);
  // Registers a session this node leads and sends its SignRequest to the other signers.
  void begin_led(Tracked& t, const threshold::SignRequest& request, std::unique_ptr<Led> led, std::string_view what,
                 core::Clock::time_point now);
  void lead_ecdsa(Tracked& t, const std::set<std::uint64_t>& reachable, core::Clock::time_point now);
  void sign_ecdsa(std::uint64_t from, const threshold::SignRequest& request, const PendingSignature& pending, core::Clock::time_point now);
  void on_ecdsa_share(std::uint64_t from, core::ByteView bytes, core::Clock::time_point now);
  void responded(const threshold::SessionId& session, const core::SignatureResponse& response, core::Clock::time_point now);
  void end_led(const threshold::SessionId& session, const std::string& why, const std::set<std::uint64_t>& blame,
               core::Clock::time_point now, bool tell_signers);
  void on_sign_request(std::uint64_t from, threshold::SignRequest request, core::Clock::time_point now);
  void start_signing(std::uint64_t from, threshold::SignRequest request, core::Clock::time_point now);
  void send_abort(std::uint64_t to, const threshold::SessionId& session, const std::string& reason);
  bool send(std::uint64_t to, const threshold::Message& message);
  const PendingSignature* pending_for(const threshold::SignRequest& request) const;
  std::optional<std::string> refuse_request(std::uint64_t from, const threshold::SignRequest& request) const;

  mutable std::mutex mu_;
  SigningPorts ports_;
  SigningOptions options_;
  core::Clock& clock_;
  net::MetricsRegistry& metrics_;
  threshold::RandomSource random_;
  SigningChainView view_;
  std::map<std::string, std::unique_ptr<Tracked>> tracked_;  // by request_json
  std::map<threshold::SessionId, std::unique_ptr<Led>> led_;
  std::map<threshold::SessionId, std::unique_ptr<Signing>> signing_;
  std::map<threshold::SessionId, std::unique_ptr<Waiting>> waiting_;
};

}  // namespace mpc::node
