// https_load: a load client for any HTTPS server that asks for a client
// certificate. OpenSSL on blocking sockets, one thread per client.
//
// Modes:
//   fresh       a new TCP connection and a full TLS handshake per request
//               ("Connection: close"), no session resumption
//   keep-alive  one connection per client, opened before the clock starts,
//               every request on it (reopened, and counted, if the server
//               closes it)
//   handshake   connect and handshake only, then wait for the server to close
//               (close_notify or end of stream) and close: for a server that
//               closes right after its handshake, so that a handshake counts
//               once the server has checked the client's certificate
//
// Every answer must be the expected status with the expected body (length,
// exact bytes or SHA-256): anything else is an error, not a request, so a
// fast error path cannot win. Prints requests/s, p50/p99 latency, errors, and
// the CPU time (utime + stime from /proc/PID/stat, summed over every --pid)
// the server spent per request, measured around the timed phase.
//
// TLS: 1.3 only, the certificate and private key from PEM files, SNI
// "dummy" unless --sni says otherwise (the reference's), the server's
// certificate accepted whatever its issuer (a chain of one) and, with
// --server-key, its Ed25519 key compared on every handshake, as the
// project's clients do (tls/tls.h).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <latch>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/near_key.h"
#include "tls/tls.h"

using namespace std::chrono;

namespace {

enum class Mode { kFresh, kKeepAlive, kHandshake };

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string cert_file;
  std::string key_file;
  std::string server_key;  // "ed25519:..." or empty
  std::string sni = "dummy";
  std::string method = "GET";
  std::string path = "/";
  std::string body_file;
  std::string content_type = "application/json";
  Mode mode = Mode::kKeepAlive;
  int clients = 1;
  double seconds = 2;
  int sources = 1;  // distinct loopback source addresses (127.0.0.1 ..)
  unsigned expect_status = 200;
  long long expect_length = -1;
  std::string expect_body_file;
  std::string expect_sha256;
  std::string expect_content_type;
  std::vector<int> pids;
  int timeout_ms = 10'000;
  bool json = false;
};

// The first error of each kind, for the report (never any key material).
struct Errors {
  std::mutex mu;
  std::map<std::string, std::size_t> count;
  std::map<std::string, std::string> first;
  void add(const std::string& kind, const std::string& detail) {
    std::lock_guard lock(mu);
    if (count[kind]++ == 0) first[kind] = detail;
  }
  std::size_t total() {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& [k, v] : count) n += v;
    return n;
  }
};


std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// Accepts the server's certificate whatever its issuer, a chain of one
// certificate at most (as tls/tls.cc does): identity is the key check.
int accept_single_certificate(int, X509_STORE_CTX* ctx) {
  STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(ctx);
  return untrusted == nullptr || sk_X509_num(untrusted) <= 1 ? 1 : 0;
}

SSL_CTX* make_context(const Options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    throw std::runtime_error("cannot make a TLS 1.3 context: " + mpc::tls::openssl_errors());
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1)
    throw std::runtime_error("cannot load the certificate " + o.cert_file + ": " + mpc::tls::openssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    throw std::runtime_error("cannot load the private key " + o.key_file + " (or it does not match the certificate)");
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_single_certificate);
  return ctx;
}

long long cpu_ticks(const std::vector<int>& pids) {
  long long total = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat (is it running?)");
    // After "pid (comm) ": state is field 3; utime and stime are 14 and 15.
    const auto close = line.rfind(')');
    if (close == std::string::npos) throw std::runtime_error("unexpected /proc/" + std::to_string(pid) + "/stat");
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    total += utime + stime;
  }
  return total;
}

// This process's CPU time (all threads), seconds.
double own_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  bool loopback_v4 = false;
};

Target resolve(const Options& o) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &res); rc != 0 || res == nullptr)
    throw std::runtime_error("cannot resolve " + o.host + ": " + gai_strerror(rc));
  Target t;
  std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
  t.addr_len = res->ai_addrlen;
  if (res->ai_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
    t.loopback_v4 = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  freeaddrinfo(res);
  return t;
}

