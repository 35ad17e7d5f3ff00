#include "node/migration_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

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

// The answer to GET /get_keyshares: base64(nonce(12) || AES-GCM(key,
// plaintext) || tag(16)), exactly base64_encode(core::aes_gcm_encrypt(key,
// plaintext)) (no AAD; the backup service opens it with aes_gcm_decrypt),
// with a fresh random nonce for each answer (core::AesGcmSealer: the key
// schedule and the RNG call are shared between answers, the nonce never).
// It is encrypted and encoded a chunk at a time while it is written
// (net::StreamedBody): a connection holds a chunk of it, never the whole
// answer. It keeps the plaintext (the store's wiping buffer) until written.
class SealedShares final : public net::StreamedBody {
 public:
  static constexpr std::size_t kNonce = core::AesGcmSealer::kNonce, kTag = core::AesGcmSealer::kTag;

  static core::Result<std::shared_ptr<const SealedShares>> make(std::shared_ptr<core::AesGcmSealer> sealer,
                                                                std::shared_ptr<const core::SecretString> plaintext) {
    if (plaintext->reveal().size() > (1u << 30)) return core::invalid("plaintext too large for one AES-GCM message");
    return std::shared_ptr<const SealedShares>(new SealedShares(std::move(sealer), std::move(plaintext)));
  }

  std::uint64_t size() const override { return (sealed_size() + 2) / 3 * 4; }
  core::Result<std::unique_ptr<net::BodyStream>> open() const override;

  std::size_t sealed_size() const { return kNonce + plaintext_->reveal().size() + kTag; }
  std::string_view plaintext() const { return plaintext_->reveal(); }

 private:
  SealedShares(std::shared_ptr<core::AesGcmSealer> sealer, std::shared_ptr<const core::SecretString> plaintext)
      : sealer_(std::move(sealer)), plaintext_(std::move(plaintext)) {}

  std::shared_ptr<core::AesGcmSealer> sealer_;
  std::shared_ptr<const core::SecretString> plaintext_;
};

// One pass: the sealed bytes in order, a whole number of base64 groups per
// read (padding only at the very end). Each pass is a message of its own,
// under its own nonce.
class SealedSharesPass final : public net::BodyStream {
 public:
  SealedSharesPass(const SealedShares& body, core::AesGcmSealer::Message message)
      : body_(body), message_(std::move(message)) {}

  // As many characters as fit in `max`, a record's worth (kPiece sealed
  // bytes) at a time.
  core::Result<std::size_t> read(char* out, std::size_t max) override {
    std::size_t written = 0;
    while (max - written >= 4) {
      MPC_ASSIGN(std::size_t n, read_piece(out + written, max - written));
      if (n == 0) break;
      written += n;
    }
    return written;
  }

 private:
  static constexpr std::size_t kPiece = net::ResponseBody::writer::kRecord / 4 * 3;

  core::Result<std::size_t> read_piece(char* out, std::size_t max) {
    const std::size_t total = body_.sealed_size();
    if (at_ == total) return std::size_t{0};
    // Sealed bytes for at most `max` characters: whole groups of 3, up to the piece buffer.
    const std::size_t n = std::min({max / 4 * 3, sealed_.size(), total - at_});
    const std::size_t text = body_.plaintext().size();
    for (std::size_t done = 0; done < n;) {
      const std::size_t pos = at_ + done;
      std::size_t m = 0;
      if (pos < SealedShares::kNonce) {  // the nonce
        m = std::min(n - done, SealedShares::kNonce - pos);
        std::memcpy(sealed_.data() + done, message_.nonce().data() + pos, m);
      } else if (pos < SealedShares::kNonce + text) {  // the ciphertext
        m = std::min(n - done, SealedShares::kNonce + text - pos);
        const auto* in = reinterpret_cast<const std::uint8_t*>(body_.plaintext().data()) + (pos - SealedShares::kNonce);
        MPC_TRY(message_.encrypt(core::ByteView(in, m), sealed_.data() + done));
      } else {  // the tag
        if (!tag_) {
          MPC_ASSIGN(auto tag, message_.tag());
          tag_ = tag;
        }
        const std::size_t in_tag = pos - SealedShares::kNonce - text;
        m = std::min(n - done, SealedShares::kTag - in_tag);
        std::memcpy(sealed_.data() + done, tag_->data() + in_tag, m);
      }
      done += m;
    }
    at_ += n;
    return static_cast<std::size_t>(core::base64_encode_into(core::ByteView(sealed_.data(), n), out) - out);
  }

