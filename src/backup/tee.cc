#include "backup/tee.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "attest/report_data.h"
#include "core/json_limits.h"
#include "core/near_key.h"
#include "net/http_client.h"

namespace mpc::backup {

using json = nlohmann::json;
namespace http = boost::beast::http;

TeeIdentity TeeIdentity::generate() {
  if (sodium_init() < 0) std::abort();  // no RNG: nothing sensible to do
  TeeIdentity id{core::Ed25519SecretKey::generate(), core::Ed25519SecretKey::generate(), {}, core::SecretBytes(crypto_box_SECRETKEYBYTES)};
  crypto_box_keypair(id.x25519_public.data(), id.x25519_secret.data());
  return id;
}

json TeeIdentity::public_data() const {
  return {{"tls_public_key", core::ed25519_public_key_to_string(tls_key.public_key())},
          {"signer_public_key", core::ed25519_public_key_to_string(signer_key.public_key())},
          {"x25519_public_key", core::hex_encode(x25519_public)}};
}

attest::ReportData TeeIdentity::registration_report_data() const {
  return attest::report_data_v1(tls_key.public_key(), signer_key.public_key());
}

attest::ReportData TeeIdentity::provisioning_report_data() const {
  return tee::provisioning_report_data(x25519_public, tls_key.public_key(), signer_key.public_key());
}

json attested_register_args(const core::Ed25519PublicKey& tls_key, const json& attestation) {
  return {{"backup_service_info", {{"public_key", core::ed25519_public_key_to_string(tls_key)}, {"attestation", attestation}}}};
}

RegistrationOutcome TeeRegistrar::step() {
  const auto now = clock_.now();
  if (registered_at_ && now < *registered_at_ + interval_) return RegistrationOutcome::kUpToDate;
  auto on_account = ports_.signer_key_on_account();
  if (!on_account) {
    last_error_ = "checking the signer access key: " + on_account.error().message;
    return RegistrationOutcome::kFailed;
  }
  if (!*on_account) return RegistrationOutcome::kWaitingForAccessKey;
  auto attestation = ports_.attest(identity_.registration_report_data());
  if (!attestation) {
    last_error_ = "obtaining an attestation: " + attestation.error().message;
    return RegistrationOutcome::kFailed;
  }
  if (auto st = ports_.register_service(attested_register_args(identity_.tls_key.public_key(), *attestation)); !st) {
    last_error_ = "register_backup_service: " + st.error().message;
    return RegistrationOutcome::kFailed;
  }
  registered_at_ = now;
  last_error_.clear();
  return RegistrationOutcome::kRegistered;
}

json KeyProvisioning::offer() const {
  json j = identity_.public_data();
  j["attestation"] = attestation_;
  return j;
}

std::pair<unsigned, std::string> KeyProvisioning::accept(std::string_view sealed) {
  if (sealed.size() != kSealedAesKeySize)
    return {400, "expected the AES key sealed to x25519_public_key: exactly " + std::to_string(kSealedAesKeySize) + " bytes, got " +
                     std::to_string(sealed.size())};
  core::SecretBytes key(32);
  if (crypto_box_seal_open(key.data(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           identity_.x25519_public.data(), identity_.x25519_secret.data()) != 0)
    return {400, "the body is not sealed to this service's x25519_public_key"};
  std::lock_guard lock(mu_);
  if (key_) return {409, "the AES key is already provisioned"};
  key_ = std::move(key);
  cv_.notify_all();
  return {204, ""};
}

std::optional<core::SecretBytes> KeyProvisioning::wait_for_key(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return key_.has_value(); })) return std::nullopt;
  return key_->clone();
}

bool KeyProvisioning::provisioned() const {
  std::lock_guard lock(mu_);
  return key_.has_value();
}

