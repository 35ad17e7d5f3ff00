// MtlsServer and MtlsClient over real sockets on 127.0.0.1 (ephemeral
// ports), with short limits so that every refusal is fast; plus interop with
// the openssl and curl command-line tools when they are installed.
#include "net/mtls_client.h"
#include "net/mtls_server.h"
#include "net/internal/tls_socket_stream.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <fstream>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
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
#include "core/unique_fd.h"
#include "support/net/flood.h"
#include "support/net/raw_tls_client.h"
#include "support/tls/test_certs.h"
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

using RawClient = mpc::testing::RawTlsClient;

struct Seen {
  std::string target;
  std::string path;
  bool has_host = false;
  std::string body;
  core::Ed25519PublicKey peer;
  bool shared = false;  // handed over as the expected body (RequestBody::same_as)
};

// A streamed body: byte i is i % 251, several chunks long; or one that cannot start.
constexpr std::size_t kStreamed = 100'003;
constexpr std::size_t kStreamedLarge = 16u << 20;
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}
class Pattern final : public StreamedBody {
 public:
  Pattern(std::size_t size, bool fails) : size_(size), fails_(fails) {}
  std::uint64_t size() const override { return size_; }
  core::Result<std::unique_ptr<BodyStream>> open() const override {
    if (fails_) return core::fail(core::ErrorCode::kInternal, "this body cannot start");
    struct Pass final : BodyStream {
      std::size_t at = 0, size = 0;
      core::Result<std::size_t> read(char* out, std::size_t max) override {
        const std::size_t n = std::min(max, size - at);
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((at + i) % 251);
        at += n;
        return n;
      }
    };
    auto pass = std::make_unique<Pass>();
    pass->size = size_;
    return std::unique_ptr<BodyStream>(std::move(pass));
  }

 private:
  std::size_t size_;
  bool fails_;
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

  // `spread`: connections are accepted and run on that many contexts of one
  // thread each, as the node's are.
  void start(MtlsServerOptions options = fast_options(), std::size_t spread = 1) {
    std::vector<asio::io_context*> contexts;
    for (std::size_t i = 0; i < spread; ++i) {
      workers_.push_back(std::make_unique<asio::io_context>(1));
      worker_work_.emplace_back(workers_.back()->get_executor());
      contexts.push_back(workers_.back().get());
    }
    auto ctx = tls::make_server_context(server_key_);
    ASSERT_TRUE(ctx) << ctx.error().message;
    server_ = std::make_shared<MtlsServer>(
        *ctx, options,
        [this](const core::Ed25519PublicKey& peer) -> std::optional<std::string> {
          ++authorize_calls_;
          if (peer == client_key_.public_key() || (extra_authorized_ && peer == *extra_authorized_)) return std::nullopt;
          return "unauthorized_key";
        },
        [this](HttpRequest&& req, const core::Ed25519PublicKey& peer, Responder respond) { handle(std::move(req), peer, std::move(respond)); },
        &metrics_, contexts);
    if (expectation_) server_->expect_bodies(expectation_);
    auto bound = server_->listen({asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound) << bound.error().message;
    port_ = bound->port();
    for (auto& w : workers_) threads_.emplace_back([ctx = w.get()] { ctx->run(); });
  }

  void TearDown() override {
    if (threads_.empty()) return;  // no server was started
    {
      std::lock_guard lock(mu_);
      held_.clear();  // unanswered requests keep their connection alive
    }
    if (server_) server_->stop();
    worker_work_.clear();
    // Everything must wind down by itself once the server is stopped.
    for (auto& w : workers_) EXPECT_TRUE(eventually([&] { return w->stopped(); }, 5s)) << "a connection context kept work";
    for (auto& w : workers_) w->stop();
    for (auto& t : threads_) t.join();
  }

  void handle(HttpRequest&& req, const core::Ed25519PublicKey& peer, Responder respond) {
    const std::string path = request_path(req);
    {
      std::lock_guard lock(mu_);
      seen_.push_back(Seen{std::string(req.target()), path, req.count(http::field::host) > 0, std::string(req.body().text()), peer,
                           req.body().same_as != nullptr});
    }
    if (path == "/hello") return respond(make_response(200, "Hello, world!"));
    if (path == "/echo") return respond(make_response(200, std::string(req.body().text())));
    if (path == "/stream") return respond(make_streamed_response(200, std::make_shared<Pattern>(kStreamed, false), "application/octet-stream"));
    if (path == "/stream-large")  // more than the sockets hold: written while the client reads
      return respond(make_streamed_response(200, std::make_shared<Pattern>(kStreamedLarge, false), "application/octet-stream"));
    if (path == "/stream-fails") return respond(make_streamed_response(200, std::make_shared<Pattern>(kStreamed, true), "application/octet-stream"));
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
  BodyExpectation expectation_;  // given to the server when set before start()
  MetricsRegistry metrics_;
  std::vector<std::unique_ptr<asio::io_context>> workers_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> worker_work_;
  std::vector<std::thread> threads_;
  std::shared_ptr<MtlsServer> server_;
  std::uint16_t port_ = 0;
  std::atomic<int> authorize_calls_{0};
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<Responder> held_;
};

// What NodeRuntime's teardown relies on: once stopped, the server leaves
// nothing on its contexts that the work already queued there does not
// finish (no accept, no connection, no timer), so running that work while
// every context is alive releases every reference to the server, and none is
// left to be destroyed with a context while a socket of another one is open.
TEST(MtlsServerSetup, AfterStopTheQueuedWorkReleasesTheServer) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < 2; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  auto ctx = tls::make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(ctx);
  auto server = std::make_shared<MtlsServer>(
      *ctx, MtlsServerOptions{}, [](const core::Ed25519PublicKey&) -> std::optional<std::string> { return std::nullopt; },
      [](HttpRequest&&, const core::Ed25519PublicKey&, Responder) {}, nullptr,
      std::vector<asio::io_context*>{contexts[0].get(), contexts[1].get()});
  auto bound = server->listen({asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound) << bound.error().message;
  auto poll_all = [&] {
    std::size_t ran = 0;
    for (auto& c : contexts) {
      c->restart();
      ran += c->poll();
    }
    return ran;
  };
  // A connection that sends nothing: accepted, waiting for its first bytes
  // under a deadline (a socket wait and a timer on its context).
  asio::io_context client_ioc;
  tcp::socket peer(client_ioc);
  peer.connect(*bound);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server->preauth_connections() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the connection was never accepted";
    poll_all();
  }
  EXPECT_GT(server.use_count(), 1) << "the pending accepts and the connection hold the server";
  server->stop();
  for (int round = 0; poll_all() > 0; ++round) ASSERT_LT(round, 1000) << "the stopped server keeps posting work";
  EXPECT_EQ(server.use_count(), 1) << "work the stopped server left on its contexts still holds it";
  EXPECT_EQ(server->open_connections(), 0u);
}

// Every descriptor this process may open, taken for the object's lifetime
// (the soft limit lowered to just above those already open); restored after.
class DescriptorsExhausted {
 public:
  DescriptorsExhausted() {
    if (::getrlimit(RLIMIT_NOFILE, &old_) != 0) return;
    const int lowest_free = ::dup(0);
    if (lowest_free < 0) return;
    taken_.push_back(lowest_free);
    rlimit low = old_;
    low.rlim_cur = static_cast<rlim_t>(lowest_free) + 8;
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return;
    lowered_ = true;
    for (int fd; (fd = ::dup(0)) >= 0;) taken_.push_back(fd);
    exhausted_ = errno == EMFILE;
  }
  ~DescriptorsExhausted() {
    for (int fd : taken_) ::close(fd);
    if (lowered_) ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  DescriptorsExhausted(const DescriptorsExhausted&) = delete;
  DescriptorsExhausted& operator=(const DescriptorsExhausted&) = delete;
  bool exhausted() const { return exhausted_; }

 private:
  rlimit old_{};
  std::vector<int> taken_;
  bool lowered_ = false, exhausted_ = false;
};

// A server listening on `context` (run by the test itself) with one
// connection, from `peer`, in its backlog (the kernel completed its
// handshake; nothing accepted it yet). Null if any of that failed.
std::shared_ptr<MtlsServer> server_with_one_waiting(asio::io_context& context, tcp::socket& peer) {
  auto ctx = tls::make_server_context(core::Ed25519SecretKey::generate());
  if (!ctx) return nullptr;
  auto server = std::make_shared<MtlsServer>(
      *ctx, MtlsServerOptions{}, [](const core::Ed25519PublicKey&) -> std::optional<std::string> { return std::nullopt; },
      [](HttpRequest&&, const core::Ed25519PublicKey&, Responder) {}, nullptr, std::vector<asio::io_context*>{&context});
  auto bound = server->listen({asio::ip::make_address("127.0.0.1"), 0});
  if (!bound) return nullptr;
  boost::system::error_code ec;
  peer.connect(*bound, ec);
  return ec ? nullptr : server;
}

// A server with one connection in its backlog whose accept fails: out of
// descriptors (EMFILE), for as long as `full` lives.
class FailedAccept : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = server_with_one_waiting(context_, peer_);
    ASSERT_TRUE(server_);
    full_.emplace();
    ASSERT_TRUE(full_->exhausted());
    context_.poll();  // the accept: it fails, and the next try waits
    ASSERT_EQ(server_->preauth_connections(), 0u);
  }

