// The node's migration endpoint logic (interop §4): who may connect, and the
// three routes. Transport-free: the mTLS server calls authorize() after each
// handshake and handle() for each request, so every answer is unit-tested
// with plain values.
//
//   GET /hello           200 "Hello, world!"
//   GET /get_keyshares   body: Keyset JSON -> 200, body: base64(AES-256-GCM(shares JSON))
//                        400 "Invalid keyset: …"; 500 when the store does not hold that keyset
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
#include <mutex>
#include <optional>
#include <string>

#include "core/secret.h"
#include "net/http_server.h"
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

 private:
  net::HttpResponse get_keyshares(const net::HttpRequest& request);
  net::HttpResponse set_keyshares(const net::HttpRequest& request);

  KeyshareStore& store_;
  core::SecretBytes encryption_key_;
  net::MetricsRegistry& metrics_;
  std::function<void()> on_imported_;
  mutable std::mutex mu_;
  NodeView view_;
  bool have_view_ = false;
  std::function<std::int64_t()> attested_unix_now_;  // set: attestation required
};

}  // namespace mpc::node
