#include "sandbox/server.h"

#include "net/host_port.h"
#include "net/io_thread.h"

#include <spdlog/spdlog.h>

#include <future>

#include "core/file_util.h"

namespace mpc::sandbox {

std::filesystem::path database_path(const std::filesystem::path& home) { return home / "chain.sqlite"; }
std::filesystem::path rpc_addr_file(const std::filesystem::path& home) { return home / "rpc.addr"; }

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

core::Result<std::unique_ptr<SandboxServer>> SandboxServer::start(const ServerOptions& options) {
  MPC_ASSIGN(auto endpoint, net::parse_listen_address(options.rpc_addr));
  if (!std::filesystem::exists(database_path(options.home))) {
    return core::fail(core::ErrorCode::kNotFound, "no chain in " + options.home.string() +
                                                     "; create one first with: mpc-sandbox init --home " + options.home.string());
  }
  MPC_ASSIGN(auto store, Store::open(database_path(options.home)));
  MPC_ASSIGN(bool has_genesis, store->has_genesis());
  if (!has_genesis) {
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      "the chain database in " + options.home.string() + " has no genesis block (a half-finished init?); "
                      "remove the directory and run mpc-sandbox init again");
  }
  MPC_ASSIGN(auto chain, Chain::open(std::move(store), Chain::Options{}));

  std::unique_ptr<SandboxServer> s(new SandboxServer());
  s->options_ = options;
  s->chain_ = std::move(chain);
  RpcOptions rpc_options;
  rpc_options.max_body_bytes = options.max_body_bytes;
  s->rpc_ = std::make_unique<RpcService>(s->ioc_, *s->chain_, rpc_options);
  net::HttpServerOptions http_options;
  http_options.body_limit = options.max_body_bytes;
  RpcService* rpc = s->rpc_.get();
  s->http_ = std::make_shared<net::HttpServer>(
      s->ioc_, http_options, [rpc](net::HttpRequest&& req, net::Responder respond) { rpc->handle(std::move(req), std::move(respond)); });
  MPC_ASSIGN(s->endpoint_, s->http_->listen(endpoint));
  const std::string bound = net::HostPort::from_endpoint(s->endpoint_).to_string();
  MPC_TRY(core::write_file_atomic(rpc_addr_file(options.home), core::as_bytes(bound + "\n"), 0644));

  s->block_timer_ = std::make_unique<boost::asio::steady_timer>(s->block_strand_);
  s->work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(s->ioc_.get_executor());
  s->schedule_block();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options.threads); ++i) {
    s->threads_.emplace_back([io = &s->ioc_] { run_io_thread(*io); });
  }
  return s;
}

void run_io_thread(boost::asio::io_context& ioc) { net::run_io_context(ioc, "mpc-sandbox"); }

void SandboxServer::schedule_block() {
  block_timer_->expires_after(options_.block_interval);
  block_timer_->async_wait([this](boost::system::error_code ec) {
    // A wait that completed just before stop_blocks() cancelled it arrives
    // here without an error: blocks_stopped_ (same strand) says to end.
    if (ec || blocks_stopped_) return;
    // Block production is a catch-and-log boundary: whatever one block's
    // transactions do, the next interval produces the next block.
    try {
      if (auto st = chain_->produce_block(now_ns()); !st) {
        spdlog::error("could not commit block: {}; retrying at the next interval", st.error().message);
      }
    } catch (const std::exception& e) {
      spdlog::error("producing a block threw: {}; retrying at the next interval", e.what());
    } catch (...) {
      spdlog::error("producing a block threw; retrying at the next interval");
    }
    schedule_block();
  });
}

std::string SandboxServer::rpc_url() const {
  return "http://" + net::HostPort::from_endpoint(endpoint_).to_string();
}

void SandboxServer::stop_blocks() {
  std::promise<void> stopped;
  boost::asio::post(block_strand_, [this, &stopped] {
    blocks_stopped_ = true;
    block_timer_->cancel();
    stopped.set_value();
  });
  stopped.get_future().wait();
}

void SandboxServer::drain() {
  // Each round runs what is ready, including what becomes ready meanwhile
  // (a write's completion after the write); the bound keeps a client that
  // sends request after request from holding the shutdown.
  constexpr int kMaxRounds = 64;
  ioc_.restart();
  for (int round = 0; round < kMaxRounds; ++round) {
    try {
      if (ioc_.poll() == 0) return;
    } catch (const std::exception& e) {
      spdlog::error("mpc-sandbox: a handler threw while stopping: {}", e.what());
    } catch (...) {
      spdlog::error("mpc-sandbox: a handler threw while stopping");
    }
  }
}

void SandboxServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (threads_.empty()) return;  // start() failed before serving: nothing runs, nothing to seal
  http_->stop();
  stop_blocks();
  // Stop the io threads (each finishes the handler it is running): the last
  // block then seals every transaction they accepted. Joining them after
  // releasing the work guard instead would wait for idle keep-alive
  // connections to time out.
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Seal whatever was accepted so that waiting clients get their outcomes;
  // their answers are queued on their connections, and written by drain().
  try {
    if (auto st = chain_->produce_block(now_ns()); !st) spdlog::error("final block: {}", st.error().message);
  } catch (const std::exception& e) {
    spdlog::error("final block threw: {}", e.what());
  }
  drain();
  std::error_code ec;
  std::filesystem::remove(rpc_addr_file(options_.home), ec);
}

SandboxServer::~SandboxServer() { stop(); }

}  // namespace mpc::sandbox