struct Shared {
  Options o;
  SSL_CTX* ctx = nullptr;
  Target target;
  std::optional<mpc::core::Ed25519PublicKey> server_key;
  std::string request;        // the whole request, written at once
  std::string expected_body;  // --expect-body
  Errors errors;
};

// One TLS connection on a blocking socket with send/receive timeouts.
class Connection {
 public:
  explicit Connection(Shared& s, int index) : s_(s), index_(index) {}
  ~Connection() { close(); }
  bool is_open() const { return ssl_ != nullptr; }

  bool open() {
    close();
    const auto& t = s_.target;
    fd_ = ::socket(t.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail("connect", std::string("socket: ") + std::strerror(errno));
    timeval tv{s_.o.timeout_ms / 1000, (s_.o.timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s_.o.sources > 1 && t.loopback_v4) {
      ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl((127u << 24) + 1 + static_cast<unsigned>(index_ % s_.o.sources));
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
        return fail("connect", std::string("bind: ") + std::strerror(errno));
    }
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&t.addr), t.addr_len) != 0)
      return fail("connect", std::string("connect: ") + std::strerror(errno));
    ssl_ = SSL_new(s_.ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return fail("handshake", "SSL_new: " + mpc::tls::openssl_errors());
    if (!s_.o.sni.empty()) SSL_set_tlsext_host_name(ssl_, s_.o.sni.c_str());
    if (int rc = SSL_connect(ssl_); rc != 1) return fail("handshake", io_error(rc));
    if (s_.server_key) {
      auto key = mpc::tls::peer_key(ssl_);
      if (!key) return fail("server_key", key.error().message);
      if (!(*key == *s_.server_key))
        return fail("server_key", "the server's key is " + mpc::core::ed25519_public_key_to_string(*key) + ", not the expected one");
    }
    buffer_.clear();
    return true;
  }

  // Waits for the server to end the connection (after its handshake).
  bool await_close() {
    char c;
    int rc = SSL_read(ssl_, &c, 1);
    if (rc > 0) return fail("handshake", "the server sent data instead of closing");
    // Only a close_notify counts: a server that refuses our certificate
    // sends an alert or drops the connection.
    if (SSL_get_error(ssl_, rc) == SSL_ERROR_ZERO_RETURN) return true;
    return fail("handshake", "waiting for the server to close: " + io_error(rc));
  }

