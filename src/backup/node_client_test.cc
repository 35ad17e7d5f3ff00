// The retry rules of backup-cli's node client, with a fake clock (no real
// sleeping), plus the client against in-process mTLS servers for the
// outcomes that decide exit codes.
#include "backup/node_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/mtls_server.h"
#include "net/refusal.h"
#include "tls/tls.h"

namespace mpc::backup {
namespace {

using namespace std::chrono_literals;
using net::MtlsCause;
using net::MtlsFailure;
using net::MtlsPhase;
namespace http = boost::beast::http;

net::MtlsError failure(MtlsPhase phase, MtlsCause cause, bool started = false) {
  return net::MtlsError{core::Error{core::ErrorCode::kUnavailable, std::string("fake ") + net::mtls_phase_name(phase)},
                        MtlsFailure{phase, cause, started, false}};
}

net::MtlsResponse answer(unsigned status, std::string_view refusal = {}) {
  net::MtlsResponse r{status, "body", {}};
  if (!refusal.empty()) r.headers.set(net::kRefusalHeader, refusal);
  return r;
}

TEST(NodeClientRetry, TransientFailuresAreClosesBeforeAnyAnswerByte) {
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kConnect, MtlsCause::kRefused}));
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kConnect, MtlsCause::kReset}));
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kHandshake, MtlsCause::kClosed}));  // evicted while handshaking
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kWrite, MtlsCause::kReset}));
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kReadBeforeResponse, MtlsCause::kClosed}));
  EXPECT_TRUE(is_transient(MtlsFailure{MtlsPhase::kReadBeforeResponse, MtlsCause::kReset}));
}

TEST(NodeClientRetry, EverythingElseIsFinal) {
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kResolve, MtlsCause::kOther}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kConnect, MtlsCause::kTimeout}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kHandshake, MtlsCause::kTlsError}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kPeerKey, MtlsCause::kKeyMismatch}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kPeerKey, MtlsCause::kBadCertificate}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kReadBeforeResponse, MtlsCause::kTimeout}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kReadAfterResponseStarted, MtlsCause::kClosed, true}));
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kReadAfterResponseStarted, MtlsCause::kBadResponse, true}));
  // Whatever the phase says, part of an answer means the node acted on it.
  EXPECT_FALSE(is_transient(MtlsFailure{MtlsPhase::kReadBeforeResponse, MtlsCause::kClosed, true}));
}

TEST(NodeClientRetry, OnlyA409NotDestinationAnswerIsTransient) {
  EXPECT_TRUE(is_transient(answer(409, net::kRefusalNotDestination)));
  EXPECT_FALSE(is_transient(answer(409)));  // an import rule: final
  EXPECT_FALSE(is_transient(answer(400, net::kRefusalDecryptFailed)));
  EXPECT_FALSE(is_transient(answer(200)));
  EXPECT_FALSE(is_transient(answer(500)));
}

TEST(NodeClientRetry, BackoffDoublesUpToTheCapWithEqualJitter) {
  const RetryPolicy p{50ms, 1000ms};
  EXPECT_EQ(backoff_delay(0, p, 0.0), 25ms);
  EXPECT_EQ(backoff_delay(0, p, 0.999), 49ms);
  EXPECT_EQ(backoff_delay(1, p, 0.0), 50ms);
  EXPECT_EQ(backoff_delay(3, p, 0.0), 200ms);
  EXPECT_EQ(backoff_delay(5, p, 0.0), 500ms);   // 1600 capped to 1000, half of it
  EXPECT_EQ(backoff_delay(60, p, 0.5), 750ms);  // no overflow far out
  for (int n = 0; n < 10; ++n) EXPECT_LE(backoff_delay(n, p, 1.0), 1000ms);
}

// A fake clock: sleeping advances it, attempts take `attempt_cost`.
struct FakeTime {
  std::chrono::steady_clock::time_point t{std::chrono::steady_clock::time_point{} + 1h};
  std::vector<std::chrono::milliseconds> sleeps;
  RetryEnvironment env() {
    return RetryEnvironment{[this] { return t; },
                            [this](std::chrono::milliseconds d) {
                              sleeps.push_back(d);
                              t += d;
                            },
                            [] { return 0.5; }};
  }
};

