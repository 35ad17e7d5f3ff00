// Who signs a pending signature request, and when. Pure functions of plain
// values (no clock, no sockets): the signing service feeds them what it
// knows — the participants, which peers its mesh reaches, how long a request
// has been waiting — and acts on the answer.
//
// Leadership. Every node orders the current participants for a request the
// same way: by SHA-256(request id || participant id as 8 bytes big-endian),
// ascending. The first participant of that order that a node can reach (or
// the node itself) is the leader it expects. A node leads a request:
//   - at once, when no participant before it in the order is reachable from it;
//   - otherwise, after `takeover_delay` for each reachable participant before
//     it, counted from when it first saw the request pending — so when the
//     leader is gone (or cannot finish), the next one takes over, and a
//     healthy network runs each request once.
// A request answered twice is harmless: the contract resolves it once and
// refuses the second `respond`.
//
// Signers. The leader signs with itself and the first threshold - 1 other
// reachable participants in the request's order, skipping those that failed
// it in an earlier attempt of the same request while enough others remain.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace mpc::node {

// The participants in the order in which they lead `request_id`.
std::vector<std::uint64_t> leader_order(std::span<const std::uint64_t> participants, core::ByteView request_id);

struct LeadInput {
  std::vector<std::uint64_t> order;   // leader_order(...)
  std::uint64_t self = 0;             // this node's participant id (in `order`)
  std::set<std::uint64_t> reachable;  // peers the mesh has a live connection to (self need not be listed)
  std::size_t threshold = 0;
  std::chrono::milliseconds waited{0};          // since this node first saw the request pending
  std::chrono::milliseconds takeover_delay{0};  // per reachable participant ahead in the order
  std::set<std::uint64_t> failed;               // participants that failed an earlier attempt of this request
};

struct LeadDecision {
  bool lead = false;
  // When not leading: how much longer to wait before leading (nullopt: this
  // node cannot lead, e.g. too few reachable participants).
  std::optional<std::chrono::milliseconds> wait;
  std::vector<std::uint64_t> signers;  // when leading: self included, sorted ascending
  std::string reason;                  // for logs: why (not) now
};

LeadDecision decide_lead(const LeadInput& in);

}  // namespace mpc::node
