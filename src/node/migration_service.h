// The node's migration endpoint logic (interop §4): who may connect, and the
// three routes. Transport-free: the mTLS server calls authorize() after each
// handshake and handle() for each request, so every answer is unit-tested
// with plain values.
//
//   GET /hello           200 "Hello, world!"
//   GET /get_keyshares   body: Keyset JSON -> 200, body: base64(AES-256-GCM(shares JSON))
//                        400 "Invalid keyset: …"; 500 when the store does not hold that keyset
//                        A body equal byte for byte to the last one served is not
//                        parsed again, and the shares' plaintext is serialised once
//                        per held set (KeyshareStore::serve, a wiping buffer):
//                        the answer is reused only while the store's generation
//                        is the one it was checked in; any other body is parsed
//                        and checked in full. Encryption is fresh every time.
//   PUT /set_keyshares   body: base64 blob -> validated and durably imported, then
//                        200 "Keyshares received."; 400 "Invalid Json or encryption: …"
//                        for a blob that does not decrypt or parse, 400/409 for shares
//                        the import rules refuse, 409 when this node is not the
//                        destination of an ongoing migration or the protocol is not Running.
//                        Importing the set already held again is a no-op answered 200
//                        (clients may repeat the PUT). Refusals a client acts on carry
//                        a machine-readable reason (net/refusal.h): 409 not_destination,
//                        400 decrypt_failed.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/crypto.h"
#include "core/secret.h"
#include "net/http_server.h"
#include "net/log_limiter.h"
#include "net/metrics.h"
#include "node/chain_view.h"
#include "node/keyshare_store.h"

namespace mpc::node {

struct NodeMetrics;

class MigrationService {
 public:
  // `on_imported` runs after a successful import (wakes onboarding).
  MigrationService(KeyshareStore& store, core::SecretBytes encryption_key, net::MetricsRegistry& metrics,
                   std::function<void()> on_imported = nullptr);

  // --require-attested-backup-service: the registered backup service must
  // also hold a valid, unexpired attestation on-chain for its TLS key
  // (chain_view.h backup_attestation_refusal), checked per connection and
  // per request. `unix_now` gives the time (seconds).
  void require_attested_backup_service(std::function<std::int64_t()> unix_now);

  // The chain's latest word on this node (from the watcher).
  void update_view(NodeView view);
  NodeView view() const;

  // nullopt to accept the peer; otherwise the refusal reason (metrics label).
  std::optional<std::string> authorize(const core::Ed25519PublicKey& peer) const;

  // `peer`: the connection's authenticated key.
  net::HttpResponse handle(const net::HttpRequest& request, const core::Ed25519PublicKey& peer);

  // The body a GET /get_keyshares most likely carries: the keyset of the
  // last answer (net::BodyExpectation). A request whose body equals it comes
  // without a copy of its own, compared as it arrived.
  net::SharedBody expected_body(const net::RequestHeader& header) const;

 private:
  // The last keyset body parsed, and what the store answered for it. The
  // plaintext is only referenced weakly: the store owns it, so it is wiped
  // as soon as the held set changes, not when the next request comes.
  struct ServedKeyset {
    std::string body;  // the request body, byte for byte (a keyset: public)
    std::shared_ptr<const model::Keyset> keyset;  // parsed and valid
    bool held = false;                            // the store held it, in:
    std::uint64_t generation = 0;
    std::size_t count = 0;
    std::weak_ptr<const core::SecretString> plaintext;
  };

  net::HttpResponse get_keyshares(const net::HttpRequest& request);
  net::HttpResponse set_keyshares(const net::HttpRequest& request);

  KeyshareStore& store_;
  core::SecretBytes encryption_key_;  // opens PUT /set_keyshares bodies
  // Seals GET /get_keyshares answers under the same key; an error if the
  // key is not an AES key (every such answer is then a 500 saying why).
  core::Result<std::shared_ptr<core::AesGcmSealer>> sealer_;
  net::MetricsRegistry& metrics_;
  std::function<void()> on_imported_;
  mutable std::mutex mu_;
  NodeView view_;
  bool have_view_ = false;
  std::function<std::int64_t()> attested_unix_now_;  // set: attestation required
  mutable std::mutex served_mu_;
  std::shared_ptr<const ServedKeyset> last_served_;  // served_mu_
  // The series of a served answer, looked up once (at the first answer, so
  // that they appear with it).
  struct ServedSeries {
    net::Gauge* epoch = nullptr;
    net::Gauge* timestamp = nullptr;
    net::Counter* served = nullptr;
  };
  std::once_flag served_series_once_;
  ServedSeries served_series_;
  // A backup service may ask often: at most 10 "served" lines per 10 s, the
  // rest counted in mpc_keyshares_served_total.
  net::LogLimiter served_log_{"migration: key share answers", "mpc_keyshares_served_total"};
};

}  // namespace mpc::node