TEST(NodeClientRetry, RetriesTransientFailuresThenReturnsTheAnswer) {
  FakeTime clock;
  std::vector<std::chrono::milliseconds> given;
  int calls = 0;
  Attempt attempt = [&](std::chrono::milliseconds left) -> net::MtlsResult<net::MtlsResponse> {
    given.push_back(left);
    clock.t += 10ms;
    ++calls;
    if (calls == 1) return std::unexpected(failure(MtlsPhase::kConnect, MtlsCause::kRefused));
    if (calls == 2) return std::unexpected(failure(MtlsPhase::kReadBeforeResponse, MtlsCause::kClosed));
    if (calls == 3) return answer(409, net::kRefusalNotDestination);
    return answer(200);
  };
  auto res = exchange_with_retries(attempt, 5000ms, RetryPolicy{50ms, 1000ms}, clock.env());
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(calls, 4);
  const RetryPolicy p{50ms, 1000ms};
  EXPECT_EQ(clock.sleeps, (std::vector<std::chrono::milliseconds>{backoff_delay(0, p, 0.5), backoff_delay(1, p, 0.5),
                                                                   backoff_delay(2, p, 0.5)}));
  // Each attempt gets what is left of the one deadline.
  ASSERT_EQ(given.size(), 4u);
  EXPECT_EQ(given[0], 5000ms);
  for (std::size_t i = 1; i < given.size(); ++i) EXPECT_EQ(given[i], given[i - 1] - 10ms - clock.sleeps[i - 1]);
}

TEST(NodeClientRetry, AFinalFailureIsReturnedAtOnceWithItsCode) {
  FakeTime clock;
  int calls = 0;
  Attempt attempt = [&](std::chrono::milliseconds) -> net::MtlsResult<net::MtlsResponse> {
    ++calls;
    auto e = failure(MtlsPhase::kPeerKey, MtlsCause::kKeyMismatch);
    e.code = core::ErrorCode::kPermissionDenied;
    return std::unexpected(e);
  };
  auto res = exchange_with_retries(attempt, 5000ms, RetryPolicy{}, clock.env());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(clock.sleeps.empty());
}

TEST(NodeClientRetry, GivesUpWhenTheNextAttemptWouldPassTheDeadline) {
  FakeTime clock;
  const auto start = clock.t;
  int calls = 0;
  Attempt attempt = [&](std::chrono::milliseconds) -> net::MtlsResult<net::MtlsResponse> {
    ++calls;
    clock.t += 5ms;
    return std::unexpected(failure(MtlsPhase::kReadBeforeResponse, MtlsCause::kClosed));
  };
  auto res = exchange_with_retries(attempt, 3000ms, RetryPolicy{50ms, 1000ms}, clock.env());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, core::ErrorCode::kUnavailable);  // a network failure: exit 3
  EXPECT_GT(calls, 3);
  EXPECT_LE(clock.t - start, 3000ms);
  EXPECT_NE(res.error().message.find(std::to_string(calls) + " attempts"), std::string::npos) << res.error().message;
}

TEST(NodeClientRetry, AStill409AnswerIsReturnedWhenTimeRunsOut) {
  FakeTime clock;
  Attempt attempt = [&](std::chrono::milliseconds) -> net::MtlsResult<net::MtlsResponse> {
    clock.t += 100ms;
    return answer(409, net::kRefusalNotDestination);
  };
  auto res = exchange_with_retries(attempt, 1000ms, RetryPolicy{}, clock.env());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409u);
}

// No attempt starts with less than a quarter of the deadline (here 250 ms)
// left: one begun with a few milliseconds left (38 ms here, before) could
// only time out, and that timeout replaced the node's 409 with "no answer".
TEST(NodeClientRetry, NoAttemptStartsTooCloseToTheDeadline) {
  FakeTime clock;
  std::vector<std::chrono::milliseconds> given;
  Attempt attempt = [&](std::chrono::milliseconds left) -> net::MtlsResult<net::MtlsResponse> {
    given.push_back(left);
    clock.t += 100ms;
    return answer(409, net::kRefusalNotDestination);
  };
  auto res = exchange_with_retries(attempt, 1000ms, RetryPolicy{}, clock.env());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409u);
  ASSERT_GE(given.size(), 2u);
  for (const auto left : given) EXPECT_GE(left, 250ms) << left.count() << " ms";
}

// ---- against in-process mTLS servers ----

