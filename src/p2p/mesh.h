// The node-to-node mesh: one mutual-TLS 1.3 channel to every other current
// participant, carrying length-prefixed frames (p2p/wire.h).
//
// Identity: a connection is accepted, inbound or outbound, only when the
// Ed25519 key in the peer's certificate is the `tls_public_key` of a current
// participant (set_peers), and its HELLO names that participant's id (and
// ours as the recipient). Outbound, the key must be the one expected for the
// participant dialled. set_peers() replaces the whole list: a participant
// that is gone, or whose key changed (a migration), loses its connection at
// once (its messages not yet delivered are discarded), and the new key is
// accepted/dialled from then on.
//
// One channel per pair: the participant with the lower id dials
// (p2p/peer_set.h: dials()). A new authenticated connection from a peer
// replaces its previous one (the dialer only dials when it has none, so the
// old one is dead on its side). Outbound dials are retried with capped,
// jittered exponential backoff (p2p/backoff.h) for as long as the peer is
// listed; a lost channel is redialled after the initial backoff.
//
// Liveness: every `ping_interval` each side sends a PING, answered by a
// PONG (round-trip time gauge). A channel that receives nothing for
// `idle_timeout` is closed (idle_timeout) and redialled by its dialer. A
// write that does not finish within `write_timeout` closes it too.
//
// Limits (hostile peers):
//   - inbound connections that have not finished TLS and the HELLO exchange
//     are budgeted (net::ConnectionBudget: at most max_preauth_connections,
//     max_preauth_per_source from one address; the oldest is evicted for a
//     newcomer) and must finish within `handshake_timeout` of the accept;
//     outbound dials (resolve, connect, TLS, HELLO) likewise;
//   - a MESSAGE frame is at most `max_payload` bytes (decided from its header);
//   - per peer, at most `max_outbound_queue_bytes` are queued for sending
//     (each frame charged its size + 64 bytes; an empty queue takes any one
//     frame): send() returns false beyond;
//   - per peer, at most `max_inbound_queue_bytes` of received messages wait
//     for on_message: beyond, the mesh stops reading from that peer until
//     the handler catches up (TCP backpressure; its idle timeout is
//     suspended meanwhile), so a flooding peer cannot grow our memory.
//
// Threads: the mesh runs its own io_context on `io_threads` threads and one
// delivery thread. on_message is called on the delivery thread, one message
// at a time, in order per peer; it may call send(), set_peers(),
// connected_peers(), but must not call stop() (nor destroy the mesh). A
// slow handler delays delivery (and, through backpressure, reading), never
// the io threads. send(), set_peers(), connected_peers() and the
// introspection functions are safe from any thread.
//
// Delivery is at most once: send() == true means queued on the current
// channel; frames queued on a channel that closes are lost (counted in
// p2p_messages_dropped_total).
//
// Metrics (net::MetricsRegistry; a series appears with its first use):
//   p2p_peer_connected{participant}                  1 while a channel is up
//   p2p_peer_ping_rtt_seconds{participant}           last PING->PONG round trip
//   p2p_peer_last_seen_timestamp_seconds{participant} unix time of the last frame received
//   p2p_frames_sent_total{participant}, p2p_frames_received_total{participant}  (all frame types)
//   p2p_messages_dropped_total{participant}          queued MESSAGE frames lost with their channel
//   p2p_send_refused_total{reason}                   not_connected | queue_full | too_large | stopped
//   p2p_connections_refused_total{reason}            a connection that never became a channel:
//       handshake_failed, handshake_timeout, bad_certificate, unknown_key (inbound: not a
//       participant's key), unexpected_key (outbound: not the dialled participant's key),
//       wrong_direction, id_mismatch, wrong_recipient, version_mismatch, stale_peer (the
//       participant changed meanwhile), evicted_preauth, evicted_per_source,
//       too_many_connections, connect_failed, resolve_failed, closed (the peer hung up), stopping,
//       and the frame reasons of p2p/wire.h (expected_hello, bad_frame, unknown_frame_type, ...)
//   p2p_disconnects_total{reason}                    an established channel closed:
//       peer_closed, read_failed, write_failed, write_timeout, idle_timeout, replaced,
//       peer_removed, key_changed, stopping, and the frame reasons of p2p/wire.h
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/crypto.h"
#include "core/result.h"
#include "net/metrics.h"
#include "p2p/backoff.h"
#include "p2p/peer_set.h"
#include "p2p/wire.h"

