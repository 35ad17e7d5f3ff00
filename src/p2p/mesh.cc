#include "p2p/mesh.h"

#include "core/secret.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "core/near_key.h"
#include "net/connection_budget.h"
#include "net/io_thread.h"
#include "net/log_limiter.h"
#include "tls/tls.h"

namespace mpc::p2p {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Each queued frame is charged its size plus this (bookkeeping), so that
// many tiny frames are bounded too.
constexpr std::size_t kFrameOverhead = 64;
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kWriteBatch = 64 * 1024;

struct PeerMetrics {
  net::Gauge* connected = nullptr;
  net::Gauge* rtt = nullptr;
  net::Gauge* last_seen = nullptr;
  net::Counter* sent = nullptr;
  net::Counter* received = nullptr;
  net::Counter* dropped = nullptr;
};

struct Authorization {
  std::uint64_t peer_id = 0;
  std::uint64_t generation = 0;
  PeerMetrics* metrics = nullptr;
};

enum class SendRefusal { kNotConnected, kQueueFull, kTooLarge, kStopped };

}  // namespace

class Connection;

class Mesh::Impl {
 public:
  Impl(std::uint64_t self_id, const core::Ed25519PublicKey& self_key, std::shared_ptr<asio::ssl::context> server_ctx,
       std::shared_ptr<asio::ssl::context> client_ctx, MeshOptions options, MessageHandler on_message,
       net::MetricsRegistry* metrics);
  ~Impl();

  core::Result<tcp::endpoint> start(const tcp::endpoint& endpoint);
  core::Result<tcp::endpoint> start_on_socket(int fd);
  core::Status set_peers(const std::vector<Peer>& peers);
  bool send(std::uint64_t participant, std::vector<std::uint8_t> payload);
  std::vector<std::uint64_t> connected_peers() const;
  void stop();
  std::size_t outbound_queued_bytes(std::uint64_t participant) const;
  std::size_t inbound_queued_bytes(std::uint64_t participant) const;
  std::size_t preauth_connections() const;

  // For connections.
  std::uint64_t self_id() const { return self_id_; }
  const MeshOptions& options() const { return options_; }
  asio::ssl::context& server_ctx() { return *server_ctx_; }
  asio::ssl::context& client_ctx() { return *client_ctx_; }
  net::MetricsRegistry& metrics() { return *metrics_; }
  std::expected<Authorization, std::string_view> authorize_inbound(const core::Ed25519PublicKey& key);
  std::optional<std::string_view> check_outbound(std::uint64_t peer_id, std::uint64_t generation,
                                                 const core::Ed25519PublicKey& key);
  std::optional<std::string_view> establish(const std::shared_ptr<Connection>& conn);
  void on_closed(Connection& conn, bool was_established, std::string_view reason, const std::string& detail);
  void deliver(std::shared_ptr<Connection> conn, std::uint64_t from, core::Bytes payload, std::size_t cost);
  bool may_log();

 private:
  core::Result<tcp::endpoint> start_listening(const std::function<void(tcp::acceptor&, error_code&)>& open);
  std::string ec_where_;  // what start_listening's `open` failed at

  struct PeerState {
    Peer peer;
    std::uint64_t generation = 0;  // a new one for each (participant, key)
    PeerMetrics* metrics = nullptr;
    std::shared_ptr<Connection> conn;     // the established channel
    std::shared_ptr<Connection> dialing;  // an outbound attempt in progress
    unsigned failures = 0;                // consecutive failed dials
    std::uint64_t dial_token = 0;         // a scheduled dial runs only if it still matches
  };
  struct Delivery {
    std::shared_ptr<Connection> conn;
    std::uint64_t from = 0;
    core::Bytes payload;
    std::size_t cost = 0;
  };

  PeerMetrics* metrics_for(std::uint64_t id);
  void count_send_refusal(SendRefusal reason);
  void schedule_dial(PeerState& st, std::chrono::milliseconds delay);  // mu_ held
  void close_peer(PeerState& st, std::string_view reason);            // mu_ held
  void do_accept();
  void on_accept(tcp::socket socket);
  void delivery_loop();

  const std::uint64_t self_id_;
  const core::Ed25519PublicKey self_key_;
  std::shared_ptr<asio::ssl::context> server_ctx_;
  std::shared_ptr<asio::ssl::context> client_ctx_;
  const MeshOptions options_;
  MessageHandler on_message_;
  std::unique_ptr<net::MetricsRegistry> own_metrics_;
  net::MetricsRegistry* metrics_;
  net::Counter* send_refused_[4] = {};

  mutable std::mutex mu_;
  bool started_ = false;
  bool stopped_ = false;
  PeerSet peer_set_;
  std::map<std::uint64_t, PeerState> peers_;
  std::map<std::uint64_t, PeerMetrics> peer_metrics_;  // kept for removed peers (stable pointers)
  net::ConnectionBudget budget_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> preauth_;  // inbound, by budget id
  std::unordered_map<Connection*, std::weak_ptr<Connection>> live_;       // every open connection
  std::uint64_t next_generation_ = 1;
  std::mt19937_64 rng_;

  std::mutex stop_mu_;
  std::vector<std::thread> io_threads_;

  std::mutex dmu_;
  std::condition_variable dcv_;
  std::deque<Delivery> deliveries_;
  bool delivery_stop_ = false;
  std::thread delivery_thread_;

