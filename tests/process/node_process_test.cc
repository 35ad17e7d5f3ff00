// mpc-node as a real process on loopback, with a real chain (mpc-sandbox)
// behind it: the mutual-TLS migration endpoint, its refusals, its store.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <random>
#include <thread>

#include "backup/home.h"
#include "core/file_util.h"
#include "e2e/e2e_support.h"
#include "net/host_port.h"
#include "net/http_server.h"
#include "net/http_client.h"
#include "net/mtls_client.h"
#include "node/home.h"
#include "node/keyshare_store.h"
#include "tls/tls.h"

namespace mpc {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace http = boost::beast::http;
using json = nlohmann::json;
using e2e::Network;

std::string key_text(const core::Ed25519PublicKey& k) { return core::ed25519_public_key_to_string(k); }

class NodeProcess : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    net_ = new Network();
    // Operator 0 registers a backup service (a signed transaction).
    ASSERT_EQ(net_->backup_cli(0, {"generate-keys"}).exit_code, 0);
    auto reg = net_->backup_cli(0, {"register"});
    ASSERT_EQ(reg.exit_code, 0) << reg.output;
    backup_key_ = new core::Ed25519SecretKey(backup::BackupHome(net_->backup_home(0)).load_secrets()->p2p_private_key.clone());
    // The node sees the registration on its next poll.
    ASSERT_TRUE(net_->wait_node_metric(0, "mpc_backup_service_registered", [](double v) { return v == 1; }))
        << "node0 never saw the registration";
  }
  static void TearDownTestSuite() {
    delete backup_key_;
    delete net_;
  }

  static std::string addr(std::size_t i) { return net_->node(i).migration_addr; }
  static net::MtlsClient client(const core::Ed25519SecretKey& own, const std::string& a, core::Ed25519PublicKey server,
                                net::MtlsClientOptions o = {}) {
    const auto address = net::HostPort::parse(a).value();
    if (o.timeout == std::chrono::milliseconds(30'000)) o.timeout = 5s;
    return net::MtlsClient(*tls::make_client_context(own), address.host, address.port, server, o);
  }
  static fs::path store_file(std::size_t i) { return net_->devnet().path(net_->node(i).home) / "keyshares.enc"; }
  static std::string node_metrics(std::size_t i) { return e2e::fetch_metrics(net_->node(i).metrics_addr); }
  static double metric(const std::string& text, const std::string& series) { return e2e::metric_value(text, series); }
  static std::string shares_digest(const fs::path& home) {
    auto r = testsupport::run({testsupport::binary("apps/mpc-node").string(), "shares", "--home", home.string()});
    auto pos = r.output.find("digest ");
    return pos == std::string::npos ? "" : r.output.substr(pos + 7, 64);
  }
  // The registered key can still fetch: the node is unaffected.
  static void expect_node_serves() {
    auto c = client(*backup_key_, addr(0), net_->node_tls_key(0));
    auto r = c.request(http::verb::get, "/get_keyshares", to_json(net_->keyset()).dump());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200u);
  }

  static Network* net_;
  static core::Ed25519SecretKey* backup_key_;
};
Network* NodeProcess::net_ = nullptr;
core::Ed25519SecretKey* NodeProcess::backup_key_ = nullptr;

TEST_F(NodeProcess, ServesTheRegisteredBackupServiceSharesThatDecryptToWhatItHolds) {
  auto c = client(*backup_key_, addr(0), net_->node_tls_key(0));
  auto hello = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(hello) << hello.error().message;
  EXPECT_EQ(hello->body, "Hello, world!");
  const auto keyset = net_->keyset();
  auto r = c.request(http::verb::get, "/get_keyshares", to_json(keyset).dump());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200u) << r->body;
  auto key = core::parse_aes256_key_hex(net_->encryption_key_hex(0), "key");
  auto plain = core::aes_gcm_decrypt(*key, *core::base64_decode(r->body));
  ASSERT_TRUE(plain);
  auto shares = model::parse_keyshares(json::parse(core::to_string(plain->view())));
  ASSERT_TRUE(shares);
  EXPECT_TRUE(model::check_keyshares_cover_keyset(*shares, keyset));
  // Exactly what the node's store holds (digest of the same canonical text).
  EXPECT_EQ(core::hex_encode(core::sha256(plain->view())), shares_digest(net_->devnet().path(net_->node(0).home)));
  // The reference client's absolute-form target, no Host header.
  net::MtlsClientOptions o;
  o.absolute_form = true;
  auto abs = client(*backup_key_, addr(0), net_->node_tls_key(0), o).request(http::verb::get, "/get_keyshares",
                                                                              to_json(keyset).dump());
  ASSERT_TRUE(abs);
  EXPECT_EQ(abs->status, 200u);
  const auto m = node_metrics(0);
  EXPECT_NE(m.find("mpc_last_backup_served_epoch 0"), std::string::npos) << m;
  EXPECT_NE(m.find("mpc_last_backup_served_timestamp_seconds"), std::string::npos);
  EXPECT_NE(m.find("mpc_onboarding_state{state=\"done\"} 1"), std::string::npos) << m;
  // The allocator the binary was linked with is the one it runs on.
