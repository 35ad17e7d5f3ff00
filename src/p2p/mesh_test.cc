// p2p::Mesh over real TLS sockets on 127.0.0.1 (port 0), real threads. No
// sleep proves anything: every wait polls a condition against a deadline
// and fails loudly when it passes.
#include "p2p/mesh.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "support/net/raw_tls_client.h"
#include "tls/tls.h"

namespace mpc::p2p {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

// Polls `condition` until it holds or `limit` passes.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

core::Bytes bytes_of(const std::string& s) { return core::Bytes(s.begin(), s.end()); }
std::string text_of(const core::Bytes& b) { return std::string(b.begin(), b.end()); }

// The value of one series in a rendered registry, e.g.
// series(m, "p2p_connections_refused_total", "reason", "unknown_key"); 0 when absent.
double series(Mesh& mesh, const std::string& name, const std::string& label, const std::string& value) {
  const std::string key = name + "{" + label + "=\"" + value + "\"} ";
  std::istringstream in(mesh.metrics().render());
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  return 0;
}
double refused(Mesh& m, const std::string& reason) { return series(m, "p2p_connections_refused_total", "reason", reason); }
double disconnects(Mesh& m, const std::string& reason) { return series(m, "p2p_disconnects_total", "reason", reason); }
double send_refused(Mesh& m, const std::string& reason) { return series(m, "p2p_send_refused_total", "reason", reason); }
double peer_gauge(Mesh& m, const std::string& name, std::uint64_t id) {
  return series(m, name, "participant", std::to_string(id));
}

class Inbox {
 public:
  MessageHandler handler() {
    return [this](std::uint64_t from, std::vector<std::uint8_t> payload) {
      std::lock_guard lock(mu_);
      got_.emplace_back(from, text_of(payload));
    };
  }
  bool has(std::uint64_t from, const std::string& text) const {
    std::lock_guard lock(mu_);
    for (const auto& [f, t] : got_)
      if (f == from && t == text) return true;
    return false;
  }
  std::vector<std::pair<std::uint64_t, std::string>> all() const {
    std::lock_guard lock(mu_);
    return got_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return got_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::uint64_t, std::string>> got_;
};

MeshOptions fast_options() {
  MeshOptions o;
  o.handshake_timeout = 3s;
  o.ping_interval = 50ms;
  o.idle_timeout = 5s;
  o.write_timeout = 10s;
  o.backoff = BackoffPolicy{20ms, 200ms};
  o.io_threads = 2;  // connections on strands, really concurrent
  return o;
}

struct Node {
  explicit Node(std::uint64_t id_, core::Ed25519SecretKey key_) : id(id_), key(std::move(key_)) {}
  std::uint64_t id;
  core::Ed25519SecretKey key;
  std::uint16_t port = 0;
  Inbox inbox;
  std::unique_ptr<Mesh> mesh;

  Peer peer() const { return Peer{id, "node" + std::to_string(id) + ".test", key.public_key(), "127.0.0.1", port}; }

  // (Re)creates and starts the mesh on `port` (0: any).
  void start(MeshOptions options = fast_options(), std::uint16_t on_port = 0) {
    auto m = Mesh::create(id, key, std::move(options), inbox.handler(), nullptr);
    ASSERT_TRUE(m) << m.error().message;
    mesh = std::move(*m);
    auto bound = mesh->start({asio::ip::make_address("127.0.0.1"), on_port});
    ASSERT_TRUE(bound) << bound.error().message;
    port = bound->port();
  }
};

std::unique_ptr<Node> make_node(std::uint64_t id, MeshOptions options = fast_options()) {
  auto n = std::make_unique<Node>(id, core::Ed25519SecretKey::generate());
  n->start(std::move(options));
  return n;
}

void connect_all(const std::vector<Node*>& nodes) {
  std::vector<Peer> peers;
  for (auto* n : nodes) peers.push_back(n->peer());
  for (auto* n : nodes) {
    auto st = n->mesh->set_peers(peers);
    ASSERT_TRUE(st) << st.error().message;
  }
}

std::vector<std::uint64_t> others(const std::vector<Node*>& nodes, const Node* self) {
  std::vector<std::uint64_t> out;
  for (auto* n : nodes)
    if (n != self) out.push_back(n->id);
  return out;
}

bool all_connected(const std::vector<Node*>& nodes) {
  for (auto* n : nodes)
    if (n->mesh->connected_peers() != others(nodes, n)) return false;
  return true;
}

// A peer that does not follow the protocol (or follows only part of it),
// presenting `key`'s certificate (support/net/raw_tls_client.h), and the
// P2P frames it sends and reads by hand.
class RawPeer : public mpc::testing::RawTlsClient {
 public:
  explicit RawPeer(const core::Ed25519SecretKey& key) : RawTlsClient(*tls::make_client_context(key)) {}