  net::LogLimiter log_limiter_{"p2p: connection refusals", "p2p_connections_refused_total"};

  // Destroyed first (explicitly, in ~Impl): pending handlers own connections.
  std::optional<asio::io_context> ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<tcp::acceptor> acceptor_;
};

// ---------------------------------------------------------------------------
// One TLS connection, from accept/dial to close. Everything but enqueue(),
// request_close() and consumed() runs on its strand (or, during stop(), on
// the stopping thread once no io thread runs).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Dir { kInbound, kOutbound };
  enum class State { kHandshaking, kEstablished, kClosed };
  enum class Enqueued { kOk, kClosed, kFull };

  // Inbound, accepted with budget id `budget_id`.
  Connection(Mesh::Impl& mesh, tcp::socket socket, std::uint64_t budget_id, std::string remote)
      : mesh_(mesh),
        dir_(Dir::kInbound),
        budget_id_(budget_id),
        remote_(std::move(remote)),
        stream_(std::move(socket), mesh.server_ctx()),
        deadline_(stream_.get_executor()),
        ping_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        decoder_(mesh.options().max_payload) {}

  // Outbound, to the participant `auth` names, at host:port.
  Connection(Mesh::Impl& mesh, asio::any_io_executor strand, const Authorization& auth, std::string host,
             std::uint16_t port)
      : mesh_(mesh),
        dir_(Dir::kOutbound),
        remote_(host + ":" + std::to_string(port)),
        host_(std::move(host)),
        port_(port),
        stream_(tcp::socket(strand), mesh.client_ctx()),
        deadline_(strand),
        ping_timer_(strand),
        write_timer_(strand),
        decoder_(mesh.options().max_payload),
        resolver_(std::in_place, strand) {
    set_authorization(auth);
  }

  Dir dir() const { return dir_; }
  std::uint64_t budget_id() const { return budget_id_; }
  bool has_peer() const { return has_peer_; }
  std::uint64_t peer_id() const { return peer_id_; }
  std::uint64_t generation() const { return generation_; }
  const std::string& remote() const { return remote_; }
  bool revoked() const { return revoked_.load(); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->begin(); });
  }

  // From any thread: closes on the strand. `revoke`: messages received but
  // not yet handed to on_message are discarded.
  void request_close(std::string_view reason, bool revoke) {
    if (revoke) revoked_.store(true);
    {
      std::lock_guard lock(qmu_);
      qclosed_ = true;  // send() fails from now on
    }
    asio::post(stream_.get_executor(), [self = shared_from_this(), reason] { self->close_now(reason); });
  }

  // On the strand (or with no io thread running).
  void close_now(std::string_view reason, std::string detail = {}) {
    if (state_ == State::kClosed) return;
    const bool was_established = state_ == State::kEstablished;
    state_ = State::kClosed;
    std::uint64_t dropped = 0;
    {
      std::lock_guard lock(qmu_);
      qclosed_ = true;
      for (const auto& f : queue_) dropped += f.is_message ? 1 : 0;
      queue_.clear();
      queued_ = 0;
    }
    deadline_.cancel();
    ping_timer_.cancel();
    write_timer_.cancel();
    if (resolver_) resolver_->cancel();
    error_code ignored;
    stream_.lowest_layer().close(ignored);
    if (metrics_ != nullptr && dropped > 0) metrics_->dropped->inc(dropped);
    mesh_.on_closed(*this, was_established, reason, detail);
  }

  // From any thread: queues one whole frame.
  Enqueued enqueue(core::Bytes frame, bool is_message) {
    const std::size_t cost = frame.size() + kFrameOverhead;
    bool kick = false;
    {
      std::lock_guard lock(qmu_);
      if (qclosed_) return Enqueued::kClosed;
      // An empty queue takes any frame, so one largest frame always fits.
      if (queued_ > 0 && queued_ + cost > mesh_.options().max_outbound_queue_bytes) return Enqueued::kFull;
      queue_.push_back(Queued{std::move(frame), is_message});
      queued_ += cost;
      if (!writing_) writing_ = kick = true;
    }
    if (kick) asio::post(stream_.get_executor(), [self = shared_from_this()] { self->write_next(); });
    return Enqueued::kOk;
  }

  // From the delivery thread: a message of this connection was handled.
  void consumed(std::size_t cost) {
    const std::size_t left = inbound_.fetch_sub(cost) - cost;
    if (paused_.load() && left < mesh_.options().max_inbound_queue_bytes)
      asio::post(stream_.get_executor(), [self = shared_from_this()] { self->resume(); });
  }

  std::size_t queued_bytes() const {
    std::lock_guard lock(qmu_);
    return queued_;
  }
  std::size_t inbound_bytes() const { return inbound_.load(); }

 private:
  struct Queued {
    core::Bytes bytes;
    bool is_message = false;
  };

  void set_authorization(const Authorization& auth) {
    has_peer_ = true;
    peer_id_ = auth.peer_id;
    generation_ = auth.generation;
    metrics_ = auth.metrics;
  }

  std::string who() const {
    return has_peer_ ? "participant " + std::to_string(peer_id_) + " at " + remote_ : remote_;
  }

  void begin() {
    if (state_ != State::kHandshaking) return;  // closed before it started (stop, eviction)
    deadline_.expires_after(mesh_.options().handshake_timeout);
    deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && self->state_ == State::kHandshaking)
        self->close_now("handshake_timeout", "no TLS handshake and HELLO exchange within " +
                                                 std::to_string(self->mesh_.options().handshake_timeout.count()) + " ms");
    });
    if (dir_ == Dir::kInbound) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared_from_this()](error_code ec) { self->on_tls(ec); });
      return;
    }
    resolver_->async_resolve(host_, std::to_string(port_),
                             [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                               self->on_resolved(ec, std::move(results));
                             });
  }

  void on_resolved(error_code ec, tcp::resolver::results_type results) {
    if (state_ == State::kClosed) return;
    if (ec) return close_now("resolve_failed", "cannot resolve " + host_ + ": " + ec.message());
    asio::async_connect(stream_.next_layer(), results,
                        [self = shared_from_this()](error_code e, const tcp::endpoint&) { self->on_connected(e); });
  }

  void on_connected(error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) return close_now("connect_failed", ec.message());
    error_code ignored;
    stream_.next_layer().set_option(tcp::no_delay(true), ignored);
    tls::set_client_sni(stream_.native_handle());
    stream_.async_handshake(asio::ssl::stream_base::client,
                            [self = shared_from_this()](error_code e) { self->on_tls(e); });
  }

  void on_tls(error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec) return close_now("handshake_failed", "TLS handshake: " + ec.message());
    auto key = tls::peer_key(stream_.native_handle());
    if (!key) return close_now("bad_certificate", key.error().message);
    if (dir_ == Dir::kInbound) {
      auto auth = mesh_.authorize_inbound(*key);
      if (!auth) return close_now(auth.error(), "certificate key " + core::ed25519_public_key_to_string(*key));
      set_authorization(*auth);
    } else {
      if (auto refusal = mesh_.check_outbound(peer_id_, generation_, *key))
        return close_now(*refusal, "certificate key " + core::ed25519_public_key_to_string(*key));
      enqueue(wire::encode_hello({wire::kProtocolVersion, mesh_.self_id(), peer_id_}), false);
    }
    do_read();
  }

  void do_read() {
    if (state_ == State::kClosed || paused_.load() || reading_) return;
    reading_ = true;
    auto room = decoder_.prepare(kReadChunk);
    stream_.async_read_some(asio::buffer(room.data(), room.size()),
                            [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(error_code ec, std::size_t n) {
    reading_ = false;
    if (state_ == State::kClosed) return;
    decoder_.commit(n);
    if (ec) {
      const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
                       ec == asio::error::connection_reset;
      const bool established = state_ == State::kEstablished;
      return close_now(eof ? (established ? "peer_closed" : "closed") : (established ? "read_failed" : "handshake_failed"),
                       ec.message());
    }
    last_rx_ = SteadyClock::now();
    if (state_ == State::kEstablished && metrics_ != nullptr) metrics_->last_seen->set(net::unix_now_seconds());
    process();
  }

  // Handles the whole frames buffered, then reads more (unless paused).
  // REQUIRES: no read in flight.
  void process() {
    while (state_ != State::kClosed && !paused_.load()) {
      auto next = decoder_.next();
      if (!next) return close_now(next.error().reason, next.error().message);
      if (!*next) return do_read();
      handle(std::move(**next));
    }
  }

  void resume() {
    if (state_ == State::kClosed || reading_) return;
    if (paused_.load()) {
      if (inbound_.load() >= mesh_.options().max_inbound_queue_bytes) return;
      paused_.store(false);
      last_rx_ = SteadyClock::now();  // the idle clock ran against us, not the peer
    }
    process();
  }

  void handle(wire::Frame frame) {
    if (metrics_ != nullptr) metrics_->received->inc();
    switch (frame.type) {
      case wire::FrameType::kHello: return on_hello(frame.payload);
      case wire::FrameType::kMessage: {
        const std::size_t cost = frame.payload.size() + kFrameOverhead;
        const std::size_t limit = mesh_.options().max_inbound_queue_bytes;
        inbound_.fetch_add(cost);
        mesh_.deliver(shared_from_this(), peer_id_, std::move(frame.payload), cost);
        if (inbound_.load() >= limit) {
          // Paired with consumed(): either it sees paused_ and resumes us,
          // or we see its decrement here.
          paused_.store(true);
          if (inbound_.load() < limit) paused_.store(false);
        }
        return;
      }
      case wire::FrameType::kPing: {
        auto nonce = wire::decode_nonce(frame.payload);
        if (!nonce) return close_now(nonce.error().reason, nonce.error().message);
        enqueue(wire::encode_pong(*nonce), false);  // dropped when the queue is full
        return;
      }
      case wire::FrameType::kPong: {
        auto nonce = wire::decode_nonce(frame.payload);
        if (!nonce) return close_now(nonce.error().reason, nonce.error().message);
        if (ping_outstanding_ && *nonce == ping_nonce_) {
          ping_outstanding_ = false;
          if (metrics_ != nullptr)
            metrics_->rtt->set(std::chrono::duration<double>(SteadyClock::now() - ping_sent_).count());
        }
        return;
      }
    }
  }

  void on_hello(const core::Bytes& payload) {
    auto hello = wire::decode_hello(payload);
    if (!hello) return close_now(hello.error().reason, hello.error().message);
    if (hello->version != wire::kProtocolVersion)
      return close_now("version_mismatch", "protocol version " + std::to_string(hello->version) + ", we speak " +
                                               std::to_string(wire::kProtocolVersion));
    if (hello->sender != peer_id_)
      return close_now("id_mismatch", "its certificate key is participant " + std::to_string(peer_id_) +
                                          "'s, its HELLO claims participant " + std::to_string(hello->sender));
    if (hello->recipient != mesh_.self_id())
      return close_now("wrong_recipient", "its HELLO is addressed to participant " + std::to_string(hello->recipient));
    // The listener answers only a HELLO it accepted, before any message can
    // be queued (the channel is not published yet).
    if (dir_ == Dir::kInbound) enqueue(wire::encode_hello({wire::kProtocolVersion, mesh_.self_id(), peer_id_}), false);
    if (auto refusal = mesh_.establish(shared_from_this())) return close_now(*refusal);
    state_ = State::kEstablished;
    decoder_.expect_hello(false);
    deadline_.cancel();
    last_rx_ = SteadyClock::now();
    if (metrics_ != nullptr) metrics_->last_seen->set(net::unix_now_seconds());
    schedule_ping();
  }

  void schedule_ping() {
    ping_timer_.expires_after(mesh_.options().ping_interval);
    ping_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->on_ping_tick();
    });
  }

  void on_ping_tick() {
    if (state_ != State::kEstablished) return;
    const auto now = SteadyClock::now();
    if (!paused_.load() && now - last_rx_ > mesh_.options().idle_timeout)
      return close_now("idle_timeout", "nothing received for " + std::to_string(mesh_.options().idle_timeout.count()) + " ms");
    ++ping_nonce_;
    ping_sent_ = now;
    ping_outstanding_ = true;
    enqueue(wire::encode_ping(ping_nonce_), false);
    schedule_ping();
  }

  void write_next() {
    if (state_ == State::kClosed) return;
    batch_frames_ = 0;
    batch_cost_ = 0;
    core::secure_wipe(write_buf_.data(), write_buf_.size());  // sent: messages may carry secrets
    write_buf_.clear();
    {
      std::lock_guard lock(qmu_);
      if (queue_.empty()) {
        writing_ = false;
        return;
      }
      while (!queue_.empty()) {
        auto& front = queue_.front();
        const std::size_t frame_size = front.bytes.size();
        if (batch_frames_ > 0 && write_buf_.size() + frame_size > kWriteBatch) break;
        if (batch_frames_ == 0 && frame_size >= kWriteBatch) {
          write_buf_ = std::move(front.bytes);
        } else {
          write_buf_.insert(write_buf_.end(), front.bytes.begin(), front.bytes.end());
        }
        batch_cost_ += frame_size + kFrameOverhead;
        ++batch_frames_;
        queue_.pop_front();
      }
    }
    const std::uint64_t seq = ++write_seq_;
    write_in_flight_ = true;
    write_timer_.expires_after(mesh_.options().write_timeout);
    write_timer_.async_wait([self = shared_from_this(), seq](error_code ec) {
      if (!ec && self->write_in_flight_ && self->write_seq_ == seq)
        self->close_now("write_timeout", "a write did not finish within " +
                                             std::to_string(self->mesh_.options().write_timeout.count()) + " ms");
    });
    asio::async_write(stream_, asio::buffer(write_buf_),
                      [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    write_in_flight_ = false;
    write_timer_.cancel();
    if (state_ == State::kClosed) return;
    if (ec) return close_now(state_ == State::kEstablished ? "write_failed" : "handshake_failed", "write: " + ec.message());
    if (metrics_ != nullptr) metrics_->sent->inc(batch_frames_);
    {
      std::lock_guard lock(qmu_);
      queued_ -= std::min(queued_, batch_cost_);
    }
    if (write_buf_.capacity() > 4 * kWriteBatch) core::Bytes().swap(write_buf_);
    write_next();
  }

  Mesh::Impl& mesh_;
  const Dir dir_;
  const std::uint64_t budget_id_ = 0;
  const std::string remote_;
  const std::string host_;
  const std::uint16_t port_ = 0;
  asio::ssl::stream<tcp::socket> stream_;
  asio::steady_timer deadline_;
  asio::steady_timer ping_timer_;
  asio::steady_timer write_timer_;
  wire::FrameDecoder decoder_;
  std::optional<tcp::resolver> resolver_;

  // Strand state.
  State state_ = State::kHandshaking;
  bool has_peer_ = false;
  std::uint64_t peer_id_ = 0;
  std::uint64_t generation_ = 0;
  PeerMetrics* metrics_ = nullptr;
  bool reading_ = false;
  SteadyClock::time_point last_rx_{};
  std::uint64_t ping_nonce_ = 0;
  bool ping_outstanding_ = false;
  SteadyClock::time_point ping_sent_{};
  core::Bytes write_buf_;
  std::size_t batch_frames_ = 0;
  std::size_t batch_cost_ = 0;
  std::uint64_t write_seq_ = 0;
  bool write_in_flight_ = false;

  // Shared with other threads.
  std::atomic<bool> revoked_{false};
  std::atomic<bool> paused_{false};
  std::atomic<std::size_t> inbound_{0};
  mutable std::mutex qmu_;
  std::deque<Queued> queue_;
  std::size_t queued_ = 0;  // queued + in flight, each frame charged size + kFrameOverhead
  bool writing_ = false;
  bool qclosed_ = false;
};

// ---------------------------------------------------------------------------

Mesh::Impl::Impl(std::uint64_t self_id, const core::Ed25519PublicKey& self_key,
                 std::shared_ptr<asio::ssl::context> server_ctx, std::shared_ptr<asio::ssl::context> client_ctx,
                 MeshOptions options, MessageHandler on_message, net::MetricsRegistry* metrics)
    : self_id_(self_id),
      self_key_(self_key),
      server_ctx_(std::move(server_ctx)),
      client_ctx_(std::move(client_ctx)),
      options_(std::move(options)),
      on_message_(std::move(on_message)),
      own_metrics_(metrics == nullptr ? std::make_unique<net::MetricsRegistry>() : nullptr),
      metrics_(metrics == nullptr ? own_metrics_.get() : metrics),
      budget_(net::ConnectionLimits{options_.max_preauth_connections, options_.max_preauth_per_source,
                                    2 * options_.max_peers}),
      rng_(std::random_device{}()) {
  const char* reasons[] = {"not_connected", "queue_full", "too_large", "stopped"};
  for (int i = 0; i < 4; ++i)
    send_refused_[i] = &metrics_->counter("p2p_send_refused_total", "P2P sends refused, by reason", {{"reason", reasons[i]}});
  ioc_.emplace();
}

Mesh::Impl::~Impl() {
  stop();
  {
    std::lock_guard lock(mu_);
    peers_.clear();
    preauth_.clear();
    live_.clear();
  }
  deliveries_.clear();
  acceptor_.reset();
  work_.reset();
  ioc_.reset();  // destroys the handlers never run, and the connections they own
}

bool Mesh::Impl::may_log() { return log_limiter_.allow(); }

PeerMetrics* Mesh::Impl::metrics_for(std::uint64_t id) {
  auto it = peer_metrics_.find(id);
  if (it != peer_metrics_.end()) return &it->second;
  const net::Labels labels{{"participant", std::to_string(id)}};
  PeerMetrics m;
  m.connected = &metrics_->gauge("p2p_peer_connected", "1 while the P2P channel to the participant is up", labels);
  m.rtt = &metrics_->gauge("p2p_peer_ping_rtt_seconds", "Last P2P ping round-trip time to the participant", labels);
  m.last_seen = &metrics_->gauge("p2p_peer_last_seen_timestamp_seconds",
                                 "Unix time of the last P2P frame received from the participant", labels);
  m.sent = &metrics_->counter("p2p_frames_sent_total", "P2P frames sent to the participant (all types)", labels);
  m.received = &metrics_->counter("p2p_frames_received_total", "P2P frames received from the participant (all types)", labels);
  m.dropped = &metrics_->counter("p2p_messages_dropped_total",
                                 "P2P messages queued for the participant and lost with their channel", labels);
  return &peer_metrics_.emplace(id, m).first->second;
}

void Mesh::Impl::count_send_refusal(SendRefusal reason) { send_refused_[static_cast<int>(reason)]->inc(); }

core::Result<tcp::endpoint> Mesh::Impl::start(const tcp::endpoint& endpoint) {
  return start_listening([&](tcp::acceptor& acceptor, error_code& ec) {
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (ec) ec_where_ = "cannot listen on " + endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  });
}

core::Result<tcp::endpoint> Mesh::Impl::start_on_socket(int fd) {
  return start_listening([&](tcp::acceptor& acceptor, error_code& ec) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) {
      ec = asio::error::bad_descriptor;
      ec_where_ = "file descriptor " + std::to_string(fd) + " is not a bound TCP socket";
      return;
    }
    int type = 0;
    socklen_t type_len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) {
      ec = asio::error::bad_descriptor;
      ec_where_ = "file descriptor " + std::to_string(fd) + " is not a TCP socket";
      return;
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    acceptor.assign(addr.ss_family == AF_INET ? tcp::v4() : tcp::v6(), fd, ec);
    if (ec) ec_where_ = "cannot take over file descriptor " + std::to_string(fd);
  });
}