#ifdef MPC_NODE_JEMALLOC
  EXPECT_NE(m.find("allocator=\"jemalloc 5."), std::string::npos) << m;
#else
  EXPECT_NE(m.find("allocator=\"glibc\""), std::string::npos) << m;
#endif
}

TEST_F(NodeProcess, RefusesUnregisteredAndForeignKeysWithNoEffect) {
  const auto before = *core::read_file(store_file(0));
  auto stranger = core::Ed25519SecretKey::generate();
  auto r = client(stranger, addr(0), net_->node_tls_key(0)).request(http::verb::get, "/hello");
  ASSERT_FALSE(r);
  // The node closes the connection without an answer: to the client, a
  // network failure (the only authentication it checks is the node's key).
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable) << r.error().message;
  EXPECT_FALSE(r.error().failure.response_started);
  // A key registered for ANOTHER account (node1's operator) is refused by node0.
  auto other = core::Ed25519SecretKey::generate();
  const double changes0 = metric(node_metrics(0), "mpc_chain_changes_total");
  const double changes1 = metric(node_metrics(1), "mpc_chain_changes_total");
  ASSERT_TRUE(net_->operator_call(1, "register_backup_service",
                                  {{"backup_service_info", {{"public_key", key_text(other.public_key())}}}}, true));
  // Both nodes have read a contract state with that registration in it.
  ASSERT_TRUE(net_->wait_node_metric(0, "mpc_chain_changes_total", [&](double v) { return v > changes0; }));
  ASSERT_TRUE(net_->wait_node_metric(1, "mpc_chain_changes_total", [&](double v) { return v > changes1; }));
  auto foreign = client(other, addr(0), net_->node_tls_key(0)).request(http::verb::get, "/hello");
  EXPECT_FALSE(foreign);
  // A changed state is not yet this registration (the counter also moves
  // for other changes): node1 accepts the key once it has read it.
  std::string last_error;
  EXPECT_TRUE(e2e::wait_for([&] {
    auto at_node1 = client(other, addr(1), net_->node_tls_key(1)).request(http::verb::get, "/hello");
    if (!at_node1) last_error = at_node1.error().message;
    return at_node1.has_value();
  })) << "node1 never accepted its operator's registered key: " << last_error;
  EXPECT_EQ(*core::read_file(store_file(0)), before);
  EXPECT_GE(metric(node_metrics(0), "mpc_connections_refused_total{reason=\"unauthorized_key\"}"), 2);
  expect_node_serves();
}

TEST_F(NodeProcess, ClientRefusesAServerWithAnotherKeyNamingBoth) {
  const auto expected = core::Ed25519SecretKey::generate().public_key();
  auto r = client(*backup_key_, addr(0), expected).request(http::verb::get, "/hello");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message.find(key_text(expected)), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(key_text(net_->node_tls_key(0))), std::string::npos) << r.error().message;
}

bool have(const char* tool) { return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0; }