  asio::io_context context_, client_ioc_;
  tcp::socket peer_{client_ioc_};
  std::shared_ptr<MtlsServer> server_;
  std::optional<DescriptorsExhausted> full_;
};

// The listener tries again a little later, without giving up: the
// connection waiting in the backlog is accepted once descriptors are free.
TEST_F(FailedAccept, IsRetriedUntilTheConnectionIsAccepted) {
  full_.reset();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server_->preauth_connections() == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the listener gave up after a failed accept";
    context_.restart();
    context_.run_one_for(100ms);
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

// A server stopped while it waits to try again cancels that wait: its
// context then holds nothing of it at once (not 50 ms later).
TEST_F(FailedAccept, AStopCancelsTheWaitToRetry) {
  ASSERT_GT(server_.use_count(), 1) << "the retry's wait holds the server";
  server_->stop();
  context_.restart();
  context_.poll();
  EXPECT_EQ(server_.use_count(), 1) << "the stopped server's retry still holds it";
}

TEST(MtlsServerSetup, ConnectionsNeedAContextToRunOn) {
  asio::io_context ioc;
  auto ctx = tls::make_server_context(core::Ed25519SecretKey::generate());
  ASSERT_TRUE(ctx);
  auto authorize = [](const core::Ed25519PublicKey&) -> std::optional<std::string> { return std::nullopt; };
  auto handler = [](HttpRequest&&, const core::Ed25519PublicKey&, Responder) {};
  EXPECT_THROW(MtlsServer(*ctx, {}, authorize, handler, nullptr, {}), std::invalid_argument);
  EXPECT_THROW(MtlsServer(*ctx, {}, authorize, handler, nullptr, {nullptr}), std::invalid_argument);
  EXPECT_NO_THROW(MtlsServer(*ctx, {}, authorize, handler, nullptr, {&ioc}));
}

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
  // The client sees a close before any answer byte: a network failure, told
  // apart by value (not by its text) from a server with the wrong key.
  EXPECT_EQ(res.error().code, core::ErrorCode::kUnavailable) << res.error().message;
  const auto& f = res.error().failure;
  EXPECT_FALSE(f.response_started);
  EXPECT_TRUE(f.phase == MtlsPhase::kWrite || f.phase == MtlsPhase::kReadBeforeResponse) << mtls_phase_name(f.phase);
  EXPECT_TRUE(f.cause == MtlsCause::kClosed || f.cause == MtlsCause::kReset) << mtls_cause_name(f.cause);
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
  ASSERT_FALSE(raw.write("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  auto read = raw.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);
  EXPECT_GE(read.elapsed, 250ms);
  EXPECT_EQ(read.data, "");
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 1; }));
  EXPECT_EQ(handled(), 0u);
}