core::Result<tcp::endpoint> Mesh::Impl::start_listening(const std::function<void(tcp::acceptor&, error_code&)>& open) {
  std::lock_guard lock(mu_);
  if (stopped_) return core::fail(core::ErrorCode::kFailedPrecondition, "the P2P mesh is stopped; create a new one");
  if (started_) return core::fail(core::ErrorCode::kFailedPrecondition, "the P2P mesh is already started");
  acceptor_.emplace(asio::make_strand(*ioc_));
  error_code ec;
  open(*acceptor_, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  tcp::endpoint bound;
  if (!ec) bound = acceptor_->local_endpoint(ec);
  if (ec) {
    acceptor_.reset();
    return core::fail(core::ErrorCode::kUnavailable, "P2P mesh: " + (ec_where_.empty() ? std::string("cannot listen") : ec_where_) + ": " + ec.message());
  }
  started_ = true;
  work_.emplace(ioc_->get_executor());
  do_accept();
  for (auto& [id, st] : peers_)
    if (dials(self_id_, id)) schedule_dial(st, std::chrono::milliseconds(0));
  const unsigned n = std::max(1u, options_.io_threads);
  for (unsigned i = 0; i < n; ++i) io_threads_.emplace_back([this] { net::run_io_context(*ioc_, "p2p mesh"); });
  delivery_thread_ = std::thread([this] { delivery_loop(); });
  spdlog::info("p2p: participant {} listening on {}:{}", self_id_, bound.address().to_string(), bound.port());
  return bound;
}

void Mesh::Impl::do_accept() {
  acceptor_->async_accept(asio::make_strand(*ioc_), [this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      if (may_log()) spdlog::warn("p2p: accept failed: {}; the listener keeps going", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(acceptor_->get_executor(), std::chrono::milliseconds(50));
      timer->async_wait([this, timer](error_code) { do_accept(); });
      return;
    }
    try {
      on_accept(std::move(socket));
    } catch (const std::exception& e) {  // e.g. bad_alloc: this connection is lost, the listener is not
      spdlog::error("p2p: accepting a connection failed: {}", e.what());
    }
    do_accept();
  });
}

void Mesh::Impl::on_accept(tcp::socket socket) {
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;
  socket.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<Connection> conn;
  std::shared_ptr<Connection> victim;
  const char* eviction = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    auto admission = budget_.admit(remote.address());
    if (admission.evicted) {
      eviction = net::eviction_label(admission.evicted->reason);
      if (auto it = preauth_.find(admission.evicted->id); it != preauth_.end()) {
        victim = it->second.lock();
        preauth_.erase(it);
      }
    }
    try {
      conn = std::make_shared<Connection>(*this, std::move(socket), admission.id,
                                          remote.address().to_string() + ":" + std::to_string(remote.port()));
    } catch (...) {
      budget_.release(admission.id);
      throw;
    }
    preauth_.emplace(admission.id, conn);
    live_.emplace(conn.get(), conn);
  }
  if (victim) victim->request_close(eviction, false);
  conn->start();
}

