// The body of PUT /set_keyshares up to the plaintext: standard base64 ->
// AES-256-GCM decryption with the node's key (fuzz::fixture_aes_key) ->
// JSON -> model::parse_keyshares, in MigrationService's order. Random bytes
// never pass GCM's tag: this target covers base64 and the blob framing
// (short blobs, nonce and tag lengths); keyshare_json covers what follows.
//
// Properties: no crash; a blob shorter than nonce + tag never decrypts;
// whatever decodes from base64 re-encodes to the same text (strict decoder).
#include <cstddef>
#include <cstdint>
#include <limits>

#include "core/json_limits.h"
#include "fuzz_support.h"

using namespace mpc;

namespace {
const core::SecretBytes* aes_key = nullptr;
constexpr core::JsonLimits kBodyJsonLimits{std::numeric_limits<std::size_t>::max(), 64};
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  aes_key = new core::SecretBytes(fuzz::fixture_aes_key());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto sealed = core::base64_decode(body);
  if (!sealed) return 0;
  MPC_FUZZ_CHECK(core::base64_encode(*sealed) == body);
  auto plaintext = core::aes_gcm_decrypt(*aes_key, *sealed);
  if (!plaintext) return 0;
  MPC_FUZZ_CHECK(sealed->size() >= 12 + 16);
  core::SecretString text(core::to_string(plaintext->view()));
  auto parsed = core::parse_json(text.reveal(), kBodyJsonLimits);
  if (!parsed) return 0;
  auto shares = model::parse_keyshares(*parsed);
  model::wipe_private_shares(*parsed);
  return 0;
}