namespace mpc::p2p {

struct MeshOptions {
  std::size_t max_payload = wire::kDefaultMaxPayload;      // per MESSAGE frame
  std::size_t max_outbound_queue_bytes = 8u << 20;         // per peer
  std::size_t max_inbound_queue_bytes = 8u << 20;          // per peer, received but not yet handled
  std::chrono::milliseconds handshake_timeout{5'000};      // accept/dial -> HELLOs exchanged
  std::chrono::milliseconds ping_interval{2'000};
  std::chrono::milliseconds idle_timeout{10'000};          // nothing received: the channel is dead
  std::chrono::milliseconds write_timeout{10'000};
  BackoffPolicy backoff;
  std::size_t max_preauth_connections = 64;
  std::size_t max_preauth_per_source = 8;
  std::size_t max_peers = 1024;
  unsigned io_threads = 1;
  // Uniform in [0, 1), for backoff jitter; default: a PRNG seeded from the
  // system RNG. Called with the mesh's lock held.
  std::function<double()> random_unit;
};

// Called on the delivery thread (see above).
using MessageHandler = std::function<void(std::uint64_t from, std::vector<std::uint8_t> payload)>;

class Mesh {
 public:
  // `key` is this node's P2P (TLS) key; `self_id` its participant id.
  // `metrics` may be null (the mesh then keeps a registry of its own); it
  // must outlive the mesh. Fails only when the TLS contexts cannot be built.
  static core::Result<std::unique_ptr<Mesh>> create(std::uint64_t self_id, const core::Ed25519SecretKey& key,
                                                    MeshOptions options, MessageHandler on_message,
                                                    net::MetricsRegistry* metrics);
  ~Mesh();  // stop()
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Listens on `endpoint` (port 0: any free port) and starts the threads and
  // the dialers. Returns the bound endpoint. Once only; fails if the address
  // cannot be bound (nothing started) or after stop().
  core::Result<boost::asio::ip::tcp::endpoint> start(const boost::asio::ip::tcp::endpoint& endpoint);
  // The same on a TCP socket a supervisor bound and handed down (a test
  // holding the port, or socket activation): the mesh listens on it and owns
  // it from then on (close-on-exec is set). Fails, changing nothing but the
  // descriptor's close-on-exec flag, if `fd` is not a bound TCP socket.
  core::Result<boost::asio::ip::tcp::endpoint> start_on_socket(int fd);

  // Replaces the list of participants (see the top of this file). Our own
  // entry, if present, is skipped. A bad list is refused with an error
  // naming the entry, and changes nothing. May be called before start().
  core::Status set_peers(const std::vector<Peer>& peers);

  // Queues `payload` as one MESSAGE for `participant`. False (and counted)
  // when there is no channel to it, its queue is full, the payload is larger
  // than max_payload, or the mesh is stopped.
  bool send(std::uint64_t participant, std::vector<std::uint8_t> payload);

  // Participants with an established channel, ascending.
  std::vector<std::uint64_t> connected_peers() const;

  // Closes the listener and every connection at once and joins the threads;
  // on_message is not called after it returns. Idempotent. REQUIRES: not
  // called from on_message.
  void stop();

  std::uint64_t self_id() const;
  net::MetricsRegistry& metrics();
  // Introspection (tests, debugging): bytes queued for sending to /
  // received from `participant` on its current channel (0 without one), and
  // inbound connections still in their handshake.
  std::size_t outbound_queued_bytes(std::uint64_t participant) const;
  std::size_t inbound_queued_bytes(std::uint64_t participant) const;
  std::size_t preauth_connections() const;

  class Impl;

 private:
  explicit Mesh(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mpc::p2p