  // Reads one frame (TLS) within `limit` per part.
  std::optional<wire::Frame> read_frame(std::chrono::milliseconds limit = 3s) {
    auto header = read_exactly(wire::kHeaderSize, limit);
    if (!header) return std::nullopt;
    const core::Bytes& h = *header;
    const std::uint32_t length = (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) | (std::uint32_t{h[2]} << 8) | h[3];
    wire::Frame frame;
    frame.type = static_cast<wire::FrameType>(h[4]);
    auto payload = read_exactly(length, limit);
    if (!payload) return std::nullopt;
    frame.payload = std::move(*payload);
    return frame;
  }
  // HELLO as participant `sender` to `recipient`, then the listener's HELLO.
  bool hello(std::uint64_t sender, std::uint64_t recipient) {
    if (write(wire::encode_hello({wire::kProtocolVersion, sender, recipient}))) return false;
    auto answer = read_frame();
    return answer && answer->type == wire::FrameType::kHello;
  }
};

// A participant entry for a key whose node the test plays by hand (the mesh
// never dials it: its id is lower).
Peer raw_participant(std::uint64_t id, const core::Ed25519SecretKey& key) {
  return Peer{id, "raw" + std::to_string(id) + ".test", key.public_key(), "127.0.0.1", 9};
}

// ---------------------------------------------------------------------------

TEST(Mesh, ThreeMeshesConnectAndExchangeMessagesBothWays) {
  auto a = make_node(0), b = make_node(1), c = make_node(2);
  const std::vector<Node*> nodes{a.get(), b.get(), c.get()};
  connect_all(nodes);
  ASSERT_TRUE(eventually([&] { return all_connected(nodes); })) << "the three meshes did not all connect";

  for (auto* from : nodes) {
    for (auto* to : nodes) {
      if (from == to) continue;
      ASSERT_TRUE(from->mesh->send(to->id, bytes_of("from " + std::to_string(from->id) + " to " + std::to_string(to->id))));
    }
  }
  for (auto* to : nodes) {
    for (auto* from : nodes) {
      if (from == to) continue;
      EXPECT_TRUE(eventually([&] {
        return to->inbox.has(from->id, "from " + std::to_string(from->id) + " to " + std::to_string(to->id));
      })) << "participant " << to->id << " did not receive participant " << from->id << "'s message";
    }
  }

  // One channel per pair, liveness visible in the metrics, pings answered.
  for (auto* n : nodes) {
    for (auto id : others(nodes, n)) {
      EXPECT_EQ(peer_gauge(*n->mesh, "p2p_peer_connected", id), 1);
      EXPECT_TRUE(eventually([&] { return peer_gauge(*n->mesh, "p2p_peer_ping_rtt_seconds", id) > 0; }))
          << "no ping round trip measured from " << n->id << " to " << id;
      EXPECT_GT(peer_gauge(*n->mesh, "p2p_frames_sent_total", id), 0);
      EXPECT_GT(peer_gauge(*n->mesh, "p2p_frames_received_total", id), 0);
      EXPECT_GT(peer_gauge(*n->mesh, "p2p_peer_last_seen_timestamp_seconds", id), 1.6e9);
    }
    EXPECT_EQ(refused(*n->mesh, "wrong_direction"), 0);
  }
}

TEST(Mesh, MessagesArriveInOrderAndLargeOnesWhole) {
  auto a = make_node(0), b = make_node(1);
  connect_all({a.get(), b.get()});
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get()}); }));
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(b->mesh->send(0, bytes_of(std::to_string(i))));
  const std::string big(wire::kDefaultMaxPayload, 'x');
  ASSERT_TRUE(b->mesh->send(0, bytes_of(big)));
  ASSERT_TRUE(eventually([&] { return a->inbox.size() == kCount + 1; }));
  const auto got = a->inbox.all();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(got[i].second, std::to_string(i));
  EXPECT_EQ(got[kCount].second, big);
}

