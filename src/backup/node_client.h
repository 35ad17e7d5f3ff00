// backup-cli's side of the migration endpoint (interop §4, §5): fetch the
// node's key shares for a keyset, or push a backup to a node, over mutual TLS
// authenticated by the node's expected Ed25519 key, AES-256-GCM on top.
//
// Errors (core::ErrorCode), mapped to backup-cli's exit codes:
//   kUnavailable / kTimeout  the node is down or slow (deadline passed)
//   kPermissionDenied        authentication: the node's TLS key is not the
//                            expected one (both public keys named), the node
//                            closed the connection after the handshake (it does
//                            not accept this backup service's key), or the blob
//                            does not decrypt (wrong AES key)
//   kFailedPrecondition      validation: the node answered shares that do not
//                            match the keyset, or refused ours (its reason quoted)
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/types.h"

namespace mpc::backup {

// "host:port" (IPv4, [IPv6] or a host name) with a numeric port 1..65535.
struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
  static core::Result<NodeAddress> parse(std::string_view text);
};

struct NodeClientConfig {
  NodeAddress address;
  core::Ed25519PublicKey node_key;  // expected TLS key of the node
  std::chrono::milliseconds timeout{30'000};
};

class NodeClient {
 public:
  NodeClient(NodeClientConfig config, const core::Ed25519SecretKey& own_p2p_key, const core::SecretBytes& encryption_key);

  // GET /get_keyshares; the answer is decrypted, parsed and checked against
  // `keyset` (one consistent share per domain) before it is returned.
  core::Result<std::vector<core::Keyshare>> get_keyshares(const core::Keyset& keyset);
  // PUT /set_keyshares; success only on the node's 200.
  core::Status put_keyshares(const std::vector<core::Keyshare>& shares);
  // GET /hello: reachability and authentication, no secrets exchanged.
  core::Status hello();

 private:
  NodeClientConfig config_;
  const core::Ed25519SecretKey& own_key_;
  const core::SecretBytes& encryption_key_;
};

}  // namespace mpc::backup
