// Load driver for mpc-sandbox: view-call latency and signed function-call
// transactions per second through JSON-RPC on loopback, at several numbers
// of participants in the contract state (a scale curve: 10, 100, 1,000 by
// default). Prints the machine's single-core ed25519 verification rate
// measured beside each load phase, and the ratio.
//
// The sandbox runs as its own process (the real binary), one fresh chain per
// scale; clients are threads here, one per participant account (each with
// its own access key and nonce).
//
// The `state` view is timed twice: as the server answers it (the JSON-RPC
// request POSTed over a plain blocking socket, the answer read whole but not
// parsed: what a NEAR RPC node's latency means; with the server's CPU time
// per call from /proc), and through near::RpcClient, which also parses the
// answer's byte array into a JSON tree (our nodes' client cost). The first
// raw answer is checked to carry the same bytes as RpcClient's.
#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "cpu_time.h"
#include "core/crypto.h"
#include "core/json_limits.h"
#include "near/rpc_client.h"
#include "sandbox/setup.h"
#include "support/process.h"

namespace {

using namespace mpc;
using Clock = std::chrono::steady_clock;
using near::json;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct VerifyRate {
  double per_second = 0;      // wall clock: what the machine gives one thread now
  double per_cpu_second = 0;  // per second of this thread's CPU time: the cost of one verification
};

VerifyRate ed25519_verify_rate(double seconds) {
  auto key = core::Ed25519SecretKey::generate();
  core::Bytes msg = core::random_bytes(32);
  auto sig = key.sign(msg);
  std::uint64_t n = 0;
  const double cpu_start = bench::thread_cpu_seconds();
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    for (int i = 0; i < 256; ++i) n += core::ed25519_verify(key.public_key(), msg, sig) ? 1 : 0;
  }
  return VerifyRate{static_cast<double>(n) / seconds_since(start), static_cast<double>(n) / (bench::thread_cpu_seconds() - cpu_start)};
}

// HTTP/1.1 over one kept-alive blocking loopback connection, for timing the
// server alone: writes a POST, reads the answer's head and its
// Content-Length body in large reads. Not a general client (no chunked
// bodies, no redirects); the sandbox answers with Content-Length.
class RawHttp {
 public:
  explicit RawHttp(const std::string& host_port) : buf_(256 << 10) {
    const auto colon = host_port.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
    if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) return;
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawHttp() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;

