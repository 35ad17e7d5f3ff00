#include "node/signing_plan.h"

#include <algorithm>
#include <utility>

#include "core/crypto.h"

namespace mpc::node {

std::vector<std::uint64_t> leader_order(std::span<const std::uint64_t> participants, core::ByteView request_id) {
  std::vector<std::pair<core::Hash256, std::uint64_t>> keyed;
  keyed.reserve(participants.size());
  for (auto id : participants) {
    core::Bytes input(request_id.begin(), request_id.end());
    for (int shift = 56; shift >= 0; shift -= 8) input.push_back(static_cast<std::uint8_t>(id >> shift));
    keyed.emplace_back(core::sha256(input), id);
  }
  std::sort(keyed.begin(), keyed.end());
  keyed.erase(std::unique(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.second == b.second; }),
              keyed.end());
  std::vector<std::uint64_t> order;
  order.reserve(keyed.size());
  for (const auto& [hash, id] : keyed) order.push_back(id);
  return order;
}

LeadDecision decide_lead(const LeadInput& in) {
  LeadDecision d;
  const auto self_at = std::find(in.order.begin(), in.order.end(), in.self);
  if (self_at == in.order.end()) {
    d.reason = "not a participant of this request's network";
    return d;
  }
  if (in.threshold == 0) {
    d.reason = "no threshold";
    return d;
  }
  auto live = [&](std::uint64_t id) { return id == in.self || in.reachable.contains(id); };
  std::size_t reachable_total = 0;
  for (auto id : in.order) reachable_total += live(id);
  if (reachable_total < in.threshold) {
    d.reason = "only " + std::to_string(reachable_total) + " participant(s) reachable, threshold " + std::to_string(in.threshold);
    return d;
  }
  std::size_t ahead = 0;
  for (auto it = in.order.begin(); it != self_at; ++it) ahead += live(*it);
  const auto due = in.takeover_delay * static_cast<std::int64_t>(ahead);
  if (in.waited < due) {
    d.wait = due - in.waited;
    d.reason = std::to_string(ahead) + " reachable participant(s) lead before this node";
    return d;
  }
  // Signers: self, then reachable others in the request's order; those that
  // failed an earlier attempt only when nobody else is left.
  d.signers.push_back(in.self);
  for (int pass = 0; pass < 2 && d.signers.size() < in.threshold; ++pass) {
    for (auto id : in.order) {
      if (d.signers.size() == in.threshold) break;
      if (id == in.self || !live(id)) continue;
      if ((pass == 0) == in.failed.contains(id)) continue;
      d.signers.push_back(id);
    }
  }
  std::sort(d.signers.begin(), d.signers.end());
  d.lead = true;
  d.reason = ahead == 0 ? "first reachable in the request's order" : "taking over from " + std::to_string(ahead) + " participant(s) ahead";
  return d;
}

}  // namespace mpc::node