TEST(Mesh, SendIsRefusedAndCountedWithoutAChannelOrOverTheSizeLimit) {
  auto a = make_node(0);
  EXPECT_FALSE(a->mesh->send(5, bytes_of("nobody")));
  EXPECT_EQ(send_refused(*a->mesh, "not_connected"), 1);
  EXPECT_FALSE(a->mesh->send(5, core::Bytes(wire::kDefaultMaxPayload + 1)));
  EXPECT_EQ(send_refused(*a->mesh, "too_large"), 1);
  a->mesh->stop();
  EXPECT_FALSE(a->mesh->send(5, bytes_of("late")));
  EXPECT_EQ(send_refused(*a->mesh, "stopped"), 1);
}

TEST(Mesh, SetPeersRefusesABadListAndChangesNothing) {
  auto a = make_node(0), b = make_node(1);
  connect_all({a.get(), b.get()});
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get()}); }));
  auto dup = b->peer();
  dup.tls_public_key = core::Ed25519SecretKey::generate().public_key();
  auto st = a->mesh->set_peers({a->peer(), b->peer(), dup});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("participant 1 is listed twice"), std::string::npos) << st.error().message;
  auto own = b->peer();
  own.tls_public_key = a->key.public_key();
  st = a->mesh->set_peers({own});
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("own TLS key"), std::string::npos) << st.error().message;
  EXPECT_EQ(a->mesh->connected_peers(), std::vector<std::uint64_t>{1});
  EXPECT_TRUE(a->mesh->send(1, bytes_of("still here")));
  EXPECT_TRUE(eventually([&] { return b->inbox.has(0, "still here"); }));
}

TEST(Mesh, StrangersKeyIsRefused) {
  auto a = make_node(1);
  auto stranger = make_node(0);  // dials a (lower id), with a key a does not list
  ASSERT_TRUE(a->mesh->set_peers({a->peer()}));
  ASSERT_TRUE(stranger->mesh->set_peers({stranger->peer(), a->peer()}));
  EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "unknown_key") >= 2; }))
      << "the stranger was not refused (and its redials too)";
  EXPECT_TRUE(a->mesh->connected_peers().empty());
  EXPECT_TRUE(stranger->mesh->connected_peers().empty());
  EXPECT_FALSE(stranger->mesh->send(1, bytes_of("let me in")));
  EXPECT_EQ(a->inbox.size(), 0u);
}

TEST(Mesh, PeerWhoseHelloClaimsAnotherParticipantIsRefused) {
  auto a = make_node(5);
  const auto k0 = core::Ed25519SecretKey::generate();
  const auto k1 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({a->peer(), raw_participant(0, k0), raw_participant(1, k1)}));
  struct Case {
    wire::Hello hello;
    std::string reason;
  } cases[] = {
      {{wire::kProtocolVersion, 1, 5}, "id_mismatch"},      // k0's certificate, claims to be participant 1
      {{wire::kProtocolVersion, 0, 4}, "wrong_recipient"},  // addressed to someone else
      {{wire::kProtocolVersion + 1, 0, 5}, "version_mismatch"},
  };
  for (const auto& c : cases) {
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    ASSERT_FALSE(raw.write(wire::encode_hello(c.hello)));
    EXPECT_TRUE(raw.closed_within(3s)) << c.reason;
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, c.reason) == 1; })) << c.reason;
  }
  EXPECT_TRUE(a->mesh->connected_peers().empty());
  // The same key with its own id is accepted.
  RawPeer honest(k0);
  ASSERT_FALSE(honest.connect(a->port));
  ASSERT_FALSE(honest.handshake());
  ASSERT_TRUE(honest.hello(0, 5));
  EXPECT_TRUE(eventually([&] { return a->mesh->connected_peers() == std::vector<std::uint64_t>{0}; }));
}

TEST(Mesh, InboundFromAHigherIdIsRefusedAsWrongDirection) {
  auto a = make_node(1);
  const auto k7 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({a->peer(), raw_participant(7, k7)}));
  RawPeer raw(k7);
  ASSERT_FALSE(raw.connect(a->port));
  ASSERT_FALSE(raw.handshake());
  EXPECT_TRUE(raw.closed_within(3s));
  EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "wrong_direction") == 1; }));
}

