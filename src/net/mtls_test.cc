// MtlsServer and MtlsClient over real sockets on 127.0.0.1 (ephemeral
// ports), with short limits so that every refusal is fast; plus interop with
// the openssl and curl command-line tools when they are installed.
#include "net/mtls_client.h"
#include "net/mtls_server.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "core/near_key.h"
#include "tls/test_certs.h"
#include "tls/tls.h"

namespace mpc::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Polls `condition` for up to `limit`.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = 3s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A client that speaks raw TLS (or raw TCP) on its own io_context, every
// step bounded: for peers that do not follow the protocol.
class RawClient {
 public:
  explicit RawClient(std::shared_ptr<asio::ssl::context> ctx) : ctx_(std::move(ctx)), stream_(ioc_, *ctx_) {
    tls::set_client_sni(stream_.native_handle());
  }

  beast::error_code connect(std::uint16_t port) {
    beast::error_code ec;
    stream_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    return ec;
  }
  beast::error_code handshake() {
    beast::error_code ec;
    stream_.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    bounded(3s);
    return ec;
  }
  beast::error_code write(const std::string& data, bool tls = true) {
    beast::error_code ec;
    auto done = [&](beast::error_code e, std::size_t) { ec = e; };
    if (tls) asio::async_write(stream_, asio::buffer(data), done);
    else asio::async_write(stream_.next_layer(), asio::buffer(data), done);
    bounded(3s);
    return ec;
  }

  struct Read {
    std::string data;
    beast::error_code ec;  // why reading stopped
    bool timed_out = false;
    std::chrono::milliseconds elapsed{};
  };
  // Reads until the server closes the connection (or `limit` passes).
  Read read_until_close(std::chrono::milliseconds limit, bool tls = true) {
    Read out;
    std::string chunk;
    const auto start = std::chrono::steady_clock::now();
    std::function<void()> next = [&] {
      chunk.resize(4096);
      auto done = [&](beast::error_code e, std::size_t n) {
        out.data.append(chunk.data(), n);
        if (e) out.ec = e;
        else next();
      };
      if (tls) stream_.async_read_some(asio::buffer(chunk), done);
      else stream_.next_layer().async_read_some(asio::buffer(chunk), done);
    };
    next();
    out.timed_out = !bounded(limit);
    out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return out;
  }

  void close() {
    beast::error_code ec;
    stream_.next_layer().close(ec);
  }

 private:
  // Runs the pending operation for at most `limit`; on expiry closes the
  // socket (which completes it) and returns false.
  bool bounded(std::chrono::milliseconds limit) {
    ioc_.restart();
    ioc_.run_for(limit);
    if (ioc_.stopped()) return true;
    close();
    ioc_.restart();
    ioc_.run();
    return false;
  }

  asio::io_context ioc_;
  std::shared_ptr<asio::ssl::context> ctx_;
  asio::ssl::stream<tcp::socket> stream_;
};

struct Seen {
  std::string target;
  std::string path;
  bool has_host = false;
  std::string body;
  core::Ed25519PublicKey peer;
};

class MtlsTest : public ::testing::Test {
 protected:
  static MtlsServerOptions fast_options() {
    MtlsServerOptions o;
    o.handshake_timeout = 2s;
    o.request_timeout = 2s;
    o.idle_timeout = 5s;
    o.write_timeout = 2s;
    o.body_limit = 4096;
    o.header_limit = 2048;
    o.max_connections = 8;
    return o;
  }

