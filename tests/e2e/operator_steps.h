// What an operator does with backup-cli in the end-to-end tests, written
// once: a backup of node i, a manual migration to a new machine, and
// `backup-cli run` as a process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "e2e_support.h"

namespace mpc::e2e {

std::string key_text(const core::Ed25519PublicKey& k);

// Operator i: backup keys, registration, a backup of its node (gtest
// assertions: call under ASSERT_NO_FATAL_FAILURE).
void back_up(Network& net, std::size_t i);

// Operator i: start-migration to `dest` and put-keyshares by hand; waits
// until the contract lists the new node (gtest assertions).
void migrate_manually(Network& net, std::size_t i, const NewNode& dest);

// `backup-cli run` for operator i, as a process (its keys generated and
// registered first). It reaches the nodes the contract names (a migration's
// destination, the moved node) on `migration_port`: the tests' new machines
// listen on ports of their own, not on the reference's 8079.
struct Daemon {
  std::unique_ptr<testsupport::Child> process;
  std::string metrics_addr;  // bound by the daemon itself (port 0), read from its log
  fs::path log;
  std::string text() const;
};
Daemon start_daemon(Network& net, std::size_t i, std::uint16_t migration_port = 8079);
// The metrics address a daemon wrote to its log (it binds port 0 itself).
std::string bound_metrics_addr(const fs::path& log);

// Hard launch: `backup-cli run --tee --mock-attestation` for operator i, as a
// process: keys in memory, no AES key in its environment. Its signer key and
// provisioning URL are read from its log and home.
struct TeeDaemon {
  Daemon daemon;
  fs::path home;
  core::Ed25519PublicKey signer_key{};
  std::string provision_url;
};
TeeDaemon start_tee_daemon(Network& net, std::size_t i, std::uint16_t migration_port = 8079);
// Operator i admits it: adds its signer key to the account as a function-call
// access key, and seals the account's AES key to it with provision-key
// (allowing the mock attestation) (gtest assertions).
void admit_tee_daemon(Network& net, std::size_t i, const TeeDaemon& t);

}  // namespace mpc::e2e