// The connection's deadline moves with the exchange: after an answer the
// idle limit applies (5 s here) until the next request shows up (its
// header), then the request limit (300 ms) counts from there.
TEST_F(MtlsTest, AKeepAliveRequestThatStallsIsCutOffAtTheRequestDeadlineNotTheIdleOne) {
  auto o = fast_options();
  o.request_timeout = 300ms;
  o.idle_timeout = 5s;
  start(o);
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_FALSE(raw.handshake());
  ASSERT_FALSE(raw.write("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto status = raw.read_exactly(17);
  ASSERT_TRUE(status);
  EXPECT_EQ(core::to_string(*status), "HTTP/1.1 200 OK\r\n");
  // Idle past the first request's deadline: the connection stays (idle limit).
  std::this_thread::sleep_for(600ms);
  ASSERT_FALSE(raw.write("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  auto read = raw.read_until_close(4s);
  EXPECT_FALSE(read.timed_out) << "not cut off at the request deadline";
  EXPECT_GE(read.elapsed, 250ms);
  EXPECT_LT(read.elapsed, 2500ms);
  EXPECT_NE(read.data.find("Hello, world!"), std::string::npos) << "the first answer was whole";
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 1; }));
  EXPECT_EQ(handled(), 1u);
}

TEST(ResponseBody, TheHeaderAndTheFirstChunkFillWholeRecordsThenEveryChunkFillsThem) {
  constexpr std::size_t kSize = 3 * ResponseBody::writer::kChunk + 5;
  static_assert(ResponseBody::writer::kChunk % ResponseBody::writer::kRecord == 0);
  for (const bool keep_alive : {true, false}) {
    auto res = make_streamed_response(200, std::make_shared<Pattern>(kSize, false), "application/json", 11, keep_alive);
    res.set(http::field::server, "a name of some length");
    // The header as Beast writes it.
    std::ostringstream whole;
    whole << res;
    const std::string text = whole.str();
    const std::size_t head = text.find("\r\n\r\n") + 4;
    ASSERT_EQ(ResponseBody::serialized_size(res.base()), head) << text.substr(0, head);
    ASSERT_EQ(text.size(), head + kSize);
    // The chunks: the first leaves room for the header, the others are whole.
    ResponseBody::writer w(res.base(), res.body());
    beast::error_code ec;
    w.init(ec);
    ASSERT_FALSE(ec);
    std::vector<std::size_t> sizes;
    while (auto chunk = w.get(ec)) sizes.push_back(chunk->first.size());
    ASSERT_FALSE(ec);
    ASSERT_GE(sizes.size(), 3u);
    EXPECT_EQ(head + sizes.front(), ResponseBody::writer::kChunk);
    for (std::size_t i = 1; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], ResponseBody::writer::kChunk) << i;
    EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), kSize);
  }
}

// A TlsSocketStream (server side, on its own io_context) and a RawClient,
// connected and past the handshake.
struct TlsStreamPair {
  asio::io_context ioc{1};
  std::optional<TlsSocketStream> server;
  std::optional<RawClient> client;

  // Empty on success, else what failed.
  std::string connect() {
    auto server_ctx = tls::make_server_context(core::Ed25519SecretKey::generate());
    if (!server_ctx) return server_ctx.error().message;
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    TlsSocketStream::socket_type accepted(ioc);
    std::optional<beast::error_code> handshake;
    acceptor.async_accept(accepted, [&](beast::error_code ec) {
      if (ec) return handshake.emplace(ec), void();
      server.emplace(std::move(accepted), (*server_ctx)->native_handle());
      server->async_handshake([&](beast::error_code e) { handshake = e; });
    });
    std::thread server_side([&] { ioc.run_for(5s); });  // returns once the handshake is done
    client.emplace(*tls::make_client_context(core::Ed25519SecretKey::generate()));
    auto ec = client->connect(acceptor.local_endpoint().port());
    if (!ec) ec = client->handshake();
    server_side.join();
    ioc.restart();
    if (ec) return "client: " + ec.message();
    if (!handshake) return "the server's handshake did not finish";
    if (*handshake) return "server: " + handshake->message();
    return "";
  }
};

constexpr std::size_t kTlsRecord = 16 * 1024, kTlsRecordOnTheWire = kTlsRecord + 5 + 16 + 1;  // header, tag, type

// A read takes every record already received, up to its buffer: here three
// full records (all on the socket before the read starts) in one read.
TEST(TlsSocketStream, AReadTakesTheRecordsAlreadyReceivedUpToItsBuffer) {
  TlsStreamPair pair;
  const std::string failed = pair.connect();
  ASSERT_EQ(failed, "");
  const std::string sent(3 * kTlsRecord, 'r');  // three full records
  ASSERT_FALSE(pair.client->write(sent));
  ASSERT_TRUE(eventually([&] {
    int queued = 0;
    return ::ioctl(pair.server->socket().native_handle(), FIONREAD, &queued) == 0 &&
           static_cast<std::size_t>(queued) >= 3 * kTlsRecordOnTheWire;
  })) << "the records did not all reach the server's socket";
  std::string got(4 * kTlsRecord, '\0');
  std::optional<std::size_t> read;
  pair.server->async_read_some(asio::buffer(got), [&](beast::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec) << ec.message();
    read = n;
  });
  pair.ioc.run_for(5s);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, sent.size());
  EXPECT_EQ(got.substr(0, *read), sent.substr(0, *read));
}