std::expected<Authorization, std::string_view> Mesh::Impl::authorize_inbound(const core::Ed25519PublicKey& key) {
  std::lock_guard lock(mu_);
  if (stopped_) return std::unexpected(std::string_view("stopping"));
  const Peer* peer = peer_set_.by_key(key);
  if (peer == nullptr) return std::unexpected(std::string_view("unknown_key"));
  if (!dials(peer->participant_id, self_id_)) return std::unexpected(std::string_view("wrong_direction"));
  const auto& st = peers_.at(peer->participant_id);
  return Authorization{peer->participant_id, st.generation, st.metrics};
}

std::optional<std::string_view> Mesh::Impl::check_outbound(std::uint64_t peer_id, std::uint64_t generation,
                                                           const core::Ed25519PublicKey& key) {
  std::lock_guard lock(mu_);
  if (stopped_) return "stopping";
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || it->second.generation != generation) return "stale_peer";
  if (it->second.peer.tls_public_key != key) return "unexpected_key";
  return std::nullopt;
}

std::optional<std::string_view> Mesh::Impl::establish(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mu_);
  if (stopped_) return "stopping";
  auto it = peers_.find(conn->peer_id());
  if (it == peers_.end() || it->second.generation != conn->generation()) return "stale_peer";
  PeerState& st = it->second;
  if (conn->dir() == Connection::Dir::kInbound) {
    preauth_.erase(conn->budget_id());
    switch (budget_.promote(conn->budget_id())) {
      case net::Promotion::kAuthenticated: break;
      case net::Promotion::kGone: return "evicted_preauth";  // its close is on the way
      case net::Promotion::kFull: return "too_many_connections";
    }
  } else {
    if (st.dialing != conn) return "stale_peer";
    st.dialing.reset();
  }
  if (st.conn) st.conn->request_close("replaced", false);
  st.conn = conn;
  st.failures = 0;
  st.metrics->connected->set(1);
  spdlog::info("p2p: channel to participant {} ({}) up, {} {}", st.peer.participant_id, st.peer.account_id,
               conn->dir() == Connection::Dir::kInbound ? "from" : "to", conn->remote());
  return std::nullopt;
}

