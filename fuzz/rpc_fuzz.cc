// mpc-sandbox's JSON-RPC request path: a request body, as an HTTP client
// POSTs it, through RpcService::handle (the server's handler, in process,
// no socket) against one in-memory chain (fuzz_genesis) shared by all
// inputs.
//
// Waits for finality answer at once (wait_timeout 0); when a seed
// transaction (the only kind that can be valid: the fuzzer cannot sign) is
// pending after an input, a block is produced, so the number of blocks, of
// pending waiters and the store stay bounded. Properties: no crash; exactly
// one answer per body: 200, a JSON-RPC 2.0 object with "result" or "error".
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
  net::HttpRequest request{boost::beast::http::verb::post, "/", 11};
  request.set(boost::beast::http::field::content_type, "application/json");
  request.body().assign(reinterpret_cast<const char*>(data), size);
  request.prepare_payload();
  int answers = 0;
  h.rpc.handle(std::move(request), [&](net::HttpResponse response) {
    ++answers;
    if (trace) std::fprintf(stderr, "rpc answer: %.300s\n", response.body().c_str());
    // 200, or 408 for a wait that timed out (TIMEOUT_ERROR, as nearcore
    // answers it: the harness's finality waits expire at once).
    MPC_FUZZ_CHECK(response.result_int() == 200 || response.result_int() == 408);
    // The answer is always valid JSON (text that is not UTF-8 is replaced).
    auto r = fuzz::json::parse(response.body(), nullptr, false);
    MPC_FUZZ_CHECK(r.is_object());
    if (response.result_int() == 408) {
      const auto* cause = r.contains("error") && r["error"].is_object() && r["error"].contains("cause") ? &r["error"]["cause"] : nullptr;
      MPC_FUZZ_CHECK(cause != nullptr && cause->is_object() && cause->value("name", "") == "TIMEOUT_ERROR");
    }
    MPC_FUZZ_CHECK(r.value("jsonrpc", "") == "2.0");
    MPC_FUZZ_CHECK(r.contains("result") != r.contains("error"));
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