// A write of several records corks the socket while it puts them on it, and
// always leaves it uncorked (a corked socket would hold the answer's tail
// back for 200 ms): after the records, and after a single short one.
TEST(TlsSocketStream, AWriteLeavesTheSocketUncorked) {
  TlsStreamPair pair;
  const std::string failed = pair.connect();
  ASSERT_EQ(failed, "");
  const int fd = pair.server->socket().native_handle();
  for (const std::size_t size : {3 * kTlsRecord + 100, std::size_t{100}}) {
    const std::string sent(size, 'w');
    std::optional<std::size_t> wrote;
    asio::async_write(*pair.server, asio::buffer(sent), [&](beast::error_code ec, std::size_t n) {
      EXPECT_FALSE(ec) << ec.message();
      wrote = n;
    });
    pair.ioc.restart();
    pair.ioc.run_for(5s);
    ASSERT_EQ(wrote, size);
    int corked = -1;
    socklen_t len = sizeof corked;
    ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_CORK, &corked, &len), 0);
    EXPECT_EQ(corked, 0) << size;
    const auto got = pair.client->read_exactly(size);
    ASSERT_TRUE(got.has_value()) << size;
    EXPECT_EQ(core::to_string(*got), sent);
  }
}

// The header the sessions write is byte for byte the one Beast's serializer
// writes, whatever the version, status, reason and fields.
TEST(ResponseHead, IsWhatBeastsSerializerWrites) {
  std::vector<HttpResponse> responses;
  responses.push_back(make_response(200, "{}", "application/json"));
  responses.push_back(make_response(413, "too large\n", "text/plain", 11, false));
  responses.push_back(make_response(404, "", "text/plain", 10, true));
  responses.push_back(make_streamed_response(200, std::make_shared<Pattern>(70'000, false), "application/json"));
  responses.push_back(make_response(299, "x"));  // a code without a reason phrase of its own
  auto custom = make_response(503, "later\n");
  custom.reason("Come Back Later");
  custom.insert("X-Repeated", "one");
  custom.insert("X-Repeated", "two");
  custom.set(http::field::retry_after, "");
  responses.push_back(std::move(custom));
  for (const auto& res : responses) {
    std::ostringstream beast_text;
    beast_text << res.base();
    std::string ours = "kept ";  // appended to what is there
    append_response_head(ours, res.base());
    EXPECT_EQ(ours, "kept " + beast_text.str());
    EXPECT_EQ(ResponseBody::serialized_size(res.base()), ours.size() - 5) << ours;
  }
}

// A streamed body smaller than a chunk is written from a buffer of its own
// size, in one piece.
TEST(ResponseBody, ASmallStreamedBodyIsOnePieceOfItsOwnSize) {
  for (const std::size_t size : {0u, 1u, 5u, 364u, 70'000u}) {
    auto res = make_streamed_response(200, std::make_shared<Pattern>(size, false), "application/json");
    ResponseBody::writer w(res.base(), res.body());
    beast::error_code ec;
    w.init(ec);
    ASSERT_FALSE(ec);
    std::string written;
    std::size_t pieces = 0;
    while (auto chunk = w.get(ec)) {
      ++pieces;
      EXPECT_LE(chunk->first.size(), std::max<std::size_t>(size, 4)) << size;
      written.append(static_cast<const char*>(chunk->first.data()), chunk->first.size());
    }
    ASSERT_FALSE(ec);
    EXPECT_TRUE(written == pattern(size)) << size;
    if (size > 0 && size < ResponseBody::writer::kChunk / 2) EXPECT_EQ(pieces, 1u) << size;
  }
}

TEST_F(MtlsTest, StreamedBodiesArriveWholeAndTheConnectionGoesOn) {
  start();
  auto c = client();
  for (int i = 0; i < 2; ++i) {
    auto res = c.request(http::verb::get, "/stream");
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->status, 200u);
    ASSERT_EQ(res->body.size(), kStreamed);
    EXPECT_TRUE(res->body == pattern(kStreamed));
  }
  auto echo = c.request(http::verb::get, "/echo", "after");
  ASSERT_TRUE(echo) << echo.error().message;
  EXPECT_EQ(echo->body, "after");
  EXPECT_EQ(authorize_calls_.load(), 1);  // one connection throughout
}

// A client that resets its connection while a long answer is still being
// written: the server's writes fail (ECONNRESET, then EPIPE) and end that
// connection only. OpenSSL writes with write(2), which raises SIGPIPE on a
// reset connection: the server ignores it, or it would kill the process.
TEST_F(MtlsTest, AClientThatResetsMidAnswerEndsOnlyItsConnection) {
  start();
  struct sigaction current{};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_IGN) << "a server must not die of a peer's reset";
  for (int round = 0; round < 3; ++round) {
    asio::io_context io;
    asio::ssl::stream<tcp::socket> s(io, *reference_client_context(client_key_));
    s.next_layer().open(tcp::v4());
    s.next_layer().set_option(asio::socket_base::receive_buffer_size(4096));
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port_});
    s.handshake(asio::ssl::stream_base::client);
    asio::write(s, asio::buffer(std::string("GET /stream-large HTTP/1.1\r\nHost: x\r\n\r\n")));
    char first[64];
    ASSERT_GT(s.read_some(asio::buffer(first)), 0u);  // the answer has started
    s.next_layer().set_option(asio::socket_base::linger(true, 0));
    s.next_layer().close();  // a reset, with most of the answer unsent
  }
  auto next = client().request(http::verb::get, "/hello");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->body, "Hello, world!");
}

TEST_F(MtlsTest, AStreamedBodyThatCannotStartEndsItsConnectionOnly) {
  start();
  auto c = client();
  auto failed = c.request(http::verb::get, "/stream-fails");
  EXPECT_FALSE(failed && failed->status == 200u) << "no answer can be claimed whole";
  auto next = client().request(http::verb::get, "/hello");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->body, "Hello, world!");
}