void Mesh::Impl::on_closed(Connection& conn, bool was_established, std::string_view reason, const std::string& detail) {
  const std::string label(reason);
  if (was_established)
    metrics_->counter("p2p_disconnects_total", "P2P channels closed, by reason", {{"reason", label}}).inc();
  else
    metrics_->counter("p2p_connections_refused_total", "P2P connections that never became a channel, by reason",
                      {{"reason", label}})
        .inc();
  std::lock_guard lock(mu_);
  live_.erase(&conn);
  if (conn.dir() == Connection::Dir::kInbound) {
    budget_.release(conn.budget_id());
    if (auto it = preauth_.find(conn.budget_id()); it != preauth_.end() && it->second.lock().get() == &conn)
      preauth_.erase(it);
  }
  if (was_established) {
    spdlog::info("p2p: channel to participant {} ({}) closed: {}{}{}", conn.peer_id(), conn.remote(), label,
                 detail.empty() ? "" : ": ", detail);
  } else if (label != "stopping" && may_log()) {
    spdlog::info("p2p: connection {} {} refused: {}{}{}", conn.dir() == Connection::Dir::kInbound ? "from" : "to",
                 conn.has_peer() ? "participant " + std::to_string(conn.peer_id()) + " at " + conn.remote() : conn.remote(),
                 label, detail.empty() ? "" : ": ", detail);
  }
  if (!conn.has_peer()) return;
  auto it = peers_.find(conn.peer_id());
  if (it == peers_.end() || it->second.generation != conn.generation()) return;
  PeerState& st = it->second;
  if (was_established && st.conn.get() == &conn) {
    st.conn.reset();
    st.metrics->connected->set(0);
    if (conn.dir() == Connection::Dir::kOutbound) {
      st.failures = 0;
      schedule_dial(st, backoff_delay(options_.backoff, 0, options_.random_unit ? options_.random_unit()
                                                                                : std::uniform_real_distribution<double>()(rng_)));
    }
  } else if (!was_established && conn.dir() == Connection::Dir::kOutbound && st.dialing.get() == &conn) {
    st.dialing.reset();
    const unsigned failures = st.failures;
    if (st.failures < 64) ++st.failures;
    schedule_dial(st, backoff_delay(options_.backoff, failures, options_.random_unit ? options_.random_unit()
                                                                                     : std::uniform_real_distribution<double>()(rng_)));
  }
}