  void start(MtlsServerOptions options = fast_options()) {
    auto ctx = tls::make_server_context(server_key_);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ = std::make_shared<MtlsServer>(
        ioc_, *ctx, options,
        [this](const core::Ed25519PublicKey& peer) -> std::optional<std::string> {
          ++authorize_calls_;
          if (peer == client_key_.public_key() || (extra_authorized_ && peer == *extra_authorized_)) return std::nullopt;
          return "unauthorized_key";
        },
        [this](HttpRequest&& req, const core::Ed25519PublicKey& peer, Responder respond) { handle(std::move(req), peer, std::move(respond)); },
        &metrics_);
    auto bound = server_->listen({asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound) << bound.error().message;
    port_ = bound->port();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (threads_.empty()) return;  // no server was started
    {
      std::lock_guard lock(mu_);
      held_.clear();  // unanswered requests keep their connection alive
    }
    if (server_) server_->stop();
    work_.reset();
    // Everything must wind down by itself once the server is stopped.
    EXPECT_TRUE(eventually([this] { return ioc_.stopped(); }, 5s)) << "the server left work behind after stop()";
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  void handle(HttpRequest&& req, const core::Ed25519PublicKey& peer, Responder respond) {
    const std::string path = request_path(req);
    {
      std::lock_guard lock(mu_);
      seen_.push_back(Seen{std::string(req.target()), path, req.count(http::field::host) > 0, req.body(), peer});
    }
    if (path == "/hello") return respond(make_response(200, "Hello, world!"));
    if (path == "/echo") return respond(make_response(200, req.body()));
    if (path == "/never") {  // keeps the request unanswered
      std::lock_guard lock(mu_);
      held_.push_back(std::move(respond));
      return;
    }
    respond(make_response(404, "not found"));
  }

  std::size_t handled() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }
  Seen last_seen() {
    std::lock_guard lock(mu_);
    return seen_.back();
  }

  std::uint64_t refused(const std::string& reason) {
    return metrics_.counter("mpc_connections_refused_total", "", {{"reason", reason}}).value();
  }

  static MtlsClientOptions quick() {
    MtlsClientOptions o;
    o.timeout = 3s;
    return o;
  }
  MtlsClient client(const core::Ed25519SecretKey& own, const core::Ed25519PublicKey& expected, MtlsClientOptions o = quick()) {
    return MtlsClient(*tls::make_client_context(own), "127.0.0.1", port_, expected, o);
  }
  MtlsClient client() { return client(client_key_, server_key_.public_key()); }

  std::shared_ptr<asio::ssl::context> reference_client_context(const core::Ed25519SecretKey& key) {
    return *tls::make_client_context(key);
  }

  core::Ed25519SecretKey server_key_ = core::Ed25519SecretKey::generate();
  core::Ed25519SecretKey client_key_ = core::Ed25519SecretKey::generate();
  std::optional<core::Ed25519PublicKey> extra_authorized_;
  MetricsRegistry metrics_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::shared_ptr<MtlsServer> server_;
  std::uint16_t port_ = 0;
  std::atomic<int> authorize_calls_{0};
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<Responder> held_;
};

TEST(RequestPath, OriginAndAbsoluteForms) {
  EXPECT_EQ(request_path("/hello"), "/hello");
  EXPECT_EQ(request_path("/get_keyshares?x=1"), "/get_keyshares");
  EXPECT_EQ(request_path("http://example/get_keyshares"), "/get_keyshares");
  EXPECT_EQ(request_path("https://10.0.0.1:3000/set_keyshares#frag"), "/set_keyshares");
  EXPECT_EQ(request_path("http://example"), "/");
  EXPECT_EQ(request_path(""), "/");
  HttpRequest req{http::verb::get, "http://example/get_keyshares", 11};
  EXPECT_EQ(request_path(req), "/get_keyshares");
}

TEST_F(MtlsTest, RoundTripGivesTheHandlerThePeerKeyAndKeepsTheConnection) {
  start();
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto res = c.request(http::verb::get, "/echo", "body " + std::to_string(i));
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(res->body, "body " + std::to_string(i));
  }
  EXPECT_EQ(authorize_calls_.load(), 1);  // one handshake for three requests
  EXPECT_EQ(last_seen().peer, client_key_.public_key());
  EXPECT_TRUE(last_seen().has_host);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(MtlsTest, AbsoluteFormTargetWithoutHostIsRoutedOnItsPath) {
  start();
  auto o = quick();
  o.absolute_form = true;  // as the reference client sends: GET http://…/get_keyshares, no Host
  auto c = client(client_key_, server_key_.public_key(), o);
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body, "Hello, world!");
  auto seen = last_seen();
  EXPECT_EQ(seen.target, "http://127.0.0.1:" + std::to_string(port_) + "/hello");
  EXPECT_EQ(seen.path, "/hello");
  EXPECT_FALSE(seen.has_host);
}

