#include "e2e_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "core/file_util.h"
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

bool Network::wait_node_metric(std::size_t i, const std::string& series, const std::function<bool(double)>& ok,
                               std::chrono::milliseconds timeout) {
  return wait_for([&] { return ok(metric_value(fetch_metrics(node(i).metrics_addr), series)); }, timeout);
}

namespace {
devnet::UpOptions up_options(std::chrono::milliseconds block) {
  devnet::UpOptions o;
  o.bin_dir = testsupport::binary("apps");
  o.block_interval = block;
  o.poll_interval = std::chrono::milliseconds(100);
  return o;
}
}  // namespace

Network::Network(devnet::DevnetSpec spec, std::chrono::milliseconds block) : dir_(unique_dir("net")), block_(block) {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  auto net = devnet::create_devnet(dir_ / "devnet", spec);
  if (!net) throw std::runtime_error("create_devnet: " + net.error().message);
  net_ = *net;
  auto up = devnet::devnet_up(net_, up_options(block_));
  if (!up) {
    (void)devnet::devnet_down(net_);
    throw std::runtime_error("devnet_up: " + up.error().message);
  }
  rpc_ = std::move(*near::RpcClient::create(net_.rpc_url(), near::RpcClientOptions{std::chrono::seconds(10)}));
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

core::ProtocolState Network::state() {
  auto j = rpc_->view(net_.contract_id, "state");
  if (!j) throw std::runtime_error("view state: " + j.error().message);
  return *core::parse_protocol_state(*j);
}

core::MigrationInfo Network::migrations() {
  auto j = rpc_->view(net_.contract_id, "migration_info");
  if (!j) throw std::runtime_error("view migration_info: " + j.error().message);
  return *core::parse_migration_info(*j);
}

core::Keyset Network::keyset() { return *core::keyset_to_back_up(state()); }

std::optional<core::ParticipantInfo> Network::participant(const std::string& account) {
  auto s = state();
  const core::ThresholdParameters* p = nullptr;
  if (auto* r = s.running()) p = &r->parameters;
  else if (auto* rs = std::get_if<core::ResharingState>(&s.state)) p = &rs->previous_running_state.parameters;
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
  n.process = std::make_unique<testsupport::Child>(
      std::vector<std::string>{testsupport::binary("apps/mpc-node").string(), "run", "--home", n.home.string(), "--rpc-url",
                               net_.rpc_url(), "--contract-id", net_.contract_id, "--p2p-url", n.url(), "--migration-addr", net::HostPort{n.host, port}.to_string(), "--metrics-addr", "127.0.0.1:0",
                               "--poll-interval-ms", "100"},
      n.log);
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

void Network::stop_devnet_process(const std::string& name, bool hard) {
  if (auto st = devnet::stop_process(net_, name, hard); !st) throw std::runtime_error(st.error().message);
}

void Network::restart_devnet() {
  auto up = devnet::devnet_up(net_, up_options(block_));
  if (!up) throw std::runtime_error("devnet_up: " + up.error().message);
}

}  // namespace mpc::e2e