// The node's threading: connections accepted by each of the contexts, run
// by one thread each. Concurrent clients, keep-alive and fresh, streamed and
// plain answers; graceful closes still reach every connection.
TEST_F(MtlsTest, ConnectionsSpreadOverSingleThreadContextsAllGetAnswered) {
  start(fast_options(), 2);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c)
    clients.emplace_back([&, c] {
      auto o = quick();
      o.keep_alive = c % 2 == 0;
      auto client = this->client(client_key_, server_key_.public_key(), o);
      for (int i = 0; i < 5; ++i) {
        auto res = client.request(http::verb::get, i % 2 ? "/stream" : "/echo", "c" + std::to_string(c));
        if (res && res->status == 200u && (i % 2 ? res->body == pattern(kStreamed) : res->body == "c" + std::to_string(c))) ++ok;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 30);
  EXPECT_TRUE(eventually([&] { return server_->authenticated_connections() == 0; })) << "the clients closed theirs";
  auto idle = client();
  ASSERT_TRUE(idle.request(http::verb::get, "/hello"));
  EXPECT_EQ(server_->close_connections_if([](const core::Ed25519PublicKey&) { return true; }), 1u);
  EXPECT_TRUE(eventually([&] { return server_->authenticated_connections() == 0; }));
}

// Every context accepts on the listening socket: while one thread is busy
// (here: held in a handler), the other takes every new connection. Handed
// out in turn by one acceptor, every other connection would wait for the
// busy thread.
TEST_F(MtlsTest, AThreadBusyWithOneConnectionLeavesTheNextOnesToAFreeOne) {
  start(fast_options(), 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  struct Release {  // whatever the test's outcome, before TearDown waits for the threads
    std::promise<void>& p;
    ~Release() { p.set_value(); }
  } guard{release};
  std::atomic<bool> held{false};
  asio::post(*workers_[0], [&held, released] {
    held = true;
    released.wait();
  });
  ASSERT_TRUE(eventually([&] { return held.load(); })) << "the first context never ran";
  for (int i = 0; i < 4; ++i) {
    auto res = client().request(http::verb::get, "/hello");
    ASSERT_TRUE(res) << "connection " << i << ": " << res.error().message;
    EXPECT_EQ(res->body, "Hello, world!");
  }
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

// ---- connection budgets: pre-auth eviction, per-source cap, deadlines ----

// A whole GET /hello with "Connection: close" over an already connected raw client.
std::string hello_over(RawClient& raw) {
  if (raw.handshake()) return "handshake failed";
  if (raw.write("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) return "write failed";
  return raw.read_until_close(3s).data;
}

TEST_F(MtlsTest, AFullPreauthBudgetEvictsTheOldestHandshakeNotTheNewcomer) {
  auto o = fast_options();
  o.max_preauth_connections = 3;
  o.max_preauth_per_source = 3;
  o.first_bytes_timeout = 10s;
  o.handshake_timeout = 10s;
  start(o);
  const auto ctx = reference_client_context(client_key_);
  std::vector<std::unique_ptr<RawClient>> held;
  const char* sources[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
  for (std::size_t i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(ctx));
    ASSERT_FALSE(held.back()->connect(port_, sources[i]));
    ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == i + 1; }));  // admitted in this order
  }
  RawClient newcomer(ctx);
  ASSERT_FALSE(newcomer.connect(port_, "127.0.0.5"));
  EXPECT_TRUE(eventually([&] { return refused("evicted_preauth") == 1; }));
  EXPECT_TRUE(held[0]->closed_within(3s, /*tls=*/false)) << "the oldest was not evicted";
  EXPECT_EQ(server_->preauth_connections(), 3u);
  // The newcomer and the younger ones are served.
  EXPECT_NE(hello_over(newcomer).find("Hello, world!"), std::string::npos);
  EXPECT_NE(hello_over(*held[1]).find("Hello, world!"), std::string::npos);
  EXPECT_NE(hello_over(*held[2]).find("Hello, world!"), std::string::npos);
  EXPECT_EQ(refused("evicted_preauth"), 1u);
  EXPECT_EQ(refused("too_many_connections"), 0u);
}

TEST_F(MtlsTest, ASourceAtItsCapLosesItsOwnOldestHandshakeAndNoOneElses) {
  auto o = fast_options();
  o.max_preauth_connections = 100;
  o.max_preauth_per_source = 2;
  o.first_bytes_timeout = 10s;
  o.handshake_timeout = 10s;
  start(o);
  const auto ctx = reference_client_context(client_key_);
  RawClient other(ctx);  // older than all of the attacker's
  ASSERT_FALSE(other.connect(port_, "127.0.0.9"));
  ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == 1; }));
  std::vector<std::unique_ptr<RawClient>> attacker;
  for (std::size_t i = 0; i < 2; ++i) {
    attacker.push_back(std::make_unique<RawClient>(ctx));
    ASSERT_FALSE(attacker.back()->connect(port_, "127.0.0.2"));
    ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == i + 2; }));
  }
  RawClient third(ctx);
  ASSERT_FALSE(third.connect(port_, "127.0.0.2"));
  EXPECT_TRUE(eventually([&] { return refused("evicted_per_source") == 1; }));
  EXPECT_TRUE(attacker[0]->closed_within(3s, /*tls=*/false)) << "the source's oldest was not evicted";
  EXPECT_EQ(server_->preauth_connections(), 3u);
  EXPECT_NE(hello_over(other).find("Hello, world!"), std::string::npos);
  EXPECT_NE(hello_over(third).find("Hello, world!"), std::string::npos);
  EXPECT_EQ(refused("evicted_preauth"), 0u);
}

