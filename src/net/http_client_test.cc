// The HTTP client against tiny Beast servers on 127.0.0.1 (ephemeral ports).
#include "net/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mpc::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A one-thread blocking server: serves connections one after another, each
// with keep-alive until the client closes. `raw` handlers write bytes
// directly instead of an HTTP response.
class TestServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  using RawHandler = std::function<void(tcp::socket&, const Request&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) { start(); }
  explicit TestServer(RawHandler raw) : raw_(std::move(raw)) { start(); }
  ~TestServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect(acceptor_.local_endpoint(), ec);  // unblocks accept()
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& rest = "/") const { return "http://127.0.0.1:" + std::to_string(port()) + rest; }
  int connections() const { return connections_.load(); }

 private:
  void start() {
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { loop(); });
  }
  void loop() {
    while (!stop_) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      ++connections_;
      beast::flat_buffer buffer;
      for (;;) {
        Request req;
        http::read(socket, buffer, req, ec);
        if (ec) break;
        if (raw_) {
          raw_(socket, req);
          break;
        }
        Response res = handler_(req);
        res.version(11);
        res.prepare_payload();
        http::write(socket, res, ec);
        if (ec || !res.keep_alive()) break;
      }
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  Handler handler_;
  RawHandler raw_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

Response text(unsigned status, std::string body, std::string type = "text/plain") {
  Response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  return res;
}

HttpClient client_for(const std::string& url, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                      std::size_t body_limit = 1 << 20) {
  auto u = Url::parse(url);
  EXPECT_TRUE(u) << u.error().message;
  return HttpClient(*u, HttpClientOptions{timeout, body_limit});
}

// A port with nothing listening on it.
unsigned short closed_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

TEST(Url, ParsesSchemeHostPortAndTarget) {
  auto u = Url::parse("https://user:pw@rpc.example.org/v1/key?x=1#frag");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "rpc.example.org");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/v1/key?x=1");
  EXPECT_EQ(u->host_port(), "rpc.example.org:443");

  u = Url::parse("HTTP://127.0.0.1:3030");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->port, "3030");
  EXPECT_EQ(u->target, "/");

  u = Url::parse("http://[::1]:8080?q");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->target, "/?q");
  EXPECT_EQ(u->host_port(), "[::1]:8080");
}

TEST(Url, RejectsGarbageWithoutEchoingIt) {
  for (const char* bad : {"", "127.0.0.1:3030", "ftp://host/SECRET", "http://", "http:///SECRET", "http://host:/SECRET",
                          "http://host:0", "http://host:65536", "http://host:12ab", "http://ho st/SECRET",
                          "http://host/SE CRET", "http://[::1/SECRET", "http://[zz]:1/SECRET", "http://h!st/SECRET",
                          "http://host\n/SECRET", "http://:80/SECRET"}) {
    auto r = Url::parse(bad);
    ASSERT_FALSE(r) << "accepted: " << bad;
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
  }
}

TEST(HttpClient, PostsABodyWithHeadersAndReadsTheAnswer) {
  TestServer server([](const Request& req) {
    std::string echo = std::string(req.method_string()) + " " + std::string(req.target()) + " " +
                       std::string(req[http::field::content_type]) + " " + std::string(req["X-Api-Key"]) + " " +
                       req.body();
    return text(201, echo, "application/json");
  });
  auto client = client_for(server.url("/rpc?k=v"));
  auto r = client.post(R"({"a":1})", "application/json", {{"X-Api-Key", "abc"}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, R"(POST /rpc?k=v application/json abc {"a":1})");

  auto g = client.get();
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->body, "GET /rpc?k=v   ");
  EXPECT_EQ(server.connections(), 1) << "the kept-alive connection should be reused";
}

TEST(HttpClient, ErrorStatusesAreReturnedToTheCaller) {
  TestServer server([](const Request&) { return text(503, "busy"); });
  auto client = client_for(server.url());
  auto r = client.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503u);
  EXPECT_EQ(r->body, "busy");
}

