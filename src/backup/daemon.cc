#include "backup/daemon.h"

#include <spdlog/spdlog.h>

#include "net/http_client.h"

namespace mpc::backup {


const char* action_name(ActionKind kind) {
  switch (kind) {
    case ActionKind::kIdle: return "idle";
    case ActionKind::kBackup: return "backup";
    case ActionKind::kPush: return "push";
    case ActionKind::kAwaitConclusion: return "await_conclusion";
    case ActionKind::kBlocked: return "blocked";
  }
  return "unknown";
}

namespace {

Action make_action(ActionKind kind, std::string reason) {
  Action a;
  a.kind = kind;
  a.reason = std::move(reason);
  return a;
}

// The node the account's participant entry names, given what we use now: the
// same key keeps our configured address; a different key (the node moved)
// takes the contract's URL.
std::optional<NodeTarget> participant_target(const model::ProtocolState& state, const std::string& account_id,
                                             const NodeTarget& current, std::uint16_t migration_port) {
  const model::ThresholdParameters* params = nullptr;
  if (const auto* r = state.running()) params = &r->parameters;
  else if (const auto* rs = std::get_if<model::ResharingState>(&state.state)) params = &rs->previous_running_state.parameters;
  if (!params) return std::nullopt;
  const auto* me = params->participants.find(account_id);
  if (!me || me->info.tls_public_key == current.key) return std::nullopt;
  auto address = migration_address(me->info.url, migration_port);
  if (!address) return std::nullopt;
  return NodeTarget{*address, me->info.tls_public_key};
}

}  // namespace

Action plan_step(const near::ContractView& chain, const std::string& account_id, const std::optional<StoredBackup>& newest,
                 const DaemonMemory& memory, std::uint16_t migration_port) {
  Action a;
  const auto* running = chain.state.running();
  auto it = chain.migrations.find(account_id);
  const model::DestinationNodeInfo* migration =
      it != chain.migrations.end() && it->second.migration ? &*it->second.migration : nullptr;

  if (running && migration) {
    auto address = migration_address(migration->destination_node_info.url, migration_port);
    if (!address) {
      a.kind = ActionKind::kBlocked;
      a.reason = "the migration's destination URL '" + migration->destination_node_info.url + "' has no host";
      return a;
    }
    NodeTarget dest{*address, migration->destination_node_info.tls_public_key};
    auto coverage = backup_coverage(newest, running->keyset);
    if (!coverage.up_to_date()) {
      if (coverage.needs_backup() && !(memory.node == dest)) {
        a.kind = ActionKind::kBackup;
        a.target = memory.node;
        a.keyset = running->keyset;
        a.reason = "a migration is waiting but the backup is " + coverage.summary + "; backing up the current node first";
        return a;
      }
      a.kind = ActionKind::kBlocked;
      a.reason = "NOT restoring: the newest backup does not cover the running keyset (" + coverage.summary + ")";
      return a;
    }
    if (memory.pushed_to && *memory.pushed_to == *migration) {
      a.kind = ActionKind::kAwaitConclusion;
      a.reason = "shares delivered to " + dest.address.to_string() + "; waiting for the contract to conclude the migration";
      return a;
    }
    a.kind = ActionKind::kPush;
    a.target = dest;
    a.keyset = running->keyset;
    a.reason = "the contract shows a migration of " + account_id + " to " + dest.address.to_string();
    return a;
  }

  // No migration in progress (or the protocol is not Running).
  if (memory.pushed_to) a.forget_push = true;
  a.adopt_node = participant_target(chain.state, account_id, memory.node, migration_port);
  const NodeTarget node = a.adopt_node ? *a.adopt_node : memory.node;
  auto keyset = model::keyset_to_back_up(chain.state);
  if (!keyset || keyset->domains.empty()) {
    a.reason = std::string("the contract is ") + chain.state.name() + " with no keyset to back up";
    return a;
  }
  auto coverage = backup_coverage(newest, *keyset);
  if (coverage.up_to_date()) {
    // After a move, make sure the new node holds the keyset too (once).
    if (a.adopt_node) {
      a.kind = ActionKind::kBackup;
      a.target = node;
      a.keyset = *keyset;
      a.reason = "the account's node changed to " + node.address.to_string() + "; backing it up";
      return a;
    }
    a.reason = "backup up to date (epoch " + std::to_string(keyset->epoch_id) + ")";
    return a;
  }
  if (coverage.needs_backup()) {
    a.kind = ActionKind::kBackup;
    a.target = node;
    a.keyset = *keyset;
    a.reason = "backup needed (" + coverage.summary + ") for the keyset of epoch " + std::to_string(keyset->epoch_id);
    return a;
  }
  a.kind = ActionKind::kBlocked;
  a.reason = "the newest backup does not match the contract's keyset: " + coverage.summary + " (needs an operator)";
  return a;
}

BackupDaemon::BackupDaemon(DaemonOptions options, DaemonPorts ports, net::MetricsRegistry& metrics)
    : options_(std::move(options)), ports_(std::move(ports)), metrics_(metrics) {
  memory_.node = options_.initial_node;
  account_id_ = options_.account_id;
}

void BackupDaemon::failure(const char* kind, const std::string& message) {
  metrics_.counter("backup_failures_total", "Failures by kind", {{"kind", kind}}).inc();
  spdlog::warn("{}", message);
  last_step_failed_ = true;
}

Action BackupDaemon::step() {
  metrics_.counter("backup_steps_total", "Steps taken (chain read, plan, act)").inc();
  last_step_failed_ = false;
  auto chain = ports_.read_chain();
  if (chain) {
    last_chain_ = std::move(*chain);
  } else {
    failure("chain", "cannot read the contract (" + chain.error().message + ")" +
                         (last_chain_ ? "; acting on the last known state" : "; nothing known yet"));
    if (!last_chain_) return make_action(ActionKind::kIdle, "contract state unknown");
  }
  const near::ContractView& view = *last_chain_;
  if (account_id_.empty()) {
    // A reference command line names the node, not the account: find it.
    auto account = account_with_tls_key(view.state, options_.initial_node.key);
    if (!account) {
      failure("account", "no participant of the contract has the TLS key " + core::ed25519_public_key_to_string(options_.initial_node.key) +
                             " (--mpc-node-p2p-key) in its " + view.state.name() +
                             " state: check the key, or name the operator's account with --signer-account-id");
      return make_action(ActionKind::kBlocked, "operator account unknown");
    }
    account_id_ = *account;
    spdlog::info("the contract lists TLS key {} for {}: backing up {}'s node", core::ed25519_public_key_to_string(options_.initial_node.key),
                 account_id_, account_id_);
  }
  if (auto keyset = model::keyset_to_back_up(view.state))
    metrics_.gauge("backup_contract_epoch", "Epoch of the keyset the contract holds").set(static_cast<double>(keyset->epoch_id));

  auto newest = ports_.load_newest();
  if (!newest) {
    failure("storage", "cannot read the newest backup: " + newest.error().message);
    return make_action(ActionKind::kBlocked, newest.error().message);
  }
  if (*newest) {
    metrics_.gauge("backup_last_epoch", "Epoch of the newest backup").set(static_cast<double>((*newest)->epoch_id));
    metrics_.gauge("backup_last_domains", "Domains in the newest backup").set(static_cast<double>((*newest)->keyshares.size()));
  }
  Action action = plan_step(view, account_id_, *newest, memory_, options_.migration_port);
  {
    const auto it = view.migrations.find(account_id_);
    const bool pending = view.state.running() && it != view.migrations.end() && it->second.migration.has_value();
    metrics_.gauge("backup_migration_pending", "1 while the contract shows a migration of the operator's account")
        .set(pending ? 1 : 0);
  }
  if (action.forget_push) memory_.pushed_to.reset();
  if (action.adopt_node) {
    spdlog::info("the contract now names {} (TLS key {}) as {}'s node; backing up from it", action.adopt_node->address.to_string(),
                 core::ed25519_public_key_to_string(action.adopt_node->key), account_id_);
    memory_.node = *action.adopt_node;
  }
  metrics_.gauge("backup_restore_blocked", "1 while a migration waits on a backup that does not cover the keyset")
      .set(action.kind == ActionKind::kBlocked ? 1 : 0);

  switch (action.kind) {
    case ActionKind::kIdle:
    case ActionKind::kAwaitConclusion: spdlog::debug("{}", action.reason); break;
    case ActionKind::kBlocked:
      spdlog::error("{}", action.reason);
      metrics_.counter("backup_failures_total", "Failures by kind", {{"kind", "blocked"}}).inc();
      break;
    case ActionKind::kBackup: {
      spdlog::info("{}: fetching from {}", action.reason, action.target->address.to_string());
      auto shares = ports_.fetch(*action.target, *action.keyset);
      if (!shares) {
        failure("fetch", "backup from " + action.target->address.to_string() + " failed: " + shares.error().message);
        break;
      }
      if (auto st = ports_.store(*shares); !st) {
        failure("store", "storing the backup failed: " + st.error().message);
        break;
      }
      metrics_.gauge("backup_last_success_timestamp_seconds", "Unix time of the last successful backup").set(net::unix_now_seconds());
      metrics_.gauge("backup_last_epoch", "Epoch of the newest backup").set(static_cast<double>(action.keyset->epoch_id));
      metrics_.gauge("backup_last_domains", "Domains in the newest backup").set(static_cast<double>(shares->size()));
      metrics_.counter("backup_backups_total", "Successful backups").inc();
      spdlog::info("backed up epoch {} ({} domain(s))", action.keyset->epoch_id, shares->size());
      break;
    }
    case ActionKind::kPush: {
      spdlog::info("{}: pushing the backup of epoch {}", action.reason, action.keyset->epoch_id);
      auto st = ports_.push(*action.target, (*newest)->keyshares);
      if (!st) {
        metrics_.counter("backup_restores_total", "Restores pushed by outcome", {{"outcome", "failed"}}).inc();
        failure("push", "restore to " + action.target->address.to_string() + " failed: " + st.error().message);
        break;
      }
      metrics_.counter("backup_restores_total", "Restores pushed by outcome", {{"outcome", "accepted"}}).inc();
      const auto it = view.migrations.find(account_id_);
      memory_.pushed_to = *it->second.migration;
      spdlog::info("the destination {} accepted the shares; waiting for it to conclude", action.target->address.to_string());
      break;
    }
  }
  return action;
}

void BackupDaemon::run() {
  // After a failure, retry sooner than the poll interval: from 1 s (or the
  // poll interval if shorter), doubling, capped at max_backoff and the poll
  // interval.
  const auto first_retry = std::min(options_.poll_interval, std::chrono::milliseconds(1000));
  const auto cap = std::min(options_.max_backoff, options_.poll_interval);
  auto retry = first_retry;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    // The daemon thread's body: nothing escapes it (a throw is a failed step).
    try {
      step();
    } catch (const std::exception& e) {
      failure("internal", std::string("unexpected error: ") + e.what());
    }
    std::chrono::milliseconds wait = options_.poll_interval;
    if (last_step_failed_) {
      wait = retry;
      retry = std::min(cap, retry * 2);
    } else {
      retry = first_retry;
    }
    std::unique_lock lock(mu_);
    options_.clock->wait_for(lock, cv_, wait, [&] { return stopping_; });
    if (stopping_) return;
  }
}

void BackupDaemon::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

core::Result<std::optional<StoredBackup>> MemoryBackupStore::load_newest() const {
  std::lock_guard lock(mu_);
  if (!newest_) return std::optional<StoredBackup>{};
  StoredBackup copy;
  copy.epoch_id = newest_->epoch_id;
  copy.path = newest_->path;
  for (const auto& s : newest_->keyshares) copy.keyshares.push_back(s.clone());
  return std::optional<StoredBackup>(std::move(copy));
}

core::Status MemoryBackupStore::store(const std::vector<model::Keyshare>& shares) {
  if (shares.empty()) return core::invalid("no key shares to store");
  std::lock_guard lock(mu_);
  const auto epoch = shares.front().key_id.epoch_id;
  if (newest_ && newest_->epoch_id > epoch)
    return core::fail(core::ErrorCode::kFailedPrecondition, "refusing to replace the backup of epoch " +
                                                                std::to_string(newest_->epoch_id) + " with an older one");
  StoredBackup b;
  b.epoch_id = epoch;
  b.path = "(memory)";
  for (const auto& s : shares) b.keyshares.push_back(s.clone());
  newest_ = std::move(b);
  return {};
}

}  // namespace mpc::backup
