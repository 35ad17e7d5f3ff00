// A server-side TLS stream that runs OpenSSL directly on the connection's
// non-blocking socket (SSL_set_fd), for MtlsServer's connections.
//
// Why not asio::ssl::stream: it runs OpenSSL on a memory BIO pair of 17 KB
// and moves every byte through it, so every record costs a copy in each
// direction and a trip of its own through the io_context (an answer of 20
// records went out as 20 separately scheduled sends, interleaved with other
// connections' work, and the client woke for each). Here SSL_write puts as
// many records on the socket as it takes, back to back, and SSL_read decrypts
// straight from it: what nginx does.
//
// It is an AsyncReadStream and AsyncWriteStream for Beast, plus the server
// handshake and the sending of close_notify. Operations wait for the socket
// with async_wait, so the socket's cancel() and close() end them with
// operation_aborted, as they end any socket operation, and no operation
// touches the descriptor once the socket is closed. One operation at a time
// (HttpSession never overlaps a read and a write), all on the socket's
// io_context, which must be run by a single thread.
//
// OpenSSL writes with write(2), so a peer's reset raises SIGPIPE: the
// process must ignore it (MtlsServer makes sure it does).
//
// Errors are reported as asio::ssl::stream reports them, so callers tell the
// same cases apart: the peer's close_notify is asio::error::eof; the stream
// ending without one is asio::ssl::error::stream_truncated; an OpenSSL
// failure is its first queued error in asio's SSL category (so
// ERR_GET_REASON works on the value); a socket failure is its errno.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>

namespace mpc::net {

class TlsSocketStream {
 public:
  // The socket runs on an io_context run by one thread, named by its
  // concrete executor type: every Beast operation copies and compares the
  // stream's executor, and a type-erased any_io_executor made each of those
  // indirect calls (bench/node_vs_nginx, keep-alive at 1 domain: node CPU
  // per request 1.32-1.41x nginx's with it, 1.13-1.24x without).
  using executor_type = boost::asio::io_context::executor_type;
  using socket_type = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor_type>;
  using error_code = boost::beast::error_code;

  // Takes the accepted socket (made non-blocking) and a server context.
  // Throws std::bad_alloc / std::runtime_error if OpenSSL cannot make the
  // connection's state (asio::ssl::stream throws in the same case).
  TlsSocketStream(socket_type socket, SSL_CTX* ctx) : socket_(std::move(socket)), ssl_(SSL_new(ctx)) {
    if (ssl_ == nullptr) throw std::bad_alloc();
    error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);  // MtlsServer has set it already
    if (ec || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) {
      SSL_free(ssl_);
      throw std::runtime_error("cannot attach TLS to the socket");
    }
    // As asio::ssl::stream: a write may finish part of its bytes (whole
    // records) and be retried from another address. The record buffers are
    // kept for the connection's life (~34 KB; only an authenticated peer
    // keeps a connection open past the handshake deadline): with
    // SSL_MODE_RELEASE_BUFFERS they were freed and allocated again around
    // every record, under the allocator's lock shared by the I/O threads,
    // and a request at 1,000 domains (218 KB in, 324 KB out) cost 1.32-1.41x
    // nginx's CPU instead of 1.24x (bench/node_vs_nginx).
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // One recv for what is there, not one for each record's header and one
    // for its body. Safe: every operation asks OpenSSL before it waits for
    // the socket, so bytes OpenSSL holds are never left waiting.
    SSL_set_read_ahead(ssl_, 1);
    SSL_set_accept_state(ssl_);
  }
  ~TlsSocketStream() { SSL_free(ssl_); }  // the socket closes itself; SSL_set_fd does not own it
  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& socket() noexcept { return socket_; }
  SSL* native_handle() noexcept { return ssl_; }