void Mesh::Impl::schedule_dial(PeerState& st, std::chrono::milliseconds delay) {
  if (stopped_ || !started_) return;
  const std::uint64_t token = ++st.dial_token;
  auto timer = std::make_shared<asio::steady_timer>(*ioc_, delay);
  timer->async_wait([this, timer, id = st.peer.participant_id, generation = st.generation, token](error_code ec) {
    if (ec) return;
    std::shared_ptr<Connection> conn;
    {
      std::lock_guard lock(mu_);
      auto it = peers_.find(id);
      if (stopped_ || it == peers_.end()) return;
      PeerState& s = it->second;
      if (s.generation != generation || s.dial_token != token || s.conn || s.dialing) return;
      conn = std::make_shared<Connection>(*this, asio::make_strand(*ioc_), Authorization{id, s.generation, s.metrics},
                                          s.peer.host, s.peer.port);
      s.dialing = conn;
      live_.emplace(conn.get(), conn);
    }
    conn->start();
  });
}

void Mesh::Impl::close_peer(PeerState& st, std::string_view reason) {
  if (st.conn) st.conn->request_close(reason, /*revoke=*/true);
  if (st.dialing) st.dialing->request_close(reason, /*revoke=*/true);
  st.conn.reset();
  st.dialing.reset();
  ++st.dial_token;
  if (st.metrics) st.metrics->connected->set(0);
}

