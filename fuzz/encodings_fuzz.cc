// The text decoders peers reach: NEAR key text ("ed25519:…",
// "secp256k1:…", secret keys), base58, hex, base64, u128 decimal text and
// account ids, each on the whole input.
//
// Properties: no crash; every decoder is canonical where the format is
// (encode(decode(text)) == text for base58, base64 and lower-case hex, and
// for ed25519 public key text); NEAR public keys round-trip through their
// text; a parsed secret key's text parses to the same key; u128 text
// round-trips by value.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/near_key.h"
#include "core/u128.h"
#include "core/utf8.h"
#include "fuzz_support.h"

using namespace mpc;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto b = core::base58_decode(text)) MPC_FUZZ_CHECK(core::base58_encode(*b) == text);
  if (auto b = core::base64_decode(text)) MPC_FUZZ_CHECK(core::base64_encode(*b) == text);
  if (auto b = core::hex_decode(text)) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    MPC_FUZZ_CHECK(core::hex_encode(*b) == lower);
  }

  if (auto k = core::NearPublicKey::parse(text)) {
    MPC_FUZZ_CHECK(k->to_string() == text);
    auto again = core::NearPublicKey::parse(k->to_string());
    MPC_FUZZ_CHECK(again.has_value() && *again == *k);
  }
  if (auto k = core::parse_ed25519_public_key(text)) MPC_FUZZ_CHECK(core::ed25519_public_key_to_string(*k) == text);
  if (auto k = core::parse_ed25519_secret_key(text)) {
    auto again = core::parse_ed25519_secret_key(core::ed25519_secret_key_to_string(*k).reveal());
    MPC_FUZZ_CHECK(again.has_value() && again->public_key() == k->public_key() && again->seed() == k->seed());
  }
  (void)core::parse_aes256_key_hex(text, "FUZZ_KEY_HEX");

  if (auto v = core::parse_u128(text)) {
    auto again = core::parse_u128(core::u128_to_string(*v));
    MPC_FUZZ_CHECK(again.has_value() && *again == *v);
  }
  if (core::is_valid_account_id(text)) {
    MPC_FUZZ_CHECK(text.size() >= 2 && text.size() <= 64);
    MPC_FUZZ_CHECK(core::is_valid_utf8(text));
  }
  (void)core::utf8_valid_prefix(text);
  return 0;
}
