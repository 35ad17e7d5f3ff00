// The HTTP/1.1 request/response loop shared by HttpServer (plain TCP) and
// MtlsServer (mutual TLS): per-request deadline, keep-alive idle deadline,
// body and header limits, write deadline, one response per request.
//
// CRTP: Derived provides
//   auto& stream();                   the Beast stream to read and write
//   tcp::socket& socket();            its socket (executor, cancel, close)
//   void dispatch(HttpRequest&&, Responder);
//   void on_timeout();                a peer was too slow (metrics, logs)
//   void finish();                    orderly end after the last response
//   void on_closed();                 (optional) the socket was just closed
//   const BodyExpectation* body_expectation();  (optional) see RequestBody
// and calls start_reading() once the connection is ready for requests.
// close_after_exchange() (on the connection's executor) ends the connection
// gracefully: at once when it is idle (no byte of a next request received),
// otherwise once the request in flight has been answered.
//
// Deadlines: one timer per connection, armed lazily. set_deadline() only
// records the time when it is later than the one the timer waits for (the
// timer, when it fires early, waits again for the rest), so a request costs
// a timer operation or two, not one per socket read and write (as the
// stream's own per-operation timeouts would). When a deadline passes the
// socket is closed: the pending operation ends, and timed_out() says why.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "net/http_server.h"

namespace mpc::net {

struct SessionLimits {
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
};

template <class Derived>
class HttpSession {
 protected:
  explicit HttpSession(SessionLimits limits) : limits_(limits), buffer_(limits.header_limit + kReadChunk) {}

  // What one read asks the stream for: four TLS records' plaintext (16 KiB
  // each), so a large body arrives in a few reads (an empty buffer would
  // ask for 512 bytes at a time; TlsSocketStream fills it with the records
  // already received). Reserved when the first request is read, i.e. only
  // by connections that got that far.
  static constexpr std::size_t kReadChunk = 4 * ResponseBody::writer::kRecord + 512;

  void start_reading() { read_request(true); }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::beast::error_code ec;
    auto& socket = self().socket();
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
    if (timer_) timer_->cancel();
    if constexpr (requires(Derived& d) { d.on_closed(); }) self().on_closed();
  }
  bool closed() const { return closed_; }

  using Clock = std::chrono::steady_clock;
  // The connection's deadline (see the header comment); on the connection's executor.
  void set_deadline(Clock::time_point at) {
    deadline_ = at;
    if (closed_) return;
    if (!timer_) timer_.emplace(self().socket().get_executor());
    if (!timer_waiting_) return wait_for_deadline();
    if (at < timer_->expiry()) timer_->cancel();  // its handler waits again, for `at`
  }
  void set_deadline_after(Clock::duration d) { set_deadline(Clock::now() + d); }
  void clear_deadline() { deadline_ = Clock::time_point::max(); }
  // A deadline passed (the socket was closed for it).
  bool timed_out() const { return timed_out_; }