TEST_F(NodeProcess, ForeignClientsNoCertificateAndTls12AreRefusedCurlWorks) {
  if (!have("openssl")) GTEST_SKIP() << "openssl not installed";
  const auto dir = net_->dir() / "pem";
  fs::create_directories(dir);
  auto cert = tls::make_certificate(*backup_key_);
  ASSERT_TRUE(core::write_file_atomic(dir / "c.pem", core::as_bytes(cert->cert_pem()), 0600));
  ASSERT_TRUE(core::write_file_atomic(dir / "k.pem", core::as_bytes(cert->key_pem().reveal()), 0600));
  auto sh = [](const std::string& cmd) { return testsupport::run({"/bin/sh", "-c", cmd}, 20s); };
  auto no_cert = sh("printf 'GET /hello HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | openssl s_client -quiet -tls1_3 -connect " + addr(0) + " 2>&1");
  EXPECT_EQ(no_cert.output.find("Hello, world!"), std::string::npos) << no_cert.output;
  auto tls12 = sh("printf '' | openssl s_client -tls1_2 -cert " + (dir / "c.pem").string() + " -key " + (dir / "k.pem").string() +
                  " -connect " + addr(0) + " 2>&1");
  EXPECT_NE(tls12.output.find("alert"), std::string::npos) << tls12.output;
  auto with_cert = sh("printf 'GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | openssl s_client -quiet -tls1_3 -cert " +
                      (dir / "c.pem").string() + " -key " + (dir / "k.pem").string() + " -connect " + addr(0) + " 2>/dev/null");
  EXPECT_NE(with_cert.output.find("Hello, world!"), std::string::npos) << with_cert.output;
  if (have("curl")) {
    auto curl = sh("curl -s --max-time 5 --tlsv1.3 -k --cert " + (dir / "c.pem").string() + " --key " + (dir / "k.pem").string() +
                   " https://" + addr(0) + "/hello");
    EXPECT_EQ(curl.output, "Hello, world!");
  }
  const auto m = node_metrics(0);
  EXPECT_GE(metric(m, "mpc_connections_refused_total{reason=\"no_client_cert\"}"), 1) << m;
  EXPECT_GE(metric(m, "mpc_connections_refused_total{reason=\"handshake_failed\"}"), 1) << m;
  expect_node_serves();
}

// A listener that cannot be opened once the migration endpoint's is up (the
// metrics port is taken): the node says which, exits 1 (not on a signal),
// and leaves no address behind. (What its teardown relies on, that a
// stopped MtlsServer leaves nothing on its contexts, is MtlsServerSetup's.)
TEST_F(NodeProcess, AMetricsPortInUseEndsTheStartWithItsAddressAndNoCrash) {
  auto n = net_->new_node(0, false, false);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor taken(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});  // listening
  const std::string metrics = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  ::setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", net_->encryption_key_hex(0).c_str(), 1);
  const auto r = testsupport::run({testsupport::binary("apps/mpc-node").string(), "run", "--home", n.home.string(), "--rpc-url",
                                   net_->rpc_url(), "--contract-id", net_->contract(), "--p2p-url", n.url(), "--migration-addr",
                                   "127.0.0.1:0", "--metrics-addr", metrics, "--tee-attestation", "mock"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot listen on " + metrics), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(n.home / "migration.addr")) << "a node that did not start left its address";
}

// A node of our own with short deadlines, for slow and oversized peers.
TEST_F(NodeProcess, SlowHeadersAndAHundredMegabyteBodyAreCutOff) {
  auto n = net_->new_node(0, false, false);
  ::setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", net_->encryption_key_hex(0).c_str(), 1);
  testsupport::Child p({testsupport::binary("apps/mpc-node").string(), "run", "--home", n.home.string(), "--rpc-url",
                        net_->rpc_url(), "--contract-id", net_->contract(), "--p2p-url", n.url(), "--migration-addr", "127.0.0.1:0",
                        "--metrics-addr", "127.0.0.1:0", "--poll-interval-ms", "100", "--request-timeout-ms", "700",
                        "--max-body-bytes", "1048576", "--tee-attestation", "mock"},
                       n.log);
  auto a = testsupport::wait_for_file(n.home / "migration.addr", 15s);
  ASSERT_TRUE(a);
  auto metrics_addr = testsupport::wait_for_file(n.home / "metrics.addr", 15s);
  ASSERT_TRUE(metrics_addr);
  // Its first chain poll: the backup key is registered for node0's account.
  ASSERT_TRUE(e2e::wait_for([&] { return e2e::metric_value(e2e::fetch_metrics(*metrics_addr), "mpc_backup_service_registered") == 1; }));
  const auto address = net::HostPort::parse(*a).value();
  const std::string host = address.host;
  const std::uint16_t port = address.port;

  // Slow client: TLS done, half a request line, then silence.
  {
    boost::asio::io_context ioc;
    auto ctx = tls::make_client_context(*backup_key_);
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s(ioc, **ctx);
    tls::set_client_sni(s.native_handle());
    s.next_layer().connect({boost::asio::ip::make_address(host), port});
    s.handshake(boost::asio::ssl::stream_base::client);
    boost::asio::write(s, boost::asio::buffer(std::string("GET /hel")));
    const auto t0 = std::chrono::steady_clock::now();
    char buf[64];
    boost::system::error_code ec;
    s.read_some(boost::asio::buffer(buf), ec);  // returns when the node closes
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(ec) << "the node answered a half request";
    EXPECT_LT(waited, 5s);
    EXPECT_GE(waited, 500ms);
  }
  // 100 MB body: refused at the limit, long before it is all sent.
  {
    std::string body(100u << 20, 'A');
    auto c = client(*backup_key_, *a, n.tls_key);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.request(http::verb::put, "/set_keyshares", std::move(body));
    if (r) EXPECT_EQ(r->status, 413u) << r->body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  }
  EXPECT_FALSE(fs::exists(n.home / "keyshares.enc"));
  // Still alive and serving.
  auto hello = client(*backup_key_, *a, n.tls_key).request(http::verb::get, "/hello");
  ASSERT_TRUE(hello) << hello.error().message;
  EXPECT_EQ(hello->status, 200u);
  EXPECT_TRUE(p.running());
}

TEST_F(NodeProcess, SharesArePutOnlyToAMigrationDestinationWithTheRightKey) {
  auto c = client(*backup_key_, addr(0), net_->node_tls_key(0));
  auto key = core::parse_aes256_key_hex(net_->encryption_key_hex(0), "key");
  auto blob = core::base64_encode(*core::aes_gcm_encrypt(*key, core::as_bytes(std::string("[]"))));
  const auto before = *core::read_file(store_file(0));
  auto r = c.request(http::verb::put, "/set_keyshares", blob);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409u);
  EXPECT_NE(r->body.find("not the destination"), std::string::npos) << r->body;
  EXPECT_EQ(*core::read_file(store_file(0)), before);
}