TEST_F(MtlsTest, NoClientHelloInTimeIsCutAtTheFirstBytesDeadlineASlowHandshakeAtTheHandshakeDeadline) {
  auto o = fast_options();
  o.first_bytes_timeout = 200ms;
  o.handshake_timeout = 1500ms;
  start(o);
  RawClient silent(reference_client_context(client_key_));
  ASSERT_FALSE(silent.connect(port_));
  auto read = silent.read_until_close(5s, /*tls=*/false);
  EXPECT_FALSE(read.timed_out);
  EXPECT_GE(read.elapsed, 150ms);
  EXPECT_LT(read.elapsed, 1200ms) << "the silent peer was not cut at the first-bytes deadline";
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 1; }));

  // One byte of a TLS record in time: the rest of the handshake has until
  // the handshake deadline (counted from the accept).
  RawClient slow(reference_client_context(client_key_));
  ASSERT_FALSE(slow.connect(port_));
  ASSERT_FALSE(slow.write(std::string(1, '\x16'), /*tls=*/false));
  auto slow_read = slow.read_until_close(5s, /*tls=*/false);
  EXPECT_FALSE(slow_read.timed_out);
  EXPECT_GE(slow_read.elapsed, 1200ms) << "a started handshake was cut at the first-bytes deadline";
  EXPECT_TRUE(eventually([&] { return refused("timeout") == 2; }));
}

TEST_F(MtlsTest, AuthenticatedConnectionsHaveTheirOwnCapAndHandshakesDoNotCountAgainstIt) {
  auto o = fast_options();
  o.max_connections = 1;
  o.max_preauth_connections = 4;
  start(o);
  // Idle strangers fill the pre-auth budget, not the authenticated one.
  std::vector<std::unique_ptr<RawClient>> strangers;
  for (const char* source : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    strangers.push_back(std::make_unique<RawClient>(reference_client_context(client_key_)));
    ASSERT_FALSE(strangers.back()->connect(port_, source));
  }
  ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == 3; }));
  auto first = client();
  auto res = first.request(http::verb::get, "/hello");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(server_->authenticated_connections(), 1u);
  // A second authenticated connection is over the cap: refused.
  auto second = client();
  auto over = second.request(http::verb::get, "/hello");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, core::ErrorCode::kUnavailable);
  EXPECT_FALSE(over.error().failure.response_started);
  EXPECT_TRUE(eventually([&] { return refused("too_many_connections") == 1; }));
  // The first keeps its connection; room again once it leaves.
  ASSERT_TRUE(first.request(http::verb::get, "/hello"));
  EXPECT_EQ(first.handshakes(), 1u);
  first.close();
  ASSERT_TRUE(eventually([&] { return server_->authenticated_connections() == 0; }));
  auto again = second.request(http::verb::get, "/hello");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, 200u);
}

TEST_F(MtlsTest, ARegistrationChangeClosesOnlyTheStaleKeyAfterItsInFlightAnswer) {
  const auto successor = core::Ed25519SecretKey::generate();
  extra_authorized_ = successor.public_key();
  start();
  // Stale key, request in flight (the handler holds it).
  RawClient busy(reference_client_context(client_key_));
  ASSERT_FALSE(busy.connect(port_));
  ASSERT_FALSE(busy.handshake());
  ASSERT_FALSE(busy.write("GET /never HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu_);
    return held_.size() == 1;
  }));
  // Stale key, idle kept-alive connection.
  auto idle = client();
  ASSERT_TRUE(idle.request(http::verb::get, "/hello"));
  // The registered successor, idle kept-alive connection.
  auto kept = client(successor, server_key_.public_key());
  ASSERT_TRUE(kept.request(http::verb::get, "/hello"));
  ASSERT_EQ(server_->authenticated_connections(), 3u);

  const auto stale = client_key_.public_key();
  EXPECT_EQ(server_->close_connections_if([&](const core::Ed25519PublicKey& peer) { return peer == stale; }), 2u);
  ASSERT_TRUE(eventually([&] { return server_->authenticated_connections() == 2; }))
      << "the idle stale connection was not closed";
  // The exchange in flight completes, then the connection ends with a TLS
  // close_notify (eof, not a truncation).
  Responder respond;
  {
    std::lock_guard lock(mu_);
    respond = std::move(held_.front());
    held_.clear();
  }
  respond(make_response(200, "late answer"));
  auto read = busy.read_until_close(3s);
  EXPECT_FALSE(read.timed_out);
  EXPECT_NE(read.data.find("late answer"), std::string::npos) << read.data;
  EXPECT_NE(read.data.find("Connection: close"), std::string::npos) << read.data;
  EXPECT_EQ(read.ec, asio::error::eof) << read.ec.message();
  EXPECT_TRUE(eventually([&] { return server_->authenticated_connections() == 1; }));
  // The successor's connection is untouched: same connection, no new handshake.
  auto res = kept.request(http::verb::get, "/hello");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(kept.handshakes(), 1u);
  EXPECT_EQ(refused("handshake_failed") + refused("timeout"), 0u);  // a close is not a refusal
}

TEST_F(MtlsTest, CloseConnectionsIfNeverCutsAHandshakeInProgress) {
  start();
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));  // the server now waits for a ClientHello
  ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == 1; }));
  EXPECT_EQ(server_->close_connections_if([](const core::Ed25519PublicKey&) { return true; }), 0u);
  EXPECT_NE(hello_over(raw).find("Hello, world!"), std::string::npos);
}

TEST_F(MtlsTest, AKeptAliveClientReconnectsAfterItsConnectionWasClosed) {
  start();
  auto c = client();
  ASSERT_TRUE(c.request(http::verb::get, "/hello"));
  const int before = authorize_calls_.load();
  EXPECT_EQ(server_->close_connections_if([](const core::Ed25519PublicKey&) { return true; }), 1u);
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  auto again = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(authorize_calls_.load(), before + 1);  // a new handshake, so a new authorisation
  EXPECT_EQ(c.handshakes(), 2u);
}