TEST(Mesh, DialedPeerPresentingAnotherKeyIsRefused) {
  auto a = make_node(0);
  auto impostor = make_node(1);  // listens where a expects participant 1, with another key
  Peer expected = impostor->peer();
  expected.tls_public_key = core::Ed25519SecretKey::generate().public_key();
  ASSERT_TRUE(impostor->mesh->set_peers({a->peer(), impostor->peer()}));
  ASSERT_TRUE(a->mesh->set_peers({a->peer(), expected}));
  EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "unexpected_key") >= 2; }))
      << "the impostor was not refused (and redialled)";
  EXPECT_TRUE(a->mesh->connected_peers().empty());
  EXPECT_TRUE(impostor->mesh->connected_peers().empty());
}

TEST(Mesh, MigrationDropsTheOldKeyAndAcceptsTheNewNode) {
  auto a = make_node(0), b = make_node(1), c = make_node(2);
  connect_all({a.get(), b.get(), c.get()});
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get(), c.get()}); }));

  // Participant 1 moves to a new machine with a new key (and port).
  auto b2 = make_node(1);
  const std::vector<Peer> after{a->peer(), b2->peer(), c->peer()};
  ASSERT_TRUE(b2->mesh->set_peers(after));
  ASSERT_TRUE(a->mesh->set_peers(after));
  ASSERT_TRUE(c->mesh->set_peers(after));
  // The old key's channels are gone...
  EXPECT_TRUE(eventually([&] { return b->mesh->connected_peers().empty(); })) << "the old node kept a channel";
  // ...and the new node is connected both ways.
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b2.get(), c.get()}); }));
  EXPECT_GE(disconnects(*a->mesh, "key_changed"), 1);
  EXPECT_GE(disconnects(*c->mesh, "key_changed"), 1);
  ASSERT_TRUE(a->mesh->send(1, bytes_of("hello new 1")));
  ASSERT_TRUE(b2->mesh->send(2, bytes_of("new 1 here")));
  EXPECT_TRUE(eventually([&] { return b2->inbox.has(0, "hello new 1"); }));
  EXPECT_TRUE(eventually([&] { return c->inbox.has(1, "new 1 here"); }));
  EXPECT_FALSE(b->inbox.has(0, "hello new 1"));
  // The old node keeps trying and is refused.
  EXPECT_TRUE(eventually([&] { return refused(*c->mesh, "unknown_key") >= 1; }));
  EXPECT_TRUE(b->mesh->connected_peers().empty());
}

TEST(Mesh, KilledPeerReconnectsWhenItComesBackOnTheSamePort) {
  auto a = make_node(0), b = make_node(1), c = make_node(2);
  const std::vector<Node*> nodes{a.get(), b.get(), c.get()};
  connect_all(nodes);
  ASSERT_TRUE(eventually([&] { return all_connected(nodes); }));

  const std::uint16_t port = b->port;
  b->mesh.reset();  // killed: its sockets close
  EXPECT_TRUE(eventually([&] { return a->mesh->connected_peers() == std::vector<std::uint64_t>{2}; }));
  EXPECT_TRUE(eventually([&] { return c->mesh->connected_peers() == std::vector<std::uint64_t>{0}; }));
  EXPECT_EQ(peer_gauge(*a->mesh, "p2p_peer_connected", 1), 0);
  // a keeps redialling the dead port meanwhile.
  EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "connect_failed") >= 2; }));

  b->start(fast_options(), port);  // same key, same port
  ASSERT_TRUE(b->mesh->set_peers({a->peer(), b->peer(), c->peer()}));
  ASSERT_TRUE(eventually([&] { return all_connected(nodes); })) << "the restarted peer was not reconnected";
  ASSERT_TRUE(a->mesh->send(1, bytes_of("welcome back")));
  ASSERT_TRUE(b->mesh->send(2, bytes_of("back")));
  EXPECT_TRUE(eventually([&] { return b->inbox.has(0, "welcome back"); }));
  EXPECT_TRUE(eventually([&] { return c->inbox.has(1, "back"); }));
  EXPECT_EQ(peer_gauge(*a->mesh, "p2p_peer_connected", 1), 1);
}

