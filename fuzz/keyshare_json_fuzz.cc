// The plaintext of a PUT /set_keyshares blob (what decrypts from it): JSON
// parsed with the node's body limits -> model::parse_keyshares -> checked
// against a keyset (fuzz::fixture_keyset), as MigrationService and the
// key-share store's import rules do before anything is stored.
//
// Properties: no crash; parsed shares round-trip through to_json; shares
// that pass the keyset check are exactly one per domain; wiping the tree
// leaves no private share text in it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>

#include "core/json_limits.h"
#include "fuzz_support.h"

using namespace mpc;

namespace {
const model::Keyset* keyset = nullptr;
// migration_service.cc's kBodyJsonLimits.
constexpr core::JsonLimits kBodyJsonLimits{std::numeric_limits<std::size_t>::max(), 64};
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  keyset = new model::Keyset(fuzz::fixture_keyset());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = core::parse_json(text, kBodyJsonLimits);
  if (!parsed) return 0;
  auto shares = model::parse_keyshares(*parsed);
  model::wipe_private_shares(*parsed);
  if (!shares) return 0;
  for (const auto& s : *shares) {
    fuzz::json j = to_json(s);
    auto again = model::parse_keyshare(j);
    MPC_FUZZ_CHECK(again.has_value());
    MPC_FUZZ_CHECK(again->key_id == s.key_id && again->kind == s.kind && again->public_key == s.public_key &&
                   again->private_share.reveal() == s.private_share.reveal());
    model::wipe_private_shares(j);
  }
  if (model::check_keyshares_cover_keyset(*shares, *keyset)) {
    MPC_FUZZ_CHECK(shares->size() == keyset->domains.size());
    std::set<std::uint64_t> domains;
    for (const auto& s : *shares) domains.insert(s.key_id.domain_id);
    MPC_FUZZ_CHECK(domains.size() == keyset->domains.size());
  }
  return 0;
}