  // The server handshake; completes with (error_code).
  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(
        Op<HandshakeStep, false>(*this, HandshakeStep{}), token, socket_);
  }

  // Sends close_notify (without waiting for the peer's unless OpenSSL
  // must read it); completes with (error_code).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(Op<ShutdownStep, false>(*this, ShutdownStep{}), token,
                                                              socket_);
  }

  // At least one byte of plaintext; then more records, up to the buffer's
  // size, while they are there (see ReadStep). A large body (218 KB at
  // 1,000 domains) then costs a few operations instead of one per 16 KiB
  // record.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (const boost::asio::mutable_buffer b : boost::beast::buffers_range_ref(buffers))
      if (b.size() > 0) {
        first = b;
        break;
      }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(Op<ReadStep, true>(*this, ReadStep{first}),
                                                                           token, socket_);
  }

  // The bytes of the first buffer, or of the first ones: small leading
  // buffers are copied together up to a record (an HTTP header goes out in
  // one record with the start of its body) and the rest of the buffer cut
  // there follows; SSL_write puts them on the socket as records back to
  // back. Completes once all of that is written (or it fails).
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    boost::asio::const_buffer first, rest;  // rest: what follows `first` (staged) of a buffer cut by the staging
    std::size_t staged = 0;
    for (const boost::asio::const_buffer b : boost::beast::buffers_range_ref(buffers)) {
      if (b.size() == 0) continue;
      if (first.size() == 0 && staged == 0) {
        first = b;
        if (b.size() >= kRecord) break;
        continue;
      }
      if (staged == 0) {  // a second buffer: stage from the first one on
        if (!staging_) staging_ = std::make_unique_for_overwrite<char[]>(kRecord);
        std::memcpy(staging_.get(), first.data(), first.size());
        staged = first.size();
      }
      const std::size_t take = std::min(b.size(), kRecord - staged);
      std::memcpy(staging_.get() + staged, b.data(), take);
      staged += take;
      if (staged == kRecord) {
        rest = boost::asio::const_buffer(static_cast<const char*>(b.data()) + take, b.size() - take);
        break;
      }
    }
    if (staged > 0) first = boost::asio::const_buffer(staging_.get(), staged);
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(Op<WriteStep, true>(*this, WriteStep{first, rest}),
                                                                           token, socket_);
  }

 private:
  static constexpr std::size_t kRecord = 16 * 1024;  // TLS's largest record plaintext

  enum class Outcome { kDone, kWantRead, kWantWrite, kFailed };

  // What an SSL_* call that returned `ok` (1 = success) means; on failure
  // `ec` says why. `saved_errno` is errno right after the call.
  Outcome outcome(int ok, int saved_errno, error_code& ec) {
    if (ok == 1) return Outcome::kDone;
    switch (SSL_get_error(ssl_, ok)) {
      case SSL_ERROR_WANT_READ: return Outcome::kWantRead;
      case SSL_ERROR_WANT_WRITE: return Outcome::kWantWrite;
      case SSL_ERROR_ZERO_RETURN: ec = boost::asio::error::eof; break;
      case SSL_ERROR_SYSCALL:
        if (const unsigned long e = ERR_get_error(); e != 0 && ERR_GET_LIB(e) != ERR_LIB_SYS)
          ec = error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
        else if (e != 0) ec = error_code(ERR_GET_REASON(e), boost::asio::error::get_system_category());
        else if (saved_errno != 0 && saved_errno != EAGAIN && saved_errno != EWOULDBLOCK)
          ec = error_code(saved_errno, boost::asio::error::get_system_category());
        else ec = boost::asio::ssl::error::stream_truncated;
        break;
      case SSL_ERROR_SSL: {
        const unsigned long e = ERR_get_error();
        if (e == 0) ec = boost::asio::ssl::error::unspecified_system_error;
        else if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
          ec = boost::asio::ssl::error::stream_truncated;
        else ec = error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
        break;
      }
      default: ec = boost::asio::ssl::error::unexpected_result;  // as asio::ssl::stream
    }
    ERR_clear_error();
    return Outcome::kFailed;
  }

  // One attempt of each operation: 1 on success (with `n` bytes), else 0.
  struct HandshakeStep {
    int attempt(SSL* ssl, std::size_t&) { return SSL_do_handshake(ssl) == 1 ? 1 : -1; }
  };
  struct ShutdownStep {
    // 0: close_notify sent, the peer's not read; that is the end here.
    int attempt(SSL* ssl, std::size_t&) { return SSL_shutdown(ssl) >= 0 ? 1 : -1; }
  };
  struct ReadStep {
    boost::asio::mutable_buffer buffer;
    int attempt(SSL* ssl, std::size_t& n) {
      std::size_t last = 0;
      if (SSL_read_ex(ssl, buffer.data(), buffer.size(), &last) != 1) return 0;
      n = last;
      // More while OpenSSL holds the start of another record, or the last
      // one was full (a large message is arriving; its next record is
      // probably here already). A small request ends in a short record,
      // and costs no read that finds the socket empty. Bytes are in hand:
      // whatever stops the next records (none yet, close_notify, an error)
      // is left for the next operation, whose SSL_read_ex meets it again
      // and reports it then.
      while (n < buffer.size() && (last == kRecord || SSL_has_pending(ssl) == 1)) {
        if (SSL_read_ex(ssl, static_cast<char*>(buffer.data()) + n, buffer.size() - n, &last) != 1) {
          ERR_clear_error();
          break;
        }
        n += last;
      }
      return 1;
    }
  };
  // More than a record to write: the socket is corked while SSL_write puts
  // the records on it (one write(2) each) and uncorked when the attempt
  // ends (done, or waiting for room), so they leave together, in as few
  // segments as the socket allows (on loopback one of up to 64 KiB), and
  // the reader wakes once for them rather than once per record.
  // bench/node_vs_nginx, 1,000 domains, 32 clients, keep-alive, 3 runs
  // alternating with the build before: node/nginx 0.84-0.93 (before
  // 0.75-0.82), the client's CPU per answer 6-10% over nginx's (before
  // 11-20%). A single record, e.g. a small answer, goes as before.
  class Cork {
   public:
    Cork(int fd, bool on) : fd_(on ? fd : -1) { set(1); }
    ~Cork() { set(0); }
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    void set(int value) const {
      if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &value, sizeof value);  // best effort: only timing changes
    }
    int fd_;
  };

  // Both parts, whole: SSL_write returns after each record (partial-write
  // mode), so it is called again for the rest; after WANT_WRITE the call is
  // repeated with the same remaining bytes, as OpenSSL requires. `n` counts
  // what is written of both.
  struct WriteStep {
    boost::asio::const_buffer buffer, rest;
    std::size_t done = 0;
    int attempt(SSL* ssl, std::size_t& n) {
      const std::size_t total = buffer.size() + rest.size();
      const Cork cork(SSL_get_fd(ssl), total - done > kRecord);
      while (done < total) {
        const bool in_first = done < buffer.size();
        const char* at = in_first ? static_cast<const char*>(buffer.data()) + done
                                  : static_cast<const char*>(rest.data()) + (done - buffer.size());
        const std::size_t left = in_first ? buffer.size() - done : total - done;
        std::size_t wrote = 0;
        if (SSL_write_ex(ssl, at, left, &wrote) != 1) return 0;
        done += wrote;
      }
      n = done;
      return 1;
    }
  };

  // An operation: attempts the step; waits for the socket as OpenSSL asks
  // and attempts it again (the same step with the same bytes, as OpenSSL
  // requires after WANT_READ / WANT_WRITE). A result known in the initiating
  // call is delivered through the executor, never from within that call.
  template <class Step, bool kBytes>
  struct Op {
    Op(TlsSocketStream& s, Step st) : stream(s), step(st) {}
    TlsSocketStream& stream;
    Step step;
    bool started = false;
    bool finished = false;  // the result below is set, to be delivered
    error_code result;
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, error_code wait_error = {}) {
      if (finished) return deliver(self);
      const bool initiating = !started;
      started = true;
      if (wait_error) {  // the socket wait ended: cancelled or closed
        result = wait_error;
        return deliver(self);
      }
      // OpenSSL holds the descriptor's number, not the socket: once the
      // socket is closed that number may already be another connection's.
      if (!stream.socket_.is_open()) {
        result = boost::asio::error::operation_aborted;
        return finish(self, initiating);
      }
      if constexpr (kBytes) {
        if (step.buffer.size() == 0) return finish(self, initiating);  // nothing to do: 0 bytes
      }
      ERR_clear_error();
      errno = 0;
      const int ok = step.attempt(stream.ssl_, bytes);
      const int saved_errno = errno;
      switch (stream.outcome(ok, saved_errno, result)) {
        case Outcome::kDone:
        case Outcome::kFailed: return finish(self, initiating);
        case Outcome::kWantRead: return stream.socket_.async_wait(socket_type::wait_read, std::move(self));
        case Outcome::kWantWrite: return stream.socket_.async_wait(socket_type::wait_write, std::move(self));
      }
    }

    template <class Self>
    void finish(Self& self, bool initiating) {
      finished = true;
      if (initiating) return boost::asio::post(stream.socket_.get_executor(), std::move(self));
      deliver(self);
    }

    template <class Self>
    void deliver(Self& self) {
      if constexpr (kBytes) self.complete(result, result ? std::size_t{0} : bytes);
      else self.complete(result);
    }
  };

  socket_type socket_;
  SSL* ssl_;
  std::unique_ptr<char[]> staging_;  // small leading buffers copied together, made at the first such write
};

}  // namespace mpc::net
