// End-to-end support: a whole local network (mpc-devnet) started as real
// processes, its operators' actions (signed transactions, backup-cli), and
// new machines (fresh mpc-node homes and processes). Everything started here
// is stopped by the destructors, also when a test fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/key_derivation.h"
#include "core/near_key.h"
#include "model/types.h"
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

// The sum of every series of `name` (any labels) in Prometheus text; 0 when
// none is present.
double metric_sum(const std::string& text, const std::string& name);

// Checks a signature twice, independently: OpenSSL (core::ed25519_verify)
// and Python's `cryptography` (tests/e2e/verify_ed25519.py under the
// python3 CMake found). Ok only when both accept; the error says which
// verifier refused, or why one could not run.
core::Status verify_ed25519_everywhere(const core::Ed25519PublicKey& key, core::ByteView message,
                                       const core::Ed25519Signature& signature);
// The same for a `sign` answer: under the key derived from the domain's
// group key for (predecessor, path) (core/key_derivation.h).
core::Status verify_everywhere(const core::Ed25519PublicKey& group_key, const std::string& predecessor, const std::string& path,
                               core::ByteView payload, const core::Ed25519Signature& signature);
// Python's verdict alone: 0 valid, 1 invalid, 2 bad input, other: could not run.
int python_verify_ed25519(const core::Ed25519PublicKey& key, core::ByteView message, const core::Ed25519Signature& signature);

// secp256k1 ECDSA `sign` responses (DamgardEtAl domains), checked outside the
// project's code. Each returns 0 valid, 1 refused, 2 bad input, other: the
// verifier could not run (the reason is printed to stderr).
//
// Python (tests/e2e/verify_secp256k1.py under the python3 CMake found):
// `cryptography` verifies (r = big_r's x mod n, s) over the 32-byte `hash`
// (prehashed) and s must be low; python-ecdsa recovers the key from (r, s,
// recovery_id, hash) and it must be `derived_key`. `derived_key` as the
// contract's derived_public_key view prints it ("secp256k1:<base58 X||Y>")
// or SEC1 hex (33-byte compressed or 65-byte uncompressed); `response_json`
// the response as the contract returns it ({"scheme":"Secp256k1","big_r":
// {"affine_point":"<66 hex>"},"s":{"scalar":"<64 hex>"},"recovery_id":N}),
// passed verbatim.
int python_verify_secp256k1(const std::string& derived_key, core::ByteView hash, const std::string& response_json);
// The `openssl` command line: `openssl pkeyutl -verify -pubin` with the
// derived key as a SubjectPublicKeyInfo PEM, (r, s) as a DER ECDSA-Sig-Value
// and `hash` as the raw digest. Checks the signature only (not the recovery
// id, not low s); 2 when the key is not a point of the curve or `hash` is not
// 32 bytes.
int openssl_verify_secp256k1(const core::Secp256k1PublicKey& derived, core::ByteView hash,
                             const core::Secp256k1SignatureResponse& response);

// near-api-js (tests/compat's, from npm) calls `sign` for a 32-byte hash on
// an ECDSA domain, signed with a near-cli credentials file, and waits for the
// answer: tests/compat/sign_ecdsa.mjs. Returns the transaction's result (the
// response JSON, compact) or the error the script printed.
core::Result<std::string> near_api_js_sign_ecdsa(const std::string& rpc_url, const fs::path& credentials, const std::string& contract_id,
                                                 std::uint64_t domain, const std::string& path, core::ByteView hash,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(90));

// A `sign` transaction that is on the chain, its yield not necessarily resolved.
struct SubmittedSign {
  std::string tx_hash;      // base58
  std::string predecessor;  // the account that called sign
  std::uint64_t domain_id = 0;
  std::string path;
  core::Bytes payload;
};

// No node crashed: every process in `pids_and_logs` that should run still
// runs, and no log holds "terminate called" or "Assertion". The error names
// the process and quotes the line.
struct WatchedProcess {
  std::string name;
  fs::path log;
  std::function<bool()> running;  // empty: not checked (a process killed on purpose)
};
core::Status no_crash(const std::vector<WatchedProcess>& processes);

// A node started by a test (a "new machine").
struct NewNode {
  fs::path home;
  std::string account_id;
  core::Ed25519PublicKey tls_key;
  core::Ed25519PublicKey access_key;
  std::string host = "127.0.0.1";
  std::uint16_t requested_migration_port = 0;
  std::string p2p_addr;  // HOST:PORT of its P2P address (the contract's url); apart from the migration port
  // Held by the test for the node's lifetime, so nobody else may take it;
  // start() hands the bound socket to the node, which listens on it.
  std::shared_ptr<testsupport::ClosedPort> p2p_port;
  std::string addr;      // migration endpoint HOST:PORT once running
  std::string metrics_addr;  // its /metrics HOST:PORT once running
  std::unique_ptr<testsupport::Child> process;
  fs::path log;
  std::string url() const { return "https://" + p2p_addr; }  // what start_node_migration registers
  std::uint16_t migration_port() const { return net::HostPort::parse(addr).value().port; }
  std::string tls_text() const { return core::ed25519_public_key_to_string(tls_key); }
  std::string access_text() const { return core::ed25519_public_key_to_string(access_key); }
};

