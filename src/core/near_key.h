// NEAR key text forms and near-cli credential files (interop §1).
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

#include "core/crypto.h"
#include "core/result.h"

namespace mpc::core {

// Secp256k1 public key: 64 bytes X||Y, no 0x04 prefix.
struct Secp256k1PublicKey {
  std::array<std::uint8_t, 64> bytes{};
  bool operator==(const Secp256k1PublicKey&) const = default;
  auto operator<=>(const Secp256k1PublicKey&) const = default;
};

// A NEAR public key of either curve ("ed25519:…" or "secp256k1:…").
struct NearPublicKey {
  std::variant<Ed25519PublicKey, Secp256k1PublicKey> key;

  bool operator==(const NearPublicKey&) const = default;
  auto operator<=>(const NearPublicKey&) const = default;

  bool is_ed25519() const { return std::holds_alternative<Ed25519PublicKey>(key); }
  const Ed25519PublicKey& ed25519() const { return std::get<Ed25519PublicKey>(key); }
  std::string to_string() const;
  static Result<NearPublicKey> parse(std::string_view text);
};

std::string ed25519_public_key_to_string(const Ed25519PublicKey& key);
// Accepts only "ed25519:" + base58 of exactly 32 bytes.
Result<Ed25519PublicKey> parse_ed25519_public_key(std::string_view text);

// "ed25519:" + base58(seed || public). Returned as a secret string.
SecretString ed25519_secret_key_to_string(const Ed25519SecretKey& key);
// Accepts "ed25519:" + base58 of 64 bytes (seed || public, public must match)
// or of a 32-byte seed. The error text never contains the input.
Result<Ed25519SecretKey> parse_ed25519_secret_key(std::string_view text);

// near-cli credential file:
// {"account_id":"…","public_key":"ed25519:…","private_key":"ed25519:…"}
struct NearCredentials {
  std::string account_id;
  Ed25519SecretKey secret_key;
};

Result<NearCredentials> read_credentials_file(const std::filesystem::path& path);
// Writes with mode 0600, refusing to overwrite an existing file.
Status write_credentials_file(const std::filesystem::path& path, const NearCredentials& creds);

// NEAR account id rules (2..64 chars, lowercase alnum with - _ . separators).
bool is_valid_account_id(std::string_view account_id);

}  // namespace mpc::core
