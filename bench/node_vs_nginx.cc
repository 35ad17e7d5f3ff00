// mpc-node against nginx on the same bytes (issue 17's benchmark, node side).
//
// For each domain count: a devnet as node_bench makes it (dealt keys, the
// backup service registered for node 0), the node's exact answer to
// GET /get_keyshares fetched once, and nginx (Debian's, run as the current
// user from a temporary prefix; worker_processes = the node's I/O threads;
// TLS 1.3 only; a certificate like the node's; ssl_verify_client
// optional_no_ca plus a check of the client certificate's SHA-1 fingerprint,
// so that only the backup service's certificate is answered: the node pins
// the key, nginx can only pin the certificate; both are one comparison)
// serving those bytes, with the node's Content-Type, from a file. Then
// https_load (bench/https_load.cc, the same client, certificate, request and
// body) runs against the node and nginx in short alternating phases, fresh
// handshake per request and keep-alive; every answer must be a 200 of the
// node's answer's length. Printed: requests/s, the node/nginx ratio (the
// geometric mean of the ratios of adjacent phases, with its 95% confidence
// interval and their range: see ratio_stats.h for why), the same for the
// server CPU per request (utime + stime of the node's process, of nginx's
// workers), and where each of issue 17's goals stands.
//
// In the same run: the bare TLS 1.3 mutual handshake rate against a minimal
// server with the node's TLS context (this binary with --serve-handshakes:
// accept, handshake, check the client's key, close_notify), and
// `openssl speed` for Ed25519 and AES-256-GCM. Ends with a Markdown table
// for the README.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "backup/home.h"
#include "cpu_time.h"
#include "ratio_stats.h"
#include "core/bytes.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "core/near_key.h"
#include "e2e/e2e_support.h"
#include "net/host_port.h"
#include "net/http_server.h"
#include "net/mtls_client.h"
#include "node/node_runtime.h"
#include "support/process.h"
#include "tls/tls.h"

using namespace mpc;
using namespace std::chrono;
namespace fs = std::filesystem;
namespace http = boost::beast::http;