// A raw TLS client on its own io_context, every step bounded: to hold a
// request half-sent, or to see exactly when the node closes.
class RawTls {
 public:
  RawTls(const core::Ed25519SecretKey& key, const std::string& addr) : ctx_(*tls::make_client_context(key)), s_(ioc_, *ctx_) {
    tls::set_client_sni(s_.native_handle());
    boost::system::error_code ec;
    s_.next_layer().connect(net::parse_listen_address(addr).value(), ec);
    // No Nagle: a half-sent request must reach the node now, not after the
    // node's delayed ACK (up to 200 ms), or the node rightly sees an idle
    // connection when the registration changes.
    if (!ec) s_.next_layer().set_option(boost::asio::ip::tcp::no_delay(true), ec);
    if (!ec) s_.handshake(boost::asio::ssl::stream_base::client, ec);
    ok_ = !ec;
  }
  bool ok() const { return ok_; }
  bool send(const std::string& data) {
    boost::system::error_code ec;
    boost::asio::write(s_, boost::asio::buffer(data), ec);
    return !ec;
  }
  struct Read {
    std::string data;
    boost::system::error_code ec;  // why reading stopped (eof: the node's close_notify)
    bool timed_out = false;
  };
  // Reads until `needle` has arrived (empty: until the node closes), for at most `limit`.
  Read read_until(const std::string& needle, std::chrono::milliseconds limit) {
    Read out;
    char buf[4096];
    std::function<void()> next = [&] {
      s_.async_read_some(boost::asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
        out.data.append(buf, n);
        if (ec) out.ec = ec;
        else if (needle.empty() || out.data.find(needle) == std::string::npos) next();
      });
    };
    next();
    ioc_.restart();
    ioc_.run_for(limit);
    if (!ioc_.stopped()) {
      out.timed_out = true;
      boost::system::error_code ignored;
      s_.next_layer().close(ignored);
      ioc_.restart();
      ioc_.run();
    }
    return out;
  }

 private:
  boost::asio::io_context ioc_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> s_;
  bool ok_ = false;
};

// Polls `f` every 100 ms for up to `limit`.
template <class F>
bool within(std::chrono::milliseconds limit, F f) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!f()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