TEST_F(MtlsTest, StopDuringTheHandshakeIsNotCountedAsARefusal) {
  start();
  RawClient raw(reference_client_context(client_key_));
  ASSERT_FALSE(raw.connect(port_));
  ASSERT_TRUE(eventually([&] { return server_->open_connections() == 1; }));
  server_->stop();
  EXPECT_TRUE(raw.closed_within(3s, /*tls=*/false));
  EXPECT_TRUE(eventually([&] { return server_->open_connections() == 0; }));
  EXPECT_EQ(refused("handshake_failed") + refused("timeout") + refused("no_client_cert"), 0u);
}

// A one-connection TLS server with the server's key that answers `reply`
// (raw bytes) to the first request and then drops the TCP connection
// without a close_notify.
class CuttingServer {
 public:
  CuttingServer(const core::Ed25519SecretKey& key, std::string reply)
      : ctx_(*tls::make_server_context(key)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}), reply_(std::move(reply)) {
    thread_ = std::thread([this] {
      beast::error_code ec;
      asio::ssl::stream<tcp::socket> s(ioc_, *ctx_);
      acceptor_.accept(s.next_layer(), ec);
      if (!ec) s.handshake(asio::ssl::stream_base::server, ec);
      std::string request;
      while (!ec && request.find("\r\n\r\n") == std::string::npos) {
        char buf[512];
        const auto n = s.read_some(asio::buffer(buf), ec);
        request.append(buf, n);
      }
      if (!ec && !reply_.empty()) asio::write(s, asio::buffer(reply_), ec);
      s.next_layer().close(ec);
    });
  }
  ~CuttingServer() {
    beast::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context ioc_;
  std::shared_ptr<asio::ssl::context> ctx_;
  tcp::acceptor acceptor_;
  std::string reply_;
  std::thread thread_;
};

TEST_F(MtlsTest, ClientReportsWhetherTheAnswerHadStartedWhenTheConnectionBreaks) {
  MtlsClientOptions o;
  o.timeout = 5s;
  {
    CuttingServer s(server_key_, "");
    MtlsClient c(reference_client_context(client_key_), "127.0.0.1", s.port(), server_key_.public_key(), o);
    auto res = c.request(http::verb::get, "/hello");
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(res.error().failure.phase, MtlsPhase::kReadBeforeResponse);
    EXPECT_FALSE(res.error().failure.response_started);
    EXPECT_EQ(res.error().failure.cause, MtlsCause::kClosed) << mtls_cause_name(res.error().failure.cause);
  }
  {
    CuttingServer s(server_key_, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    MtlsClient c(reference_client_context(client_key_), "127.0.0.1", s.port(), server_key_.public_key(), o);
    auto res = c.request(http::verb::get, "/hello");
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(res.error().failure.phase, MtlsPhase::kReadAfterResponseStarted);
    EXPECT_TRUE(res.error().failure.response_started);
    EXPECT_EQ(res.error().failure.cause, MtlsCause::kClosed) << mtls_cause_name(res.error().failure.cause);
  }
  {
    CuttingServer s(server_key_, "not http at all\r\n\r\n");
    MtlsClient c(reference_client_context(client_key_), "127.0.0.1", s.port(), server_key_.public_key(), o);
    auto res = c.request(http::verb::get, "/hello");
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(res.error().failure.cause, MtlsCause::kBadResponse);
    EXPECT_TRUE(res.error().failure.response_started);
  }
}

TEST_F(MtlsTest, ClientBindsToTheGivenLocalAddress) {
  auto o = fast_options();
  o.max_preauth_per_source = 1;
  o.first_bytes_timeout = 10s;
  o.handshake_timeout = 10s;
  start(o);
  RawClient from_42(reference_client_context(client_key_));
  ASSERT_FALSE(from_42.connect(port_, "127.0.0.42"));
  ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == 1; }));
  RawClient from_1(reference_client_context(client_key_));
  ASSERT_FALSE(from_1.connect(port_, "127.0.0.1"));
  ASSERT_TRUE(eventually([&] { return server_->preauth_connections() == 2; }));
  auto co = quick();
  co.local_address = asio::ip::make_address("127.0.0.42");
  auto c = client(client_key_, server_key_.public_key(), co);
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_TRUE(res) << res.error().message;
  // The server saw it come from 127.0.0.42: that address's older handshake
  // made room for it, 127.0.0.1's did not.
  EXPECT_EQ(refused("evicted_per_source"), 1u);
  EXPECT_TRUE(from_42.closed_within(3s, /*tls=*/false));
  EXPECT_NE(hello_over(from_1).find("Hello, world!"), std::string::npos);
}

// ---- a flood of idle and reopened connections (bounded; loopback only) ----