core::Status Mesh::Impl::set_peers(const std::vector<Peer>& peers) {
  MPC_ASSIGN(auto next, PeerSet::make(self_id_, self_key_, peers, options_.max_peers));
  std::lock_guard lock(mu_);
  if (stopped_) return core::fail(core::ErrorCode::kFailedPrecondition, "the P2P mesh is stopped");
  std::size_t added = 0, removed = 0, rekeyed = 0;
  for (auto it = peers_.begin(); it != peers_.end();) {
    PeerState& st = it->second;
    const Peer* p = next.by_id(it->first);
    if (p != nullptr && p->tls_public_key == st.peer.tls_public_key) {
      st.peer = *p;  // account or address may change; the channel stays
      ++it;
      continue;
    }
    close_peer(st, p == nullptr ? "peer_removed" : "key_changed");
    if (p == nullptr) {
      ++removed;
      it = peers_.erase(it);
      continue;
    }
    ++rekeyed;
    st.peer = *p;
    st.generation = next_generation_++;
    st.failures = 0;
    if (dials(self_id_, it->first)) schedule_dial(st, std::chrono::milliseconds(0));
    ++it;
  }
  for (const auto& [id, p] : next.peers()) {
    if (peers_.count(id) > 0) continue;
    ++added;
    PeerState st;
    st.peer = p;
    st.generation = next_generation_++;
    st.metrics = metrics_for(id);
    auto& ref = peers_.emplace(id, std::move(st)).first->second;
    if (dials(self_id_, id)) schedule_dial(ref, std::chrono::milliseconds(0));
  }
  peer_set_ = std::move(next);
  if (added + removed + rekeyed > 0)
    spdlog::info("p2p: participant {}: {} peers ({} added, {} removed, {} with a new key)", self_id_, peers_.size(), added,
                 removed, rekeyed);
  return {};
}

bool Mesh::Impl::send(std::uint64_t participant, std::vector<std::uint8_t> payload) {
  if (payload.size() > options_.max_payload) {
    count_send_refusal(SendRefusal::kTooLarge);
    return false;
  }
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      count_send_refusal(SendRefusal::kStopped);
      return false;
    }
    if (auto it = peers_.find(participant); it != peers_.end()) conn = it->second.conn;
  }
  if (!conn) {
    count_send_refusal(SendRefusal::kNotConnected);
    return false;
  }
  auto frame = wire::encode_frame(wire::FrameType::kMessage, payload);
  core::secure_wipe(payload.data(), payload.size());  // the frame is the only copy now
  switch (conn->enqueue(std::move(frame), true)) {
    case Connection::Enqueued::kOk: return true;
    case Connection::Enqueued::kClosed: count_send_refusal(SendRefusal::kNotConnected); return false;
    case Connection::Enqueued::kFull: count_send_refusal(SendRefusal::kQueueFull); return false;
  }
  return false;
}

