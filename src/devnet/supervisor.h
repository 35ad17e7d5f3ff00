// mpc-devnet up/down: start the sandbox and every node of a devnet as
// detached processes (their own session, logs in DIR/run/), record their pids,
// wait until each is healthy; stop them by their recorded pids.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"
#include "devnet/network.h"

namespace mpc::devnet {

struct UpOptions {
  std::filesystem::path bin_dir;  // where mpc-sandbox and mpc-node are
  std::chrono::milliseconds block_interval{200};
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds ready_timeout{20'000};
  // mpc-node's signing timers (--sign-takeover-ms, --sign-session-timeout-ms);
  // unset: the node's defaults.
  std::optional<std::chrono::milliseconds> sign_takeover;
  std::optional<std::chrono::milliseconds> sign_session_timeout;
};

struct ProcessInfo {
  std::string name;  // "sandbox", "node0", ...
  pid_t pid = 0;
  bool running = false;
  std::filesystem::path log;
};

// The directory holding this executable (for sibling binaries).
std::filesystem::path self_dir();

// Starts what is not running. Every service binds its own port: on the
// first `up` port 0 (the service picks one and writes it to an address
// file), which is then recorded in `net` and devnet.json; later `up`s bind
// the recorded ports again. Errors: a missing binary, a busy port, a
// process that exits or is not healthy in time (its log's tail is quoted);
// on error everything this call started is stopped again.
core::Result<std::vector<ProcessInfo>> devnet_up(Devnet& net, const UpOptions& options);

// Stops every recorded process (nodes first, then the chain): SIGTERM, then
// SIGKILL after `grace`. A pid whose command line is not ours is left alone.
core::Result<std::vector<ProcessInfo>> devnet_down(const Devnet& net, std::chrono::milliseconds grace = std::chrono::seconds(10));

std::vector<ProcessInfo> devnet_processes(const Devnet& net);

// Waits until the contract is Running with a key for every domain (a devnet
// created without a dealer: the nodes generate the keys once up) and returns
// that keyset. kTimeout after `timeout`, saying which state the contract is
// in (Initializing: which domain, which attempt) and what each node logged last.
core::Result<model::Keyset> wait_for_keys(const Devnet& net, std::chrono::milliseconds timeout);

// Binds and listens on `addr` (a node's P2P address, HOST:PORT) for the
// node to inherit: from then on nothing else can bind that port, not even
// with SO_REUSEADDR. kUnavailable, naming `what`, if the port stays busy for
// 5 s.
core::Result<core::UniqueFd> hold_port(const std::string& addr, const std::string& what);

// Starts or stops a single node (used by tests and the demo's "machine fails").
core::Result<ProcessInfo> start_node(Devnet& net, std::size_t index, const UpOptions& options);
core::Status stop_process(const Devnet& net, const std::string& name, bool hard, std::chrono::milliseconds grace = std::chrono::seconds(10));

}  // namespace mpc::devnet