TEST_F(NodeProcess, ARegistrationChangeClosesOnlyTheOldKeysConnectionsAfterTheirExchange) {
  const auto old_key = core::Ed25519SecretKey::generate();
  const auto new_key = core::Ed25519SecretKey::generate();
  auto register_key = [&](const core::Ed25519SecretKey& k) {
    return net_->operator_call(1, "register_backup_service", {{"backup_service_info", {{"public_key", key_text(k.public_key())}}}},
                               true);
  };
  auto fresh_hello_ok = [&](const core::Ed25519SecretKey& k) {
    net::MtlsClientOptions o;
    o.timeout = 3s;
    return client(k, addr(1), net_->node_tls_key(1), o).request(http::verb::get, "/hello").has_value();
  };
  ASSERT_TRUE(register_key(old_key));
  ASSERT_TRUE(within(15s, [&] { return fresh_hello_ok(old_key); })) << "node1 never accepted the registered key";

  // The old key: one idle kept-alive connection, one with a request half-sent.
  RawTls idle(old_key, addr(1));
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE(idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_FALSE(idle.read_until("Hello, world!", 5s).timed_out);
  RawTls busy(old_key, addr(1));
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE(busy.send("GET /hello HTTP/1.1\r\nHost: x\r\n"));  // headers not finished

  ASSERT_TRUE(register_key(new_key));
  ASSERT_TRUE(within(15s, [&] { return fresh_hello_ok(new_key); })) << "node1 never accepted the new key";
  EXPECT_FALSE(fresh_hello_ok(old_key));
  // The idle one is closed with a TLS close_notify.
  auto idle_end = idle.read_until("", 5s);
  EXPECT_FALSE(idle_end.timed_out) << "the old key's idle connection was left open";
  EXPECT_EQ(idle_end.ec, boost::asio::error::eof) << idle_end.ec.message();
  // The one in flight is answered, told to close, then closed.
  ASSERT_TRUE(busy.send("\r\n"));
  auto busy_end = busy.read_until("", 5s);
  EXPECT_FALSE(busy_end.timed_out);
  EXPECT_NE(busy_end.data.find("Hello, world!"), std::string::npos) << busy_end.data;
  EXPECT_NE(busy_end.data.find("Connection: close"), std::string::npos) << busy_end.data;
  EXPECT_EQ(busy_end.ec, boost::asio::error::eof) << busy_end.ec.message();
  expect_node_serves();  // node0, another account, unaffected
}

TEST_F(NodeProcess, BecomingAMigrationDestinationKeepsAnOpenConnectionUsable) {
  auto n = net_->new_node(0);  // a new machine for operator 0, whose backup key is registered
  ASSERT_TRUE(within(15s, [&] {
    net::MtlsClientOptions o;
    o.timeout = 3s;
    return client(*backup_key_, n.addr, n.tls_key, o).request(http::verb::get, "/hello").has_value();
  }));
  auto c = client(*backup_key_, n.addr, n.tls_key);
  auto not_yet = c.request(http::verb::put, "/set_keyshares", "%%%");
  ASSERT_TRUE(not_yet) << not_yet.error().message;
  ASSERT_EQ(not_yet->status, 409u) << not_yet->body;
  auto start = net_->backup_cli(0, {"start-migration", "--destination-url", n.url(), "--destination-tls-key", n.tls_text(),
                                    "--destination-access-key", n.access_text()});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  // On the SAME connection, the node's answer changes once it sees itself as
  // the destination (409 -> 400 for a body that is not base64).
  unsigned status = 0;
  EXPECT_TRUE(within(15s, [&] {
    auto r = c.request(http::verb::put, "/set_keyshares", "%%%");
    status = r ? r->status : 0;
    return status == 400;
  })) << "last status " << status;
  EXPECT_EQ(c.handshakes(), 1u) << "the connection was dropped when the node became the destination";
  auto cancel = net_->backup_cli(0, {"cancel-migration"});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.output;
}

TEST_F(NodeProcess, MissingOrMalformedEncryptionKeyIsAClearStartupError) {
  const auto home = net_->devnet().path(net_->node(2).home).string();
  std::vector<std::string> argv = {testsupport::binary("apps/mpc-node").string(), "run", "--home", home, "--rpc-url", net_->rpc_url(),
                                   "--contract-id", net_->contract(), "--p2p-url", net_->node(2).p2p_url(),
                                   "--migration-addr", "127.0.0.1:0"};
  ::unsetenv("MPC_BACKUP_ENCRYPTION_KEY_HEX");
  auto missing = testsupport::run(argv, 10s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("MPC_BACKUP_ENCRYPTION_KEY_HEX is not set"), std::string::npos) << missing.output;
  const std::string secretish = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
  ::setenv("MPC_BACKUP_ENCRYPTION_KEY_HEX", secretish.c_str(), 1);
  auto bad = testsupport::run(argv, 10s);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("MPC_BACKUP_ENCRYPTION_KEY_HEX"), std::string::npos) << bad.output;
  EXPECT_EQ(bad.output.find("0123456789abcdef"), std::string::npos) << "the key must never be echoed";
  ::unsetenv("MPC_BACKUP_ENCRYPTION_KEY_HEX");
}