namespace {

// ---------------------------------------------------------------- helpers

fs::path self_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

void write_text(const fs::path& path, const std::string& text, unsigned mode = 0644) {
  if (auto st = core::write_file_atomic(path, core::as_bytes(text), mode); !st)
    throw std::runtime_error("cannot write " + path.string() + ": " + st.error().message);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin";
  std::stringstream ss(path);
  for (std::string dir; std::getline(ss, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return (fs::path(dir) / name).string();
  throw std::runtime_error(name + " is not installed (make bench installs Debian's nginx)");
}

// A client certificate and key as PEM files (the key 0600).
struct CertFiles {
  fs::path cert, key;
  std::string sha1;  // of the certificate's DER, lowercase hex (nginx's $ssl_client_fingerprint)
};

CertFiles write_certificate(const core::Ed25519SecretKey& key, const fs::path& dir, const std::string& name) {
  auto c = tls::make_certificate(key);
  if (!c) throw std::runtime_error("certificate: " + c.error().message);
  CertFiles f{dir / (name + ".crt"), dir / (name + ".key"), ""};
  write_text(f.cert, c->cert_pem());
  write_text(f.key, std::string(c->key_pem().reveal()), 0600);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(c->cert.get(), EVP_sha1(), md, &n) != 1) throw std::runtime_error("X509_digest");
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < n; ++i) {
    f.sha1 += hex[md[i] >> 4];
    f.sha1 += hex[md[i] & 15];
  }
  return f;
}

long vm_hwm_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// utime + stime of `pid`, seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  long long ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stoll(field);
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Children of `parent` (from /proc/*/stat).
std::vector<int> children_of(pid_t parent) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

// ---------------------------------------------------------------- https_load

struct Load {
  double rps = 0, p50_ms = 0, p99_ms = 0, cpu_s = 0, client_cpu_ms = 0, seconds = 0;
  std::size_t requests = 0, errors = 0, reconnects = 0;
  std::string error_text;
};

struct LoadArgs {
  std::string addr;
  CertFiles client;
  core::Ed25519PublicKey server_key;
  std::string mode;
  std::vector<int> pids;
  fs::path body_file;       // empty: none
  long long expect_length = -1;
  fs::path expect_body;  // empty: the length only
  std::string expect_content_type;
  int clients = 1;
  double seconds = 1;
};

Load run_load(const LoadArgs& a) {
  std::vector<std::string> argv = {(self_dir() / "https_load").string(), "--json",
                                   "--connect", a.addr,
                                   "--cert", a.client.cert.string(),
                                   "--key", a.client.key.string(),
                                   "--server-key", core::ed25519_public_key_to_string(a.server_key),
                                   "--mode", a.mode,
                                   "--clients", std::to_string(a.clients),
                                   "--sources", std::to_string(std::min(a.clients, 250)),
                                   "--seconds", std::to_string(a.seconds)};
  if (a.mode != "handshake") {
    argv.insert(argv.end(), {"--method", "GET", "--path", "/get_keyshares", "--expect-status", "200", "--expect-length",
                             std::to_string(a.expect_length)});
    if (!a.body_file.empty()) argv.insert(argv.end(), {"--body-file", a.body_file.string()});
    if (!a.expect_body.empty()) argv.insert(argv.end(), {"--expect-body", a.expect_body.string()});
    if (!a.expect_content_type.empty()) argv.insert(argv.end(), {"--expect-content-type", a.expect_content_type});
  }
  for (int pid : a.pids) argv.insert(argv.end(), {"--pid", std::to_string(pid)});
  auto r = testsupport::run(argv, milliseconds(static_cast<long>(a.seconds * 1000) + 60'000));
  std::string json_line;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line.front() == '{') json_line = line;
  if (json_line.empty()) throw std::runtime_error("https_load (exit " + std::to_string(r.exit_code) + "): " + r.output);
  auto j = nlohmann::json::parse(json_line);
  Load l;
  l.rps = j.at("rps");
  l.seconds = j.at("seconds");
  l.p50_ms = j.at("p50_ms");
  l.p99_ms = j.at("p99_ms");
  l.cpu_s = j.at("server_cpu_s");
  l.client_cpu_ms = j.at("client_cpu_ms_per_request");
  l.requests = j.at("requests");
  l.errors = j.at("errors");
  l.reconnects = j.at("reconnects");
  for (const auto& [kind, e] : j.at("error_kinds").items())
    l.error_text += (l.error_text.empty() ? "" : "; ") + kind + " x" + std::to_string(e.at("count").get<std::size_t>()) + ": " +
                    e.at("first").get<std::string>();
  return l;
}

// Phases of one server, summed.
struct Series {
  std::vector<Load> phases;
  std::vector<double> rps() const {
    std::vector<double> v;
    for (const auto& p : phases) v.push_back(p.rps);
    return v;
  }
  double cpu_ms_per_request() const {
    double cpu = 0, n = 0;
    for (const auto& p : phases) cpu += p.cpu_s, n += static_cast<double>(p.requests);
    return n > 0 ? cpu * 1000 / n : 0;
  }
  // Less what the process spends without requests (idle_ms_per_s).
  double cpu_ms_per_request_less(double idle_ms_per_s) const {
    double cpu = 0, n = 0;
    for (const auto& p : phases) cpu += p.cpu_s - idle_ms_per_s / 1000 * p.seconds, n += static_cast<double>(p.requests);
    return n > 0 ? std::max(0.0, cpu * 1000 / n) : 0;
  }
  std::size_t errors() const {
    std::size_t e = 0;
    for (const auto& p : phases) e += p.errors;
    return e;
  }
  double p50_ms() const {
    std::vector<double> v;
    for (const auto& p : phases) v.push_back(p.p50_ms);
    return median(v);
  }
  double client_cpu_ms() const {
    std::vector<double> v;
    for (const auto& p : phases) v.push_back(p.client_cpu_ms);
    return median(v);
  }
  std::string first_error() const {
    for (const auto& p : phases)
      if (!p.error_text.empty()) return p.error_text;
    return "";
  }
};

// ---------------------------------------------------------------- the minimal handshake server

// Accepts, handshakes with the node's TLS context (tls::make_server_context),
// checks the client's key, sends close_notify and closes: one thread per
// worker on one listening socket. Writes "HOST:PORT ed25519:KEY" to
// `addr_file` once listening; runs until killed (or its parent dies).
int serve_handshakes(const fs::path& addr_file, int workers, const std::string& client_key_text) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) return 1;
  ::signal(SIGPIPE, SIG_IGN);
  auto client_key = core::parse_ed25519_public_key(client_key_text);
  if (!client_key) throw std::runtime_error("--client-key: " + client_key.error().message);
  const auto key = core::Ed25519SecretKey::generate();
  auto ctx = tls::make_server_context(key);
  if (!ctx) throw std::runtime_error("TLS context: " + ctx.error().message);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  SSL_CTX* native = (*ctx)->native_handle();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      while (true) {
        int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        timeval tv{5, 0};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        SSL* ssl = SSL_new(native);
        if (ssl != nullptr && SSL_set_fd(ssl, c) == 1 && SSL_accept(ssl) == 1) {
          auto peer = tls::peer_key(ssl);
          if (peer && *peer == *client_key) SSL_shutdown(ssl);  // else: dropped without close_notify
        }
        if (ssl != nullptr) SSL_free(ssl);
        ::close(c);
        ERR_clear_error();
      }
    });
  write_text(addr_file, "127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + " " + core::ed25519_public_key_to_string(key.public_key()) + "\n");
  for (auto& t : threads) t.join();
  return 0;
}

// ---------------------------------------------------------------- nginx

class Nginx {
 public:
  // Serves `body_file` at /get_keyshares with `content_type`, answering only
  // the client certificate whose SHA-1 fingerprint is `client_sha1`.
  Nginx(const std::string& nginx, const fs::path& dir, int workers, const fs::path& body_file, const std::string& content_type,
        const std::string& client_sha1)
      : dir_(dir), workers_(workers) {
    fs::create_directories(dir);
    const auto key = core::Ed25519SecretKey::generate();
    key_ = key.public_key();
    auto server = write_certificate(key, dir, "server");
    // The listening socket is ours (port 0) and handed to nginx, which takes
    // inherited sockets from $NGINX ("3;") when they match a listen line.
    // Non-blocking, as nginx makes the sockets it opens itself (it leaves
    // inherited ones as they are): a worker that loses the race for a
    // connection would otherwise block in accept() with its own connections
    // waiting.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 511) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error(std::string("nginx listener: ") + std::strerror(errno));
    addr_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    for (const char* sub : {"body", "proxy", "fastcgi", "uwsgi", "scgi"}) fs::create_directories(dir / "tmp" / sub);
    std::string conf;
    conf += "worker_processes " + std::to_string(workers) + ";\n";
    if (::geteuid() == 0) conf += "user root;\n";  // workers run as the current user
    conf += "daemon off;\nmaster_process on;\n";
    conf += "pid " + (dir / "nginx.pid").string() + ";\n";
    conf += "error_log " + (dir / "error.log").string() + " warn;\n";
    conf += "events { worker_connections 4096; }\n";
    conf += "http {\n";
    conf += "  access_log off;\n  server_tokens off;\n  etag off;\n";
    for (const char* sub : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf += std::string("  ") + sub + "_temp_path " + (dir / "tmp" / (std::string(sub) == "client_body" ? "body" : sub)).string() + ";\n";
    conf += "  keepalive_requests 1000000;\n  keepalive_timeout 75s;\n";
    conf += "  client_max_body_size 64m;\n";
    conf += "  types {}\n  default_type \"" + content_type + "\";\n";
    conf += "  open_file_cache max=16 inactive=600s;\n  open_file_cache_valid 600s;\n";
    conf += "  ssl_protocols TLSv1.3;\n";
    conf += "  ssl_certificate " + server.cert.string() + ";\n";
    conf += "  ssl_certificate_key " + server.key.string() + ";\n";
    conf += "  ssl_verify_client optional_no_ca;\n";
    conf += "  ssl_session_cache off;\n  ssl_session_tickets off;\n  ssl_conf_command NumTickets 0;\n";
    conf += "  server {\n";
    conf += "    listen " + addr_ + " ssl;\n";
    conf += "    if ($ssl_client_fingerprint != \"" + client_sha1 + "\") { return 403; }\n";
    conf += "    location = /get_keyshares { alias " + body_file.string() + "; }\n";
    conf += "    location / { return 404; }\n";
    conf += "  }\n}\n";
    write_text(dir / "nginx.conf", conf);
    ::setenv("NGINX", "3;", 1);
    try {
      master_ = std::make_unique<testsupport::Child>(
          std::vector<std::string>{nginx, "-p", dir.string(), "-c", (dir / "nginx.conf").string(), "-e", (dir / "error.log").string()},
          dir / "nginx.out", std::vector<std::pair<int, int>>{{fd, 3}});
    } catch (...) {
      ::unsetenv("NGINX");
      ::close(fd);
      throw;
    }
    ::unsetenv("NGINX");
    ::close(fd);
    const auto deadline = steady_clock::now() + seconds(20);
    while (true) {
      if (!master_->running()) throw std::runtime_error("nginx exited: " + log());
      workers_pids_ = children_of(master_->pid());
      if (static_cast<int>(workers_pids_.size()) == workers) break;
      if (steady_clock::now() > deadline) throw std::runtime_error("nginx did not start its workers: " + log());
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  ~Nginx() { stop(); }

  void stop() {
    if (!master_) return;
    master_->terminate(seconds(10));
    master_.reset();
    for (int pid : workers_pids_) ::kill(pid, SIGKILL);  // only if the master could not end them
  }

  const std::string& addr() const { return addr_; }
  const core::Ed25519PublicKey& key() const { return key_; }
  const std::vector<int>& worker_pids() const { return workers_pids_; }
  std::string log() const {
    std::string out;
    for (const char* f : {"nginx.out", "error.log"}) {
      auto t = core::read_file(dir_ / f);
      if (t) out += *t;
    }
    return out;
  }

 private:
  fs::path dir_;
  int workers_;
  std::string addr_;
  core::Ed25519PublicKey key_;
  std::unique_ptr<testsupport::Child> master_;
  std::vector<int> workers_pids_;
};

// ---------------------------------------------------------------- openssl speed

struct Speed {
  double ed25519_sign = 0, ed25519_verify = 0;
  double aes_gcm_mb_s_1k = 0, aes_gcm_mb_s_16k = 0;
};

Speed openssl_speed() {
  Speed s;
  auto ed = testsupport::run({find_program("openssl"), "speed", "-seconds", "1", "ed25519"}, seconds(60));
  std::smatch m;
  const std::regex ed_line(R"(EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([0-9.]+)\s+([0-9.]+))");
  if (ed.exit_code != 0 || !std::regex_search(ed.output, m, ed_line)) throw std::runtime_error("openssl speed ed25519: " + ed.output);
  s.ed25519_sign = std::stod(m[1]);
  s.ed25519_verify = std::stod(m[2]);
  auto aes = testsupport::run({find_program("openssl"), "speed", "-seconds", "1", "-evp", "aes-256-gcm"}, seconds(60));
  const std::regex aes_line(R"(AES-256-GCM((?:\s+[0-9.]+k){6}))", std::regex::icase);
  if (aes.exit_code != 0 || !std::regex_search(aes.output, m, aes_line)) throw std::runtime_error("openssl speed aes-256-gcm: " + aes.output);
  std::istringstream in(m[1].str());
  std::vector<double> kb;  // 1000s of bytes per second for 16, 64, 256, 1024, 8192, 16384-byte blocks
  for (std::string v; in >> v;) kb.push_back(std::stod(v));
  s.aes_gcm_mb_s_1k = kb.at(3) / 1000;
  s.aes_gcm_mb_s_16k = kb.at(5) / 1000;
  return s;
}

// ---------------------------------------------------------------- the node's own work

// What the node must do for each answer that nginx, sending a file, does
// not: seal the shares under a fresh nonce (interop: every answer is its own
// AES-GCM message, so a sealed answer cannot be kept), base64 them, and
// compare the keyset in the request with the last one (the cheapest check
// that it is the keyset already validated). Measured here, on one core, in
// this process, with the node's own code (core::AesGcmSealer,
// core::base64_encode_into) and bytes of the sizes served.
struct NodeOnlyWork {
  double seal_ms = 0, encode_ms = 0, compare_ms = 0;
  double total_ms() const { return seal_ms + encode_ms + compare_ms; }
};

// CPU ms per call of `f`, over at least 0.3 s of calls after one warm-up call.
template <class F>
double cpu_ms_per_call(F&& f) {
  f();
  const double start = bench::thread_cpu_seconds();
  int calls = 0;
  double now = start;
  do {
    f();
    ++calls;
    now = bench::thread_cpu_seconds();
  } while (now - start < 0.3);
  return (now - start) * 1e3 / calls;
}

// `answer` is one the node gave: base64(nonce || ciphertext || tag).
NodeOnlyWork measure_node_only_work(std::size_t request_bytes, std::string_view answer) {
  auto sealed = core::base64_decode(answer);
  if (!sealed || sealed->size() < core::AesGcmSealer::kNonce + core::AesGcmSealer::kTag)
    throw std::runtime_error("the node's answer is not a sealed message");
  const std::size_t plaintext_size = sealed->size() - core::AesGcmSealer::kNonce - core::AesGcmSealer::kTag;
  auto sealer = core::AesGcmSealer::make(core::SecretBytes(core::random_bytes(32)));
  if (!sealer) throw std::runtime_error("AesGcmSealer: " + sealer.error().message);
  const core::Bytes plaintext = core::random_bytes(plaintext_size);
  std::string text(answer.size() + 4, '\0');
  const core::Bytes request = core::random_bytes(request_bytes);
  const core::Bytes last = request;
  volatile int sink = 0;
  NodeOnlyWork w;
  // As the node does: a record's worth of base64 at a time.
  constexpr std::size_t kPiece = net::ResponseBody::writer::kRecord / 4 * 3;
  w.seal_ms = cpu_ms_per_call([&] {
    auto message = (*sealer)->begin();
    if (!message) throw std::runtime_error("AesGcmSealer: " + message.error().message);
    for (std::size_t at = 0; at < plaintext.size(); at += kPiece) {
      const std::size_t n = std::min(kPiece, plaintext.size() - at);
      if (auto ok = message->encrypt(core::ByteView(plaintext.data() + at, n), sealed->data() + core::AesGcmSealer::kNonce + at); !ok)
        throw std::runtime_error("AesGcmSealer: " + ok.error().message);
    }
    if (auto tag = message->tag(); !tag) throw std::runtime_error("AesGcmSealer: " + tag.error().message);
  });
  w.encode_ms = cpu_ms_per_call([&] { sink = sink + *core::base64_encode_into(core::ByteView(*sealed), text.data()); });
  w.compare_ms = cpu_ms_per_call([&] { sink = sink + std::memcmp(request.data(), last.data(), request.size()); });
  return w;
}

// ---------------------------------------------------------------- the run

struct Row {
  int domains = 0;
  std::size_t request_bytes = 0, response_bytes = 0;
  std::string mode;
  Series node, nginx;
  std::vector<double> ratios;      // node/nginx requests/s, per pair of adjacent phases
  std::vector<double> cpu_ratios;  // node/nginx server CPU per request, per pair
  long node_hwm_kb = 0;
  double node_idle_ms_per_s = 0;
};

// Issue 17's goals for the requests/s ratio.
double ratio_goal(const std::string& mode) { return mode == "fresh" ? 0.95 : 0.9; }

// "0.95 [0.92-0.99] (0.79-1.35)": geometric mean [95% interval] (range).
std::string ratio_text(const bench::RatioSummary& s) {
  char out[64];
  std::snprintf(out, sizeof out, "%.2f [%.2f-%.2f] (%.2f-%.2f)", s.geomean, s.low, s.high, s.min, s.max);
  return out;
}

void print_row(const Row& r) {
  const bench::RatioSummary rps = bench::summarize_ratios(r.ratios), cpu = bench::summarize_ratios(r.cpu_ratios);
  std::printf("  %-10s node %8.1f req/s  nginx %8.1f req/s  node/nginx %s  CPU/req node %.3f ms (%.3f less idle) nginx %.3f ms, "
              "node/nginx %s  p50 node %.2f ms nginx %.2f ms  client CPU/req %.3f/%.3f ms  errors %zu/%zu\n",
              r.mode.c_str(), median(r.node.rps()), median(r.nginx.rps()), ratio_text(rps).c_str(), r.node.cpu_ms_per_request(),
              r.node.cpu_ms_per_request_less(r.node_idle_ms_per_s), r.nginx.cpu_ms_per_request(), ratio_text(cpu).c_str(),
              r.node.p50_ms(), r.nginx.p50_ms(), r.node.client_cpu_ms(), r.nginx.client_cpu_ms(), r.node.errors(), r.nginx.errors());
  std::printf("  %-10s goal node/nginx >= %.2f: %s\n", r.mode.c_str(), ratio_goal(r.mode), bench::verdict_at_least(rps, ratio_goal(r.mode)));
  if (!r.node.first_error().empty()) std::printf("    node errors: %s\n", r.node.first_error().c_str());
  if (!r.nginx.first_error().empty()) std::printf("    nginx errors: %s\n", r.nginx.first_error().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-node against nginx on the same bytes: GET /get_keyshares over mutual TLS 1.3"};
  std::vector<int> domain_counts = {1, 10, 100, 1000};
  // 12 pairs of 1 s phases: the interval of a ratio whose pairs spread by
  // +-11% (fresh handshakes on a shared VM) is then about +-7%.
  int phases = 12;
  double seconds_per_phase = 1.0;
  int clients = 8;
  int workers = static_cast<int>(node::NodeRunOptions{}.threads);
  // mpc-node's own default (--poll-interval-ms): the node serves as an
  // operator runs it. The tests poll every 100 ms to react fast.
  int poll_ms = static_cast<int>(node::NodeRunOptions{}.poll_interval.count());
  std::string nginx = "nginx";
  std::string serve_dir, client_key;
  bool verbose = false;
  std::vector<std::string> modes = {"fresh", "keep-alive"};
  app.add_option("--domains", domain_counts, "Domain counts")->capture_default_str();
  app.add_option("--phases", phases, "Alternating phases per server and mode")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--seconds", seconds_per_phase, "Seconds per phase")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--clients", clients, "Concurrent clients, each from its own loopback address")->check(CLI::Range(1, 250))->capture_default_str();
  app.add_option("--workers", workers, "nginx worker_processes and handshake-server threads (default: the node's I/O threads)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--nginx", nginx, "nginx binary")->capture_default_str();
  app.add_option("--poll-interval-ms", poll_ms, "How often the node reads the contract (default: mpc-node's)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--modes", modes, "Modes to run (fewer: to profile one)")
      ->check(CLI::IsMember({"fresh", "keep-alive"}))
      ->capture_default_str();
  app.add_flag("--verbose", verbose, "Print every phase");
  app.add_option("--serve-handshakes", serve_dir, "(internal) run the minimal handshake server, its address file in DIR");
  app.add_option("--client-key", client_key, "(internal) the client key the handshake server accepts");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!serve_dir.empty()) return serve_handshakes(fs::path(serve_dir) / "handshake_server.addr", workers, client_key);

    const fs::path dir = e2e::unique_dir("node-vs-nginx");
    fs::create_directories(dir);
    const std::string nginx_bin = find_program(nginx);
    {
      auto v = testsupport::run({nginx_bin, "-v"});
      std::string version = v.output.substr(0, v.output.find('\n'));
      std::printf("mpc-node vs %s: GET /get_keyshares over mutual TLS 1.3 (Ed25519) on loopback\n", version.c_str());
    }
    std::printf("%d client(s) of bench/https_load, each from its own loopback address; %d x %.1f s alternating phases per server "
                "and mode; node I/O threads = nginx workers = %d; %u CPU(s)\n",
                clients, phases, seconds_per_phase, workers, std::thread::hardware_concurrency());

    // openssl speed first, on a quiet machine.
    const Speed speed = openssl_speed();
    std::printf("\nopenssl speed (one core): Ed25519 %.0f sign/s, %.0f verify/s; AES-256-GCM %.0f MB/s (1 KiB), %.0f MB/s (16 KiB)\n",
                speed.ed25519_sign, speed.ed25519_verify, speed.aes_gcm_mb_s_1k, speed.aes_gcm_mb_s_16k);

    // The bare handshake.
    Series bare;
    {
      const auto key = core::Ed25519SecretKey::generate();
      const CertFiles client = write_certificate(key, dir, "handshake-client");
      const fs::path hs_dir = dir / "handshake-server";
      // Blocking threads, one connection each: as many as the clients, so
      // that the figure is the machine's CPU and not the server's latency.
      const int hs_threads = std::max(workers, clients);
      fs::create_directories(hs_dir);
      testsupport::Child server({(self_dir() / "node_vs_nginx").string(), "--serve-handshakes", hs_dir.string(), "--workers",
                                 std::to_string(hs_threads), "--client-key", core::ed25519_public_key_to_string(key.public_key())},
                                hs_dir / "log");
      auto line = testsupport::wait_for_file(hs_dir / "handshake_server.addr", seconds(20));
      if (!line) throw std::runtime_error("the handshake server did not start: " + core::read_file(hs_dir / "log").value_or(""));
      const auto space = line->find(' ');
      auto server_key = core::parse_ed25519_public_key(line->substr(space + 1));
      if (!server_key) throw std::runtime_error("handshake server key: " + server_key.error().message);
      LoadArgs a{line->substr(0, space), client, *server_key, "handshake", {server.pid()}, {}, -1, {}, {}, clients, seconds_per_phase};
      // A client the server does not accept must fail, or the figure means nothing.
      {
        LoadArgs wrong = a;
        wrong.client = write_certificate(core::Ed25519SecretKey::generate(), dir, "wrong-client");
        wrong.clients = 1;
        wrong.seconds = 0.2;
        wrong.pids.clear();
        auto w = run_load(wrong);
        if (w.requests != 0 || w.errors == 0) throw std::runtime_error("the handshake server accepted an unknown client key");
      }
      for (int p = 0; p < phases; ++p) bare.phases.push_back(run_load(a));
      server.kill_hard();
      std::printf("bare TLS 1.3 mutual handshake (minimal server, the node's TLS context, %d thread(s)): %.1f hs/s (%.1f-%.1f), "
                  "server CPU %.3f ms per handshake, errors %zu\n",
                  hs_threads, median(bare.rps()), std::ranges::min(bare.rps()), std::ranges::max(bare.rps()),
                  bare.cpu_ms_per_request(), bare.errors());
      if (!bare.first_error().empty()) std::printf("  errors: %s\n", bare.first_error().c_str());
    }

    std::vector<Row> rows;
    for (int domains : domain_counts) {
      devnet::DevnetSpec spec;
      spec.keys = devnet::DevnetSpec::Keys::kDealer;
      spec.nodes = 2;
      spec.threshold = 2;
      spec.domains.clear();
      for (int d = 0; d < domains; ++d) spec.domains.push_back(d % 2 ? model::CurveKind::kEd25519 : model::CurveKind::kSecp256k1);
      const auto t_create = steady_clock::now();
      e2e::Network net(spec, milliseconds(100), milliseconds(poll_ms));
      const double create_s = duration<double>(steady_clock::now() - t_create).count();
      auto gen = net.backup_cli(0, {"generate-keys"});
      auto reg = net.backup_cli(0, {"register"});
      if (gen.exit_code || reg.exit_code) throw std::runtime_error("register: " + gen.output + reg.output);
      auto secrets = backup::BackupHome(net.backup_home(0)).load_secrets();
      if (!secrets) throw std::runtime_error("backup secrets: " + secrets.error().message);
      const fs::path run = dir / ("domains-" + std::to_string(domains));
      fs::create_directories(run);
      const CertFiles client = write_certificate(secrets->p2p_private_key, run, "backup-service");
      const std::string keyset = to_json(net.keyset()).dump();
      write_text(run / "keyset.json", keyset);
      const auto address = net::HostPort::parse(net.node(0).migration_addr).value();
      const auto node_key = net.node_tls_key(0);
      const pid_t node_pid = std::stoi(*core::read_file(net.devnet().run_dir() / "node0.pid"));

      // The node's answer, once the node has seen the registration.
      const auto ctx = *tls::make_client_context(secrets->p2p_private_key);
      std::optional<net::MtlsResponse> answer;
      std::string last_error;
      const auto deadline = steady_clock::now() + seconds(30);
      while (!answer) {
        net::MtlsClient c(ctx, address.host, address.port, node_key);
        auto r = c.request(http::verb::get, "/get_keyshares", keyset);
        if (r && r->status == 200) answer = *r;
        else last_error = r ? "status " + std::to_string(r->status) + ": " + r->body : r.error().message;
        if (!answer && steady_clock::now() > deadline) throw std::runtime_error("the node does not serve its shares: " + last_error);
        if (!answer) std::this_thread::sleep_for(milliseconds(100));
      }
      const std::string content_type(answer->headers[http::field::content_type]);
      write_text(run / "keyshares", answer->body);
      // A client certificate the node has not registered is refused.
      {
        const auto other = *tls::make_client_context(core::Ed25519SecretKey::generate());
        net::MtlsClient c(other, address.host, address.port, node_key);
        if (auto r = c.request(http::verb::get, "/get_keyshares", keyset); r && r->status == 200)
          throw std::runtime_error("the node served an unregistered client");
      }

      Nginx server(nginx_bin, run / "nginx", workers, run / "keyshares", content_type, client.sha1);
      LoadArgs to_node{net.node(0).migration_addr, client, node_key, "keep-alive", {node_pid}, run / "keyset.json",
                       static_cast<long long>(answer->body.size()), {}, content_type, clients, seconds_per_phase};
      LoadArgs to_nginx = to_node;
      to_nginx.addr = server.addr();
      to_nginx.server_key = server.key();
      to_nginx.pids = server.worker_pids();
      {
        // nginx answers the node's exact bytes with its Content-Type, to
        // this client certificate only.
        LoadArgs exact = to_nginx;
        exact.expect_body = run / "keyshares";
        exact.clients = 1;
        exact.seconds = 0.2;
        auto ok = run_load(exact);
        if (ok.requests == 0 || ok.errors != 0) throw std::runtime_error("nginx does not serve the node's bytes: " + ok.error_text + "\n" + server.log());
        LoadArgs wrong = exact;
        wrong.client = write_certificate(core::Ed25519SecretKey::generate(), run, "unknown-client");
        auto refused = run_load(wrong);
        if (refused.requests != 0 || refused.errors == 0) throw std::runtime_error("nginx served an unknown client certificate");
      }

      // What the node spends with no request (watching the chain), counted
      // in its CPU per request below.
      const double idle0 = cpu_seconds(node_pid);
      std::this_thread::sleep_for(seconds(3));
      const double idle_ms_per_s = (cpu_seconds(node_pid) - idle0) * 1000 / 3;
      std::printf("\n%d domain(s): request %zu bytes, response %zu bytes (%s); devnet created in %.1f s; node idle CPU %.0f ms/s "
                  "(reading the contract every %d ms)\n",
                  domains, keyset.size(), answer->body.size(), content_type.c_str(), create_s, idle_ms_per_s, poll_ms);
      for (const std::string& mode : modes) {
        Row row;
        row.domains = domains;
        row.request_bytes = keyset.size();
        row.response_bytes = answer->body.size();
        row.mode = mode;
        row.node_idle_ms_per_s = idle_ms_per_s;
        to_node.mode = to_nginx.mode = mode;
        for (int p = 0; p < phases; ++p) {
          // Alternate which goes first, so that a drift of the machine falls on both.
          if (p % 2 == 0) {
            row.node.phases.push_back(run_load(to_node));
            row.nginx.phases.push_back(run_load(to_nginx));
          } else {
            row.nginx.phases.push_back(run_load(to_nginx));
            row.node.phases.push_back(run_load(to_node));
          }
          const Load &a = row.node.phases.back(), &b = row.nginx.phases.back();
          row.ratios.push_back(b.rps > 0 ? a.rps / b.rps : 0);
          if (a.requests > 0 && b.requests > 0 && b.cpu_s > 0)
            row.cpu_ratios.push_back((a.cpu_s / static_cast<double>(a.requests)) / (b.cpu_s / static_cast<double>(b.requests)));
          if (verbose)
            for (const auto* l : {&row.node.phases.back(), &row.nginx.phases.back()})
              std::printf("    %s %s phase %d: %.1f req/s over %.2f s, p50 %.3f ms p99 %.3f ms, server CPU %.3f s, errors %zu %s\n",
                          l == &row.node.phases.back() ? "node " : "nginx", mode.c_str(), p + 1, l->rps, l->seconds, l->p50_ms, l->p99_ms,
                          l->cpu_s, l->errors, l->error_text.c_str());
        }
        row.node_hwm_kb = vm_hwm_kb(node_pid);
        print_row(row);
        if (row.node.errors() > 0) {
          // The node's own count of what it refused, by reason.
          std::istringstream metrics(e2e::fetch_metrics(net.node(0).metrics_addr));
          std::string refused;
          for (std::string line; std::getline(metrics, line);)
            if (line.rfind("mpc_connections_refused_total{", 0) == 0) refused += " " + line.substr(line.find('{'));
          std::printf("    node's refusals so far (mpc_connections_refused_total):%s\n", refused.empty() ? " none" : refused.c_str());
        }
        if (row.nginx.errors() > 0) {
          const std::string log = server.log();
          std::printf("    nginx's log ends: %s\n", log.substr(log.size() > 2000 ? log.size() - 2000 : 0).c_str());
        }
        rows.push_back(std::move(row));
      }
      std::printf("  node peak RSS (VmHWM) %.1f MiB\n", static_cast<double>(vm_hwm_kb(node_pid)) / 1024.0);
      {
        // How close the node can come to nginx here at all: its own work
        // added to nginx's CPU per request (and, for requests/s, to the
        // client's, which shares the cores).
        const NodeOnlyWork w = measure_node_only_work(keyset.size(), answer->body);
        std::printf("  node-only work per answer %.3f ms (seal %.3f, base64 %.3f, keyset compare %.3f)\n", w.total_ms(), w.seal_ms,
                    w.encode_ms, w.compare_ms);
        for (const auto& r : rows) {
          const double n = r.nginx.cpu_ms_per_request(), c = r.nginx.client_cpu_ms();
          if (r.domains != domains || n <= 0) continue;
          std::printf("  %-10s with it: node CPU/request >= %.2fx nginx's; node/nginx req/s at most about %.2f with all else equal\n",
                      r.mode.c_str(), (n + w.total_ms()) / n, (c + n) / (c + n + w.total_ms()));
        }
      }
      server.stop();
    }

    // The README's table.
    const double bare_rps = median(bare.rps());
    std::printf("\n| domains | request / response bytes | mode | mpc-node req/s | nginx req/s | node/nginx [95%% interval] (range) | CPU/request node / nginx |"
                " CPU/request node/nginx [95%% interval] (range) | node CPU/request less idle | node fresh : bare handshake |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows) {
      char vs_bare[32] = "";
      if (r.mode == "fresh" && bare_rps > 0) std::snprintf(vs_bare, sizeof vs_bare, "%.2f", median(r.node.rps()) / bare_rps);
      std::printf("| %d | %zu / %zu | %s | %.0f | %.0f | %s | %.3f / %.3f ms | %s | %.3f ms (idle %.0f ms/s) | %s |\n", r.domains,
                  r.request_bytes, r.response_bytes, r.mode.c_str(), median(r.node.rps()), median(r.nginx.rps()),
                  ratio_text(bench::summarize_ratios(r.ratios)).c_str(), r.node.cpu_ms_per_request(), r.nginx.cpu_ms_per_request(),
                  ratio_text(bench::summarize_ratios(r.cpu_ratios)).c_str(), r.node.cpu_ms_per_request_less(r.node_idle_ms_per_s),
                  r.node_idle_ms_per_s, vs_bare);
    }
    std::printf("\nbare handshake %.0f/s (server CPU %.3f ms each); openssl speed: Ed25519 %.0f sign/s, %.0f verify/s, AES-256-GCM %.0f MB/s "
                "(16 KiB blocks); %d clients, %d x %.1f s phases, %u CPU(s)\n",
                bare_rps, bare.cpu_ms_per_request(), speed.ed25519_sign, speed.ed25519_verify, speed.aes_gcm_mb_s_16k, clients, phases,
                seconds_per_phase, std::thread::hardware_concurrency());
    // Issue 17's CPU goal: at D domains, at most twice the CPU at 1 domain
    // plus the AES-GCM cost of the extra bytes (request and response).
    for (const auto& r : rows) {
      if (r.mode != "keep-alive") continue;
      const Row* one = nullptr;
      for (const auto& s : rows)
        if (s.mode == r.mode && s.domains == 1) one = &s;
      if (one == nullptr || r.domains == 1) continue;
      const double extra = static_cast<double>(r.request_bytes + r.response_bytes) -
                           static_cast<double>(one->request_bytes + one->response_bytes);
      const double aes_ms = extra / (speed.aes_gcm_mb_s_16k * 1e6) * 1000;
      const double bound = 2 * one->node.cpu_ms_per_request() + aes_ms;
      std::printf("CPU goal at %d domains (keep-alive): %.3f ms per request, bound %.3f ms (2 x %.3f + AES-GCM of %.0f extra bytes): %s\n",
                  r.domains, r.node.cpu_ms_per_request(), bound, one->node.cpu_ms_per_request(), extra,
                  r.node.cpu_ms_per_request() <= bound ? "met" : "not met");
      // The same bound for nginx on the same bytes: what a server that only
      // decrypts the request and encrypts a file spends (the kernel's copies
      // of the extra bytes included, which the bound leaves out).
      const double nginx_bound = 2 * one->nginx.cpu_ms_per_request() + aes_ms;
      std::printf("  nginx on the same bytes: %.3f ms per request, the same bound for it %.3f ms (2 x %.3f + the same AES-GCM): %s\n",
                  r.nginx.cpu_ms_per_request(), nginx_bound, one->nginx.cpu_ms_per_request(),
                  r.nginx.cpu_ms_per_request() <= nginx_bound ? "met" : "not met");
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "node_vs_nginx: %s\n", e.what());
    return 1;
  }
  return 0;
}