TEST(Mesh, HostileBytesAreRefusedAndCountedWhileOtherPeersKeepWorking) {
  auto options = fast_options();
  options.handshake_timeout = 1s;
  options.max_payload = 4096;
  auto a = make_node(1, options), b = make_node(2, options);
  const auto k0 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({raw_participant(0, k0), a->peer(), b->peer()}));
  ASSERT_TRUE(b->mesh->set_peers({raw_participant(0, k0), a->peer(), b->peer()}));
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get()}); }));

  {  // garbage instead of a TLS ClientHello
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.write(bytes_of("GET / HTTP/1.1\r\n\r\n garbage garbage"), /*tls=*/false));
    EXPECT_TRUE(raw.closed_within(3s, /*tls=*/false));
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "handshake_failed") == 1; }));
  }
  {  // a TCP connection that never says anything
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    EXPECT_TRUE(eventually([&] { return a->mesh->preauth_connections() == 1; }));
    EXPECT_TRUE(raw.closed_within(5s, /*tls=*/false)) << "a silent connection was not closed";
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "handshake_timeout") == 1; }));
  }
  {  // TLS done, but the HELLO never comes
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    EXPECT_TRUE(raw.closed_within(5s));
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "handshake_timeout") == 2; }));
  }
  {  // a HELLO header announcing 2 GiB
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    ASSERT_FALSE(raw.write({0x80, 0, 0, 0, 0x01}));
    EXPECT_TRUE(raw.closed_within(3s));
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "bad_frame") == 1; }));
  }
  {  // a message before the HELLO
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    ASSERT_FALSE(raw.write(wire::encode_frame(wire::FrameType::kMessage, bytes_of("hi"))));
    EXPECT_TRUE(raw.closed_within(3s));
    EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "expected_hello") == 1; }));
  }
  {  // after a proper HELLO: an oversized message header
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    ASSERT_TRUE(raw.hello(0, 1));
    ASSERT_FALSE(raw.write({0, 0, 0x10, 0x01, 0x02}));  // 4097 bytes announced, limit 4096
    EXPECT_TRUE(raw.closed_within(3s));
    EXPECT_TRUE(eventually([&] { return disconnects(*a->mesh, "oversized_frame") == 1; }));
  }
  {  // after a proper HELLO: an unknown frame type
    RawPeer raw(k0);
    ASSERT_FALSE(raw.connect(a->port));
    ASSERT_FALSE(raw.handshake());
    ASSERT_TRUE(raw.hello(0, 1));
    ASSERT_FALSE(raw.write({0, 0, 0, 0, 0x7F}));
    EXPECT_TRUE(raw.closed_within(3s));
    EXPECT_TRUE(eventually([&] { return disconnects(*a->mesh, "unknown_frame_type") == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return a->mesh->preauth_connections() == 0; }));
  // The honest peer never noticed.
  EXPECT_EQ(a->mesh->connected_peers(), std::vector<std::uint64_t>{2});
  ASSERT_TRUE(a->mesh->send(2, bytes_of("still fine")));
  ASSERT_TRUE(b->mesh->send(1, bytes_of("here too")));
  EXPECT_TRUE(eventually([&] { return b->inbox.has(1, "still fine") && a->inbox.has(2, "here too"); }));
  EXPECT_EQ(disconnects(*a->mesh, "peer_closed") + disconnects(*b->mesh, "peer_closed"), 0);
}

TEST(Mesh, HandshakesInProgressAreBudgetedOldestEvictedFirst) {
  auto options = fast_options();
  options.max_preauth_connections = 3;
  options.max_preauth_per_source = 2;
  auto a = make_node(1, options);
  const auto k = core::Ed25519SecretKey::generate();
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (int i = 0; i < 4; ++i) {
    silent.push_back(std::make_unique<RawPeer>(k));
    ASSERT_FALSE(silent.back()->connect(a->port));
  }
  // All from 127.0.0.1: its cap of 2 evicts the oldest twice.
  EXPECT_TRUE(eventually([&] { return refused(*a->mesh, "evicted_per_source") == 2; }));
  EXPECT_LE(a->mesh->preauth_connections(), 2u);
  EXPECT_TRUE(silent[0]->closed_within(3s, false));
  EXPECT_TRUE(silent[1]->closed_within(3s, false));
}

TEST(Mesh, SilentPeerIsDroppedAfterTheIdleTimeout) {
  auto options = fast_options();
  options.idle_timeout = 300ms;
  auto a = make_node(1, options);
  const auto k0 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({raw_participant(0, k0), a->peer()}));
  RawPeer raw(k0);
  ASSERT_FALSE(raw.connect(a->port));
  ASSERT_FALSE(raw.handshake());
  ASSERT_TRUE(raw.hello(0, 1));
  EXPECT_TRUE(eventually([&] { return a->mesh->connected_peers() == std::vector<std::uint64_t>{0}; }));
  // It never answers a PING: it is declared dead.
  EXPECT_TRUE(eventually([&] { return disconnects(*a->mesh, "idle_timeout") == 1; }));
  EXPECT_TRUE(a->mesh->connected_peers().empty());
  EXPECT_EQ(peer_gauge(*a->mesh, "p2p_peer_connected", 0), 0);
}

