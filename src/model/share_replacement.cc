#include "model/share_replacement.h"

#include <algorithm>

namespace mpc::model {

using namespace mpc::core;  // the model is written in core's terms

std::optional<ReplacementRefusal> check_replacement(std::span<const Keyshare> held, std::span<const Keyshare> incoming) {
  if (held.empty()) return std::nullopt;
  ReplacementRefusal refusal;
  refusal.held_epoch = held.front().key_id.epoch_id;
  refusal.incoming_epoch = incoming.empty() ? refusal.held_epoch : incoming.front().key_id.epoch_id;
  if (refusal.incoming_epoch < refusal.held_epoch) return refusal;

  std::vector<std::uint64_t> dropped, changed_key, changed_id;
  for (const auto& h : held) {
    const auto it = std::find_if(incoming.begin(), incoming.end(),
                                 [&](const Keyshare& s) { return s.key_id.domain_id == h.key_id.domain_id; });
    if (it == incoming.end())
      dropped.push_back(h.key_id.domain_id);
    else if (it->kind != h.kind || it->public_key != h.public_key)
      changed_key.push_back(h.key_id.domain_id);
    else if (refusal.incoming_epoch == refusal.held_epoch && !(it->key_id == h.key_id))
      changed_id.push_back(h.key_id.domain_id);
  }
  for (auto [kind, domains] : {std::pair{ReplacementRefusal::Kind::kDroppedDomains, &dropped},
                               std::pair{ReplacementRefusal::Kind::kChangedGroupKey, &changed_key},
                               std::pair{ReplacementRefusal::Kind::kChangedKeyId, &changed_id}}) {
    if (domains->empty()) continue;
    std::sort(domains->begin(), domains->end());
    refusal.kind = kind;
    refusal.domains = std::move(*domains);
    return refusal;
  }
  return std::nullopt;
}

std::string domain_list(const std::vector<std::uint64_t>& domains) {
  std::string out;
  for (auto d : domains) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

}  // namespace mpc::model
