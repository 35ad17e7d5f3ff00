// `backup-cli run --tee`: the backup service inside a TEE.
//   - TeeIdentity: its TLS key, NEAR signer key and X25519 provisioning key,
//     generated in memory (never on disk);
//   - TeeRegistrar: waits until the signer key is an access key of the
//     operator's account, gets an attestation whose report data is
//     attest::report_data_v1(tls key, signer key), calls
//     register_backup_service{backup_service_info: {public_key, attestation}}
//     and registers again every reattest interval (the contract's
//     attestations expire after 7 days);
//   - KeyProvisioning: the operator's AES key arrives once, sealed to the
//     X25519 key (libsodium crypto_box_seal) that the provisioning
//     attestation binds: report data tee::provisioning_report_data(x25519,
//     tls, signer) = 0x0002 || SHA3-384(x25519 || tls || signer) || zeros.
//     GET /provision: {"x25519_public_key": hex, "tls_public_key",
//     "signer_public_key": ed25519:..., "attestation": {...}};
//     PUT /provision: body = the sealed 32-byte key (80 bytes exactly);
//     the first valid one wins (204), later ones get 409, a malformed or
//     undecryptable one 400 and changes nothing.
//   - provision_key: the operator side (backup-cli provision-key).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/quote.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/secret.h"
#include "net/http_server.h"
#include "tee/attestation_source.h"

namespace mpc::backup {

inline constexpr std::size_t kSealedAesKeySize = 32 + 48;  // crypto_box_SEALBYTES

struct TeeIdentity {
  core::Ed25519SecretKey tls_key;
  core::Ed25519SecretKey signer_key;
  tee::X25519PublicKey x25519_public{};
  core::SecretBytes x25519_secret;  // 32 bytes

  static TeeIdentity generate();
  // {"tls_public_key", "signer_public_key", "x25519_public_key"} (GET /public_data).
  nlohmann::json public_data() const;
  attest::ReportData registration_report_data() const;
  attest::ReportData provisioning_report_data() const;
};

struct TeeRegistrationPorts {
  std::function<core::Result<bool>()> signer_key_on_account;  // view_access_key
  std::function<core::Result<nlohmann::json>(const attest::ReportData&)> attest;
  std::function<core::Status(const nlohmann::json& args)> register_service;
};

enum class RegistrationOutcome { kWaitingForAccessKey, kRegistered, kUpToDate, kFailed };

class TeeRegistrar {
 public:
  TeeRegistrar(const TeeIdentity& identity, TeeRegistrationPorts ports, std::chrono::seconds reattest_interval,
               core::Clock& clock)
      : identity_(identity), ports_(std::move(ports)), interval_(reattest_interval), clock_(clock) {}
  // Registers when never registered or the interval has passed; otherwise nothing.
  RegistrationOutcome step();
  std::optional<core::Clock::time_point> registered_at() const { return registered_at_; }
  const std::string& last_error() const { return last_error_; }

 private:
  const TeeIdentity& identity_;
  TeeRegistrationPorts ports_;
  std::chrono::seconds interval_;
  core::Clock& clock_;
  std::optional<core::Clock::time_point> registered_at_;
  std::string last_error_;
};

// register_backup_service's arguments with an attestation.
nlohmann::json attested_register_args(const core::Ed25519PublicKey& tls_key, const nlohmann::json& attestation);

class KeyProvisioning {
 public:
  KeyProvisioning(const TeeIdentity& identity, nlohmann::json provisioning_attestation)
      : identity_(identity), attestation_(std::move(provisioning_attestation)) {}
  // GET /provision's body.
  nlohmann::json offer() const;
  // PUT /provision: the HTTP status (204 accepted, 409 already provisioned,
  // 400 malformed / not sealed to this key) and a reason.
  std::pair<unsigned, std::string> accept(std::string_view sealed);
  // The key once provisioned (a copy); waits up to `timeout` for it.
  std::optional<core::SecretBytes> wait_for_key(std::chrono::milliseconds timeout);
  bool provisioned() const;

 private:
  const TeeIdentity& identity_;
  nlohmann::json attestation_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<core::SecretBytes> key_;
};

// GET /provision, PUT /provision and GET /public_data.
net::HttpHandler provisioning_handler(KeyProvisioning& provisioning, nlohmann::json public_data);

// The operator side: crypto_box_seal of the AES key to the X25519 key.
core::Bytes seal_aes_key(const core::SecretBytes& aes_key, const tee::X25519PublicKey& x25519_public_key);

// provision-key: GET {url}/provision, check the keys named by the operator
// (when given), the attestation under `policy` with the provisioning report
// data, then PUT the sealed key. Returns what the service answered.
struct ProvisionRequest {
  std::string service_url;  // http://HOST:PORT
  std::optional<core::Ed25519PublicKey> expected_tls_key, expected_signer_key;
  tee::AttestationPolicy policy;
  std::chrono::milliseconds timeout{30'000};
};
core::Result<std::string> provision_key(const ProvisionRequest& request, const core::SecretBytes& aes_key);

}  // namespace mpc::backup
