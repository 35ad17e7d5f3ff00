#include "node/migration_service.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/json_limits.h"
#include "net/mtls_server.h"
#include "net/refusal.h"

namespace mpc::node {

namespace http = boost::beast::http;

namespace {

// Request bodies (and what decrypts from them) come from the network: their
// nesting is checked before a tree is built. Their size is already bounded
// by the server's body limit (--max-body-bytes), so only depth applies here.
constexpr core::JsonLimits kBodyJsonLimits{std::numeric_limits<std::size_t>::max(), 64};

net::HttpResponse answer(const net::HttpRequest& req, unsigned status, std::string body,
                         std::string content_type = "text/plain") {
  return net::make_response(status, std::move(body), std::move(content_type), req.version(), req.keep_alive());
}

unsigned status_for_import_error(const core::Error& e) {
  switch (e.code) {
    case core::ErrorCode::kInvalidArgument: return 400;
    case core::ErrorCode::kFailedPrecondition:
    case core::ErrorCode::kAlreadyExists: return 409;
    default: return 500;
  }
}

}  // namespace

MigrationService::MigrationService(KeyshareStore& store, core::SecretBytes encryption_key,
                                   net::MetricsRegistry& metrics, std::function<void()> on_imported)
    : store_(store), encryption_key_(std::move(encryption_key)), metrics_(metrics), on_imported_(std::move(on_imported)) {}

void MigrationService::update_view(NodeView view) {
  std::lock_guard lock(mu_);
  view_ = std::move(view);
  have_view_ = true;
}

NodeView MigrationService::view() const {
  std::lock_guard lock(mu_);
  return view_;
}

void MigrationService::require_attested_backup_service(std::function<std::int64_t()> unix_now) {
  std::lock_guard lock(mu_);
  attested_unix_now_ = std::move(unix_now);
}

std::optional<std::string> MigrationService::authorize(const core::Ed25519PublicKey& peer) const {
  std::lock_guard lock(mu_);
  if (!have_view_) return "chain_state_unknown";
  if (!view_.backup_service_key) return "no_backup_service_registered";
  if (!(peer == *view_.backup_service_key)) return "unauthorized_key";
  if (attested_unix_now_) {
    if (auto refusal = backup_attestation_refusal(view_, peer, attested_unix_now_())) {
      spdlog::warn("migration: refusing the backup service {}: {}", core::ed25519_public_key_to_string(peer), refusal->detail);
      return refusal->reason;
    }
  }
  return std::nullopt;
}

net::HttpResponse MigrationService::handle(const net::HttpRequest& req, const core::Ed25519PublicKey& peer) {
  const std::string path = net::request_path(req.target());
  if (path == "/get_keyshares" || path == "/set_keyshares") {
    std::optional<AttestationRefusal> refusal;
    {
      std::lock_guard lock(mu_);
      if (attested_unix_now_) refusal = backup_attestation_refusal(view_, peer, attested_unix_now_());
    }
    if (refusal) {
      // The attestation expired or changed while the connection was open.
      metrics_.counter("mpc_connections_refused_total", "connections and requests refused", {{"reason", refusal->reason}}).inc();
      spdlog::warn("migration: refusing a request of the backup service: {}", refusal->detail);
      return answer(req, 403, "Refused: " + refusal->detail);
    }
  }
  if (path == "/hello" && req.method() == http::verb::get) return answer(req, 200, "Hello, world!");
  if (path == "/get_keyshares" && req.method() == http::verb::get) return get_keyshares(req);
  if (path == "/set_keyshares" && req.method() == http::verb::put) return set_keyshares(req);
  if (path == "/hello" || path == "/get_keyshares" || path == "/set_keyshares")
    return answer(req, 405, "Method not allowed for " + path);
  return answer(req, 404, "Not found");
}

net::HttpResponse MigrationService::get_keyshares(const net::HttpRequest& req) {
  auto parsed = core::parse_json(req.body(), kBodyJsonLimits);
  if (!parsed) {
    return answer(req, 400, parsed.error().message == core::kNotValidJson ? "Invalid keyset: the body is not JSON"
                                                                          : "Invalid keyset: " + parsed.error().message);
  }
  auto keyset = model::parse_keyset(*parsed);
  if (!keyset) return answer(req, 400, "Invalid keyset: " + keyset.error().message);
  auto shares = store_.shares_for(*keyset);
  if (!shares) {
    spdlog::warn("migration: refused get_keyshares for epoch {}: {}", keyset->epoch_id, shares.error().message);
    metrics_.counter("mpc_keyshares_served_total", "GET /get_keyshares answers by outcome", {{"outcome", "not_held"}}).inc();
    return answer(req, 500, "Cannot serve keyset: " + shares.error().message);
  }
  nlohmann::json array = nlohmann::json::array();
  for (const auto& share : *shares) array.push_back(to_json(share));
  core::SecretString plaintext(array.dump());
  model::wipe_private_shares(array);
  auto sealed = core::aes_gcm_encrypt(encryption_key_, core::as_bytes(plaintext.reveal()));
  if (!sealed) return answer(req, 500, "Cannot encrypt the key shares: " + sealed.error().message);
  metrics_.gauge("mpc_last_backup_served_epoch", "Epoch of the last keyset served to the backup service")
      .set(static_cast<double>(keyset->epoch_id));
  metrics_.gauge("mpc_last_backup_served_timestamp_seconds", "Unix time of the last keyset served to the backup service")
      .set(net::unix_now_seconds());
  metrics_.counter("mpc_keyshares_served_total", "GET /get_keyshares answers by outcome", {{"outcome", "served"}}).inc();
  spdlog::info("migration: served {} key share(s) of epoch {} to the backup service", shares->size(), keyset->epoch_id);
  return answer(req, 200, core::base64_encode(*sealed), "application/json");
}

net::HttpResponse MigrationService::set_keyshares(const net::HttpRequest& req) {
  auto imports = [&](const char* outcome) -> net::Counter& {
    return metrics_.counter("mpc_keyshare_imports_total", "PUT /set_keyshares imports by outcome", {{"outcome", outcome}});
  };
  const NodeView view = this->view();
  if (auto ok = may_accept_shares(view); !ok) {
    imports("not_destination").inc();
    spdlog::warn("migration: refused set_keyshares: {}", ok.error().message);
    auto res = answer(req, 409, "Refused: " + ok.error().message);
    res.set(net::kRefusalHeader, net::kRefusalNotDestination);  // may change with the chain: clients retry
    return res;
  }
  auto sealed = core::base64_decode(req.body());
  if (!sealed) {
    imports("bad_encoding").inc();
    return answer(req, 400, "Invalid Json or encryption: the body is not standard base64: " + sealed.error().message);
  }
  auto plaintext = core::aes_gcm_decrypt(encryption_key_, *sealed);
  if (!plaintext) {
    imports("decrypt_failed").inc();
    spdlog::warn("migration: refused set_keyshares: the blob does not decrypt");
    auto res = answer(req, 400,
                      "Invalid Json or encryption: the blob does not decrypt with this node's backup encryption key "
                      "(wrong key, or the data was tampered with)");
    res.set(net::kRefusalHeader, net::kRefusalDecryptFailed);
    return res;
  }
  core::SecretString text(core::to_string(plaintext->view()));
  auto parsed = core::parse_json(text.reveal(), kBodyJsonLimits);
  if (!parsed) {
    imports("bad_json").inc();
    return answer(req, 400, parsed.error().message == core::kNotValidJson
                                ? "Invalid Json or encryption: the decrypted blob is not JSON"
                                : "Invalid Json or encryption: the decrypted blob: " + parsed.error().message);
  }
  auto shares = model::parse_keyshares(*parsed);
  model::wipe_private_shares(*parsed);  // the tree's copies of the shares
  if (!shares) {
    imports("bad_json").inc();
    return answer(req, 400, "Invalid Json or encryption: " + shares.error().message);
  }
  const std::size_t count = shares->size();
  if (auto st = store_.import(std::move(*shares), *view.running_keyset); !st) {
    imports("rejected").inc();
    spdlog::warn("migration: refused set_keyshares: {}", st.error().message);
    return answer(req, status_for_import_error(st.error()), "Refused: " + st.error().message);
  }
  imports("imported").inc();
  spdlog::info("migration: imported {} key share(s) of epoch {}", count, view.running_keyset->epoch_id);
  if (on_imported_) on_imported_();
  return answer(req, 200, "Keyshares received.");
}

}  // namespace mpc::node
