// An asynchronous HTTP/1.1 server on Boost.Beast (plain TCP).
//
// Every connection has a deadline for reading a whole request, a body size
// limit and a keep-alive idle limit; the number of open connections is
// capped; accept errors are logged and the listener keeps going. Handlers
// answer asynchronously, so a request that waits for something (a block, a
// peer) costs a callback, not a thread.
//
// Thread safety: start/stop from one thread; handlers run on the io_context
// threads and may call the Responder from any thread, exactly once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "core/result.h"
#include "net/host_port.h"

namespace mpc::net {

// A response body produced while it is written, so that a large answer is
// never held whole per connection (the node's GET /get_keyshares encrypts
// and encodes a chunk at a time). Immutable: every open() starts a pass
// that yields exactly size() bytes.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Writes the next bytes (at most `max`, at least 4) to `out`; 0 only at the end.
  virtual core::Result<std::size_t> read(char* out, std::size_t max) = 0;
};
class StreamedBody {
 public:
  virtual ~StreamedBody() = default;
  virtual std::uint64_t size() const = 0;
  virtual core::Result<std::unique_ptr<BodyStream>> open() const = 0;
};

// The servers' response body (a Beast Body): text, as Beast's string_body
// (value_type is a std::string), or, when `streamed` is set, the bytes of a
// StreamedBody, written a chunk at a time (the text is then unused). A
// streamed pass that fails ends the connection.
struct ResponseBody {
  struct value_type : std::string {
    using std::string::string;
    using std::string::operator=;
    value_type() = default;
    value_type(std::string text) : std::string(std::move(text)) {}
    std::shared_ptr<const StreamedBody> streamed;
  };

  static std::uint64_t size(const value_type& body) {
    return body.streamed ? body.streamed->size() : static_cast<const std::string&>(body).size();
  }

  // Parsing (not used by the servers, which only write these).
  using reader = boost::beast::http::string_body::reader;

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;
    // Four TLS records' worth: one write puts four records on the socket
    // (a connection holds one chunk of an answer in flight).
    static constexpr std::size_t kRecord = 16 * 1024;
    static constexpr std::size_t kChunk = 4 * kRecord;

    // The first chunk leaves room for the response header, which goes out
    // in the same write: header and first chunk fill whole TLS records, and
    // so does every later chunk. (A whole first chunk made the header's
    // record spill its last bytes into a small record of their own: one
    // more send and one more wakeup of the client per answer.)
    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>& header, const value_type& body)
        : body_(body), next_max_(first_chunk_for(header)) {}

    void init(boost::beast::error_code& ec);
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec);

   private:
    template <bool isRequest, class Fields>
    static std::size_t first_chunk_for(const boost::beast::http::header<isRequest, Fields>& header) {
      if constexpr (isRequest) {
        return kChunk;
      } else {
        const std::size_t head = serialized_size(header);
        return head <= kRecord / 2 ? kChunk - head : kChunk;
      }
    }

    const value_type& body_;
    std::size_t next_max_;  // the next chunk's size at most: the first one's, then kChunk
    std::unique_ptr<BodyStream> stream_;
    std::unique_ptr<char[]> chunk_;
    std::size_t chunk_size_ = 0;  // kChunk, or less for a smaller body
  };

  // The bytes Beast writes for a response header: the status line
  // ("HTTP/1.1 200 OK"), one "Name: value" line per field, the empty line.
  template <class Fields>
  static std::size_t serialized_size(const boost::beast::http::header<false, Fields>& header) {
    std::size_t n = std::string_view("HTTP/1.1 200 ").size() + header.reason().size() + 2 + 2;
    for (const auto& field : header) n += field.name_string().size() + 2 + field.value().size() + 2;
    return n;
  }
};

// A body a handler expects to receive again (the node: the keyset of its
// last GET /get_keyshares answer, which a backup service sends again and
// again, 218 KB at 1,000 domains).
using SharedBody = std::shared_ptr<const std::string>;
using RequestHeader = boost::beast::http::request_header<>;
// Which body to expect for a request, judged from its header alone
// (nullptr: none). Called on the connection's thread once the header is
// read, before any byte of the body.
using BodyExpectation = std::function<SharedBody(const RequestHeader&)>;