TEST_F(MtlsTest, UnauthorizedKeyIsRefusedBeforeAnyRequest) {
  start();
  auto stranger = core::Ed25519SecretKey::generate();
  auto c = client(stranger, server_key_.public_key());
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kPermissionDenied) << res.error().message;
  EXPECT_TRUE(eventually([&] { return refused("unauthorized_key") == 1; }));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(MtlsTest, ClientWithoutCertificateIsRefused) {
  start();
  RawClient raw(tls::testing::foreign_context(false, nullptr));
  ASSERT_FALSE(raw.connect(port_));
  raw.handshake();  // TLS 1.3: the client may finish before the server judges it
  raw.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto read = raw.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);
  EXPECT_EQ(read.data, "");
  EXPECT_TRUE(eventually([&] { return refused("no_client_cert") == 1; }));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(MtlsTest, Tls12ClientIsRefused) {
  start();
  auto cert = tls::make_certificate(client_key_);
  ASSERT_TRUE(cert);
  RawClient raw(tls::testing::foreign_context(false, &*cert, TLS1_2_VERSION, TLS1_2_VERSION));
  ASSERT_FALSE(raw.connect(port_));
  EXPECT_TRUE(raw.handshake());
  EXPECT_TRUE(eventually([&] { return refused("handshake_failed") == 1; }));
  EXPECT_EQ(authorize_calls_.load(), 0);
}

TEST_F(MtlsTest, NonEd25519ClientCertificateIsRefused) {
  start();
  auto p256 = tls::testing::p256_certificate();
  RawClient raw(tls::testing::foreign_context(false, &p256));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_FALSE(raw.handshake());
  raw.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto read = raw.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);
  EXPECT_EQ(read.data, "");
  EXPECT_TRUE(eventually([&] { return refused("bad_client_cert") == 1; }));
  EXPECT_EQ(authorize_calls_.load(), 0);
}

TEST_F(MtlsTest, SilentPeerIsCutOffAtTheHandshakeDeadline) {
  auto o = fast_options();
  o.handshake_timeout = 300ms;
  start(o);
  RawClient raw(tls::testing::foreign_context(false, nullptr));
  ASSERT_FALSE(raw.connect(port_));  // TCP only; never says hello
  auto read = raw.read_until_close(3s, /*tls=*/false);
  EXPECT_FALSE(read.timed_out);
  EXPECT_GE(read.elapsed, 250ms);
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 1; }));
}

TEST_F(MtlsTest, HeadersThatNeverEndAreCutOffAtTheRequestDeadline) {
  auto o = fast_options();
  o.request_timeout = 300ms;
  start(o);
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_FALSE(raw.handshake());
  ASSERT_FALSE(raw.write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  auto read = raw.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);
  EXPECT_GE(read.elapsed, 250ms);
  EXPECT_EQ(read.data, "");
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 1; }));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(MtlsTest, BodyOverTheLimitGets413AndNeverReachesTheHandler) {
  start();  // body_limit 4096
  {
    auto c = client();
    auto at_limit = c.request(http::verb::put, "/echo", std::string(4096, 'a'));
    ASSERT_TRUE(at_limit) << at_limit.error().message;
    EXPECT_EQ(at_limit->status, 200u);
  }
  ASSERT_EQ(handled(), 1u);
  auto c = client();
  auto over = c.request(http::verb::put, "/echo", std::string(4097, 'a'));
  ASSERT_TRUE(over) << over.error().message;
  EXPECT_EQ(over->status, 413u);
  EXPECT_EQ(handled(), 1u);
}

TEST_F(MtlsTest, HeadersOverTheLimitGet431) {
  start();  // header_limit 2048
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_FALSE(raw.handshake());
  raw.write("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'b') + "\r\n\r\n");
  auto read = raw.read_until_close(3s);
  EXPECT_EQ(read.data.rfind("HTTP/1.1 431", 0), 0u) << read.data;
  EXPECT_EQ(handled(), 0u);
}

TEST_F(MtlsTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  auto o = fast_options();
  o.max_connections = 2;
  start(o);
  std::vector<std::unique_ptr<RawClient>> holders;
  for (int i = 0; i < 2; ++i) {
    holders.push_back(std::make_unique<RawClient>(reference_client_context(client_key_)));
    ASSERT_FALSE(holders.back()->connect(port_));
  }
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 2; }));
  RawClient third(reference_client_context(client_key_));
  ASSERT_FALSE(third.connect(port_));
  auto read = third.read_until_close(2s, /*tls=*/false);
  EXPECT_FALSE(read.timed_out);
  EXPECT_LT(read.elapsed, 1000ms);
  EXPECT_TRUE(eventually([&] { return refused("too_many_connections") == 1; }));
  // Room again once the holders leave.
  holders.clear();
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  auto c = client();
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200u);
}