std::vector<std::uint64_t> Mesh::Impl::connected_peers() const {
  std::lock_guard lock(mu_);
  std::vector<std::uint64_t> out;
  for (const auto& [id, st] : peers_)
    if (st.conn) out.push_back(id);
  return out;
}

std::size_t Mesh::Impl::outbound_queued_bytes(std::uint64_t participant) const {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(participant); it != peers_.end()) conn = it->second.conn;
  }
  return conn ? conn->queued_bytes() : 0;
}

std::size_t Mesh::Impl::inbound_queued_bytes(std::uint64_t participant) const {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(participant); it != peers_.end()) conn = it->second.conn;
  }
  return conn ? conn->inbound_bytes() : 0;
}

std::size_t Mesh::Impl::preauth_connections() const {
  std::lock_guard lock(mu_);
  return budget_.preauth();
}

void Mesh::Impl::deliver(std::shared_ptr<Connection> conn, std::uint64_t from, core::Bytes payload, std::size_t cost) {
  {
    std::lock_guard lock(dmu_);
    if (delivery_stop_) return;
    deliveries_.push_back(Delivery{std::move(conn), from, std::move(payload), cost});
  }
  dcv_.notify_one();
}

void Mesh::Impl::delivery_loop() {
  for (;;) {
    Delivery d;
    {
      std::unique_lock lock(dmu_);
      dcv_.wait(lock, [this] { return delivery_stop_ || !deliveries_.empty(); });
      if (delivery_stop_) return;
      d = std::move(deliveries_.front());
      deliveries_.pop_front();
    }
    if (!d.conn->revoked() && on_message_) {
      try {
        on_message_(d.from, std::move(d.payload));
      } catch (const std::exception& e) {
        spdlog::error("p2p: the message handler threw: {}", e.what());
      } catch (...) {
        spdlog::error("p2p: the message handler threw a non-standard exception");
      }
    }
    d.conn->consumed(d.cost);
  }
}

void Mesh::Impl::stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  ioc_->stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  // No io thread runs any more: connections are closed from here.
  if (acceptor_) {
    error_code ignored;
    acceptor_->close(ignored);
  }
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [ptr, weak] : live_)
      if (auto c = weak.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->close_now("stopping");
  all.clear();
  {
    std::lock_guard lock(dmu_);
    delivery_stop_ = true;
  }
  dcv_.notify_all();
  if (delivery_thread_.joinable()) delivery_thread_.join();
  {
    std::lock_guard lock(dmu_);
    deliveries_.clear();
  }
  std::lock_guard lock(mu_);
  for (auto& [id, st] : peers_) {
    st.conn.reset();
    st.dialing.reset();
    if (st.metrics) st.metrics->connected->set(0);
  }
  if (started_) spdlog::info("p2p: participant {} stopped", self_id_);
}

// ---------------------------------------------------------------------------

core::Result<std::unique_ptr<Mesh>> Mesh::create(std::uint64_t self_id, const core::Ed25519SecretKey& key,
                                                 MeshOptions options, MessageHandler on_message,
                                                 net::MetricsRegistry* metrics) {
  MPC_ASSIGN(auto server_ctx, tls::make_server_context(key));
  MPC_ASSIGN(auto client_ctx, tls::make_client_context(key));
  options.max_payload = std::min(options.max_payload, wire::kMaxPayloadLimit);
  options.max_inbound_queue_bytes = std::max<std::size_t>(options.max_inbound_queue_bytes, 1);
  options.max_peers = std::max<std::size_t>(options.max_peers, 1);
  const auto floor = std::chrono::milliseconds(1);
  options.ping_interval = std::max(options.ping_interval, floor);
  options.handshake_timeout = std::max(options.handshake_timeout, floor);
  options.idle_timeout = std::max(options.idle_timeout, floor);
  options.write_timeout = std::max(options.write_timeout, floor);
  return std::unique_ptr<Mesh>(new Mesh(std::make_unique<Impl>(self_id, key.public_key(), std::move(server_ctx),
                                                                 std::move(client_ctx), std::move(options),
                                                                 std::move(on_message), metrics)));
}

Mesh::Mesh(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mesh::~Mesh() = default;

core::Result<tcp::endpoint> Mesh::start(const tcp::endpoint& endpoint) { return impl_->start(endpoint); }
core::Result<tcp::endpoint> Mesh::start_on_socket(int fd) { return impl_->start_on_socket(fd); }
core::Status Mesh::set_peers(const std::vector<Peer>& peers) { return impl_->set_peers(peers); }
bool Mesh::send(std::uint64_t participant, std::vector<std::uint8_t> payload) {
  return impl_->send(participant, std::move(payload));
}
std::vector<std::uint64_t> Mesh::connected_peers() const { return impl_->connected_peers(); }
void Mesh::stop() { impl_->stop(); }
std::uint64_t Mesh::self_id() const { return impl_->self_id(); }
net::MetricsRegistry& Mesh::metrics() { return impl_->metrics(); }
std::size_t Mesh::outbound_queued_bytes(std::uint64_t participant) const { return impl_->outbound_queued_bytes(participant); }
std::size_t Mesh::inbound_queued_bytes(std::uint64_t participant) const { return impl_->inbound_queued_bytes(participant); }
std::size_t Mesh::preauth_connections() const { return impl_->preauth_connections(); }

}  // namespace mpc::p2p