TEST_F(NodeProcess, ImportSharesEnforcesTheRulesAndSurvivesKillDuringImport) {
  // A stopped node's home: node0's shares and keyset as the dealer wrote them.
  const auto keyset = net_->keyset();
  auto home0 = node::NodeHome::load(net_->devnet().path(net_->node(0).home));
  auto store0 = node::KeyshareStore::open(home0->keyshare_file(), home0->local_storage_key.clone());
  auto shares = (*store0)->shares_for(keyset);
  ASSERT_TRUE(shares);
  const auto dir = net_->dir() / "import";
  fs::create_directories(dir);
  auto home = node::NodeHome::init(dir / "home", net_->node(0).account_id);
  ASSERT_TRUE(home);
  auto write_set = [&](const std::string& name, std::uint64_t epoch, bool drop_one) {
    json arr = json::array();
    for (const auto& s : *shares) {
      auto c = s.clone();
      c.key_id.epoch_id = epoch;
      arr.push_back(to_json(c));
    }
    if (drop_one) arr.erase(arr.size() - 1);
    auto ks = keyset;
    ks.epoch_id = epoch;
    EXPECT_TRUE(core::write_file_atomic(dir / (name + ".shares.json"), core::as_bytes(arr.dump()), 0600));
    EXPECT_TRUE(core::write_file_atomic(dir / (name + ".keyset.json"), core::as_bytes(to_json(ks).dump()), 0600));
  };
  auto import = [&](const std::string& name) {
    return testsupport::run({testsupport::binary("apps/mpc-node").string(), "import-shares", "--home", (dir / "home").string(),
                             "--shares-file", (dir / (name + ".shares.json")).string(), "--keyset-file",
                             (dir / (name + ".keyset.json")).string()},
                            20s);
  };
  write_set("e5", 5, false);
  write_set("e4", 4, false);
  write_set("e6-missing", 6, true);
  auto ok = import("e5");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const auto stored = *core::read_file(dir / "home" / "keyshares.enc");
  auto older = import("e4");
  EXPECT_EQ(older.exit_code, 5) << older.output;
  EXPECT_NE(older.output.find("newer epoch 5"), std::string::npos) << older.output;
  auto missing = import("e6-missing");
  EXPECT_EQ(missing.exit_code, 5) << missing.output;
  EXPECT_EQ(*core::read_file(dir / "home" / "keyshares.enc"), stored);

  // kill -9 at random moments during imports of ever newer epochs.
  for (std::uint64_t e = 7; e < 27; ++e) write_set("e" + std::to_string(e), e, false);
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    std::uint64_t e = 7 + static_cast<std::uint64_t>(round) * 3;
    testsupport::Child p({testsupport::binary("apps/mpc-node").string(), "import-shares", "--home", (dir / "home").string(),
                          "--shares-file", (dir / ("e" + std::to_string(e) + ".shares.json")).string(), "--keyset-file",
                          (dir / ("e" + std::to_string(e) + ".keyset.json")).string()},
                         dir / "import.log");
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 30000)(rng)));
    p.kill_hard();
    auto summary = testsupport::run({testsupport::binary("apps/mpc-node").string(), "shares", "--home", (dir / "home").string()});
    ASSERT_EQ(summary.exit_code, 0) << summary.output;
    EXPECT_NE(summary.output.find("2 domain(s)"), std::string::npos) << summary.output;
  }
}

}  // namespace
}  // namespace mpc
