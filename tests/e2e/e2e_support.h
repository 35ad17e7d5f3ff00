// End-to-end support: a whole local network (mpc-devnet) started as real
// processes, its operators' actions (signed transactions, backup-cli), and
// new machines (fresh mpc-node homes and processes). Everything started here
// is stopped by the destructors, also when a test fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "devnet/network.h"
#include "devnet/supervisor.h"
#include "near/rpc_client.h"
#include "net/host_port.h"
#include "support/process.h"

namespace mpc::e2e {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string unique_dir(const std::string& what);

// Prometheus text of http://ADDR/metrics ("" when it does not answer).
std::string fetch_metrics(const std::string& addr);
// One series' value in Prometheus text (-1 when absent).
double metric_value(const std::string& text, const std::string& series);
// Polls `cond` every 20 ms until it holds; false at the deadline (callers
// fail loudly on false).
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A node started by a test (a "new machine").
struct NewNode {
  fs::path home;
  std::string account_id;
  core::Ed25519PublicKey tls_key;
  core::Ed25519PublicKey access_key;
  std::string host = "127.0.0.1";
  std::uint16_t requested_migration_port = 0;
  std::string p2p_addr;  // HOST:PORT of its P2P address (the contract's url); apart from the migration port
  std::shared_ptr<testsupport::ClosedPort> p2p_port;  // held: nobody serves P2P yet, and nobody else may take it
  std::string addr;      // migration endpoint HOST:PORT once running
  std::string metrics_addr;  // its /metrics HOST:PORT once running
  std::unique_ptr<testsupport::Child> process;
  fs::path log;
  std::string url() const { return "https://" + p2p_addr; }  // what start_node_migration registers
  std::uint16_t migration_port() const { return net::HostPort::parse(addr).value().port; }
  std::string tls_text() const { return core::ed25519_public_key_to_string(tls_key); }
  std::string access_text() const { return core::ed25519_public_key_to_string(access_key); }
};

class Network {
 public:
  explicit Network(devnet::DevnetSpec spec = {}, std::chrono::milliseconds block = std::chrono::milliseconds(100));
  ~Network();

  const devnet::Devnet& devnet() const { return net_; }
  const fs::path& dir() const { return dir_; }
  std::string rpc_url() const { return net_.rpc_url(); }
  const std::string& contract() const { return net_.contract_id; }
  const devnet::DevnetNode& node(std::size_t i) const { return net_.nodes.at(i); }
  std::string encryption_key_hex(std::size_t i) const;
  core::Ed25519PublicKey node_tls_key(std::size_t i) const;

  // Contract views.
  core::ProtocolState state();
  core::MigrationInfo migrations();
  core::Keyset keyset();
  std::optional<core::ParticipantInfo> participant(const std::string& account);

  // A function call signed with the operator's (full-access) key of node i.
  core::Result<near::TxOutcome> operator_call(std::size_t i, const std::string& method, const json& args, bool deposit);
  // The same, signed with any near-cli credential file.
  core::Result<near::TxOutcome> call_with(const fs::path& credentials, const std::string& method, const json& args, bool deposit);

  // A fresh node home for node i's account, its access key added to the
  // account (unless add_key is false), the process started.
  NewNode new_node(std::size_t i, bool add_key = true, bool start = true);
  // The same on another loopback address, with the migration endpoint on
  // `migration_port` there (e.g. the reference's 8079; 0 picks one).
  NewNode new_node_at(std::size_t i, const std::string& host, std::uint16_t migration_port);
  void start(NewNode& n);
  core::Status add_access_key(std::size_t i, const core::Ed25519PublicKey& key);

  // backup-cli with node i's operator environment (home, AES key, RPC, signer).
  testsupport::RunResult backup_cli(std::size_t i, std::vector<std::string> args,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
  fs::path backup_home(std::size_t i) const { return dir_ / ("backup-" + std::to_string(i)); }

  // Waits until node i's metric `series` satisfies `ok`; false on timeout.
  bool wait_node_metric(std::size_t i, const std::string& series, const std::function<bool(double)>& ok,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Waits until the contract lists `tls` for the account; false on timeout.
  bool wait_participant_key(const std::string& account, const core::Ed25519PublicKey& tls,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

  void stop_devnet_process(const std::string& name, bool hard);
  void restart_devnet();  // starts whatever devnet process is not running
  std::chrono::milliseconds block_interval() const { return block_; }

 private:
  fs::path dir_;
  devnet::Devnet net_;
  std::chrono::milliseconds block_;
  std::unique_ptr<near::RpcClient> rpc_;
  std::vector<NewNode*> started_;
};

}  // namespace mpc::e2e