TEST_F(MtlsTest, DropAllConnectionsClosesKeptAliveConnections) {
  start();
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_FALSE(raw.handshake());
  // Content-Length framing, so the 200 is whole and the connection stays open.
  ASSERT_FALSE(raw.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return handled() == 1; }));
  ASSERT_EQ(server_->open_connections(), 1u);
  server_->drop_all_connections();
  auto read = raw.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);  // closed by the server, not by the idle limit (5 s)
  EXPECT_NE(read.data.find("Hello, world!"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));

  // A kept-alive MtlsClient notices and reconnects (a new handshake, so a new
  // authorization) for its next request.
  auto c = client();
  ASSERT_TRUE(c.request(http::verb::get, "/hello"));
  const int before = authorize_calls_.load();
  server_->drop_all_connections();
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  auto again = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(authorize_calls_.load(), before + 1);
  // A drop is not a refusal.
  EXPECT_EQ(refused("handshake_failed") + refused("timeout"), 0u);
}

TEST_F(MtlsTest, DropDuringTheHandshakeIsNotCountedAsARefusal) {
  start();
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));  // the server now waits for a ClientHello
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 1; }));
  server_->drop_all_connections();
  auto read = raw.read_until_close(3s, /*tls=*/false);
  EXPECT_FALSE(read.timed_out);
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  EXPECT_EQ(refused("handshake_failed") + refused("timeout") + refused("no_client_cert"), 0u);
}

TEST_F(MtlsTest, ClientRefusesAServerWithAnotherKeyNamingBoth) {
  start();
  auto expected = core::Ed25519SecretKey::generate().public_key();
  auto c = client(client_key_, expected);
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kPermissionDenied);
  const std::string& m = res.error().message;
  EXPECT_NE(m.find(core::ed25519_public_key_to_string(expected)), std::string::npos) << m;
  EXPECT_NE(m.find(core::ed25519_public_key_to_string(server_key_.public_key())), std::string::npos) << m;
  EXPECT_EQ(handled(), 0u);  // nothing was sent to the wrong server
}

TEST_F(MtlsTest, ClientDeadlineAndUnreachableServerAreDistinguishable) {
  start();
  auto o = quick();
  o.timeout = 300ms;
  auto c = client(client_key_, server_key_.public_key(), o);
  const auto t0 = std::chrono::steady_clock::now();
  auto res = c.request(http::verb::get, "/never");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kTimeout) << res.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);

  // A port where nobody listens.
  std::uint16_t closed_port;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  MtlsClient nowhere(reference_client_context(client_key_), "127.0.0.1", closed_port, server_key_.public_key(), o);
  auto down = nowhere.request(http::verb::get, "/hello");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, core::ErrorCode::kUnavailable) << down.error().message;
}

// ---- interop with the openssl and curl command-line tools ----

bool have(const std::string& tool) { return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0; }

struct Shell {
  int status = -1;
  std::string output;
};
Shell sh(const std::string& command) {
  Shell out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.output.append(buf, n);
  out.status = pclose(p);
  return out;
}

// A fresh directory holding `key`'s reference certificate (cert.pem) and its
// private key (key.pem, mode 0600); removed at the end of the test.
class CertDir {
 public:
  explicit CertDir(const core::Ed25519SecretKey& key) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mtls_test_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    auto cert = tls::make_certificate(key);
    if (!cert) throw std::runtime_error(cert.error().message);
    std::ofstream(dir_ / "cert.pem") << cert->cert_pem();
    auto pem = cert->key_pem();
    int fd = ::open((dir_ / "key.pem").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ::write(fd, pem.reveal().data(), pem.reveal().size()) != static_cast<ssize_t>(pem.reveal().size()))
      throw std::runtime_error("cannot write key.pem");
    ::close(fd);
  }
  ~CertDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path path() const { return dir_; }
  std::string cert() const { return (dir_ / "cert.pem").string(); }
  std::string key() const { return (dir_ / "key.pem").string(); }

 private:
  std::filesystem::path dir_;
};

