// `backup-cli run`: the hard-launch backup service. It follows the contract
// and, with no operator action:
//   - backs up the node whenever the contract's keyset is not covered by the
//     newest backup (start-up, a new epoch after a resharing, a domain added);
//     while Resharing it holds the previous Running keyset; never downgrades;
//   - restores: when the contract shows an ongoing migration for the
//     operator's account, pushes the newest backup to the destination named in
//     the contract (its URL and TLS key, authenticated by that key only) until
//     the migration is concluded or cancelled, then backs up the new node,
//     whose TLS key and address now come from the contract's participant info.
//     A backup that does not cover the running keyset is never pushed (logged
//     and counted as blocked).
// Failures are retried with capped backoff; an unreadable contract keeps the
// last known state. Decisions are a pure function (plan_step) of plain values.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backup/chain_checks.h"
#include "backup/coverage.h"
#include "backup/home.h"
#include "backup/node_client.h"
#include "backup/operator.h"
#include "core/clock.h"
#include "model/types.h"
#include "near/contract_view.h"
#include "net/metrics.h"

namespace mpc::backup {

enum class ActionKind { kIdle, kBackup, kPush, kAwaitConclusion, kBlocked };
const char* action_name(ActionKind kind);

struct Action {
  ActionKind kind = ActionKind::kIdle;
  std::optional<NodeTarget> target;  // kBackup: the node; kPush: the destination
  std::optional<model::Keyset> keyset;
  std::string reason;
  // Memory updates: the node backups now come from (the contract's
  // participant info for the account), and whether a pushed migration ended.
  std::optional<NodeTarget> adopt_node;
  bool forget_push = false;
};

struct DaemonMemory {
  NodeTarget node;                          // where backups come from
  std::optional<model::DestinationNodeInfo> pushed_to;  // a push the node accepted, for this migration
};

// What to do next, given the chain, the newest backup and what we remember.
// Nodes named by the contract (a migration's destination, the account's
// participant entry) are reached at migration_address(url, migration_port).
Action plan_step(const near::ContractView& chain, const std::string& account_id, const std::optional<StoredBackup>& newest,
                 const DaemonMemory& memory, std::uint16_t migration_port = kDefaultMigrationPort);

// Ports (real: files/RPC/mTLS; tests: fakes).
struct DaemonPorts {
  std::function<core::Result<near::ContractView>()> read_chain;
  std::function<core::Result<std::optional<StoredBackup>>()> load_newest;
  std::function<core::Status(const std::vector<model::Keyshare>&)> store;
  std::function<core::Result<std::vector<model::Keyshare>>(const NodeTarget&, const model::Keyset&)> fetch;
  std::function<core::Status(const NodeTarget&, const std::vector<model::Keyshare>&)> push;
};

struct DaemonOptions {
  // The operator's account; empty: the participant whose TLS key is
  // initial_node.key, found in the contract on the first read.
  std::string account_id;
  NodeTarget initial_node;
  std::chrono::milliseconds poll_interval{60'000};
  std::chrono::milliseconds max_backoff{60'000};
  std::uint16_t migration_port = kDefaultMigrationPort;
  core::Clock* clock = &core::steady_clock();  // must outlive the daemon
};

class BackupDaemon {
 public:
  BackupDaemon(DaemonOptions options, DaemonPorts ports, net::MetricsRegistry& metrics);

  // One iteration: read the chain, plan, act. Returns the action taken.
  Action step();
  // Loops until stop(): step, then wait the poll interval (or the backoff
  // after a failure). Returns when stopped.
  void run();
  void stop();

  const DaemonMemory& memory() const { return memory_; }
  const std::string& account_id() const { return account_id_; }

 private:
  void failure(const char* kind, const std::string& message);

  DaemonOptions options_;
  DaemonPorts ports_;
  net::MetricsRegistry& metrics_;
  DaemonMemory memory_;
  std::string account_id_;
  std::optional<near::ContractView> last_chain_;
  bool last_step_failed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// Keeps backups in memory only (--memory-only): nothing is written to disk.
class MemoryBackupStore {
 public:
  core::Result<std::optional<StoredBackup>> load_newest() const;
  core::Status store(const std::vector<model::Keyshare>& shares);

 private:
  mutable std::mutex mu_;
  std::optional<StoredBackup> newest_;
};

}  // namespace mpc::backup
