// The one rule for replacing a held set of key shares with an incoming one,
// shared by the node's key-share store (node::KeyshareStore::import) and the
// backup store (backup::BackupStore::store). Each caller words the refusal
// in its own terms; the decision is made here only.
//
// Against what is held, an incoming set is refused when
//   1. its epoch is older than the held one (shares never go back);
//   2. it lacks a domain that is held (the contract never removes domains,
//      so such a set is not from the same network);
//   3. a held domain's group public key (or curve) differs;
//   4. in the same epoch, a held domain's key id (attempt) differs (an
//      epoch's keyset is fixed once running: only new domains may appear).
// The first that applies is reported, with every domain it concerns.
// Nothing held: anything may be stored.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/types.h"

namespace mpc::model {

struct ReplacementRefusal {
  enum class Kind { kOlderEpoch, kDroppedDomains, kChangedGroupKey, kChangedKeyId };
  Kind kind = Kind::kOlderEpoch;
  std::uint64_t held_epoch = 0;
  std::uint64_t incoming_epoch = 0;
  std::vector<std::uint64_t> domains;  // ascending; empty for kOlderEpoch
};

// REQUIRES: each side is one epoch's shares, one per domain (callers check
// that first). Pure; never looks at the private shares.
std::optional<ReplacementRefusal> check_replacement(std::span<const Keyshare> held, std::span<const Keyshare> incoming);

// "0, 1, 4": a list of domain ids as refusals name them.
std::string domain_list(const std::vector<std::uint64_t>& domains);

}  // namespace mpc::model