TEST_F(MtlsTest, OpensslSClientIsServedAndIdentifiedByItsKey) {
  if (!have("openssl")) GTEST_SKIP() << "openssl is not installed";
  start();
  CertDir files(client_key_);
  struct stat st {};
  ASSERT_EQ(::stat(files.key().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string addr = "127.0.0.1:" + std::to_string(port_);
  // -quiet implies -ign_eof: s_client waits for the server to close.
  auto out = sh("printf 'GET http://example/hello HTTP/1.1\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet "
                "-tls1_3 -servername dummy -cert " + files.cert() + " -key " + files.key() + " -connect " + addr + " 2>&1");
  EXPECT_NE(out.output.find("HTTP/1.1 200 OK"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("Hello, world!"), std::string::npos) << out.output;
  ASSERT_EQ(handled(), 1u);
  EXPECT_EQ(last_seen().peer, client_key_.public_key());
  EXPECT_EQ(last_seen().path, "/hello");

  // Without a certificate: no answer.
  auto no_cert = sh("printf 'GET /hello HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -tls1_3 -connect " +
                    addr + " 2>&1");
  EXPECT_EQ(no_cert.output.find("Hello, world!"), std::string::npos) << no_cert.output;
  EXPECT_TRUE(eventually([&] { return refused("no_client_cert") == 1; }));
}

TEST_F(MtlsTest, CurlIsServedWithAnEd25519ClientCertificate) {
  if (!have("curl")) GTEST_SKIP() << "curl is not installed";
  start();
  CertDir files(client_key_);
  const std::string url = "https://127.0.0.1:" + std::to_string(port_) + "/hello";
  auto out = sh("curl -sS --max-time 5 --tlsv1.3 -k --cert " + files.cert() + " --key " + files.key() + " " + url + " 2>&1");
  EXPECT_EQ(out.status, 0) << out.output;
  EXPECT_EQ(out.output, "Hello, world!");
  ASSERT_EQ(handled(), 1u);
  EXPECT_EQ(last_seen().peer, client_key_.public_key());

  // A valid certificate for a key the server does not authorize.
  CertDir stranger(core::Ed25519SecretKey::generate());
  auto refused_out = sh("curl -sS --max-time 5 --tlsv1.3 -k --cert " + stranger.cert() + " --key " + stranger.key() + " " + url + " 2>&1");
  EXPECT_NE(refused_out.status, 0) << refused_out.output;
  EXPECT_EQ(handled(), 1u);
  EXPECT_TRUE(eventually([&] { return refused("unauthorized_key") == 1; }));
}

TEST_F(MtlsTest, ClientTalksToOpensslSServerAndChecksItsKey) {
  if (!have("openssl")) GTEST_SKIP() << "openssl is not installed";
  // openssl s_server presents server_key_'s reference certificate and, in
  // -HTTP mode, serves the file "hello" (a whole HTTP response) from its cwd.
  CertDir files(server_key_);
  std::ofstream(files.path() / "hello") << "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";
  auto serve_once = [&](const std::function<void(std::uint16_t)>& use) {
    const std::string command = "cd " + files.path().string() +
                                " && exec timeout 10 openssl s_server -accept 127.0.0.1:0 -tls1_3 -Verify 1 -HTTP -naccept 1 "
                                "-cert cert.pem -key key.pem 2>&1";
    FILE* p = popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::uint16_t port = 0;
    char line[512];
    while (port == 0 && fgets(line, sizeof line, p) != nullptr) {
      std::string l(line);
      if (l.rfind("ACCEPT ", 0) == 0) port = static_cast<std::uint16_t>(std::stoi(l.substr(l.rfind(':') + 1)));
    }
    if (port != 0) use(port);
    pclose(p);  // s_server exits after its one connection (or the timeout)
    ASSERT_NE(port, 0) << "openssl s_server did not start";
  };

  serve_once([&](std::uint16_t port) {
    MtlsClientOptions o;
    o.timeout = 5s;  // origin form: s_server -HTTP only understands "GET /file"
    MtlsClient c(reference_client_context(client_key_), "127.0.0.1", port, server_key_.public_key(), o);
    auto res = c.request(http::verb::get, "/hello");
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200u);
    EXPECT_EQ(res->body, "Hello, world!");
  });
  serve_once([&](std::uint16_t port) {
    auto other = core::Ed25519SecretKey::generate().public_key();
    MtlsClientOptions o;
    o.timeout = 5s;
    MtlsClient c(reference_client_context(client_key_), "127.0.0.1", port, other, o);
    auto res = c.request(http::verb::get, "/hello");
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, core::ErrorCode::kPermissionDenied);
    EXPECT_NE(res.error().message.find(core::ed25519_public_key_to_string(server_key_.public_key())), std::string::npos);
  });
}

}  // namespace
}  // namespace mpc::net
