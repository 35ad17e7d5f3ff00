#include "support/sandbox/test_chain.h"

#include <stdexcept>

namespace mpc::sandbox::testing {

std::filesystem::path make_temp_dir(const std::string& prefix) {
  auto dir = std::filesystem::temp_directory_path() / (prefix + core::hex_encode(core::random_bytes(6)));
  std::filesystem::create_directories(dir);
  return dir;
}

LocalChain::LocalChain(int participants, int threshold, std::chrono::milliseconds block_interval)
    : home_(make_temp_dir("mpc-sandbox-test-")), block_interval_(block_interval) {
  auto genesis = write_local_genesis(home_, LocalChainSpec{participants, threshold, "mpc-sandbox"});
  if (!genesis) throw std::runtime_error(genesis.error().message);
  if (auto st = create_chain(home_, *genesis); !st) throw std::runtime_error(st.error().message);
  restart();
}

void LocalChain::restart() {
  if (server_) server_->stop();
  server_.reset();
  ServerOptions options;
  options.home = home_;
  options.rpc_addr = "127.0.0.1:0";
  options.block_interval = block_interval_;
  auto s = SandboxServer::start(options);
  if (!s) throw std::runtime_error(s.error().message);
  server_ = std::move(*s);
  auto rpc = near::RpcClient::create(server_->rpc_url(), near::RpcClientOptions{std::chrono::seconds(10)});
  if (!rpc) throw std::runtime_error(rpc.error().message);
  rpc_ = std::move(*rpc);
}

LocalChain::~LocalChain() {
  if (server_) server_->stop();
  server_.reset();
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);
}

core::NearCredentials LocalChain::credentials(const std::string& account_id) const {
  auto c = core::read_credentials_file(home_ / "credentials" / (account_id + ".json"));
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

std::unique_ptr<near::Signer> LocalChain::signer(const std::string& account_id) {
  auto c = credentials(account_id);
  return std::make_unique<near::Signer>(*rpc_, c.account_id, std::move(c.secret_key));
}

}  // namespace mpc::sandbox::testing