// A devnet whose keys a trusted dealer dealt (Running at once): the
// scenarios that are not about key generation start from it.
devnet::DevnetSpec dealt_spec();

class Network {
 public:
  // Creates and starts the devnet; one created without a dealer is returned
  // once the nodes have generated every domain's key (kKeygenTimeout).
  // `block`: the sandbox's block interval; `poll`: how often the nodes read
  // the contract (tests react fast; mpc-node's own default is 1 s).
  explicit Network(devnet::DevnetSpec spec = dealt_spec(), std::chrono::milliseconds block = std::chrono::milliseconds(100),
                   std::chrono::milliseconds poll = std::chrono::milliseconds(100));
  static constexpr std::chrono::seconds kKeygenTimeout{90};
  ~Network();

  const devnet::Devnet& devnet() const { return net_; }
  const fs::path& dir() const { return dir_; }
  std::string rpc_url() const { return net_.rpc_url(); }
  const std::string& contract() const { return net_.contract_id; }
  const devnet::DevnetNode& node(std::size_t i) const { return net_.nodes.at(i); }
  std::string encryption_key_hex(std::size_t i) const;
  core::Ed25519PublicKey node_tls_key(std::size_t i) const;

  // Contract views.
  model::ProtocolState state();
  model::MigrationInfo migrations();
  model::Keyset keyset();
  std::optional<model::ParticipantInfo> participant(const std::string& account);

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
  // Starts (or restarts) the node's process with the network's signing
  // timers; on 127.0.0.1 its P2P listener is the held p2p_port, inherited as
  // descriptor 3 (--p2p-listen-fd 3). Throws if it does not come up.
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

  // ---- Signing (the contract's sign / respond) ----
  // The Ed25519 group key of `domain` in the keyset the network signs with.
  core::Ed25519PublicKey group_key(std::uint64_t domain);
  // The contract's pending_signature_requests view: [{request, predecessor_id, path, block_height, yields}], oldest first.
  json pending_requests();
  std::uint64_t block_height();
  // Calls `sign` with 1 yoctoNEAR, signed with operator i's full-access
  // key (the predecessor is node(i).account_id):
  // {"request":{"domain_id":D,"path":P,"payload_v2":{"Eddsa":"<hex>"}}};
  // waits until the yield resolves (up to `timeout`; the RPC answers 408
  // while it waits, and the transaction is asked for again). The signature of
  // the outcome's {"scheme":"Ed25519","signature":[64]}, or the failure (the
  // contract's text, e.g. "Request has timed out.", or kTimeout).
  // Thread-safe: parallel calls with one key get distinct nonces.
  core::Result<core::Ed25519Signature> sign(std::size_t i, std::uint64_t domain, const std::string& path, core::ByteView payload,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The two halves: submit (returns once the transaction is in a block) and await.
  // `kind` Ecdsa: payload_v2 {"Ecdsa": "<64 hex>"} (a 32-byte hash, DamgardEtAl domains).
  core::Result<SubmittedSign> submit_sign(const fs::path& credentials, std::uint64_t domain, const std::string& path,
                                          core::ByteView payload, core::SignPayload::Kind kind = core::SignPayload::Kind::kEddsa);
  core::Result<core::Ed25519Signature> await_signature(const SubmittedSign& sign,
                                                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Any scheme: the parsed response and the SuccessValue text as the chain returned it.
  core::Result<std::pair<core::SignatureResponse, std::string>> await_response(const SubmittedSign& sign,
                                                                               std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // A threshold ECDSA signature of a 32-byte hash (a DamgardEtAl domain), as sign() for Ed25519.
  core::Result<std::pair<core::Secp256k1SignatureResponse, std::string>> sign_ecdsa(
      std::size_t i, std::uint64_t domain, const std::string& path, core::ByteView hash,
      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // The contract's derived_public_key view ("secp256k1:…" / "ed25519:…").
  core::Result<std::string> derived_public_key(const std::string& predecessor, const std::string& path, std::uint64_t domain);
  // The secp256k1 group key of `domain` in the running keyset (64-byte X||Y).
  core::Secp256k1PublicKey secp256k1_group_key(std::uint64_t domain);
  fs::path operator_credentials(std::size_t i) const { return net_.path(node(i).operator_key); }
  // Devnet node i as a watched process (its log in DIR/run/node<i>.log).
  WatchedProcess watched(std::size_t i, bool expect_running = true) const;
  static WatchedProcess watched(NewNode& n, bool expect_running = true);

  void stop_devnet_process(const std::string& name, bool hard);
  void restart_devnet();  // starts whatever devnet process is not running
  std::chrono::milliseconds block_interval() const { return block_; }
  // Signing timers of every node this network starts (devnet nodes and new
  // machines): short, so that takeovers and retries fit in a test.
  static constexpr std::chrono::milliseconds kSignTakeover{1000};
  static constexpr std::chrono::milliseconds kSignSessionTimeout{2000};

 private:
  fs::path dir_;
  devnet::Devnet net_;
  std::chrono::milliseconds block_;
  std::chrono::milliseconds poll_;
  std::unique_ptr<near::RpcClient> rpc_;
  std::vector<NewNode*> started_;
  std::mutex sign_mu_;                             // submit_sign: one transaction at a time
  std::map<std::string, std::uint64_t> sign_nonces_;  // last nonce used per access key
};

}  // namespace mpc::e2e
