// Does the stored backup cover the contract's keyset? Pure logic over
// values, used by `backup-cli status`, `verify` and the `run` loop.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/home.h"
#include "model/types.h"

namespace mpc::backup {

enum class CoverageVerdict {
  kUpToDate,          // one consistent share per keyset domain, same epoch
  kNothingToBackUp,   // the keyset has no domains
  kNoBackup,          // nothing stored
  kBehind,            // stored epoch < keyset epoch (keys still match)
  kMissingDomains,    // same epoch, some keyset domains have no share
  kMismatch,          // a group key, key id or curve differs, the backup holds
                      // domains the keyset does not, or the backup is ahead
};

const char* coverage_verdict_name(CoverageVerdict v);

struct BackupCoverage {
  CoverageVerdict verdict = CoverageVerdict::kNoBackup;
  // One line for people: "up to date", "behind by 2 epochs",
  // "missing domains 3, 4", "no backup", "group key mismatch for domain 1", …
  std::string summary;
  std::optional<std::uint64_t> stored_epoch;
  std::uint64_t keyset_epoch = 0;
  std::uint64_t epochs_behind = 0;
  std::vector<std::uint64_t> missing_domains;     // in the keyset, not in the backup
  std::vector<std::uint64_t> mismatched_domains;  // in both, not the same key
  std::vector<std::uint64_t> extra_domains;       // in the backup, not in the keyset

  // True iff the backup holds exactly what the keyset needs.
  bool up_to_date() const { return verdict == CoverageVerdict::kUpToDate || verdict == CoverageVerdict::kNothingToBackUp; }
  // True iff a fresh backup of the keyset is what is needed (behind, missing
  // domains or none at all) -- as opposed to a mismatch, which needs a person.
  bool needs_backup() const {
    return verdict == CoverageVerdict::kNoBackup || verdict == CoverageVerdict::kBehind ||
           verdict == CoverageVerdict::kMissingDomains;
  }
};

// `stored`: the newest backup (BackupStore::load_newest), nullopt if none.
BackupCoverage backup_coverage(const std::optional<StoredBackup>& stored, const model::Keyset& keyset);
BackupCoverage backup_coverage(const StoredBackup& stored, const model::Keyset& keyset);

}  // namespace mpc::backup
