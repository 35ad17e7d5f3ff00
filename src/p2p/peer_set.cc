#include "p2p/peer_set.h"

#include "core/near_key.h"

namespace mpc::p2p {

namespace {

bool valid_host(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (unsigned char c : host)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

core::Result<PeerSet> PeerSet::make(std::uint64_t self_id, const core::Ed25519PublicKey& self_key,
                                    const std::vector<Peer>& peers, std::size_t max_peers) {
  PeerSet set;
  for (const auto& p : peers) {
    const std::string who = "participant " + std::to_string(p.participant_id);
    if (p.participant_id == self_id) continue;
    if (!core::is_valid_account_id(p.account_id)) return core::invalid(who + ": account id is not a valid NEAR account id");
    if (!valid_host(p.host)) return core::invalid(who + " (" + p.account_id + "): host is empty, too long or holds spaces or control characters");
    if (p.port == 0) return core::invalid(who + " (" + p.account_id + "): port 0");
    if (p.tls_public_key == self_key)
      return core::invalid(who + " (" + p.account_id + ") has this node's own TLS key " +
                           core::ed25519_public_key_to_string(self_key));
    if (set.peers_.count(p.participant_id) > 0) return core::invalid(who + " is listed twice");
    if (auto it = set.by_key_.find(p.tls_public_key); it != set.by_key_.end())
      return core::invalid(who + " (" + p.account_id + ") has the same TLS key as participant " + std::to_string(it->second));
    if (set.peers_.size() >= max_peers)
      return core::invalid("more than " + std::to_string(max_peers) + " peers (the mesh's limit)");
    set.peers_.emplace(p.participant_id, p);
    set.by_key_.emplace(p.tls_public_key, p.participant_id);
  }
  return set;
}

const Peer* PeerSet::by_id(std::uint64_t id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const Peer* PeerSet::by_key(const core::Ed25519PublicKey& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : by_id(it->second);
}

}  // namespace mpc::p2p
