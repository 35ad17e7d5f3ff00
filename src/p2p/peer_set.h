// The mesh's view of the other participants, as the contract lists them:
// a validated set (pure values, no I/O) and the rule of who dials whom.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"

namespace mpc::p2p {

// One participant of the contract: its id, account, P2P TLS key and the
// host and port of its `url` (the scheme is informational: the mesh always
// speaks mutual TLS 1.3).
struct Peer {
  std::uint64_t participant_id = 0;
  std::string account_id;
  core::Ed25519PublicKey tls_public_key;
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Peer&) const = default;
};

// Exactly one logical channel per pair of participants: the participant with
// the LOWER id dials, the higher one listens. An inbound connection from a
// participant with a higher id than ours is refused (wrong_direction).
inline bool dials(std::uint64_t from, std::uint64_t to) { return from < to; }

// The other participants, validated: ids and keys unique, account ids valid
// NEAR account ids, hosts non-empty (at most 253 printable characters, no
// spaces), ports non-zero, at most `max_peers` entries. The entry with our
// own participant id is skipped (the node passes the contract's whole list);
// another participant holding our own key is an error.
class PeerSet {
 public:
  PeerSet() = default;
  static core::Result<PeerSet> make(std::uint64_t self_id, const core::Ed25519PublicKey& self_key,
                                    const std::vector<Peer>& peers, std::size_t max_peers);

  const Peer* by_id(std::uint64_t id) const;
  const Peer* by_key(const core::Ed25519PublicKey& key) const;
  const std::map<std::uint64_t, Peer>& peers() const { return peers_; }
  std::size_t size() const { return peers_.size(); }

 private:
  std::map<std::uint64_t, Peer> peers_;
  std::map<core::Ed25519PublicKey, std::uint64_t> by_key_;
};

}  // namespace mpc::p2p