TEST(HttpClient, ReconnectsWhenTheServerClosesAfterEachAnswer) {
  TestServer server([](const Request&) {
    auto res = text(200, "ok");
    res.keep_alive(false);
    return res;
  });
  auto client = client_for(server.url());
  for (int i = 0; i < 3; ++i) {
    auto r = client.get();
    ASSERT_TRUE(r) << i << ": " << r.error().message;
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClient, ConnectionRefusedIsUnavailableAndNamesHostPortOnly) {
  const auto port = std::to_string(closed_port());
  auto client = client_for("http://user:SECRET@127.0.0.1:" + port + "/v1/SECRET?key=SECRET");
  auto r = client.post("{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable) << r.error().message;
  EXPECT_NE(r.error().message.find("127.0.0.1:" + port), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
}

TEST(HttpClient, AServerThatNeverAcceptsTimesOutOnTheTotalDeadline) {
  asio::io_context ioc;
  tcp::acceptor silent(ioc, {asio::ip::make_address("127.0.0.1"), 0});  // listens, never accepts
  auto client = client_for("http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/SECRET",
                           std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  auto r = client.post("{}");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTimeout) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(3000));
}

TEST(HttpClient, AServerThatReadsButNeverAnswersTimesOut) {
  // The server holds the request until the test has its answer: the only way
  // the client can return is its own deadline.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestServer server(TestServer::RawHandler([released](tcp::socket&, const Request&) {
    released.wait_for(std::chrono::seconds(30));
  }));
  auto client = client_for(server.url(), std::chrono::milliseconds(300));
  auto r = client.post("{}");
  release.set_value();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTimeout) << r.error().message;
}

TEST(HttpClient, AnOversizedResponseIsRefused) {
  TestServer server([](const Request&) { return text(200, std::string(4096, 'x')); });
  auto client = client_for(server.url(), std::chrono::milliseconds(5000), 1024);
  auto r = client.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << r.error().message;
  EXPECT_NE(r.error().message.find("limit"), std::string::npos) << r.error().message;
}

TEST(HttpClient, AnOversizedChunkedResponseIsRefused) {
  TestServer server(TestServer::RawHandler([](tcp::socket& s, const Request&) {
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    beast::error_code ec;
    asio::write(s, asio::buffer(head), ec);
    const std::string chunk = "400\r\n" + std::string(1024, 'y') + "\r\n";
    for (int i = 0; i < 8 && !ec; ++i) asio::write(s, asio::buffer(chunk), ec);
    asio::write(s, asio::buffer(std::string("0\r\n\r\n")), ec);
  }));
  auto client = client_for(server.url(), std::chrono::milliseconds(5000), 2048);
  auto r = client.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << r.error().message;
}

TEST(HttpClient, ANonHttpAnswerIsAMalformedResponse) {
  TestServer server(TestServer::RawHandler([](tcp::socket& s, const Request&) {
    beast::error_code ec;
    asio::write(s, asio::buffer(std::string("SSH-2.0-OpenSSH\r\n\r\n")), ec);
  }));
  auto client = client_for(server.url());
  auto r = client.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << r.error().message;
}

TEST(HttpClient, AConnectionClosedWithoutAnAnswerIsUnavailable) {
  TestServer server(TestServer::RawHandler([](tcp::socket&, const Request&) {}));
  auto client = client_for(server.url());
  auto r = client.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable) << r.error().message;
}

TEST(HttpClient, HttpsToAPlainHttpServerFailsTheHandshake) {
  TestServer server([](const Request&) { return text(200, "plain"); });
  auto client = client_for("https://127.0.0.1:" + std::to_string(server.port()) + "/SECRET");
  auto r = client.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable) << r.error().message;
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos) << r.error().message;
}

TEST(HttpClient, HeaderInjectionIsRefused) {
  TestServer server([](const Request&) { return text(200, "ok"); });
  auto client = client_for(server.url());
  auto r = client.get({{"X-A", "v\r\nX-Evil: 1"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace mpc::net
