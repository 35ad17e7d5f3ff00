// mpc-sandbox's running node: the chain, the JSON-RPC server and the block
// producer on one io_context.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "net/http_server.h"
#include "sandbox/chain.h"
#include "sandbox/rpc.h"

namespace mpc::sandbox {

struct ServerOptions {
  std::filesystem::path home;
  std::string rpc_addr = "127.0.0.1:3030";
  std::chrono::milliseconds block_interval{500};
  std::size_t max_body_bytes = 4 << 20;
  std::size_t threads = 2;
};

// The chain database inside a sandbox home.
std::filesystem::path database_path(const std::filesystem::path& home);
// Written once the server listens: the bound "HOST:PORT".
std::filesystem::path rpc_addr_file(const std::filesystem::path& home);

class SandboxServer {
 public:
  ~SandboxServer();
  SandboxServer(const SandboxServer&) = delete;
  SandboxServer& operator=(const SandboxServer&) = delete;

  // Opens the chain in `home` and starts serving.
  static core::Result<std::unique_ptr<SandboxServer>> start(const ServerOptions& options);

  // "http://HOST:PORT" of the RPC server.
  std::string rpc_url() const;
  Chain& chain() { return *chain_; }

  // Stops accepting, stops the block timer, seals pending transactions into
  // a last block, stops the io threads, then writes the answers that are
  // ready (those to clients waiting for that block among them) on the
  // calling thread. Idle keep-alive connections and requests still waiting
  // for a later block are dropped. No sleeping: each step waits for an event.
  // REQUIRES: not called from one of the server's io threads.
  void stop();

 private:
  SandboxServer() = default;
  // On block_strand_.
  void schedule_block();
  // Cancels the block timer on its strand and waits until that ran: from
  // then on no block handler runs or is scheduled.
  void stop_blocks();
  // Runs, on the calling thread, every handler of the stopped io_context
  // that is ready now or becomes ready while doing so (bounded).
  void drain();

  ServerOptions options_;
  boost::asio::io_context ioc_;
  std::unique_ptr<Chain> chain_;
  std::unique_ptr<RpcService> rpc_;
  std::shared_ptr<net::HttpServer> http_;
  // The block timer and its handlers live on this strand; blocks_stopped_
  // is read and written only there.
  boost::asio::strand<boost::asio::io_context::executor_type> block_strand_{boost::asio::make_strand(ioc_)};
  std::unique_ptr<boost::asio::steady_timer> block_timer_;
  bool blocks_stopped_ = false;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  boost::asio::ip::tcp::endpoint endpoint_;
  bool stopped_ = false;
};

std::uint64_t now_ns();

// io_context::run() as a thread entry point: an exception escaping a handler
// is logged and run() is entered again; returns when the context stops.
void run_io_thread(boost::asio::io_context& ioc);

}  // namespace mpc::sandbox