net::HttpHandler provisioning_handler(KeyProvisioning& provisioning, json public_data) {
  return [&provisioning, public_data = std::move(public_data)](net::HttpRequest&& req, net::Responder respond) {
    const std::string target(req.target());
    if (target == "/public_data" && req.method() == http::verb::get)
      return respond(net::make_response(200, public_data.dump(), "application/json"));
    if (target != "/provision") return respond(net::make_response(404, "not found\n"));
    if (req.method() == http::verb::get) return respond(net::make_response(200, provisioning.offer().dump(), "application/json"));
    if (req.method() != http::verb::put) return respond(net::make_response(405, "GET or PUT\n"));
    auto [status, reason] = provisioning.accept(req.body().text());
    if (status == 204) spdlog::info("the AES key was provisioned (sealed to the attested X25519 key)");
    else spdlog::warn("refused an AES key provisioning: {}", reason);
    respond(net::make_response(status, status == 204 ? std::string() : reason + "\n"));
  };
}

core::Bytes seal_aes_key(const core::SecretBytes& aes_key, const tee::X25519PublicKey& x25519_public_key) {
  if (sodium_init() < 0) std::abort();
  core::Bytes out(crypto_box_SEALBYTES + aes_key.size());
  crypto_box_seal(out.data(), aes_key.data(), aes_key.size(), x25519_public_key.data());
  return out;
}

core::Result<std::string> provision_key(const ProvisionRequest& request, const core::SecretBytes& aes_key) {
  if (aes_key.size() != 32) return core::invalid("the AES key must be 32 bytes");
  MPC_ASSIGN(auto url, net::Url::parse(request.service_url));
  if (url.scheme != "http") return core::invalid("--backup-service-url must be http://HOST:PORT (the key travels sealed, not over TLS)");
  url.target = "/provision";
  net::HttpClient client(url, {request.timeout, 4 << 20});
  MPC_ASSIGN(auto offer_reply, client.get());
  if (offer_reply.status != 200)
    return core::fail(core::ErrorCode::kUnavailable, "GET /provision: HTTP " + std::to_string(offer_reply.status));
  json offer = core::parse_json(offer_reply.body, {4 << 20, 64}).value_or(json::value_t::discarded);
  if (!offer.is_object()) return core::invalid("GET /provision: not a JSON object");
  auto text = [&](const char* k) { return offer.contains(k) && offer[k].is_string() ? offer[k].get<std::string>() : std::string(); };
  auto tls = core::parse_ed25519_public_key(text("tls_public_key"));
  auto signer = core::parse_ed25519_public_key(text("signer_public_key"));
  auto x = core::hex_decode(text("x25519_public_key"));
  if (!tls || !signer || !x || x->size() != 32 || !offer.contains("attestation"))
    return core::invalid("GET /provision: expected tls_public_key, signer_public_key, x25519_public_key (64 hex) and attestation");
  if (request.expected_tls_key && *request.expected_tls_key != *tls)
    return core::fail(core::ErrorCode::kPermissionDenied, "the service's TLS key " + core::ed25519_public_key_to_string(*tls) +
                                                              " is not the expected " + core::ed25519_public_key_to_string(*request.expected_tls_key));
  if (request.expected_signer_key && *request.expected_signer_key != *signer)
    return core::fail(core::ErrorCode::kPermissionDenied, "the service's signer key " + core::ed25519_public_key_to_string(*signer) +
                                                              " is not the expected " + core::ed25519_public_key_to_string(*request.expected_signer_key));
  tee::X25519PublicKey x25519{};
  std::copy(x->begin(), x->end(), x25519.begin());
  MPC_TRY(tee::check_attestation(offer["attestation"], tee::provisioning_report_data(x25519, *tls, *signer), request.policy));
  const auto sealed = seal_aes_key(aes_key, x25519);
  MPC_ASSIGN(auto put, client.request(http::verb::put, std::string(sealed.begin(), sealed.end()), "application/octet-stream"));
  if (put.status == 409) return core::fail(core::ErrorCode::kAlreadyExists, "the service already has an AES key (provisioned before)");
  if (put.status != 204)
    return core::fail(core::ErrorCode::kFailedPrecondition, "PUT /provision: HTTP " + std::to_string(put.status) + ": " + put.body.substr(0, 200));
  return "provisioned the AES key to the backup service with TLS key " + core::ed25519_public_key_to_string(*tls) + "\n";
}

}  // namespace mpc::backup