  // The request for `body`, ready to send (post_prepared).
  static std::string prepare(const std::string& body) {
    return "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // The answer's status and body, or nullopt (connection failed or closed,
  // or an answer this reader does not handle).
  std::optional<std::pair<int, std::string>> post(const std::string& body) { return post_prepared(prepare(body)); }

  std::optional<std::pair<int, std::string>> post_prepared(const std::string& req) {
    if (fd_ < 0) return std::nullopt;
    for (std::size_t sent = 0; sent < req.size();) {
      const ssize_t n = ::send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return std::nullopt;
      sent += static_cast<std::size_t>(n);
    }
    std::string in;
    std::size_t head_end = std::string::npos;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(in)) return std::nullopt;
    }
    std::string head = in.substr(0, head_end);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto cl = head.find("\r\ncontent-length:");
    if (head.size() < 12 || cl == std::string::npos) return std::nullopt;
    const int status = std::atoi(head.c_str() + 9);
    const std::size_t length = std::stoull(head.substr(cl + 17));
    std::string out = in.substr(head_end + 4);
    out.reserve(length);
    while (out.size() < length) {
      if (!read_more(out)) return std::nullopt;
    }
    if (out.size() != length) return std::nullopt;  // a pipelined extra: not expected here
    return std::pair{status, std::move(out)};
  }

 private:
  bool read_more(std::string& out) {
    const ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    if (n <= 0) return false;
    out.append(buf_.data(), static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::vector<char> buf_;
};

// CPU time (user + system, all threads) of a process so far, in seconds.
double process_cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct Client {
  std::string account;
  core::Ed25519SecretKey key;
  std::unique_ptr<near::RpcClient> rpc;
  std::uint64_t nonce = 0;
  std::vector<std::string> service_keys;  // backup service keys the transactions register, in turn
};

near::SignedTransaction register_tx(Client& c, const near::BlockRef& block) {
  if (c.service_keys.empty()) {
    for (int i = 0; i < 8; ++i) {
      c.service_keys.push_back(core::ed25519_public_key_to_string(core::Ed25519SecretKey::generate().public_key()));
    }
  }
  near::Transaction tx;
  tx.signer_id = c.account;
  tx.public_key = core::NearPublicKey{c.key.public_key()};
  tx.nonce = ++c.nonce;
  tx.receiver_id = "mpc.sandbox";
  tx.block_hash = block.hash;
  const std::string args = json{{"backup_service_info", {{"public_key", c.service_keys[tx.nonce % c.service_keys.size()]}}}}.dump();
  tx.actions = {near::function_call("register_backup_service", args, 30'000'000'000'000ull, 1)};
  return near::sign_transaction(std::move(tx), c.key);
}

struct LoadResult {
  double rate = 0;  // successful transactions per second
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  bool ran_out = false;          // a client used all its pre-signed transactions before the end
  double server_cpu_seconds = 0;  // the sandbox's CPU time during the phase
};

// The lean load: every client's transactions are signed and encoded before
// the phase (so that the clients, on the same machine, cost the server as
// little CPU as possible), then sent over a blocking keep-alive connection
// each; an answer counts when it is HTTP 200 with a JSON-RPC result.
LoadResult run_presigned_load(std::vector<Client>& clients, const std::string& addr, pid_t server, const std::string& wait,
                              double seconds, std::size_t per_client) {
  LoadResult res;
  auto block = clients[0].rpc->final_block();
  if (!block) {
    res.failed = 1;
    return res;
  }
  std::vector<std::vector<std::string>> requests(clients.size());
  {
    std::vector<std::thread> signers;
    const std::size_t n_signers = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t t = 0; t < n_signers; ++t) {
      signers.emplace_back([&, t] {
        for (std::size_t i = t; i < clients.size(); i += n_signers) {
          requests[i].reserve(per_client);
          for (std::size_t k = 0; k < per_client; ++k) {
            const auto stx = register_tx(clients[i], *block);
            const std::string body =
                json{{"jsonrpc", "2.0"},
                     {"id", k},
                     {"method", "send_tx"},
                     {"params", {{"signed_tx_base64", core::base64_encode(near::encode_signed_transaction(stx))}, {"wait_until", wait}}}}
                    .dump();
            requests[i].push_back(RawHttp::prepare(body));
          }
        }
      });
    }
    for (auto& t : signers) t.join();
  }
  std::vector<std::unique_ptr<RawHttp>> connections;
  for (std::size_t i = 0; i < clients.size(); ++i) connections.push_back(std::make_unique<RawHttp>(addr));

  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<bool> ran_out{false};
  const double cpu_before = process_cpu_seconds(server);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    threads.emplace_back([&, i] {
      std::size_t next = 0;
      while (seconds_since(start) < seconds) {
        if (next == requests[i].size()) {
          ran_out = true;
          return;
        }
        auto r = connections[i]->post_prepared(requests[i][next++]);
        const bool good = r && r->first == 200 && r->second.find("\"result\"") != std::string::npos &&
                          r->second.find("\"error\"") == std::string::npos;
        ++(good ? ok : failed);
        if (!r) return;  // the connection is gone
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = seconds_since(start);
  res.server_cpu_seconds = process_cpu_seconds(server) - cpu_before;
  res.ok = ok.load();
  res.failed = failed.load();
  res.ran_out = ran_out.load();
  res.rate = static_cast<double>(res.ok) / elapsed;
  return res;
}

// Every client sends transactions for `seconds`; `wait` selects how long each
// send blocks ("NONE": accepted and executed; "FINAL": sealed in a block).
double run_load(std::vector<Client>& clients, const std::string& wait, double seconds, std::uint64_t* failures) {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& c : clients) {
    threads.emplace_back([&, client = &c] {
      auto block = client->rpc->final_block();
      if (!block) {
        ++failed;
        return;
      }
      std::uint64_t sent = 0;
      while (seconds_since(start) < seconds) {
        if (++sent % 200 == 0) {
          if (auto b = client->rpc->final_block()) block = b;
        }
        auto r = client->rpc->send_tx(register_tx(*client, *block), wait);
        if (r) {
          ++ok;
        } else {
          ++failed;
          auto ak = client->rpc->view_access_key(client->account, core::NearPublicKey{client->key.public_key()});
          if (ak) client->nonce = ak->nonce;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  *failures = failed.load();
  return static_cast<double>(ok.load()) / seconds_since(start);
}

struct Options {
  std::string load_client = "presigned";  // or "rpc": near::RpcClient, signing as it goes
  int clients = 100;
  double seconds = 10;
  int block_interval_ms = 500;
  int views = 2000;
  double view_seconds = 5;
  double verify_seconds = 1;
  std::string sandbox_bin;
};

struct ViewFigures {
  std::size_t calls = 0;
  double p50 = 0;
  double p99 = 0;
};

struct ScaleResult {
  int participants = 0;
  int clients = 0;
  std::size_t state_bytes = 0;
  std::size_t answer_bytes = 0;  // the raw JSON-RPC answer's body
  ViewFigures raw;               // the server's answer, read whole, not parsed
  double server_cpu_ms = 0;      // the server's CPU time per raw view
  ViewFigures rpc_client;        // near::RpcClient::call_function, parse included
  double tps_async = 0;
  double tps_final = 0;
  double server_cpu_per_tx_ms = 0;  // the sandbox's CPU time per executed transaction (presigned load)
  bool ran_out = false;
  double verify_rate = 0;      // around the executed phase, wall clock
  double verify_cpu_rate = 0;  // per CPU second
  std::uint64_t failures = 0;
  std::uint64_t head = 0;
};

// Calls `once` (which returns false on failure) up to `max_calls` times or
// for `seconds`, whichever ends first; latencies in ms.
template <typename F>
std::optional<ViewFigures> time_calls(int max_calls, double seconds, F once) {
  std::vector<double> latencies;
  const auto start = Clock::now();
  for (int i = 0; i < max_calls && (i < 20 || seconds_since(start) < seconds); ++i) {
    auto t = Clock::now();
    if (!once()) return std::nullopt;
    latencies.push_back(seconds_since(t) * 1e3);
  }
  return ViewFigures{latencies.size(), percentile(latencies, 0.50), percentile(latencies, 0.99)};
}

// The bytes of a call_function answer's "result" (an array of numbers).
std::optional<core::Bytes> result_bytes(const std::string& answer_body) {
  auto j = core::parse_json(answer_body, core::JsonLimits{64 << 20, 64});
  if (!j || !j->is_object() || !j->contains("result") || !(*j)["result"].contains("result")) return std::nullopt;
  core::Bytes out;
  for (const auto& b : (*j)["result"]["result"]) out.push_back(b.get<std::uint8_t>());
  return out;
}

std::optional<ScaleResult> run_scale(const Options& o, int participants) {
  ScaleResult res;
  res.participants = participants;
  res.clients = std::min(o.clients, participants);
  const auto home = std::filesystem::temp_directory_path() / ("mpc-sandbox-bench-" + core::hex_encode(core::random_bytes(4)));
  // Removed on every way out, after the sandbox (declared later) is gone.
  struct RemoveHome {
    std::filesystem::path dir;
    ~RemoveHome() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_home{home};
  sandbox::LocalChainSpec spec;
  spec.participants = participants;
  spec.threshold = (participants * 3 + 4) / 5;
  spec.chain_id = "mpc-sandbox";
  auto genesis = sandbox::write_local_genesis(home, spec);
  if (!genesis || !sandbox::create_chain(home, *genesis)) {
    std::fprintf(stderr, "cannot create the chain\n");
    return std::nullopt;
  }
  bool ok = true;
  {
    testsupport::Child sandbox({o.sandbox_bin, "run", "--home", home.string(), "--rpc-addr", "127.0.0.1:0", "--block-interval-ms",
                                std::to_string(o.block_interval_ms)},
                               home / "sandbox.log");
    auto addr = testsupport::wait_for_file(home / "rpc.addr", std::chrono::seconds(30));
    if (!addr) {
      std::fprintf(stderr, "mpc-sandbox did not start (log: %s)\n", (home / "sandbox.log").c_str());
      return std::nullopt;
    }
    const std::string url = "http://" + *addr;

    std::vector<Client> clients;
    for (int i = 0; i < res.clients; ++i) {
      const std::string id = "node" + std::to_string(i) + ".sandbox";
      auto creds = core::read_credentials_file(home / "credentials" / (id + ".json"));
      Client c{id, std::move(creds->secret_key), std::move(*near::RpcClient::create(url)), 0, {}};
      c.nonce = c.rpc->view_access_key(id, core::NearPublicKey{c.key.public_key()})->nonce;
      clients.push_back(std::move(c));
    }
    auto& rpc = *clients[0].rpc;

    // The `state` view through RpcClient once: the bytes the raw answers
    // must carry.
    auto expected = rpc.call_function("mpc.sandbox", "state", json::object());
    if (!expected) {
      std::fprintf(stderr, "view failed: %s\n", expected.error().message.c_str());
      return std::nullopt;
    }
    res.state_bytes = expected->result.size();

    // As the server answers it: raw HTTP, keep-alive, the body read whole.
    RawHttp http(*addr);
    const std::string request =
        json{{"jsonrpc", "2.0"},
             {"id", "bench"},
             {"method", "query"},
             {"params", {{"request_type", "call_function"}, {"finality", "final"}, {"account_id", "mpc.sandbox"},
                         {"method_name", "state"}, {"args_base64", core::base64_encode(core::as_bytes(std::string("{}")))}}}}
            .dump();
    auto raw_view = [&] {
      auto r = http.post(request);
      if (!r || r->first != 200) {
        std::fprintf(stderr, "raw view failed: %s\n", r ? ("HTTP " + std::to_string(r->first)).c_str() : "no answer");
        return false;
      }
      res.answer_bytes = r->second.size();
      return true;
    };
    if (auto first = http.post(request); !first || result_bytes(first->second) != expected->result) {
      std::fprintf(stderr, "the raw answer's bytes differ from RpcClient's\n");
      return std::nullopt;
    }
    const double cpu_before = process_cpu_seconds(sandbox.pid());
    auto raw = time_calls(o.views, o.view_seconds, raw_view);
    if (raw && raw->calls > 0) {
      res.server_cpu_ms = (process_cpu_seconds(sandbox.pid()) - cpu_before) * 1e3 / static_cast<double>(raw->calls);
    }
    auto parsed = time_calls(o.views, o.view_seconds, [&] {
      auto r = rpc.call_function("mpc.sandbox", "state", json::object());
      if (!r) std::fprintf(stderr, "view failed: %s\n", r.error().message.c_str());
      return r.has_value();
    });
    if (!raw || !parsed) ok = false;
    if (raw) res.raw = *raw;
    if (parsed) res.rpc_client = *parsed;

    std::uint64_t failed_async = 0;
    std::uint64_t failed_final = 0;
    const VerifyRate verify_before = ed25519_verify_rate(o.verify_seconds);
    auto measure_verify_after = [&] {
      const VerifyRate after = ed25519_verify_rate(o.verify_seconds);
      res.verify_rate = (verify_before.per_second + after.per_second) / 2;
      res.verify_cpu_rate = (verify_before.per_cpu_second + after.per_cpu_second) / 2;
    };
    if (o.load_client == "rpc") {
      res.tps_async = run_load(clients, "NONE", o.seconds, &failed_async);
      measure_verify_after();
      res.tps_final = run_load(clients, "FINAL", o.seconds, &failed_final);
    } else {
      // Enough pre-signed transactions for 1.5x the verification rate.
      const std::size_t per_client =
          static_cast<std::size_t>(1.5 * o.seconds * verify_before.per_cpu_second / static_cast<double>(clients.size())) + 10;
      auto executed = run_presigned_load(clients, *addr, sandbox.pid(), "NONE", o.seconds, per_client);
      measure_verify_after();
      auto final = run_presigned_load(clients, *addr, sandbox.pid(), "FINAL", o.seconds,
                                      static_cast<std::size_t>(o.seconds * 1000 / o.block_interval_ms) + 10);
      res.tps_async = executed.rate;
      res.tps_final = final.rate;
      failed_async = executed.failed;
      failed_final = final.failed;
      res.ran_out = executed.ran_out || final.ran_out;
      if (executed.ok > 0) res.server_cpu_per_tx_ms = executed.server_cpu_seconds * 1e3 / static_cast<double>(executed.ok);
    }
    res.failures = failed_async + failed_final;
    if (auto head = rpc.final_block()) res.head = head->height;
    sandbox.terminate();
  }
  if (!ok) return std::nullopt;
  return res;
}

void print_scale(const Options& o, const ScaleResult& r) {
  std::printf("mpc-sandbox load (participants=%d, clients=%d, block interval=%d ms, %.0f s per phase, %s clients)\n",
              r.participants, r.clients, o.block_interval_ms, o.seconds,
              o.load_client == "rpc" ? "near::RpcClient" : "pre-signed raw HTTP");
  std::printf("  view `state` (%zu bytes; answer %zu bytes), server:  p50 %.3f ms   p99 %.3f ms   (%zu calls, raw HTTP)"
              "   server CPU %.3f ms/call\n",
              r.state_bytes, r.answer_bytes, r.raw.p50, r.raw.p99, r.raw.calls, r.server_cpu_ms);
  std::printf("  view `state` through near::RpcClient (parse included): p50 %.3f ms   p99 %.3f ms   (%zu calls)\n", r.rpc_client.p50,
              r.rpc_client.p99, r.rpc_client.calls);
  std::printf("  signed function calls, executed (wait NONE):   %8.0f tx/s", r.tps_async);
  if (r.server_cpu_per_tx_ms > 0) {
    std::printf("   server CPU %.3f ms/tx = %.2f verifications", r.server_cpu_per_tx_ms, r.server_cpu_per_tx_ms * r.verify_cpu_rate / 1e3);
  }
  std::printf("%s\n", r.ran_out ? "   (a client ran out of pre-signed transactions: a lower bound)" : "");
  std::printf("  signed function calls, final (wait FINAL):     %8.0f tx/s   failures (both phases) %llu\n", r.tps_final,
              static_cast<unsigned long long>(r.failures));
  std::printf("  ed25519 verifications on this machine (1 core): %8.0f /s (before and after the executed phase; %.0f per CPU second)\n",
              r.verify_rate, r.verify_cpu_rate);
  std::printf("  ratio executed tx/s : verifications/s           %8.3f\n", r.tps_async / r.verify_rate);
  std::printf("  chain head after the run: #%llu\n", static_cast<unsigned long long>(r.head));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-sandbox load driver"};
  std::vector<int> scales{10, 100, 1000};
  Options o;
  o.sandbox_bin = testsupport::binary("apps/mpc-sandbox").string();
  app.add_option("--participants", scales, "Participants in the contract state, one run each (e.g. 10,100,1000)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--load-client", o.load_client,
                 "presigned: transactions signed before each phase, sent over raw HTTP (the server's throughput); "
                 "rpc: near::RpcClient threads that sign as they go (client and server share the cores)")
      ->check(CLI::IsMember({"presigned", "rpc"}))
      ->capture_default_str();
  app.add_option("--clients", o.clients, "Concurrent clients (one account each, <= participants)")->capture_default_str();
  app.add_option("--seconds", o.seconds, "Duration of each load phase")->capture_default_str();
  app.add_option("--block-interval-ms", o.block_interval_ms, "Sandbox block interval")->capture_default_str();
  app.add_option("--views", o.views, "View calls for the latency figures (at most, per kind)")->capture_default_str();
  app.add_option("--view-seconds", o.view_seconds, "Time bound of each view series (at least 20 calls)")->capture_default_str();
  app.add_option("--verify-seconds", o.verify_seconds, "Duration of each ed25519 verification measurement")->capture_default_str();
  app.add_option("--sandbox", o.sandbox_bin, "mpc-sandbox binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<ScaleResult> results;
  int rc = 0;
  for (int p : scales) {
    if (p < 1) {
      std::fprintf(stderr, "--participants: %d is not a positive count\n", p);
      return 2;
    }
    auto r = run_scale(o, p);
    if (!r) {
      rc = 1;
      continue;
    }
    print_scale(o, *r);
    if (r->failures > 0) rc = 1;
    results.push_back(*r);
  }
  if (results.size() > 1) {
    // The curve: latency per KB of state should stay flat (cost growing no
    // faster than the bytes returned).
    std::printf("mpc-sandbox scale curve (block interval %d ms)\n", o.block_interval_ms);
    // "tx CPU": the server's CPU time per executed transaction, in
    // verifications' worth of CPU; "ratio": executed tx/s : verifications/s.
    std::printf("  %12s %11s %10s %10s %13s %11s %13s %11s %13s %11s %10s %6s\n", "participants", "state bytes", "view p50", "view p99",
                "p50 per 10KB", "view CPU", "CPU per 10KB", "client p50", "executed tx/s", "tx CPU", "final tx/s", "ratio");
    for (const auto& r : results) {
      const double per_10kb = static_cast<double>(r.state_bytes) / 10'000.0;
      std::printf("  %12d %11zu %7.3f ms %7.3f ms %10.3f ms %8.3f ms %10.3f ms %8.3f ms %13.0f %5.2f verif %10.0f %6.3f\n",
                  r.participants, r.state_bytes, r.raw.p50, r.raw.p99, r.raw.p50 / per_10kb, r.server_cpu_ms, r.server_cpu_ms / per_10kb,
                  r.rpc_client.p50, r.tps_async, r.server_cpu_per_tx_ms * r.verify_cpu_rate / 1e3, r.tps_final,
                  r.tps_async / r.verify_rate);
    }
  }
  return rc;
}