  // See the header comment. The response in flight, if any, carries
  // "Connection: close".
  void close_after_exchange() {
    if (closed_ || close_requested_) return;
    close_requested_ = true;
    const bool idle = reading_ && buffer_.size() == 0 && !(parser_ && parser_->got_some());
    if (idle) {
      boost::beast::error_code ec;
      self().socket().cancel(ec);  // the pending read ends with operation_aborted, then finish()
    }
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  std::shared_ptr<Derived> shared() { return self().shared_from_this(); }

  void wait_for_deadline() {
    timer_waiting_ = true;
    timer_->expires_at(deadline_);
    // Weak: a pending wait does not keep the connection alive.
    timer_->async_wait([w = self().weak_from_this()](boost::beast::error_code) {
      if (auto s = w.lock()) s->on_deadline_timer();
    });
  }

  void on_deadline_timer() {
    timer_waiting_ = false;
    if (closed_ || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() < deadline_) return wait_for_deadline();  // moved later (or earlier) meanwhile
    timed_out_ = true;
    boost::beast::error_code ec;
    self().socket().close(ec);  // the pending operation ends; close() follows from its handler
  }

  void read_request(bool first) {
    namespace http = boost::beast::http;
    parser_.emplace();
    if constexpr (requires(Derived& d) { d.body_expectation(); }) parser_->get().body().expect = self().body_expectation();
    if (buffer_.capacity() < kReadChunk) buffer_.reserve(kReadChunk);
    parser_->body_limit(limits_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(limits_.header_limit));
    // Before the first byte of a keep-alive request the idle limit applies;
    // from then on, the request deadline.
    set_deadline_after(first ? limits_.request_timeout : limits_.idle_timeout);
    awaiting_first_byte_ = !first;
    if (close_requested_) return self().finish();
    reading_ = true;
    read_some();
  }

  void read_some() {
    boost::beast::http::async_read_some(self().stream(), buffer_, *parser_,
                                        [s = shared()](boost::beast::error_code ec, std::size_t) { s->on_read_some(ec); });
  }

  void on_read_some(boost::beast::error_code ec) {
    namespace http = boost::beast::http;
    namespace asio = boost::asio;
    if (ec == asio::error::operation_aborted && close_requested_ && !closed_) {
      reading_ = false;
      return self().finish();  // asked to close while idle
    }
    if (timed_out_) {
      // An idle keep-alive connection timing out is normal; a request that
      // does not arrive in time is a slow (or hostile) peer.
      if (!awaiting_first_byte_) self().on_timeout();
      return close();
    }
    if (!ec && awaiting_first_byte_) {
      awaiting_first_byte_ = false;
      set_deadline_after(limits_.request_timeout);
    }
    if (!ec && !parser_->is_done()) return read_some();
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || ec == asio::ssl::error::stream_truncated)
      return close();
    if (ec == http::error::body_limit)
      return send_error(413, "request body is larger than the limit of " + std::to_string(limits_.body_limit) + " bytes\n");
    if (ec == http::error::header_limit) return send_error(431, "request headers are too large\n");
    if (ec) return send_error(400, "malformed HTTP request: " + ec.message() + "\n");

    reading_ = false;
    clear_deadline();
    HttpRequest request = parser_->release();
    request.body().expect = nullptr;  // the server's: not for the handler to keep
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    auto s = shared();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    // An answer given at once (on this thread, from within dispatch()) is
    // written at once; one given later, from any thread, is handed to the
    // connection's executor.
    Responder responder = [s, responded](HttpResponse res) {
      if (responded->exchange(true)) return;
      asio::dispatch(s->stream().get_executor(), [s, res = std::move(res)]() mutable { s->write(std::move(res)); });
    };
    try {
      self().dispatch(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      spdlog::error("http handler threw: {}", e.what());
      if (!responded->exchange(true)) write(make_response(500, "internal error\n", "text/plain", version_, false));
    }
  }

  void send_error(unsigned status, std::string body) {
    reading_ = false;
    keep_alive_ = false;
    write(make_response(status, std::move(body), "text/plain", 11, false));
  }

 public:
  // Writes the answer: its header, as Beast's serializer would write it,
  // in one piece with the start of the body, then the body's pieces as its
  // writer yields them (ResponseBody::writer: whole TLS records), one write
  // each. Beast's serializer did the same through a generic machinery (a
  // view over a dozen buffers per header, visited at every step of every
  // write) that cost about a tenth of the node's CPU per small answer.
  void write(HttpResponse res) {
    if (closed_ || response_) return;  // one answer per request: a second one is dropped, not written over the first
    res.version(version_ == 10 ? 10 : 11);
    if (!keep_alive_ || close_requested_) res.keep_alive(false);
    if (res.chunked()) res.prepare_payload();  // every body's size is known: Content-Length instead
    keep_alive_ = res.keep_alive();
    response_.emplace(std::move(res));
    set_deadline_after(limits_.write_timeout);
    head_.clear();
    append_response_head(head_, response_->base());
    body_writer_.emplace(response_->base(), response_->body());
    boost::beast::error_code ec;
    body_writer_->init(ec);
    if (ec) return close();
    write_piece(true);
  }

 private:
  void write_piece(bool with_head) {
    boost::beast::error_code ec;
    const auto piece = body_writer_->get(ec);
    if (ec) return close();
    if (!piece && !with_head) return written();
    const bool more = piece && piece->second;
    const std::array<boost::asio::const_buffer, 2> buffers{
        with_head ? boost::asio::const_buffer(head_.data(), head_.size()) : boost::asio::const_buffer(),
        piece ? piece->first : boost::asio::const_buffer()};
    boost::asio::async_write(self().stream(), buffers, [s = shared(), more](boost::beast::error_code e, std::size_t) {
      if (e) return s->close();
      if (more) return s->write_piece(false);
      s->written();
    });
  }

  void written() {
    body_writer_.reset();
    response_.reset();
    if (!keep_alive_) return self().finish();
    read_request(false);
  }

 private:
  SessionLimits limits_;
  boost::beast::flat_buffer buffer_;  // at most a whole header and a read
  std::optional<boost::beast::http::request_parser<RequestBody>> parser_;
  std::optional<HttpResponse> response_;                // the answer being written
  std::optional<ResponseBody::writer> body_writer_;     // its body's pieces
  std::string head_;                                    // its header's bytes (the capacity stays)
  std::optional<boost::asio::steady_timer> timer_;  // created with the first deadline
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_waiting_ = false;
  bool timed_out_ = false;
  bool keep_alive_ = true;
  bool awaiting_first_byte_ = false;
  bool reading_ = false;          // a read of the next request is pending
  bool close_requested_ = false;  // close_after_exchange() was called
  bool closed_ = false;
  unsigned version_ = 11;
};

}  // namespace mpc::net
