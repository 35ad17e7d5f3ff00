// What an authenticated peer of the node's migration endpoint can send: raw
// bytes of the TLS session's plaintext, parsed by Beast's request parser
// with the limits the node's mTLS server uses (node::NodeRunOptions'
// body limit, net::MtlsServerOptions' header limit; net/internal/http_session.h sets
// them the same way), each complete request routed through
// node::MigrationService::handle as the node does. Keep-alive: up to 4
// pipelined requests per input, stopping where the session would (a parse
// error, Connection: close, the end of the bytes).
//
// The service: a key-share store (temporary directory, removed at exit)
// holding fuzz::fixture_shares(), a chain view in which the protocol is
// Running with fuzz::fixture_keyset() and this node is its account's
// migration destination, so GET /get_keyshares serves and PUT
// /set_keyshares gets as far as decryption and import.
//
// Properties: no crash; every answer is one of the endpoint's statuses.
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "fuzz_support.h"
#include "net/metrics.h"
#include "net/mtls_server.h"
#include "node/keyshare_store.h"
#include "node/migration_service.h"
#include "node/node_runtime.h"

using namespace mpc;
namespace http = boost::beast::http;

namespace {

struct Harness {
  std::filesystem::path dir;
  std::unique_ptr<node::KeyshareStore> store;
  net::MetricsRegistry metrics;
  std::unique_ptr<node::MigrationService> service;
  std::size_t body_limit = node::NodeRunOptions{}.body_limit;
  std::size_t header_limit = net::MtlsServerOptions{}.header_limit;
};

Harness* harness = nullptr;
bool trace = false;  // MPC_FUZZ_TRACE=1: print each answer (to check what seeds reach)

void remove_dir() {
  if (harness) {
    std::error_code ec;
    std::filesystem::remove_all(harness->dir, ec);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  harness = new Harness();
  trace = std::getenv("MPC_FUZZ_TRACE") != nullptr;
  std::string tmpl = (std::filesystem::temp_directory_path() / "mpc-fuzz-migration-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) std::abort();
  harness->dir = tmpl;
  std::atexit(remove_dir);
  core::SecretBytes local(32);
  for (std::size_t i = 0; i < local.size(); ++i) local.data()[i] = static_cast<std::uint8_t>(i);
  auto store = node::KeyshareStore::open(harness->dir / "keyshares.enc", std::move(local));
  if (!store) std::abort();
  harness->store = std::move(*store);
  if (!harness->store->import(fuzz::fixture_shares(), fuzz::fixture_keyset())) std::abort();
  harness->service = std::make_unique<node::MigrationService>(*harness->store, fuzz::fixture_aes_key(), harness->metrics);
  node::NodeView view;
  view.protocol = "Running";
  view.running = true;
  view.running_keyset = fuzz::fixture_keyset();
  view.backup_service_key = fuzz::fixed_key(0x50).public_key();
  view.account_migration = model::DestinationNodeInfo{fuzz::fixed_key(0x20).public_key(),
                                                     {"https://new-node.sandbox:443", fuzz::fixed_key(0x21).public_key()}};
  view.is_migration_destination = true;
  view.is_active_participant = false;
  harness->service->update_view(view);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::set<unsigned> kStatuses = {200, 400, 404, 405, 409, 500};
  std::size_t pos = 0;
  for (int n = 0; n < 4 && pos < size; ++n) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(harness->body_limit);
    parser.header_limit(static_cast<std::uint32_t>(harness->header_limit));
    boost::beast::error_code ec;
    while (!parser.is_done() && pos < size) {
      const std::size_t used = parser.put(boost::asio::buffer(data + pos, size - pos), ec);
      pos += used;
      if (ec == http::error::need_more) {
        ec = {};
        if (used == 0) break;  // needs bytes the peer did not send
        continue;
      }
      if (ec) break;
    }
    // The peer closed: Beast's read ends the message where it can.
    if (!ec && !parser.is_done()) {
      if (!parser.got_some()) return 0;
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) {  // the session answers 413/431/400 and closes
      if (trace) std::fprintf(stderr, "parse error: %s\n", ec.message().c_str());
      return 0;
    }
    auto request = parser.release();
    // The connection authenticated as the registered backup service.
    auto response = harness->service->handle(request, fuzz::fixed_key(0x50).public_key());
    if (trace) std::fprintf(stderr, "answer %u: %.200s\n", response.result_int(), response.body().c_str());
    MPC_FUZZ_CHECK(kStatuses.contains(response.result_int()));
    if (!request.keep_alive()) return 0;
  }
  return 0;
}