TEST(Mesh, PeerThatNeverReadsCannotGrowTheSendersMemory) {
  auto options = fast_options();
  options.max_outbound_queue_bytes = 256 << 10;
  options.idle_timeout = 60s;
  options.write_timeout = 60s;
  auto a = make_node(1, options);
  const auto k0 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({raw_participant(0, k0), a->peer()}));
  RawPeer raw(k0);
  ASSERT_FALSE(raw.connect(a->port));
  asio::socket_base::receive_buffer_size small(4096);
  raw.socket().set_option(small);
  ASSERT_FALSE(raw.handshake());
  ASSERT_TRUE(raw.hello(0, 1));  // and never reads again
  ASSERT_TRUE(eventually([&] { return a->mesh->connected_peers() == std::vector<std::uint64_t>{0}; }));

  const core::Bytes payload(16 << 10, 0x5A);
  std::size_t accepted = 0, max_queued = 0;
  int refusals_in_a_row = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  // Send until the queue stays full: the writer can drain it no further.
  while (refusals_in_a_row < 100) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "send never stayed refused; accepted " << accepted << " bytes";
    if (a->mesh->send(0, payload)) {
      accepted += payload.size();
      refusals_in_a_row = 0;
    } else {
      ++refusals_in_a_row;
      std::this_thread::sleep_for(2ms);  // give the writer a chance to drain (it cannot)
    }
    max_queued = std::max(max_queued, a->mesh->outbound_queued_bytes(0));
    ASSERT_LE(max_queued, options.max_outbound_queue_bytes);
  }
  EXPECT_GE(send_refused(*a->mesh, "queue_full"), 100);
  EXPECT_GT(max_queued, options.max_outbound_queue_bytes / 2);
  // What was accepted is the queue plus what the kernel buffers hold: bounded.
  EXPECT_LT(accepted, std::size_t{64} << 20) << "accepted " << accepted << " bytes for a peer that reads nothing";
  EXPECT_EQ(a->mesh->connected_peers(), std::vector<std::uint64_t>{0});
}

TEST(Mesh, FloodingPeerIsThrottledByReadBackpressureAndNothingIsLost) {
  auto options = fast_options();
  options.max_inbound_queue_bytes = 64 << 10;
  options.max_outbound_queue_bytes = 256 << 10;
  options.idle_timeout = 60s;
  // a's handler blocks until released: a slow application.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> handled{0};
  std::vector<std::string> order;
  auto a = std::make_unique<Node>(1, core::Ed25519SecretKey::generate());
  auto m = Mesh::create(1, a->key, options,
                        [&](std::uint64_t, std::vector<std::uint8_t> payload) {
                          std::unique_lock lock(gate_mu);
                          gate_cv.wait(lock, [&] { return open; });
                          order.push_back(text_of(payload).substr(0, 8));
                          ++handled;
                        },
                        nullptr);
  ASSERT_TRUE(m);
  a->mesh = std::move(*m);
  auto bound = a->mesh->start({asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound);
  a->port = bound->port();
  auto b = make_node(0, options);
  connect_all({a.get(), b.get()});
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get()}); }));

  // b floods a until its own queue is full.
  const std::string filler(4 << 10, '.');
  int sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  int refusals_in_a_row = 0;
  while (refusals_in_a_row < 100) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "b's sends were never refused";
    char tag[16];
    std::snprintf(tag, sizeof tag, "%08d", sent);
    if (b->mesh->send(1, bytes_of(tag + filler))) {
      ++sent;
      refusals_in_a_row = 0;
    } else {
      ++refusals_in_a_row;
      std::this_thread::sleep_for(2ms);
    }
    ASSERT_LE(a->mesh->inbound_queued_bytes(0), options.max_inbound_queue_bytes + filler.size() + 8 + 64)
        << "a buffered more than its inbound bound";
  }
  EXPECT_LE(handled.load(), 0);
  EXPECT_GE(send_refused(*b->mesh, "queue_full"), 100);
  // The application catches up: everything arrives, in order.
  {
    std::lock_guard lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(eventually([&] { return handled.load() == sent; }, 20s)) << handled.load() << " of " << sent;
  std::lock_guard lock(gate_mu);
  for (int i = 0; i < sent; ++i) {
    char tag[16];
    std::snprintf(tag, sizeof tag, "%08d", i);
    ASSERT_EQ(order[i], tag);
  }
  EXPECT_EQ(all_connected({a.get(), b.get()}), true);
}

