#include "net/connection_budget.h"

#include <algorithm>

namespace mpc::net {

const char* eviction_label(EvictionReason reason) {
  switch (reason) {
    case EvictionReason::kPreauthBudget: return "evicted_preauth";
    case EvictionReason::kPerSourceCap: return "evicted_per_source";
  }
  return "evicted";
}

ConnectionBudget::ConnectionBudget(ConnectionLimits limits) : limits_(limits) {
  limits_.max_preauth = std::max<std::size_t>(1, limits_.max_preauth);
  limits_.max_preauth_per_source = std::max<std::size_t>(1, limits_.max_preauth_per_source);
  limits_.max_authenticated = std::max<std::size_t>(1, limits_.max_authenticated);
}

std::size_t ConnectionBudget::preauth_from(const Source& source) const {
  auto it = by_source_.find(source);
  return it == by_source_.end() ? 0 : it->second.size();
}

Admission ConnectionBudget::admit(const Source& source) {
  Admission out;
  out.id = next_id_++;
  auto& mine = by_source_[source];
  if (mine.size() >= limits_.max_preauth_per_source) {
    out.evicted = Eviction{*mine.begin(), EvictionReason::kPerSourceCap};
  } else if (preauth_.size() >= limits_.max_preauth) {
    out.evicted = Eviction{preauth_.begin()->first, EvictionReason::kPreauthBudget};
  }
  if (out.evicted) forget_preauth(out.evicted->id);  // may erase `mine` when it empties
  preauth_.emplace(out.id, source);
  by_source_[source].insert(out.id);
  return out;
}

Promotion ConnectionBudget::promote(std::uint64_t id) {
  if (!is_preauth(id)) return Promotion::kGone;
  forget_preauth(id);
  if (authenticated_.size() >= limits_.max_authenticated) return Promotion::kFull;
  authenticated_.insert(id);
  return Promotion::kAuthenticated;
}

void ConnectionBudget::release(std::uint64_t id) {
  forget_preauth(id);
  authenticated_.erase(id);
}

void ConnectionBudget::forget_preauth(std::uint64_t id) {
  auto it = preauth_.find(id);
  if (it == preauth_.end()) return;
  auto src = by_source_.find(it->second);
  if (src != by_source_.end()) {
    src->second.erase(id);
    if (src->second.empty()) by_source_.erase(src);
  }
  preauth_.erase(it);
}

}  // namespace mpc::net