  const SealedShares& body_;
  core::AesGcmSealer::Message message_;
  std::array<std::uint8_t, kPiece> sealed_;  // ciphertext (public) and nonce, tag
  std::size_t at_ = 0;  // sealed bytes done
  std::optional<core::AesGcmSealer::Tag> tag_;
};

core::Result<std::unique_ptr<net::BodyStream>> SealedShares::open() const {
  MPC_ASSIGN(auto message, sealer_->begin());
  return std::unique_ptr<net::BodyStream>(std::make_unique<SealedSharesPass>(*this, std::move(message)));
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
    : store_(store),
      encryption_key_(std::move(encryption_key)),
      sealer_(core::AesGcmSealer::make(encryption_key_)),
      metrics_(metrics),
      on_imported_(std::move(on_imported)) {}

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

net::SharedBody MigrationService::expected_body(const net::RequestHeader& header) const {
  if (header.method() != http::verb::get || net::request_path(std::string_view(header.target())) != "/get_keyshares") return nullptr;
  std::lock_guard lock(served_mu_);
  if (!last_served_) return nullptr;
  return net::SharedBody(last_served_, &last_served_->body);
}

net::HttpResponse MigrationService::get_keyshares(const net::HttpRequest& req) {
  std::shared_ptr<const ServedKeyset> last;
  {
    std::lock_guard lock(served_mu_);
    last = last_served_;
  }
  // Read against the last body (expected_body), or, if another answer came
  // in between, held against it here.
  const std::string_view body = req.body().text();
  const bool same_body = last && (req.body().same_as.get() == &last->body || last->body == body);
  // The plaintext of the last answer, while the store still holds it unchanged.
  std::shared_ptr<const core::SecretString> plaintext;
  if (same_body && last->held && last->generation == store_.generation()) plaintext = last->plaintext.lock();
  if (!plaintext) {
    // A new keyset (parsed and validated in full), or the store changed since.
    std::shared_ptr<const model::Keyset> keyset;
    if (same_body) {
      keyset = last->keyset;
    } else {
      auto parsed = core::parse_json(body, kBodyJsonLimits);
      if (!parsed) {
        return answer(req, 400, parsed.error().message == core::kNotValidJson ? "Invalid keyset: the body is not JSON"
                                                                              : "Invalid keyset: " + parsed.error().message);
      }
      auto ks = model::parse_keyset(*parsed);
      if (!ks) return answer(req, 400, "Invalid keyset: " + ks.error().message);
      keyset = std::make_shared<const model::Keyset>(std::move(*ks));
    }
    auto served = store_.serve(*keyset);
    auto next = std::make_shared<ServedKeyset>();
    next->body = same_body ? last->body : std::string(body);
    next->keyset = std::move(keyset);
    if (served) {
      next->held = true;
      next->generation = served->generation;
      next->count = served->count;
      next->plaintext = served->plaintext;
      plaintext = std::move(served->plaintext);
    }
    {
      std::lock_guard lock(served_mu_);
      last_served_ = next;
    }
    last = std::move(next);
    if (!served) {
      spdlog::warn("migration: refused get_keyshares for epoch {}: {}", last->keyset->epoch_id, served.error().message);
      metrics_.counter("mpc_keyshares_served_total", "GET /get_keyshares answers by outcome", {{"outcome", "not_held"}}).inc();
      return answer(req, 500, "Cannot serve keyset: " + served.error().message);
    }
  }
  if (!sealer_) return answer(req, 500, "Cannot encrypt the key shares: " + sealer_.error().message);
  auto sealed = SealedShares::make(*sealer_, std::move(plaintext));
  if (!sealed) return answer(req, 500, "Cannot encrypt the key shares: " + sealed.error().message);
  const std::uint64_t epoch = last->keyset->epoch_id;
  std::call_once(served_series_once_, [&] {
    served_series_.epoch = &metrics_.gauge("mpc_last_backup_served_epoch", "Epoch of the last keyset served to the backup service");
    served_series_.timestamp =
        &metrics_.gauge("mpc_last_backup_served_timestamp_seconds", "Unix time of the last keyset served to the backup service");
    served_series_.served = &metrics_.counter("mpc_keyshares_served_total", "GET /get_keyshares answers by outcome", {{"outcome", "served"}});
  });
  served_series_.epoch->set(static_cast<double>(epoch));
  served_series_.timestamp->set(net::unix_now_seconds());
  served_series_.served->inc();
  if (served_log_.allow()) spdlog::info("migration: served {} key share(s) of epoch {} to the backup service", last->count, epoch);
  return net::make_streamed_response(200, std::move(*sealed), "application/json", req.version(), req.keep_alive());
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
  auto sealed = core::base64_decode(req.body().text());
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
