// backup-cli's side of the migration endpoint (interop §4, §5): fetch the
// node's key shares for a keyset, or push a backup to a node, over mutual TLS
// authenticated by the node's expected Ed25519 key, AES-256-GCM on top.
//
// Every exchange is idempotent (GET; PUT /set_keyshares of the same set is a
// no-op on the node), so it is retried on transient failures, decided by
// value (net::MtlsFailure, the node's refusal header), never by error text:
// connection refused or reset, the connection closed before any byte of the
// answer (the node was shedding connections, or has not seen our
// registration yet), or a 409 not_destination (it has not seen the
// migration yet). Jittered exponential backoff, all under ONE deadline: the
// configured timeout.
//
// Errors (core::ErrorCode), mapped to backup-cli's exit codes:
//   kUnavailable / kTimeout  network: the node is down, slow, or kept closing
//                            the connection without answering until the
//                            deadline (as it does for a key that is not the
//                            registered backup service's)
//   kPermissionDenied        authentication: the node's TLS key is not the
//                            expected one (both public keys named), or the
//                            shares do not decrypt (wrong AES key, either side)
//   kFailedPrecondition      validation: the node answered shares that do not
//                            match the keyset, or refused ours (its reason quoted)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "core/crypto.h"
#include "core/result.h"
#include "core/secret.h"
#include "model/types.h"
#include "net/host_port.h"
#include "net/mtls_client.h"

namespace mpc::backup {

// Backoff between attempts: attempt n (from 0) waits d/2 + U*d/2 with
// d = min(max_backoff, initial_backoff * 2^n), U uniform in [0, 1).
struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{1'000};
  // No attempt starts with less of the deadline left than this (or than a
  // quarter of the whole timeout, if less): closer to it, the last result
  // stands. An attempt begun with a few milliseconds left could only time
  // out, and its timeout replaced the node's own answer (e.g. 409, not the
  // destination) with "no answer".
  std::chrono::milliseconds min_attempt{1'000};
};

// The clock, the sleep and the randomness of retries; tests inject fakes.
// Empty members mean the real ones.
struct RetryEnvironment {
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> uniform;  // in [0, 1)
};

struct NodeClientConfig {
  net::HostPort address;
  core::Ed25519PublicKey node_key;  // expected TLS key of the node
  std::chrono::milliseconds timeout{30'000};  // the whole call, retries included
  RetryPolicy retry{};
  RetryEnvironment environment{};
};

// Pure decisions of the retry loop.
// A failed attempt that may be repeated: nothing of an answer came back and
// the connection was refused, reset or closed (not a timeout, not a TLS or
// key failure).
bool is_transient(const net::MtlsFailure& failure);
// An answer that may change on its own: 409 not_destination.
bool is_transient(const net::MtlsResponse& response);
std::chrono::milliseconds backoff_delay(int attempt, const RetryPolicy& policy, double uniform);

// One attempt of an exchange, given the time left.
using Attempt = std::function<net::MtlsResult<net::MtlsResponse>(std::chrono::milliseconds time_left)>;
// Runs `attempt` until its outcome is not transient or `timeout` would pass
// before the next one; returns that outcome (a transient one when time ran
// out, its message saying how many attempts were made).
core::Result<net::MtlsResponse> exchange_with_retries(const Attempt& attempt, std::chrono::milliseconds timeout,
                                                      const RetryPolicy& policy, const RetryEnvironment& environment);

class NodeClient {
 public:
  NodeClient(NodeClientConfig config, const core::Ed25519SecretKey& own_p2p_key, const core::SecretBytes& encryption_key);

  // GET /get_keyshares; the answer is decrypted, parsed and checked against
  // `keyset` (one consistent share per domain) before it is returned.
  core::Result<std::vector<model::Keyshare>> get_keyshares(const model::Keyset& keyset);
  // PUT /set_keyshares; success only on the node's 200.
  core::Status put_keyshares(const std::vector<model::Keyshare>& shares);
  // GET /hello: reachability and authentication, no secrets exchanged.
  core::Status hello();

 private:
  core::Result<net::MtlsResponse> exchange(boost::beast::http::verb method, const std::string& path, std::string body);

  NodeClientConfig config_;
  const core::Ed25519SecretKey& own_key_;
  const core::SecretBytes& encryption_key_;
};

}  // namespace mpc::backup