TEST_F(MtlsTest, FloodOfIdleAndReopenedConnectionsDoesNotKeepTheRegisteredClientOut) {
  const rlim_t files = mpc::testing::raise_open_files_limit();
  const std::size_t idle = std::min<std::size_t>(2000, files > 600 ? files - 500 : 0);
  ASSERT_GE(idle, 500u) << "RLIMIT_NOFILE too low for this test: " << files;
  auto o = fast_options();
  o.max_connections = 8;
  o.max_preauth_connections = 256;
  o.max_preauth_per_source = 8;
  o.first_bytes_timeout = 2s;
  start(o);
  std::vector<asio::ip::address> sources;
  for (int i = 1; i <= 16; ++i) sources.push_back(asio::ip::make_address("127.0.0." + std::to_string(i)));
  mpc::testing::ConnectionFlood flood({asio::ip::make_address("127.0.0.1"), port_}, idle, sources, 16, 2'000'000);
  ASSERT_TRUE(eventually([&] { return flood.idle_connected() >= idle; }, 20s)) << flood.idle_connected() << " of " << idle;
  ASSERT_TRUE(eventually([&] { return flood.reopened() >= 2000; }, 20s)) << "the reopeners did not get going";

  auto co = quick();
  co.timeout = 5s;
  co.keep_alive = false;
  co.local_address = asio::ip::make_address("127.0.0.100");
  std::vector<double> ms;
  std::size_t ok = 0;
  std::size_t max_preauth = 0;
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto c = client(client_key_, server_key_.public_key(), co);
    auto res = c.request(http::verb::get, "/hello");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (res && res->status == 200) ++ok;
    else ADD_FAILURE() << "try " << i << ": " << (res ? "HTTP " + std::to_string(res->status) : res.error().message);
    max_preauth = std::max(max_preauth, server_->preauth_connections());
  }
  const auto reopened = flood.reopened();
  flood.stop();
  std::sort(ms.begin(), ms.end());
  std::printf("flood: %zu idle + %zu reopened connections; registered client %zu/20 ok, p50 %.1f ms, max %.1f ms; "
              "evicted %llu per source, %llu budget-wide\n",
              idle, reopened, ok, ms[ms.size() / 2], ms.back(), static_cast<unsigned long long>(refused("evicted_per_source")),
              static_cast<unsigned long long>(refused("evicted_preauth")));
  EXPECT_GE(ok, 19u);
  EXPECT_LE(max_preauth, 256u);
  EXPECT_GT(refused("evicted_per_source"), 0u);
}

TEST_F(MtlsTest, ClientRefusesAServerWithAnotherKeyNamingBoth) {
  start();
  auto expected = core::Ed25519SecretKey::generate().public_key();
  auto c = client(client_key_, expected);
  auto res = c.request(http::verb::get, "/hello");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_EQ(res.error().failure, (MtlsFailure{MtlsPhase::kPeerKey, MtlsCause::kKeyMismatch, false, false}));
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
  EXPECT_EQ(res.error().failure.phase, MtlsPhase::kReadBeforeResponse);
  EXPECT_EQ(res.error().failure.cause, MtlsCause::kTimeout);
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
  EXPECT_EQ(down.error().failure, (MtlsFailure{MtlsPhase::kConnect, MtlsCause::kRefused, false, false}));
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
    core::UniqueFd fd(::open((dir_ / "key.pem").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd || ::write(fd.get(), pem.reveal().data(), pem.reveal().size()) != static_cast<ssize_t>(pem.reveal().size()))
      throw std::runtime_error("cannot write key.pem");
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

// A body equal to the one the handler expects is read against it, record by
// record, and handed over shared; one that departs from it (here at its last
// byte) arrives as its own bytes; both echo back exactly.
TEST_F(MtlsTest, TheExpectedBodyIsHandedOverSharedAndAnyOtherAsItsOwnBytes) {
  auto options = fast_options();
  options.body_limit = 1 << 20;
  auto expected = std::make_shared<const std::string>(pattern(300'001));
  expectation_ = [expected](const RequestHeader& header) { return request_path(std::string_view(header.target())) == "/echo" ? expected : nullptr; };
  start(options);
  std::string departs = *expected;
  departs.back() ^= 1;
  auto c = client();
  for (const std::string* body : std::initializer_list<const std::string*>{expected.get(), &departs, expected.get()}) {
    auto res = c.request(http::verb::put, "/echo", *body);
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_EQ(res->status, 200u);
    EXPECT_TRUE(res->body == *body) << "the echoed body differs (" << res->body.size() << " bytes)";
    const Seen seen = last_seen();
    EXPECT_EQ(seen.shared, body == expected.get());
    EXPECT_TRUE(seen.body == *body);
  }
  auto other = c.request(http::verb::put, "/elsewhere", *expected);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_FALSE(last_seen().shared) << "only the targets the expectation names";
}

TEST_F(MtlsTest, BodiesOfManyRecordsAndChunkedBodiesArriveByteForByte) {
  auto options = fast_options();
  options.body_limit = 1 << 20;
  start(options);
  // Content-Length: the body is reserved once and appended record by record.
  std::string body(600'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  auto c = client();
  for (int i = 0; i < 2; ++i) {  // twice on one connection: the second body starts empty
    auto res = c.request(http::verb::put, "/echo", body);
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_EQ(res->status, 200u);
    EXPECT_TRUE(res->body == body) << "the echoed body differs (" << res->body.size() << " bytes)";
  }
  if (!have("curl")) GTEST_SKIP() << "curl is not installed (chunked bodies)";
  // Transfer-Encoding: chunked (no length announced), within and over the limit.
  CertDir files(client_key_);
  const auto dir = files.path();
  const std::string url = "https://127.0.0.1:" + std::to_string(port_) + "/echo";
  auto send_chunked = [&](std::size_t size) {
    std::string text;
    for (std::size_t i = 0; i < size; ++i) text.push_back(static_cast<char>('a' + i % 26));
    const auto file = dir / "chunked-body";
    std::ofstream(file, std::ios::binary) << text;
    return std::pair{text, sh("curl -sS --max-time 5 --tlsv1.3 -k --cert " + files.cert() + " --key " + files.key() +
                              " -H 'Transfer-Encoding: chunked' --data-binary @" + file.string() + " -w '\n%{http_code}' " + url + " 2>&1")};
  };
  auto [within, ok] = send_chunked(100'000);
  EXPECT_EQ(ok.status, 0) << ok.output.substr(0, 200);
  EXPECT_TRUE(ok.output == within + "\n200") << ok.output.substr(0, 200);
  const std::size_t seen = handled();
  auto [over, refused_out] = send_chunked((1 << 20) + 1);
  EXPECT_NE(refused_out.output.find("\n413"), std::string::npos) << refused_out.output.substr(0, 200);
  EXPECT_EQ(handled(), seen);
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
      if (l.rfind("ACCEPT ", 0) == 0) port = HostPort::parse(l.substr(7, l.find_last_not_of("\r\n") - 6), PortZero::kAllowed).value().port;
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