TEST(Mesh, StopIsPromptWithBusyAndHalfOpenConnections) {
  auto options = fast_options();
  options.handshake_timeout = 60s;
  options.idle_timeout = 60s;
  options.write_timeout = 60s;
  options.max_outbound_queue_bytes = 1 << 20;
  auto a = make_node(1, options), b = make_node(2, options);
  const auto k0 = core::Ed25519SecretKey::generate();
  ASSERT_TRUE(a->mesh->set_peers({raw_participant(0, k0), a->peer(), b->peer()}));
  ASSERT_TRUE(b->mesh->set_peers({raw_participant(0, k0), a->peer(), b->peer()}));
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), b.get()}); }));
  RawPeer reader_never(k0), silent(k0);
  ASSERT_FALSE(reader_never.connect(a->port));
  ASSERT_FALSE(reader_never.handshake());
  ASSERT_TRUE(reader_never.hello(0, 1));
  ASSERT_FALSE(silent.connect(a->port));  // a handshake that never completes
  ASSERT_TRUE(eventually([&] { return a->mesh->preauth_connections() == 1; }));
  for (int i = 0; i < 4000 && a->mesh->send(0, core::Bytes(64 << 10, 1)); ++i) {
  }
  for (int i = 0; i < 50; ++i) a->mesh->send(2, core::Bytes(16 << 10, 2));

  const auto start = std::chrono::steady_clock::now();
  a->mesh->stop();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 1s) << "stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_TRUE(a->mesh->connected_peers().empty());
  EXPECT_TRUE(eventually([&] { return b->mesh->connected_peers().empty(); })) << "b did not see a go";
  EXPECT_TRUE(silent.closed_within(3s, false));
  // Stopping again is a no-op, and so is everything after.
  a->mesh->stop();
  EXPECT_FALSE(a->mesh->set_peers({}));
  EXPECT_FALSE(a->mesh->start({asio::ip::make_address("127.0.0.1"), 0}));
}

TEST(Mesh, ListeningOnABusyPortFailsClearly) {
  auto a = make_node(0);
  auto m = Mesh::create(1, core::Ed25519SecretKey::generate(), fast_options(), nullptr, nullptr);
  ASSERT_TRUE(m);
  // SO_REUSEADDR does not allow two listeners on one port.
  auto bound = (*m)->start({asio::ip::make_address("127.0.0.1"), a->port});
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(bound.error().message.find(std::to_string(a->port)), std::string::npos) << bound.error().message;
}

TEST(Mesh, ListensOnABoundSocketHandedDownAndRefusesSomethingElse) {
  // A supervisor (or a test) holds the port: bound, not listening.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Node b(1, core::Ed25519SecretKey::generate());
  auto m = Mesh::create(b.id, b.key, fast_options(), b.inbox.handler(), nullptr);
  ASSERT_TRUE(m) << m.error().message;
  b.mesh = std::move(*m);
  auto bound = b.mesh->start_on_socket(fd);
  ASSERT_TRUE(bound) << bound.error().message;
  EXPECT_EQ(bound->port(), ntohs(addr.sin_port));
  b.port = bound->port();
  auto a = make_node(0);
  connect_all({a.get(), &b});
  ASSERT_TRUE(eventually([&] { return all_connected({a.get(), &b}); })) << "no channel on the handed-down socket";
  ASSERT_TRUE(a->mesh->send(1, bytes_of("over the inherited socket")));
  EXPECT_TRUE(eventually([&] { return b.inbox.has(0, "over the inherited socket"); }));

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  auto other = Mesh::create(2, core::Ed25519SecretKey::generate(), fast_options(), nullptr, nullptr);
  ASSERT_TRUE(other);
  auto refused_fd = (*other)->start_on_socket(pipe_fds[0]);
  ASSERT_FALSE(refused_fd);
  EXPECT_NE(refused_fd.error().message.find("is not a bound TCP socket"), std::string::npos) << refused_fd.error().message;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace mpc::p2p