  // Sends the request and reads one answer; checks it.
  bool exchange(bool& server_closes) {
    server_closes = false;
    answer_bytes_ = 0;
    const std::string& req = s_.request;
    if (int rc = SSL_write(ssl_, req.data(), static_cast<int>(req.size())); rc <= 0) return fail("write", io_error(rc));
    // Headers.
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > (64 << 10)) return fail("response", "headers longer than 64 KiB");
      if (!fill()) return false;
    }
    unsigned status = 0;
    long long length = -1;
    bool chunked = false;
    std::string content_type;
    {
      std::string_view head(buffer_.data(), header_end);
      if (head.substr(0, 5) != "HTTP/" || head.find(' ') == std::string_view::npos)
        return fail("response", "not an HTTP response");
      status = static_cast<unsigned>(std::atoi(std::string(head.substr(head.find(' ') + 1, 3)).c_str()));
      std::size_t pos = head.find("\r\n");
      while (pos != std::string_view::npos && pos < head.size()) {
        const std::size_t next = head.find("\r\n", pos + 2);
        std::string_view line = head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos) {
          std::string name(line.substr(0, colon));
          std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
          std::string value(line.substr(colon + 1));
          value.erase(0, value.find_first_not_of(" \t"));
          std::string lower = value;
          std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
          if (name == "content-length") length = std::atoll(value.c_str());
          if (name == "content-type") content_type = value;
          if (name == "transfer-encoding" && lower.find("chunked") != std::string::npos) chunked = true;
          if (name == "connection" && lower.find("close") != std::string::npos) server_closes = true;
        }
        pos = next;
      }
    }
    buffer_.erase(0, header_end + 4);
    // Body.
    body_.clear();
    if (chunked) {
      while (true) {
        std::size_t eol;
        while ((eol = buffer_.find("\r\n")) == std::string::npos)
          if (!fill()) return false;
        const long long size = std::strtoll(buffer_.c_str(), nullptr, 16);
        if (size < 0) return fail("response", "bad chunk size");
        buffer_.erase(0, eol + 2);
        if (size == 0) {
          // Trailers (none expected) end with an empty line.
          while ((eol = buffer_.find("\r\n")) == std::string::npos)
            if (!fill()) return false;
          buffer_.erase(0, eol + 2);
          break;
        }
        while (buffer_.size() < static_cast<std::size_t>(size) + 2)
          if (!fill()) return false;
        body_.append(buffer_, 0, static_cast<std::size_t>(size));
        buffer_.erase(0, static_cast<std::size_t>(size) + 2);
      }
    } else if (length >= 0) {
      while (buffer_.size() < static_cast<std::size_t>(length))
        if (!fill()) return false;
      body_.assign(buffer_, 0, static_cast<std::size_t>(length));
      buffer_.erase(0, static_cast<std::size_t>(length));
    } else {
      // Until the end of the stream.
      server_closes = true;
      while (fill(true)) {
      }
      if (!eof_) return false;
      body_.swap(buffer_);
      buffer_.clear();
    }
    if (!buffer_.empty()) return fail("response", "bytes after the answer");
    if (status != s_.o.expect_status)
      return fail("status", "status " + std::to_string(status) + " (" + body_.substr(0, 200) + ")");
    if (!s_.o.expect_content_type.empty() && content_type != s_.o.expect_content_type)
      return fail("content_type", "Content-Type \"" + content_type + "\"");
    if (s_.o.expect_length >= 0 && static_cast<long long>(body_.size()) != s_.o.expect_length)
      return fail("body", "body of " + std::to_string(body_.size()) + " bytes, expected " + std::to_string(s_.o.expect_length));
    if (!s_.o.expect_body_file.empty() && body_ != s_.expected_body) return fail("body", "the body differs from the expected one");
    if (!s_.o.expect_sha256.empty() && sha256_hex(body_) != s_.o.expect_sha256) return fail("body", "the body's SHA-256 differs");
    return true;
  }

  void close() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);  // our close_notify; we do not wait for the server's
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    eof_ = false;
    buffer_.clear();
  }

 private:
  bool fail(const std::string& kind, const std::string& detail) {
    s_.errors.add(kind, detail);
    if (ssl_ != nullptr) {
      SSL_free(ssl_);  // no close_notify on a failed connection
      ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ERR_clear_error();
    return false;
  }

  std::string io_error(int rc) {
    const int err = SSL_get_error(ssl_, rc);
    const int saved = errno;
    // OpenSSL's queue, drained (it may be empty: then no detail).
    const std::string text = ERR_peek_error() != 0 ? mpc::tls::openssl_errors() : std::string();
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
      return "timed out after " + std::to_string(s_.o.timeout_ms) + " ms (" + (err == SSL_ERROR_WANT_READ ? "reading" : "writing") + ")";
    if (err == SSL_ERROR_SYSCALL)
      return saved == EAGAIN || saved == EWOULDBLOCK ? "timed out" : saved ? std::strerror(saved) : "unexpected end of stream";
    if (err == SSL_ERROR_ZERO_RETURN) return "the server closed the connection";
    return "TLS error " + std::to_string(err) + (text.empty() ? "" : ": " + text);
  }

  // Reads more bytes into buffer_; false (an error recorded unless
  // `until_eof`, where a clean end sets eof_) when none come.
  bool fill(bool until_eof = false) {
    char chunk[64 << 10];
    errno = 0;
    int rc = SSL_read(ssl_, chunk, sizeof chunk);
    if (rc > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(rc));
      answer_bytes_ += static_cast<std::size_t>(rc);
      return true;
    }
    int err = SSL_get_error(ssl_, rc);
    if (until_eof && (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno == 0))) {
      eof_ = true;
      ERR_clear_error();
      return false;
    }
    fail("read", "reading the answer (" + std::to_string(answer_bytes_) + " bytes of it received): " + io_error(rc));
    return false;
  }

  Shared& s_;
  int index_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool eof_ = false;
  std::size_t answer_bytes_ = 0;
  std::string buffer_;
  std::string body_;
};

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kFresh: return "fresh handshake per request";
    case Mode::kKeepAlive: return "keep-alive";
    case Mode::kHandshake: return "handshake only";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string mode = "keep-alive";
  std::string url;
  CLI::App app{"HTTPS load with a client certificate: requests/s, latency, errors, server CPU per request"};
  app.add_option("--connect", url, "HOST:PORT of the server")->required();
  app.add_option("--cert", o.cert_file, "Client certificate (PEM)")->required()->check(CLI::ExistingFile);
  app.add_option("--key", o.key_file, "Client private key (PEM)")->required()->check(CLI::ExistingFile);
  app.add_option("--server-key", o.server_key, "The server's Ed25519 key (ed25519:<base58>), checked on every handshake");
  app.add_option("--sni", o.sni, "Server name sent (empty: none)")->capture_default_str();
  app.add_option("--mode", mode, "fresh | keep-alive | handshake")->check(CLI::IsMember({"fresh", "keep-alive", "handshake"}))->capture_default_str();
  app.add_option("--method", o.method)->capture_default_str();
  app.add_option("--path", o.path)->capture_default_str();
  app.add_option("--body-file", o.body_file, "Request body")->check(CLI::ExistingFile);
  app.add_option("--content-type", o.content_type, "Content-Type of a request body")->capture_default_str();
  app.add_option("--clients", o.clients, "Concurrent clients (threads)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--seconds", o.seconds, "Duration of the timed phase")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--sources", o.sources, "Spread clients over this many loopback source addresses (127.0.0.1..)")
      ->check(CLI::Range(1, 250))
      ->capture_default_str();
  app.add_option("--expect-status", o.expect_status)->capture_default_str();
  app.add_option("--expect-length", o.expect_length, "Exact body length every answer must have");
  app.add_option("--expect-body", o.expect_body_file, "Exact body every answer must have")->check(CLI::ExistingFile);
  app.add_option("--expect-sha256", o.expect_sha256, "SHA-256 (hex) every answer's body must have");
  app.add_option("--expect-content-type", o.expect_content_type, "Content-Type every answer must have");
  app.add_option("--pid", o.pids, "Server process(es) whose CPU time is measured (repeatable)");
  app.add_option("--timeout-ms", o.timeout_ms, "Socket send/receive timeout")->capture_default_str();
  app.add_flag("--json", o.json, "One JSON object on stdout instead of text");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);  // a server closing under a write is an error, not a signal
  o.mode = mode == "fresh" ? Mode::kFresh : mode == "handshake" ? Mode::kHandshake : Mode::kKeepAlive;

  try {
    const auto colon = url.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--connect: expected HOST:PORT");
    o.host = url.substr(0, colon);
    if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
    o.port = static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
    if (o.mode != Mode::kHandshake && o.expect_length < 0 && o.expect_body_file.empty() && o.expect_sha256.empty())
      throw std::runtime_error("say what every answer must be: --expect-length, --expect-body or --expect-sha256");

    Shared s;
    s.o = o;
    s.ctx = make_context(o);
    s.target = resolve(o);
    if (!o.server_key.empty()) {
      auto key = mpc::core::parse_ed25519_public_key(o.server_key);
      if (!key) throw std::runtime_error("--server-key: " + key.error().message);
      s.server_key = *key;
    }
    if (!o.expect_body_file.empty()) s.expected_body = read_whole(o.expect_body_file);
    const std::string body = o.body_file.empty() ? std::string() : read_whole(o.body_file);
    s.request = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + (o.sni.empty() ? o.host : o.sni) + "\r\n";
    if (!body.empty() || o.method == "POST" || o.method == "PUT")
      s.request += "Content-Type: " + o.content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (o.mode == Mode::kFresh) s.request += "Connection: close\r\n";
    s.request += "\r\n" + body;

    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(o.clients));
    std::vector<std::size_t> reconnects(static_cast<std::size_t>(o.clients), 0);
    std::atomic<bool> go{false};
    steady_clock::time_point deadline;
    std::latch ready(o.clients);
    std::vector<std::thread> threads;
    for (int c = 0; c < o.clients; ++c)
      threads.emplace_back([&, c] {
        Connection conn(s, c);
        auto& lat = latencies[static_cast<std::size_t>(c)];
        lat.reserve(1 << 16);
        if (o.mode == Mode::kKeepAlive) conn.open();  // before the clock; a failure is retried below
        ready.count_down();
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        while (steady_clock::now() < deadline) {
          const auto t = steady_clock::now();
          bool ok = false;
          if (o.mode == Mode::kHandshake) {
            ok = conn.open() && conn.await_close();
            conn.close();
          } else if (o.mode == Mode::kFresh) {
            bool closes = false;
            ok = conn.open() && conn.exchange(closes);
            conn.close();
          } else {
            if (!conn.is_open()) {
              ++reconnects[static_cast<std::size_t>(c)];
              if (!conn.open()) continue;
            }
            bool closes = false;
            ok = conn.exchange(closes);
            if (ok && closes) conn.close();
          }
          if (ok) lat.push_back(duration<double, std::milli>(steady_clock::now() - t).count());
        }
        conn.close();
      });
    ready.wait();
    const long long cpu0 = o.pids.empty() ? 0 : cpu_ticks(o.pids);
    const double own0 = own_cpu_s();
    const auto t0 = steady_clock::now();
    deadline = t0 + duration_cast<steady_clock::duration>(duration<double>(o.seconds));
    go.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    const double elapsed = duration<double>(steady_clock::now() - t0).count();
    const long long cpu1 = o.pids.empty() ? 0 : cpu_ticks(o.pids);
    const double own_s = own_cpu_s() - own0;

    std::vector<double> all;
    std::size_t reopened = 0;
    for (std::size_t c = 0; c < latencies.size(); ++c) {
      all.insert(all.end(), latencies[c].begin(), latencies[c].end());
      reopened += reconnects[c];
    }
    std::sort(all.begin(), all.end());
    const double rps = static_cast<double>(all.size()) / elapsed;
    const double p50 = all.empty() ? 0 : all[all.size() / 2];
    const double p99 = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
    const double cpu_s = static_cast<double>(cpu1 - cpu0) / static_cast<double>(sysconf(_SC_CLK_TCK));
    const double cpu_ms_per_request = all.empty() ? 0 : cpu_s * 1000.0 / static_cast<double>(all.size());
    const double client_cpu_ms_per_request = all.empty() ? 0 : own_s * 1000.0 / static_cast<double>(all.size());
    const std::size_t errors = s.errors.total();

    if (o.json) {
      nlohmann::json j = {{"mode", mode},
                          {"clients", o.clients},
                          {"seconds", elapsed},
                          {"requests", all.size()},
                          {"rps", rps},
                          {"p50_ms", p50},
                          {"p99_ms", p99},
                          {"errors", errors},
                          {"reconnects", reopened},
                          {"server_cpu_s", cpu_s},
                          {"cpu_ms_per_request", cpu_ms_per_request},
                          {"client_cpu_ms_per_request", client_cpu_ms_per_request}};
      nlohmann::json kinds = nlohmann::json::object();
      for (const auto& [k, n] : s.errors.count) kinds[k] = {{"count", n}, {"first", s.errors.first[k]}};
      j["error_kinds"] = kinds;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("https_load %s %s %s, %s, %d client(s), %.1f s\n", url.c_str(), o.method.c_str(), o.path.c_str(), mode_name(o.mode),
                  o.clients, elapsed);
      std::printf("  %zu %s (%.1f/s)   p50 %.3f ms   p99 %.3f ms   errors %zu   reopened %zu\n", all.size(),
                  o.mode == Mode::kHandshake ? "handshakes" : "requests", rps, p50, p99, errors, reopened);
      for (const auto& [k, n] : s.errors.count) std::printf("  error %s x%zu, first: %s\n", k.c_str(), n, s.errors.first[k].c_str());
      const char* unit = o.mode == Mode::kHandshake ? "handshake" : "request";
      if (!o.pids.empty()) std::printf("  server CPU %.2f s: %.3f ms per %s\n", cpu_s, cpu_ms_per_request, unit);
      std::printf("  this client's CPU %.2f s: %.3f ms per %s\n", own_s, client_cpu_ms_per_request, unit);
    }
    SSL_CTX_free(s.ctx);
    return all.empty() ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "https_load: %s\n", e.what());
    return 2;
  }
}
