#include "backup/coverage.h"

#include <algorithm>

namespace mpc::backup {

namespace {

std::string plural(std::size_t n, const char* one, const char* many) { return n == 1 ? one : many; }

std::string id_list(const char* noun_one, const char* noun_many, const std::vector<std::uint64_t>& ids) {
  std::string out = plural(ids.size(), noun_one, noun_many) + " ";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out;
}

BackupCoverage coverage_of(const StoredBackup* stored, const model::Keyset& keyset) {
  BackupCoverage c;
  c.keyset_epoch = keyset.epoch_id;
  if (!stored) {
    if (keyset.domains.empty()) {
      c.verdict = CoverageVerdict::kNothingToBackUp;
      c.summary = "nothing to back up (the keyset has no domains)";
    } else {
      c.verdict = CoverageVerdict::kNoBackup;
      c.summary = "no backup";
    }
    return c;
  }
  c.stored_epoch = stored->epoch_id;

  // Per domain: a group key that survives resharing must never change; in the
  // same epoch the key id (attempt) must match too.
  std::vector<std::string> key_id_details;
  for (const auto& entry : keyset.domains) {
    auto it = std::find_if(stored->keyshares.begin(), stored->keyshares.end(),
                           [&](const model::Keyshare& s) { return s.key_id.domain_id == entry.domain_id; });
    if (it == stored->keyshares.end()) {
      c.missing_domains.push_back(entry.domain_id);
      continue;
    }
    // Compare curve and group key only: check against an entry carrying the
    // share's own epoch and attempt.
    model::KeyForDomain same_id = entry;
    same_id.attempt = it->key_id.attempt_id;
    if (!model::check_keyshare_consistent(*it, it->key_id.epoch_id, same_id)) {
      c.mismatched_domains.push_back(entry.domain_id);
    } else if (stored->epoch_id == keyset.epoch_id && it->key_id.attempt_id != entry.attempt) {
      c.mismatched_domains.push_back(entry.domain_id);
      key_id_details.push_back("domain " + std::to_string(entry.domain_id) + " is from attempt " +
                               std::to_string(it->key_id.attempt_id) + ", the contract has attempt " +
                               std::to_string(entry.attempt));
    }
  }
  for (const auto& s : stored->keyshares) {
    if (keyset.find(s.key_id.domain_id) == nullptr) c.extra_domains.push_back(s.key_id.domain_id);
  }

  if (!c.mismatched_domains.empty()) {
    c.verdict = CoverageVerdict::kMismatch;
    if (key_id_details.size() == c.mismatched_domains.size()) {
      c.summary = "key id mismatch: " + key_id_details.front();
      for (std::size_t i = 1; i < key_id_details.size(); ++i) c.summary += "; " + key_id_details[i];
    } else {
      c.summary = "group key mismatch for " + id_list("domain", "domains", c.mismatched_domains) +
                  ": the backup holds keys the contract does not";
    }
    return c;
  }
  if (stored->epoch_id > keyset.epoch_id) {
    c.verdict = CoverageVerdict::kMismatch;
    c.summary = "backup is ahead of the contract: epoch " + std::to_string(stored->epoch_id) +
                " stored, the contract's keyset is epoch " + std::to_string(keyset.epoch_id);
    return c;
  }
  if (!c.extra_domains.empty()) {
    c.verdict = CoverageVerdict::kMismatch;
    c.summary = "backup holds " + id_list("domain", "domains", c.extra_domains) + " that the contract's keyset does not";
    return c;
  }
  if (stored->epoch_id < keyset.epoch_id) {
    c.verdict = CoverageVerdict::kBehind;
    c.epochs_behind = keyset.epoch_id - stored->epoch_id;
    c.summary = "behind by " + std::to_string(c.epochs_behind) + plural(c.epochs_behind, " epoch", " epochs");
    if (!c.missing_domains.empty()) c.summary += "; missing " + id_list("domain", "domains", c.missing_domains);
    return c;
  }
  if (!c.missing_domains.empty()) {
    c.verdict = CoverageVerdict::kMissingDomains;
    c.summary = "missing " + id_list("domain", "domains", c.missing_domains);
    return c;
  }
  // Belt and braces: "up to date" means exactly what import checks.
  if (auto st = model::check_keyshares_cover_keyset(stored->keyshares, keyset); !st) {
    c.verdict = CoverageVerdict::kMismatch;
    c.summary = "mismatch: " + st.error().message;
    return c;
  }
  c.verdict = CoverageVerdict::kUpToDate;
  c.summary = "up to date";
  return c;
}

}  // namespace

const char* coverage_verdict_name(CoverageVerdict v) {
  switch (v) {
    case CoverageVerdict::kUpToDate: return "up_to_date";
    case CoverageVerdict::kNothingToBackUp: return "nothing_to_back_up";
    case CoverageVerdict::kNoBackup: return "no_backup";
    case CoverageVerdict::kBehind: return "behind";
    case CoverageVerdict::kMissingDomains: return "missing_domains";
    case CoverageVerdict::kMismatch: return "mismatch";
  }
  return "unknown";
}

BackupCoverage backup_coverage(const std::optional<StoredBackup>& stored, const model::Keyset& keyset) {
  return stored ? backup_coverage(*stored, keyset) : coverage_of(nullptr, keyset);
}

BackupCoverage backup_coverage(const StoredBackup& stored, const model::Keyset& keyset) {
  return coverage_of(&stored, keyset);
}

}  // namespace mpc::backup