class NodeClientServer : public ::testing::Test {
 protected:
  void start(net::PeerAuthorizer authorize, net::MtlsHandler handler) {
    auto ctx = tls::make_server_context(node_key_);
    ASSERT_TRUE(ctx);
    net::MtlsServerOptions o;
    o.handshake_timeout = 2s;
    o.request_timeout = 2s;
    server_ = std::make_shared<net::MtlsServer>(*ctx, o, std::move(authorize), std::move(handler), nullptr,
                                               std::vector<boost::asio::io_context*>{&ioc_});  // one thread runs ioc_
    auto bound = server_->listen({boost::asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound);
    port_ = bound->port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  NodeClient client(std::chrono::milliseconds timeout, std::optional<core::Ed25519PublicKey> expected = std::nullopt) {
    NodeClientConfig config{net::HostPort{"127.0.0.1", port_}, expected.value_or(node_key_.public_key()), timeout};
    return NodeClient(config, own_key_, aes_);
  }

  core::Ed25519SecretKey node_key_ = core::Ed25519SecretKey::generate();
  core::Ed25519SecretKey own_key_ = core::Ed25519SecretKey::generate();
  core::SecretBytes aes_{32};
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{ioc_.get_executor()};
  std::shared_ptr<net::MtlsServer> server_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  // What the server's callbacks count. Members, not locals of a test: the
  // server may still finish a handshake the client has given up on (and
  // call its authorizer) after the test body has returned, until TearDown
  // has stopped it and joined its thread.
  std::atomic<int> handshakes_{0};
  std::atomic<int> puts_{0};
};

TEST_F(NodeClientServer, ANodeThatKeepsClosingWithoutAnsweringIsANetworkFailureWithinTheDeadline) {
  start([this](const core::Ed25519PublicKey&) -> std::optional<std::string> {
    ++handshakes_;
    return "unauthorized_key";
  }, [](net::HttpRequest&&, const core::Ed25519PublicKey&, net::Responder) {});
  // Retried until the deadline, then a network failure (exit 3), not an
  // authentication one. Under load (ctest -j2 beside e2e suites) the last
  // attempt may still be in its handshake when the deadline passes: that is
  // a timeout, exit 3 as well. The deadline leaves room for two local
  // handshakes on a busy machine; the bound on the time only catches
  // retries that never stop.
  const auto t0 = std::chrono::steady_clock::now();
  auto st = client(2000ms).hello();
  ASSERT_FALSE(st);
  EXPECT_TRUE(st.error().code == core::ErrorCode::kUnavailable || st.error().code == core::ErrorCode::kTimeout)
      << st.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_GE(handshakes_.load(), 2) << "not retried: " << st.error().message;
}

TEST(NodeClientDown, ANodeThatIsDownIsRetriedUntilTheDeadlineThenIsANetworkFailure) {
  std::uint16_t closed_port;
  {
    boost::asio::io_context tmp;
    boost::asio::ip::tcp::acceptor a(tmp, {boost::asio::ip::make_address("127.0.0.1"), 0});
    closed_port = a.local_endpoint().port();
  }
  const auto own = core::Ed25519SecretKey::generate();
  core::SecretBytes aes(32);
  int attempts = 0;
  RetryEnvironment env;
  env.sleep = [&](std::chrono::milliseconds d) {
    ++attempts;
    std::this_thread::sleep_for(d);
  };
  NodeClient c(NodeClientConfig{net::HostPort{"127.0.0.1", closed_port}, core::Ed25519SecretKey::generate().public_key(), 400ms,
                                RetryPolicy{}, env},
               own, aes);
  const auto t0 = std::chrono::steady_clock::now();
  auto st = c.hello();
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, core::ErrorCode::kUnavailable) << st.error().message;
  EXPECT_GE(attempts, 2) << st.error().message;
  EXPECT_LT(took, 2s);
}

TEST_F(NodeClientServer, ANodeWithAnotherKeyIsAnAuthenticationFailureAtOnce) {
  start([this](const core::Ed25519PublicKey&) -> std::optional<std::string> {
    ++handshakes_;
    return std::nullopt;
  }, [](net::HttpRequest&&, const core::Ed25519PublicKey&, net::Responder respond) { respond(net::make_response(200, "x")); });
  auto st = client(5s, core::Ed25519SecretKey::generate().public_key()).hello();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, core::ErrorCode::kPermissionDenied);  // exit 4
  EXPECT_NE(st.error().message.find("authentication failed"), std::string::npos);
}

TEST_F(NodeClientServer, APutIsRepeatedWhileTheNodeIsNotYetTheDestination) {
  start([](const core::Ed25519PublicKey&) -> std::optional<std::string> { return std::nullopt; },
        [this](net::HttpRequest&& req, const core::Ed25519PublicKey&, net::Responder respond) {
          if (++puts_ < 3) {
            auto res = net::make_response(409, "Refused: not yet", "text/plain", req.version(), req.keep_alive());
            res.set(net::kRefusalHeader, net::kRefusalNotDestination);
            return respond(std::move(res));
          }
          respond(net::make_response(200, "Keyshares received.", "text/plain", req.version(), req.keep_alive()));
        });
  model::Keyshare share;
  std::vector<model::Keyshare> shares;
  shares.push_back(std::move(share));
  auto st = client(10s).put_keyshares(shares);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(puts_.load(), 3);
}

TEST_F(NodeClientServer, ADecryptRefusalIsAnAuthenticationFailureByItsHeaderNotItsText) {
  start([](const core::Ed25519PublicKey&) -> std::optional<std::string> { return std::nullopt; },
        [&](net::HttpRequest&& req, const core::Ed25519PublicKey&, net::Responder respond) {
          auto res = net::make_response(400, "Invalid Json or encryption: nope", "text/plain", req.version(), req.keep_alive());
          if (req.target() == "/set_keyshares") res.set(net::kRefusalHeader, net::kRefusalDecryptFailed);
          respond(std::move(res));
        });
  std::vector<model::Keyshare> shares(1);
  auto st = client(5s).put_keyshares(shares);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, core::ErrorCode::kPermissionDenied) << st.error().message;
}

}  // namespace
}  // namespace mpc::backup
