#include "e2e_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <thread>

#include "core/file_util.h"
#include "core/json_limits.h"
#include "core/key_derivation.h"
#include "core/ec_keys.h"
#include "core/openssl_ptr.h"
#include "near/transaction.h"
#include "net/http_client.h"
#include "node/home.h"

namespace mpc::e2e {

std::string unique_dir(const std::string& what) {
  static int counter = 0;
  return (fs::temp_directory_path() / ("mpc-e2e-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter))).string();
}

std::string fetch_metrics(const std::string& addr) {
  auto url = net::Url::parse("http://" + addr + "/metrics");
  if (!url) return "";
  net::HttpClient client(*url, net::HttpClientOptions{std::chrono::seconds(2)});
  auto r = client.get();
  return r && r->status == 200 ? r->body : "";
}

double metric_value(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

double metric_sum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;  // another metric whose name starts alike
    const auto space = line.rfind(' ');
    try {
      sum += std::stod(std::string(line.substr(space + 1)));
    } catch (...) {
    }
  }
  return sum;
}

int python_verify_ed25519(const core::Ed25519PublicKey& key, core::ByteView message, const core::Ed25519Signature& signature) {
  auto r = testsupport::run({MPC_PYTHON3, MPC_VERIFY_ED25519_SCRIPT, core::hex_encode(key.bytes), core::hex_encode(message),
                             core::hex_encode(signature)},
                            std::chrono::seconds(20));
  if (r.exit_code != 0 && r.exit_code != 1) std::cerr << "verify_ed25519.py: exit " << r.exit_code << ": " << r.output << "\n";
  return r.exit_code;
}

core::Result<std::string> near_api_js_sign_ecdsa(const std::string& rpc_url, const fs::path& credentials, const std::string& contract_id,
                                                 std::uint64_t domain, const std::string& path, core::ByteView hash,
                                                 std::chrono::milliseconds timeout) {
  const std::string node = MPC_NODE_JS;
  if (node.empty()) return core::fail(core::ErrorCode::kFailedPrecondition, "node (Node.js) was not found at configure time: run make test, which installs it");
  testsupport::RunResult r;
  try {
    r = testsupport::run({node, MPC_SIGN_ECDSA_SCRIPT, rpc_url, credentials.string(), contract_id, std::to_string(domain), path,
                          core::hex_encode(hash)},
                         timeout);
  } catch (const std::exception& e) {
    return core::fail(core::ErrorCode::kInternal, std::string("sign_ecdsa.mjs: ") + e.what());
  }
  // The script prints one line "RESULT <json>" (near-api-js may print warnings too).
  const auto at = r.output.find("RESULT ");
  if (r.exit_code != 0 || at == std::string::npos)
    return core::fail(core::ErrorCode::kInternal, "sign_ecdsa.mjs exited " + std::to_string(r.exit_code) + ": " + r.output);
  const auto end = r.output.find('\n', at);
  return r.output.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

int python_verify_secp256k1(const std::string& derived_key, core::ByteView hash, const std::string& response_json) {
  testsupport::RunResult r;
  try {
    r = testsupport::run({MPC_PYTHON3, MPC_VERIFY_SECP256K1_SCRIPT, derived_key, core::hex_encode(hash), response_json},
                         std::chrono::seconds(20));
  } catch (const std::exception& e) {
    std::cerr << "verify_secp256k1.py: " << e.what() << "\n";
    return -1;
  }
  if (r.exit_code != 0) std::cerr << "verify_secp256k1.py: exit " << r.exit_code << ": " << r.output << "\n";
  return r.exit_code;
}

int openssl_verify_secp256k1(const core::Secp256k1PublicKey& derived, core::ByteView hash,
                             const core::Secp256k1SignatureResponse& response) {
  auto refuse = [](const std::string& why, int code) {
    std::cerr << "openssl_verify_secp256k1: " << why << "\n";
    ERR_clear_error();
    return code;
  };
  if (hash.size() != 32) return refuse("the hash must be 32 bytes", 2);
  // The key: an EC key of the uncompressed point 04 || X || Y, written as a
  // SubjectPublicKeyInfo (DER) in a PEM file.
  auto pkey = core::ec_public_key_xy("secp256k1", derived.bytes);
  if (!pkey) return refuse("the derived key is not a point of secp256k1", 2);
  std::unique_ptr<EVP_PKEY_CTX, core::OpensslFree<EVP_PKEY_CTX_free>> check(EVP_PKEY_CTX_new(pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return refuse("the derived key is not a point of secp256k1", 2);
  core::BioPtr pem(BIO_new(BIO_s_mem()));
  if (!pem || PEM_write_bio_PUBKEY(pem.get(), pkey.get()) != 1) return refuse("cannot write the key as PEM", -1);
  char* pem_data = nullptr;
  const long pem_len = BIO_get_mem_data(pem.get(), &pem_data);
  if (pem_len <= 0) return refuse("cannot write the key as PEM", -1);
  // The signature: ECDSA-Sig-Value (DER) of r = big_r's x mod n and s.
  core::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  core::BnCtxPtr ctx(BN_CTX_new());
  core::BnPtr x(BN_bin2bn(response.big_r.data() + 1, 32, nullptr));
  core::BnPtr r(BN_new());
  core::BnPtr s(BN_bin2bn(response.s.data(), static_cast<int>(response.s.size()), nullptr));
  if (!group || !ctx || !x || !r || !s || BN_nnmod(r.get(), x.get(), EC_GROUP_get0_order(group.get()), ctx.get()) != 1) {
    return refuse("cannot hold the signature's values", -1);
  }
  std::unique_ptr<ECDSA_SIG, core::OpensslFree<ECDSA_SIG_free>> sig(ECDSA_SIG_new());
  if (!sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return refuse("cannot hold an ECDSA signature", -1);
  (void)r.release();  // owned by sig now
  (void)s.release();
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return refuse("cannot encode the signature as DER", -1);
  const core::Bytes der_bytes(der, der + der_len);
  OPENSSL_free(der);

  const fs::path dir = unique_dir("openssl-secp256k1");
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto cleanup = [&dir] {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  };
  if (ec || !core::write_file_exclusive(dir / "key.pem", core::ByteView(reinterpret_cast<const std::uint8_t*>(pem_data),
                                                                        static_cast<std::size_t>(pem_len))) ||
      !core::write_file_exclusive(dir / "sig.der", der_bytes) || !core::write_file_exclusive(dir / "hash.bin", hash)) {
    cleanup();
    return refuse("cannot write the files for openssl in " + dir.string(), -1);
  }
  testsupport::RunResult run;
  try {
    run = testsupport::run({MPC_OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", (dir / "key.pem").string(), "-sigfile",
                            (dir / "sig.der").string(), "-in", (dir / "hash.bin").string()},
                           std::chrono::seconds(20));
  } catch (const std::exception& e) {
    cleanup();
    return refuse(e.what(), -1);
  }
  cleanup();
  // openssl exits 1 both when the signature is refused and on errors: the
  // verdict is its message.
  if (run.exit_code == 0 && run.output.find("Signature Verified Successfully") != std::string::npos) return 0;
  if (run.exit_code == 1 && run.output.find("Signature Verification Failure") != std::string::npos) return 1;
  return refuse("openssl pkeyutl gave no verdict (exit " + std::to_string(run.exit_code) + "): " + run.output, -1);
}

core::Status verify_ed25519_everywhere(const core::Ed25519PublicKey& key, core::ByteView message,
                                       const core::Ed25519Signature& signature) {
  const bool openssl = core::ed25519_verify(key, message, signature);
  const int python = python_verify_ed25519(key, message, signature);
  if (openssl && python == 0) return {};
  std::string why;
  if (!openssl) why = "OpenSSL refused the signature";
  if (python != 0) {
    if (!why.empty()) why += "; ";
    why += python == 1 ? "Python cryptography refused the signature"
                       : "the Python verifier could not run (exit " + std::to_string(python) + ")";
  }
  return core::fail(core::ErrorCode::kInvalidArgument,
                    why + " under " + core::ed25519_public_key_to_string(key));
}

core::Status verify_everywhere(const core::Ed25519PublicKey& group_key, const std::string& predecessor, const std::string& path,
                               core::ByteView payload, const core::Ed25519Signature& signature) {
  MPC_ASSIGN(auto derived, core::derive_ed25519_public_key(group_key, core::derive_tweak(predecessor, path)));
  return verify_ed25519_everywhere(derived, payload, signature);
}

core::Status no_crash(const std::vector<WatchedProcess>& processes) {
  for (const auto& p : processes) {
    if (p.running && !p.running()) return core::fail(core::ErrorCode::kInternal, p.name + " is not running; see " + p.log.string());
    const std::string text = core::read_file(p.log, 256 << 20).value_or("");
    for (const std::string marker : {"terminate", "Assertion"}) {
      const auto at = text.find(marker);
      if (at == std::string::npos) continue;
      const auto begin = text.rfind('\n', at);
      const auto end = text.find('\n', at);
      return core::fail(core::ErrorCode::kInternal,
                        p.name + "'s log " + p.log.string() + " says: " +
                            text.substr(begin == std::string::npos ? 0 : begin + 1,
                                        (end == std::string::npos ? text.size() : end) - (begin == std::string::npos ? 0 : begin + 1)));
    }
  }
  return {};
}

bool Network::wait_node_metric(std::size_t i, const std::string& series, const std::function<bool(double)>& ok,
                               std::chrono::milliseconds timeout) {
  return wait_for([&] { return ok(metric_value(fetch_metrics(node(i).metrics_addr), series)); }, timeout);
}

namespace {
devnet::UpOptions up_options(std::chrono::milliseconds block, std::chrono::milliseconds poll) {
  devnet::UpOptions o;
  o.bin_dir = testsupport::binary("apps");
  o.block_interval = block;
  o.poll_interval = poll;
  o.sign_takeover = Network::kSignTakeover;
  o.sign_session_timeout = Network::kSignSessionTimeout;
  return o;
}
}  // namespace

devnet::DevnetSpec dealt_spec() {
  devnet::DevnetSpec spec;
  spec.keys = devnet::DevnetSpec::Keys::kDealer;
  return spec;
}

Network::Network(devnet::DevnetSpec spec, std::chrono::milliseconds block, std::chrono::milliseconds poll)
    : dir_(unique_dir("net")), block_(block), poll_(poll) {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  auto net = devnet::create_devnet(dir_ / "devnet", spec);
  if (!net) throw std::runtime_error("create_devnet: " + net.error().message);
  net_ = *net;
  auto up = devnet::devnet_up(net_, up_options(block_, poll_));
  if (!up) {
    (void)devnet::devnet_down(net_);
    throw std::runtime_error("devnet_up: " + up.error().message);
  }
  rpc_ = std::move(*near::RpcClient::create(net_.rpc_url(), near::RpcClientOptions{std::chrono::seconds(10)}));
  if (spec.keys == devnet::DevnetSpec::Keys::kGenerate && spec.import_keyshares.empty()) {
    auto keys = devnet::wait_for_keys(net_, kKeygenTimeout);
    if (!keys) {
      (void)devnet::devnet_down(net_);
      throw std::runtime_error("devnet key generation: " + keys.error().message);
    }
  }
}

Network::~Network() {
  (void)devnet::devnet_down(net_, std::chrono::seconds(5));
  if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
  else std::cerr << "e2e: keeping " << dir_ << " for inspection (logs in devnet/run/)\n";
}

std::string Network::encryption_key_hex(std::size_t i) const { return *core::read_file(net_.path(node(i).encryption_key)); }

core::Ed25519PublicKey Network::node_tls_key(std::size_t i) const {
  auto p = const_cast<Network*>(this)->participant(node(i).account_id);
  return p ? p->tls_public_key : core::Ed25519PublicKey{};
}

model::ProtocolState Network::state() {
  auto j = rpc_->view(net_.contract_id, "state");
  if (!j) throw std::runtime_error("view state: " + j.error().message);
  return *model::parse_protocol_state(*j);
}

model::MigrationInfo Network::migrations() {
  auto j = rpc_->view(net_.contract_id, "migration_info");
  if (!j) throw std::runtime_error("view migration_info: " + j.error().message);
  return *model::parse_migration_info(*j);
}

model::Keyset Network::keyset() { return *model::keyset_to_back_up(state()); }

std::optional<model::ParticipantInfo> Network::participant(const std::string& account) {
  auto s = state();
  const model::ThresholdParameters* p = nullptr;
  if (auto* r = s.running()) p = &r->parameters;
  else if (auto* rs = std::get_if<model::ResharingState>(&s.state)) p = &rs->previous_running_state.parameters;
  if (!p) return std::nullopt;
  auto* e = p->participants.find(account);
  if (!e) return std::nullopt;
  return e->info;
}

core::Result<near::TxOutcome> Network::call_with(const fs::path& credentials, const std::string& method, const json& args, bool deposit) {
  MPC_ASSIGN(auto creds, core::read_credentials_file(credentials));
  near::Signer signer(*rpc_, creds.account_id, std::move(creds.secret_key));
  return signer.call(net_.contract_id, method, args, deposit ? 1 : 0);
}

core::Result<near::TxOutcome> Network::operator_call(std::size_t i, const std::string& method, const json& args, bool deposit) {
  return call_with(net_.path(node(i).operator_key), method, args, deposit);
}

core::Status Network::add_access_key(std::size_t i, const core::Ed25519PublicKey& key) {
  MPC_ASSIGN(auto creds, core::read_credentials_file(net_.path(node(i).operator_key)));
  near::Signer signer(*rpc_, creds.account_id, std::move(creds.secret_key));
  near::AccessKey ak;
  ak.permission = near::FunctionCallPermission{std::nullopt, net_.contract_id, {}};
  MPC_TRY(signer.send(creds.account_id, {near::AddKeyAction{core::NearPublicKey{key}, ak}}));
  return {};
}

NewNode Network::new_node_at(std::size_t i, const std::string& host, std::uint16_t migration_port) {
  NewNode n = new_node(i, true, false);
  n.host = host;
  n.requested_migration_port = migration_port;
  n.p2p_addr = net::HostPort{host, net::HostPort::parse(n.p2p_addr).value().port}.to_string();
  start(n);
  return n;
}

NewNode Network::new_node(std::size_t i, bool add_key, bool start_now) {
  static int counter = 0;
  NewNode n;
  n.account_id = node(i).account_id;
  n.home = dir_ / ("machine-" + std::to_string(++counter));
  auto home = node::NodeHome::init(n.home, n.account_id);
  if (!home) throw std::runtime_error("node init: " + home.error().message);
  n.tls_key = home->tls_key.public_key();
  n.access_key = home->access_key.secret_key.public_key();
  n.log = dir_ / ("machine-" + std::to_string(counter) + ".log");
  n.p2p_port = std::make_shared<testsupport::ClosedPort>();
  n.p2p_addr = n.p2p_port->addr();
  if (add_key) {
    if (auto st = add_access_key(i, n.access_key); !st) throw std::runtime_error("add key: " + st.error().message);
  }
  // The operator's AES key is the same for the account's nodes.
  ::setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", encryption_key_hex(i).c_str(), 1);
  if (start_now) start(n);
  return n;
}

void Network::start(NewNode& n) {
  std::error_code ec;
  fs::remove(n.home / "migration.addr", ec);
  fs::remove(n.home / "metrics.addr", ec);
  std::string key;
  for (std::size_t i = 0; i < net_.nodes.size(); ++i)
    if (net_.nodes[i].account_id == n.account_id) key = encryption_key_hex(i);
  ::setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", key.c_str(), 1);
  const std::uint16_t port = n.addr.empty() ? n.requested_migration_port : n.migration_port();
  std::vector<std::string> argv = {testsupport::binary("apps/mpc-node").string(), "run", "--home", n.home.string(), "--rpc-url",
                                   net_.rpc_url(), "--contract-id", net_.contract_id, "--p2p-url", n.url(), "--migration-addr",
                                   net::HostPort{n.host, port}.to_string(), "--metrics-addr", "127.0.0.1:0", "--poll-interval-ms", "100", "--tee-attestation", "mock",
                                   "--sign-takeover-ms", std::to_string(kSignTakeover.count()), "--sign-session-timeout-ms",
                                   std::to_string(kSignSessionTimeout.count())};
  if (net_.hard_launch) argv.push_back("--require-attested-backup-service");
  // The node listens for P2P on the port the test holds (its contract url's
  // port; the held socket is bound to 127.0.0.1): handed down as descriptor 3.
  std::vector<std::pair<int, int>> inherit;
  if (n.p2p_port && n.host == "127.0.0.1") {
    argv.insert(argv.end(), {"--p2p-listen-fd", "3"});
    inherit.emplace_back(n.p2p_port->fd(), 3);
  }
  n.process = std::make_unique<testsupport::Child>(argv, n.log, inherit);
  auto addr = testsupport::wait_for_file(n.home / "migration.addr", std::chrono::seconds(15));
  if (!addr) throw std::runtime_error("new node did not start; see " + n.log.string());
  n.addr = *addr;
  auto metrics = testsupport::wait_for_file(n.home / "metrics.addr", std::chrono::seconds(15));
  if (!metrics) throw std::runtime_error("new node wrote no metrics address; see " + n.log.string());
  n.metrics_addr = *metrics;
}

testsupport::RunResult Network::backup_cli(std::size_t i, std::vector<std::string> args, std::chrono::milliseconds timeout) {
  ::setenv("BACKUP_ENCRYPTION_KEY_HEX", encryption_key_hex(i).c_str(), 1);
  ::setenv("BACKUP_RPC_URL", net_.rpc_url().c_str(), 1);
  ::setenv("MPC_CONTRACT_ACCOUNT_ID", net_.contract_id.c_str(), 1);
  ::setenv("SIGNER_ACCOUNT_ID", node(i).account_id.c_str(), 1);
  ::setenv("SIGNER_KEY_FILE", net_.path(node(i).operator_key).c_str(), 1);
  std::vector<std::string> argv = {testsupport::binary("apps/backup-cli").string(), "--home-dir", backup_home(i).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return testsupport::run(argv, timeout);
}

bool Network::wait_participant_key(const std::string& account, const core::Ed25519PublicKey& tls, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto p = participant(account);
    if (p && p->tls_public_key == tls) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

core::Ed25519PublicKey Network::group_key(std::uint64_t domain) {
  const auto ks = keyset();
  const auto* entry = ks.find(domain);
  if (entry == nullptr || !entry->key.near_public_key || !entry->key.near_public_key->is_ed25519())
    throw std::runtime_error("domain " + std::to_string(domain) + " has no Ed25519 key in the keyset");
  return entry->key.near_public_key->ed25519();
}

core::Secp256k1PublicKey Network::secp256k1_group_key(std::uint64_t domain) {
  const auto ks = keyset();
  const auto* entry = ks.find(domain);
  if (entry == nullptr || !entry->key.near_public_key || entry->key.near_public_key->is_ed25519())
    throw std::runtime_error("domain " + std::to_string(domain) + " has no secp256k1 key in the keyset");
  return std::get<core::Secp256k1PublicKey>(entry->key.near_public_key->key);
}

json Network::pending_requests() {
  auto j = rpc_->view(net_.contract_id, "pending_signature_requests");
  if (!j) throw std::runtime_error("view pending_signature_requests: " + j.error().message);
  return *j;
}

std::uint64_t Network::block_height() {
  auto b = rpc_->block_final();
  if (!b) throw std::runtime_error("block: " + b.error().message);
  return b->height;
}

WatchedProcess Network::watched(std::size_t i, bool expect_running) const {
  const std::string name = "node" + std::to_string(i);
  WatchedProcess w{name, net_.run_dir() / (name + ".log"), {}};
  if (expect_running) {
    w.running = [this, name] {
      for (const auto& p : devnet::devnet_processes(net_))
        if (p.name == name) return p.running;
      return false;
    };
  }
  return w;
}

WatchedProcess Network::watched(NewNode& n, bool expect_running) {
  WatchedProcess w{"new machine " + n.home.filename().string() + " (" + n.account_id + ")", n.log, {}};
  if (expect_running) w.running = [&n] { return n.process && n.process->running(); };
  return w;
}

core::Result<SubmittedSign> Network::submit_sign(const fs::path& credentials, std::uint64_t domain, const std::string& path,
                                                 core::ByteView payload, core::SignPayload::Kind kind) {
  MPC_ASSIGN(auto creds, core::read_credentials_file(credentials));
  MPC_ASSIGN(auto rpc, near::RpcClient::create(net_.rpc_url(), near::RpcClientOptions{std::chrono::seconds(15)}));
  const char* variant = kind == core::SignPayload::Kind::kEcdsa ? "Ecdsa" : "Eddsa";
  const json args = {{"request", {{"domain_id", domain}, {"path", path}, {"payload_v2", {{variant, core::hex_encode(payload)}}}}}};
  std::lock_guard lock(sign_mu_);
  near::Transaction tx;
  tx.signer_id = creds.account_id;
  tx.public_key = core::NearPublicKey{creds.secret_key.public_key()};
  MPC_ASSIGN(auto access_key, rpc->view_access_key(tx.signer_id, tx.public_key));
  auto& last = sign_nonces_[tx.public_key.to_string()];
  tx.nonce = std::max(access_key.nonce, last) + 1;
  tx.receiver_id = net_.contract_id;
  MPC_ASSIGN(auto block, rpc->block_final());
  tx.block_hash = block.hash;
  tx.actions = {near::function_call("sign", args.dump(), near::Signer::kDefaultGas, 1)};
  const auto hash = near::transaction_hash(tx);
  const auto signed_tx = near::sign_transaction(tx, creds.secret_key);
  // INCLUDED: back once the transaction is in a block (the yield resolves later).
  MPC_TRY(rpc->call("send_tx", json{{"signed_tx_base64", core::base64_encode(near::encode_signed_transaction(signed_tx))},
                                    {"wait_until", "INCLUDED"}}));
  last = tx.nonce;
  return SubmittedSign{core::base58_encode(hash), creds.account_id, domain, path, core::Bytes(payload.begin(), payload.end())};
}

core::Result<core::Ed25519Signature> Network::await_signature(const SubmittedSign& sign, std::chrono::milliseconds timeout) {
  MPC_ASSIGN(auto answer, await_response(sign, timeout));
  if (!std::holds_alternative<core::Ed25519Signature>(answer.first))
    return core::fail(core::ErrorCode::kInternal, "sign answered a signature that is not Ed25519: " + answer.second);
  return std::get<core::Ed25519Signature>(answer.first);
}

core::Result<std::pair<core::Secp256k1SignatureResponse, std::string>> Network::sign_ecdsa(std::size_t i, std::uint64_t domain,
                                                                                          const std::string& path, core::ByteView hash,
                                                                                          std::chrono::milliseconds timeout) {
  MPC_ASSIGN(auto submitted, submit_sign(operator_credentials(i), domain, path, hash, core::SignPayload::Kind::kEcdsa));
  MPC_ASSIGN(auto answer, await_response(submitted, timeout));
  if (!std::holds_alternative<core::Secp256k1SignatureResponse>(answer.first))
    return core::fail(core::ErrorCode::kInternal, "sign answered a signature that is not secp256k1: " + answer.second);
  return std::pair{std::get<core::Secp256k1SignatureResponse>(answer.first), answer.second};
}

core::Result<std::string> Network::derived_public_key(const std::string& predecessor, const std::string& path, std::uint64_t domain) {
  MPC_ASSIGN(auto j, rpc_->view(net_.contract_id, "derived_public_key", json{{"path", path}, {"predecessor", predecessor}, {"domain_id", domain}}));
  if (!j.is_string()) return core::fail(core::ErrorCode::kInternal, "derived_public_key answered no key text: " + j.dump());
  return j.get<std::string>();
}

core::Result<std::pair<core::SignatureResponse, std::string>> Network::await_response(const SubmittedSign& sign,
                                                                                      std::chrono::milliseconds timeout) {
  MPC_ASSIGN(auto rpc, near::RpcClient::create(net_.rpc_url(), near::RpcClientOptions{std::chrono::seconds(15)}));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // The sandbox holds the answer until the yield resolves, or answers 408
    // (kTimeout) after its own wait: ask again until our deadline.
    auto outcome = rpc->tx_status(sign.tx_hash, sign.predecessor);
    if (outcome) {
      const std::string text(outcome->success_value.begin(), outcome->success_value.end());
      auto j = core::parse_json(text, core::JsonLimits{});
      if (!j) return core::fail(core::ErrorCode::kInternal, "sign's SuccessValue is not JSON: " + text);
      MPC_ASSIGN(auto response, core::parse_signature_response(*j, "SuccessValue"));
      return std::pair{std::move(response), text};
    }
    if (outcome.error().code != core::ErrorCode::kTimeout) return std::unexpected(outcome.error());
    if (std::chrono::steady_clock::now() >= deadline)
      return core::fail(core::ErrorCode::kTimeout, "sign transaction " + sign.tx_hash + " still unanswered after " +
                                                       std::to_string(timeout.count()) + " ms: " + outcome.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

core::Result<core::Ed25519Signature> Network::sign(std::size_t i, std::uint64_t domain, const std::string& path, core::ByteView payload,
                                                   std::chrono::milliseconds timeout) {
  MPC_ASSIGN(auto submitted, submit_sign(operator_credentials(i), domain, path, payload));
  return await_signature(submitted, timeout);
}

void Network::stop_devnet_process(const std::string& name, bool hard) {
  if (auto st = devnet::stop_process(net_, name, hard); !st) throw std::runtime_error(st.error().message);
}

void Network::restart_devnet() {
  auto up = devnet::devnet_up(net_, up_options(block_, poll_));
  if (!up) throw std::runtime_error("devnet_up: " + up.error().message);
}

}  // namespace mpc::e2e