// The servers' request body (a Beast Body). Its value is the body's bytes
// as a std::string, as Beast's string_body has it, except for a body equal
// byte for byte to the one its BodyExpectation named: that body is compared
// a piece at a time as it arrives, never copied, and handed over shared
// (`same_as`), the string itself left empty. str() and text() are the bytes
// either way: handlers read those, never the string itself.
// A body that departs from the expected one at any byte, or announces
// another length, is read into the string in full, as any other.
struct RequestBody {
  struct value_type : std::string {
    using std::string::string;
    using std::string::operator=;
    value_type() = default;
    value_type(std::string text) : std::string(std::move(text)) {}
    const std::string& str() const { return same_as ? *same_as : static_cast<const std::string&>(*this); }
    std::string_view text() const { return str(); }
    SharedBody same_as;                       // set: the bytes are *same_as's
    const BodyExpectation* expect = nullptr;  // set by the server before the request is read
  };

  static std::uint64_t size(const value_type& body) { return body.text().size(); }

  // Compares each piece with the expected body while they agree; otherwise
  // appends it to a string reserved at the announced Content-Length (which
  // the parser has already held to the body limit). Beast's string_body
  // grows its string with resize() instead, zero-filling every byte it is
  // about to overwrite.
  class reader {
   public:
    // Beast makes the reader with the parser, before the header is read;
    // init() comes once it is.
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>& header, value_type& body) : body_(body) {
      if constexpr (isRequest && std::is_same_v<Fields, boost::beast::http::fields>) header_ = &header;
    }

    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec);

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      const std::size_t n = boost::beast::buffer_bytes(buffers);
      for (const auto piece : boost::beast::buffers_range_ref(buffers)) {
        if (!put_piece(std::string_view(static_cast<const char*>(piece.data()), piece.size()), ec)) return 0;
      }
      return n;
    }

    void finish(boost::beast::error_code& ec);

   private:
    bool put_piece(std::string_view piece, boost::beast::error_code& ec);
    void depart();  // the body is not the expected one: its matched start goes into the string

    value_type& body_;
    const RequestHeader* header_ = nullptr;  // a request's: the one to judge by
    SharedBody expected_;      // the body this one has equalled so far
    std::size_t matched_ = 0;  // bytes of it equalled so far
  };

  // Writes text() (clients and tests send these too).
  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : text_(body.text()) {}
    void init(boost::beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      return {{const_buffers_type(text_.data(), text_.size()), false}};
    }

   private:
    std::string_view text_;
  };
};

using HttpRequest = boost::beast::http::request<RequestBody>;
using HttpResponse = boost::beast::http::response<ResponseBody>;
using Responder = std::function<void(HttpResponse)>;

// Appends the bytes of a response's header, as Beast's serializer writes
// them: the status line (reason phrase as reason() gives it), one
// "Name: value" line per field in order, the empty line.
void append_response_head(std::string& out, const HttpResponse::header_type& header);

// The whole body of a response as text (a streamed one is read through);
// for tests and logs.
core::Result<std::string> body_text(const HttpResponse& response);
using HttpHandler = std::function<void(HttpRequest&&, Responder)>;

struct HttpServerOptions {
  std::size_t body_limit = 1 << 20;            // larger bodies get 413
  std::size_t header_limit = 16 << 10;         // larger headers get 431
  std::chrono::milliseconds request_timeout{10'000};  // to read one whole request
  std::chrono::milliseconds idle_timeout{30'000};     // between keep-alive requests
  std::chrono::milliseconds write_timeout{30'000};
  std::size_t max_connections = 512;           // beyond this, new connections are closed at once
};

// A listen address: "HOST:PORT" (net::HostPort) where HOST is an IP literal
// or "localhost" (127.0.0.1); port 0 picks a free port. Errors name the text.
core::Result<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view text);

// Opens, binds (SO_REUSEADDR) and listens; the error names the address and,
// for a busy port, says so. Returns the bound endpoint (port 0 picks one).
core::Result<boost::asio::ip::tcp::endpoint> bind_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                                           const boost::asio::ip::tcp::endpoint& endpoint);

HttpResponse make_response(unsigned status, std::string body, std::string content_type = "text/plain",
                           unsigned version = 11, bool keep_alive = true);
// The same with a streamed body (Content-Length is its size()).
HttpResponse make_streamed_response(unsigned status, std::shared_ptr<const StreamedBody> body, std::string content_type,
                                    unsigned version = 11, bool keep_alive = true);

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  HttpServer(boost::asio::io_context& ioc, HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting. Port 0 picks a free port.
  core::Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Stops accepting; open connections finish their current exchange.
  void stop();

  std::size_t open_connections() const { return open_connections_.load(); }

 private:
  class Connection;
  void do_accept();

  boost::asio::io_context& ioc_;
  HttpServerOptions options_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<std::size_t> open_connections_{0};
};

}  // namespace mpc::net
