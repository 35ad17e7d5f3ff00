// Test support: a real mpc-sandbox (in-process) on a loopback port, in a
// temporary home, with signers for its generated accounts.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/crypto.h"
#include "core/near_key.h"
#include "near/rpc_client.h"
#include "sandbox/server.h"
#include "sandbox/setup.h"

namespace mpc::sandbox::testing {

class LocalChain {
 public:
  explicit LocalChain(int participants = 3, int threshold = 2, std::chrono::milliseconds block_interval = std::chrono::milliseconds(20));
  ~LocalChain();

  // Stops the server (as on SIGTERM) and starts it again on the same home.
  void restart();

  const std::filesystem::path& home() const { return home_; }
  std::string rpc_url() const { return server_->rpc_url(); }
  near::RpcClient& rpc() { return *rpc_; }
  Chain& chain() { return server_->chain(); }
  core::NearCredentials credentials(const std::string& account_id) const;
  std::unique_ptr<near::Signer> signer(const std::string& account_id);

 private:
  std::filesystem::path home_;
  std::chrono::milliseconds block_interval_;
  std::unique_ptr<SandboxServer> server_;
  std::unique_ptr<near::RpcClient> rpc_;
};

std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace mpc::sandbox::testing
