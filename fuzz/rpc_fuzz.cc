// mpc-sandbox's JSON-RPC request path: a request body, as an HTTP client
// sends it, through RpcService::handle_body against one in-memory chain
// (fuzz_genesis) shared by all inputs.
//
// Waits for finality answer at once (wait_timeout 0); when a seed
// transaction (the only kind that can be valid: the fuzzer cannot sign) is
// pending after an input, a block is produced, so the number of blocks, of
// pending waiters and the store stay bounded. Properties: no crash; exactly
// one answer per body, a JSON-RPC 2.0 object with "result" or "error".
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"
#include "sandbox/rpc.h"

using namespace mpc;

namespace {

struct Harness {
  boost::asio::io_context ioc;
  std::unique_ptr<sandbox::Chain> chain = fuzz::open_memory_chain();
  sandbox::RpcService rpc{ioc, *chain, sandbox::RpcOptions{std::chrono::milliseconds(0)}};
  std::vector<core::Hash256> seed_hashes;
  std::uint64_t next_block_ns = fuzz::kGenesisTimeNs;

  Harness() {
    for (const auto& stx : fuzz::seed_transactions(chain->head().hash)) {
      seed_hashes.push_back(near::transaction_hash(stx.transaction));
    }
  }
};

Harness* harness = nullptr;
bool trace = false;  // MPC_FUZZ_TRACE=1: print each answer (to check what seeds reach)

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  harness = new Harness();
  trace = std::getenv("MPC_FUZZ_TRACE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness& h = *harness;
  const std::string body(reinterpret_cast<const char*>(data), size);
  int answers = 0;
  h.rpc.handle_body(body, [&](fuzz::json r) {
    ++answers;
    MPC_FUZZ_CHECK(r.is_object());
    MPC_FUZZ_CHECK(r.value("jsonrpc", "") == "2.0");
    MPC_FUZZ_CHECK(r.contains("result") != r.contains("error"));
    const std::string text = r.dump(-1, ' ', false, fuzz::json::error_handler_t::replace);
    if (trace) std::fprintf(stderr, "rpc answer: %.300s\n", text.c_str());
  });
  // Timers of finality waits (expired at once) and their answers.
  h.ioc.poll();
  h.ioc.restart();
  for (const auto& hash : h.seed_hashes) {
    if (h.chain->is_pending(hash)) {
      h.next_block_ns += 1'000'000;
      MPC_FUZZ_CHECK(h.chain->produce_block(h.next_block_ns).has_value());
      break;
    }
  }
  h.ioc.poll();
  h.ioc.restart();
  MPC_FUZZ_CHECK(answers == 1);
  return 0;
}
