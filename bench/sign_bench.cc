// The contract's `sign` on a local network (mpc-devnet: mpc-sandbox + N
// mpc-node processes signing with FROST over their mutual-TLS mesh), for
// each --network N:T (default 3:2 and 10:7), and, beside it in the same
// run, the group operations one FROST signature of the same T-of-N makes.
//
// "Landing": mpc-sandbox executes a transaction when it is submitted (the
// next block seals it), so a client that sends `sign` with wait_until NONE
// gets its answer once the request is pending in the contract. That answer
// is the landing; the signature is in the outcome once the block holding
// the leader's `respond` is produced (the yield callback runs there). So:
//   landing -> signature in the outcome  send_tx (NONE) returned -> the final
//                                       outcome (`tx`, FINAL) arrived at the
//                                       client, its signature verified;
//   landing -> respond executed         send_tx returned -> the request left
//                                       the contract's pending list (view
//                                       get_pending_request every
//                                       --respond-poll-ms): the nodes' part
//                                       (their chain poll, FROST over the
//                                       mesh, the respond transaction);
//   submission -> outcome               the whole call as the client sees it;
//   +k                                  the signature's block is k blocks
//                                       after the block that included the
//                                       sign (both from the outcome's
//                                       block hashes; +0: the respond landed
//                                       before that block was produced).
//
// Sequential: one client, --requests requests, each after a random pause
// (seed printed) so that submissions do not fall in step with blocks or the
// nodes' chain reads. Concurrent: --clients-per-node x N clients, each with
// its own full-access key on one of the operator accounts (any NEAR client
// serialises transactions per key), signing for --seconds; signatures/s =
// verified signatures whose outcome arrived within the window / window.
// In process: Shamir shares of a random key, one session among T (every
// message encoded and decoded); its group operations counted exactly
// (-Wl,--wrap, as bench/frost_bench) times their unit costs. Printed ratio:
// sign latency (sequential p50) / that group-operation time.
//
// Every signature counted is verified (Ed25519, under the domain's key
// derived for the caller and path as the contract derives it); failures are
// counted and the first one printed. Figures only, no thresholds.
#include <CLI/CLI.hpp>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/bytes.h"
#include "core/json_limits.h"
#include "core/key_derivation.h"
#include "core/near_key.h"
#include "model/types.h"
#include "devnet/network.h"
#include "devnet/supervisor.h"
#include "near/rpc_client.h"
#include "threshold/messages.h"
#include "threshold/signing_session.h"
#include "support/threshold/frost_testing.h"

// ---- group-operation counting (the binary is linked with -Wl,--wrap; see
// bench/CMakeLists.txt). Only the in-process signature below runs between a
// reset and a read of the counters, on the main thread.
namespace {
struct Counts {
  long base = 0;    // crypto_scalarmult_ed25519_base_noclamp
  long var = 0;     // crypto_scalarmult_ed25519_noclamp
  long valid = 0;   // crypto_core_ed25519_is_valid_point (decoding an element)
  long add = 0;     // crypto_core_ed25519_add / _sub
  long verify = 0;  // EVP_DigestVerify (the final Ed25519 check)
};
std::atomic<bool> counting{false};
Counts counts;
void count(long Counts::*what) {
  if (counting.load(std::memory_order_relaxed)) ++(counts.*what);
}
}  // namespace

extern "C" {
int __real_crypto_scalarmult_ed25519_base_noclamp(unsigned char* q, const unsigned char* n);
int __real_crypto_scalarmult_ed25519_noclamp(unsigned char* q, const unsigned char* n, const unsigned char* p);
int __real_crypto_core_ed25519_is_valid_point(const unsigned char* p);
int __real_crypto_core_ed25519_add(unsigned char* r, const unsigned char* p, const unsigned char* q);
int __real_crypto_core_ed25519_sub(unsigned char* r, const unsigned char* p, const unsigned char* q);
int __real_EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                            size_t tbslen);

int __wrap_crypto_scalarmult_ed25519_base_noclamp(unsigned char* q, const unsigned char* n) {
  count(&Counts::base);
  return __real_crypto_scalarmult_ed25519_base_noclamp(q, n);
}
int __wrap_crypto_scalarmult_ed25519_noclamp(unsigned char* q, const unsigned char* n, const unsigned char* p) {
  count(&Counts::var);
  return __real_crypto_scalarmult_ed25519_noclamp(q, n, p);
}
int __wrap_crypto_core_ed25519_is_valid_point(const unsigned char* p) {
  count(&Counts::valid);
  return __real_crypto_core_ed25519_is_valid_point(p);
}
int __wrap_crypto_core_ed25519_add(unsigned char* r, const unsigned char* p, const unsigned char* q) {
  count(&Counts::add);
  return __real_crypto_core_ed25519_add(r, p, q);
}
int __wrap_crypto_core_ed25519_sub(unsigned char* r, const unsigned char* p, const unsigned char* q) {
  count(&Counts::add);
  return __real_crypto_core_ed25519_sub(r, p, q);
}
int __wrap_EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sig, size_t siglen, const unsigned char* tbs,
                            size_t tbslen) {
  count(&Counts::verify);
  return __real_EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen);
}
}

namespace {

using namespace mpc;
using namespace std::chrono;
using json = nlohmann::json;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sign_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(core::Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(*r);
}

// Mean seconds per call of f over at least `min_seconds`.
template <typename F>
double time_per_call(F&& f, double min_seconds = 0.3) {
  long n = 0;
  const auto start = steady_clock::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 8; ++i) f();
    n += 8;
    elapsed = duration<double>(steady_clock::now() - start).count();
  } while (elapsed < min_seconds);
  return elapsed / static_cast<double>(n);
}

// ---- one FROST signature in process: its group operations and their cost

struct UnitCosts {
  double base, var, valid, add, verify;  // seconds per call
};

UnitCosts measure_unit_costs() {
  threshold::Scalar s;
  crypto_core_ed25519_scalar_random(s.data());
  threshold::Element p, out;
  __real_crypto_scalarmult_ed25519_base_noclamp(p.data(), s.data());
  UnitCosts u{};
  u.base = time_per_call([&] { __real_crypto_scalarmult_ed25519_base_noclamp(out.data(), s.data()); });
  u.var = time_per_call([&] { __real_crypto_scalarmult_ed25519_noclamp(out.data(), s.data(), p.data()); });
  u.valid = time_per_call([&] { (void)__real_crypto_core_ed25519_is_valid_point(p.data()); });
  u.add = time_per_call([&] { __real_crypto_core_ed25519_add(out.data(), p.data(), p.data()); });
  auto key = core::Ed25519SecretKey::generate();
  const core::Bytes msg(32, 0x42);
  const auto sig = key.sign(msg);
  u.verify = time_per_call([&] { (void)core::ed25519_verify(key.public_key(), msg, sig); });
  return u;
}

struct InProcess {
  Counts calls;
  double group_ops_s = 0;  // counted calls x unit costs
  double signature_s = 0;  // the whole in-process signature
};

// Shamir shares at x = id + 1 of a random key, a session among the first t
// participants (the first leads), every message through encode/decode.
InProcess frost_in_process(std::size_t n, std::size_t t, const UnitCosts& u) {
  using namespace threshold;
  const RandomSource random = os_random_source();
  const std::map<std::uint64_t, KeyPackage> keys = must(threshold::testing::deal_first(n, t, random), "deal").keys;
  std::vector<std::uint64_t> set;
  for (std::uint64_t i = 0; i < t; ++i) set.push_back(i);
  auto wire = [](const Message& m) { return must(decode_message(must(encode_message(m), "encode")), "decode"); };

  auto sign_once = [&] {
    SignRequest request;
    request.session = new_session_id(random);
    request.request_context.assign(160, '{');
    request.message.assign(32, 0x42);
    random(request.tweak);
    request.signers = set;
    const std::uint64_t leader = set.front();
    Coordinator coordinator = must(Coordinator::create(leader, keys.at(leader), request), "coordinator");
    if (!coordinator.start(random)) die("coordinator start");
    // Broadcasts are encoded once and decoded by every signer, as on the mesh.
    const core::Bytes request_bytes = must(encode_message(coordinator.request()), "encode request");
    std::map<std::uint64_t, Signer> signers;
    for (std::uint64_t id : set) {
      if (id == leader) continue;
      auto received = std::get<SignRequest>(must(decode_message(request_bytes), "decode request"));
      signers.emplace(id, must(Signer::create(id, leader, keys.at(id), std::move(received)), "signer"));
    }
    std::optional<core::Bytes> package;
    for (auto& [id, signer] : signers) {
      auto step = must(coordinator.handle(id, wire(must(signer.commit(random), "commit"))), "commitment");
      if (step.broadcast) package = must(encode_message(*step.broadcast), "encode package");
    }
    if (!package) die("no signing package");
    std::optional<core::Ed25519Signature> sig;
    for (auto& [id, signer] : signers) {
      auto share = must(signer.handle(leader, must(decode_message(*package), "decode package")), "share");
      auto step = must(coordinator.handle(id, wire(*share)), "share in");
      if (step.signature) sig = step.signature;
    }
    if (!sig) die("no signature in process");
  };

  InProcess r;
  counts = {};
  counting = true;
  sign_once();
  counting = false;
  r.calls = counts;
  r.group_ops_s = r.calls.base * u.base + r.calls.var * u.var + r.calls.valid * u.valid + r.calls.add * u.add +
                  r.calls.verify * u.verify;
  r.signature_s = time_per_call(sign_once, 0.5);
  return r;
}

// ---- the network

struct Options {
  std::size_t requests = 100;
  std::size_t clients_per_node = 4;
  double seconds = 15;
  milliseconds block{100};
  milliseconds poll{100};
  milliseconds respond_poll{5};
  std::uint64_t seed = 0;
  fs::path bin_dir;
};

// One `sign` and what was seen of it.
struct Sample {
  double submit_to_outcome_ms = 0;   // send_tx called -> final outcome at the client
  double land_to_outcome_ms = 0;     // send_tx returned (the sign executed) -> final outcome at the client
  double land_to_respond_ms = -1;    // send_tx returned -> the request left the pending list (-1: not watched)
  steady_clock::time_point received;
  std::string included_block;   // transaction_outcome.block_hash
  std::string signature_block;  // the last receipt's (the yield callback's) block_hash
};

struct BlockInfo {
  std::uint64_t height = 0;
  std::int64_t timestamp_ns = 0;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Signs with one account key through its own RPC connection: builds the
// transaction itself so that it can return as soon as the sandbox has
// executed it (send_tx NONE), then waits for the final outcome (tx).
class SignClient {
 public:
  SignClient(std::unique_ptr<near::RpcClient> rpc, std::string account, core::Ed25519SecretKey key, std::string contract,
             std::uint64_t domain_id, core::Ed25519PublicKey group_key)
      : rpc_(std::move(rpc)), account_(std::move(account)), key_(std::move(key)), contract_(std::move(contract)),
        domain_id_(domain_id), group_key_(group_key) {}

  // One verified signature of `text`; watches the pending list every
  // `respond_poll` when it is set.
  core::Result<Sample> sign(const std::string& text, std::optional<milliseconds> respond_poll) {
    const core::Bytes payload(text.begin(), text.end());
    const json args = {{"request",
                        {{"domain_id", domain_id_}, {"path", "bench"}, {"payload_v2", {{"Eddsa", core::hex_encode(payload)}}}}}};
    const core::SignPayload sign_payload{core::SignPayload::Kind::kEddsa, payload};
    const auto request = core::SignatureRequest::make(account_, "bench", sign_payload, domain_id_);
    MPC_ASSIGN(near::SignedTransaction stx, build(args));
    const std::string hash = core::base58_encode(near::transaction_hash(stx.transaction));

    Sample s;
    const auto submitted = steady_clock::now();
    auto sent = rpc_->send_tx(stx, "NONE");
    const auto landed = steady_clock::now();
    if (!sent) {
      nonce_.reset();
      return core::fail(sent.error().code, "send_tx: " + sent.error().message);
    }
    ++*nonce_;
    if (respond_poll) {
      const json view_args = {{"request", to_json(request)}};
      const auto deadline = landed + seconds(60);
      for (;;) {
        MPC_ASSIGN(json pending, rpc_->view(contract_, "get_pending_request", view_args));
        if (pending.is_null()) break;
        if (steady_clock::now() > deadline) return core::fail(core::ErrorCode::kTimeout, "the request stayed pending for 60 s");
        std::this_thread::sleep_for(*respond_poll);
      }
      s.land_to_respond_ms = duration<double, std::milli>(steady_clock::now() - landed).count();
    }
    core::Result<near::TxOutcome> out = core::fail(core::ErrorCode::kTimeout, "no outcome");
    for (int attempt = 0; attempt < 6; ++attempt) {  // the RPC answers 408 after 10 s: ask again
      out = rpc_->tx_status(hash, account_);
      if (out || !near::is_rpc_unreachable(out.error())) break;
    }
    s.received = steady_clock::now();
    if (!out) return core::fail(out.error().code, "tx: " + out.error().message);
    s.submit_to_outcome_ms = duration<double, std::milli>(s.received - submitted).count();
    s.land_to_outcome_ms = duration<double, std::milli>(s.received - landed).count();

    // The signature: verified under group + tweak(caller, path)·G.
    auto j = core::parse_json(core::to_string(out->success_value), core::JsonLimits{});
    if (!j) return core::fail(core::ErrorCode::kInternal, "the outcome's SuccessValue is not JSON");
    auto response = core::parse_signature_response(*j);
    if (!response || !std::holds_alternative<core::Ed25519Signature>(*response))
      return core::fail(core::ErrorCode::kInternal, "the outcome holds no Ed25519 signature");
    auto derived = core::derive_ed25519_public_key(group_key_, request.tweak);
    if (!derived || !core::ed25519_verify(*derived, payload, std::get<core::Ed25519Signature>(*response)))
      return core::fail(core::ErrorCode::kInternal, "the signature does not verify under the derived key");
    const json& raw = out->raw;
    s.included_block = raw.at("transaction_outcome").value("block_hash", "");
    const json& receipts = raw.at("receipts_outcome");
    if (receipts.empty()) return core::fail(core::ErrorCode::kInternal, "the outcome has no receipts");
    s.signature_block = receipts.back().value("block_hash", "");
    return s;
  }

 private:
  core::Result<near::SignedTransaction> build(const json& args) {
    if (!nonce_) {
      MPC_ASSIGN(auto ak, rpc_->view_access_key(account_, core::NearPublicKey{key_.public_key()}));
      nonce_ = ak.nonce;
    }
    MPC_ASSIGN(auto block, rpc_->block_final());
    near::Transaction tx;
    tx.signer_id = account_;
    tx.public_key = core::NearPublicKey{key_.public_key()};
    tx.nonce = *nonce_ + 1;
    tx.receiver_id = contract_;
    tx.block_hash = block.hash;
    const std::string text = args.dump();
    tx.actions.push_back(near::FunctionCallAction{"sign", core::Bytes(text.begin(), text.end()), near::Signer::kDefaultGas, 1});
    return near::sign_transaction(std::move(tx), key_);
  }

  std::unique_ptr<near::RpcClient> rpc_;
  std::string account_;
  core::Ed25519SecretKey key_;
  std::string contract_;
  std::uint64_t domain_id_;
  core::Ed25519PublicKey group_key_;
  std::optional<std::uint64_t> nonce_;
};

struct Run {
  std::vector<Sample> samples;
  std::size_t errors = 0;
  std::string first_error;
  std::size_t in_window = 0;  // concurrent: outcomes received before the deadline
};

class Bench {
 public:
  Bench(std::size_t nodes, std::size_t threshold, const Options& o) : nodes_(nodes), threshold_(threshold), o_(o) {}
  ~Bench() {
    if (up_) (void)devnet::devnet_down(net_, seconds(5));
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  void start() {
    dir_ = fs::temp_directory_path() / ("mpc-sign-bench-" + std::to_string(::getpid()) + "-" + std::to_string(nodes_));
    fs::remove_all(dir_);
    devnet::DevnetSpec spec;
    spec.keys = devnet::DevnetSpec::Keys::kDealer;
    spec.nodes = nodes_;
    spec.threshold = threshold_;
    spec.domains = {model::CurveKind::kEd25519};
    const auto t0 = steady_clock::now();
    net_ = must(devnet::create_devnet(dir_, spec), "create_devnet");
    devnet::UpOptions up;
    up.bin_dir = o_.bin_dir;
    up.block_interval = o_.block;
    up.poll_interval = o_.poll;
    up.ready_timeout = seconds(60);
    up_ = true;
    (void)must(devnet::devnet_up(net_, up), "devnet up");
    startup_s_ = duration<double>(steady_clock::now() - t0).count();
    rpc_ = new_rpc();
    find_domain();
  }

  double startup_seconds() const { return startup_s_; }

  // One client per key: the operators' own keys first, then new full-access
  // keys on the operator accounts (near::Signer, and any NEAR client,
  // serialises transactions per key).
  void add_clients(std::size_t k) {
    for (std::size_t c = 0; c < k; ++c) {
      const std::size_t owner = c % nodes_;
      auto creds = must(core::read_credentials_file(net_.path(net_.nodes[owner].operator_key)), "operator key");
      core::Ed25519SecretKey key = creds.secret_key.clone();
      if (c >= nodes_) {
        near::Signer op(*rpc_, creds.account_id, std::move(creds.secret_key));
        key = core::Ed25519SecretKey::generate();
        near::AccessKey ak;
        ak.permission = near::FullAccessPermission{};
        (void)must(op.send(creds.account_id, {near::AddKeyAction{core::NearPublicKey{key.public_key()}, ak}}), "add key");
      }
      clients_.push_back(std::make_unique<SignClient>(new_rpc(), creds.account_id, std::move(key), net_.contract_id,
                                                      domain_id_, group_key_));
    }
  }

  // The first signature: the nodes connect to each other once the contract
  // lists them; up to three tries.
  void warm_up() {
    std::string last;
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto s = clients_.at(0)->sign(text(0, 1'000'000 + attempt), std::nullopt);
      if (s) return;
      last = s.error().message;
    }
    throw std::runtime_error("no signature while warming up: " + last);
  }

  // Each request after a random pause (uniform below the longer of the
  // block and poll intervals), so that submissions do not fall in step with
  // block production or the nodes' chain reads (a node reads the chain
  // again as soon as its previous respond has landed, which is when a
  // client sending back to back submits its next request).
  Run sequential() {
    Run r;
    std::mt19937_64 rng(o_.seed);
    std::uniform_int_distribution<long> pause_us(0, std::max(o_.block, o_.poll).count() * 1000 - 1);
    for (std::size_t i = 0; i < o_.requests; ++i) {
      std::this_thread::sleep_for(microseconds(pause_us(rng)));
      auto s = clients_.at(0)->sign(text(0, i), o_.respond_poll);
      if (s) {
        r.samples.push_back(*s);
      } else if (r.errors++ == 0) {
        r.first_error = s.error().message;
      }
    }
    return r;
  }

  Run concurrent() {
    Run r;
    std::mutex mu;
    const auto deadline = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(o_.seconds));
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      threads.emplace_back([&, c] {
        for (std::size_t i = 0; steady_clock::now() < deadline; ++i) {
          auto s = clients_[c]->sign(text(c, 10'000 + i), std::nullopt);
          std::lock_guard lock(mu);
          if (s) {
            r.samples.push_back(*s);
            if (s->received <= deadline) ++r.in_window;
          } else if (r.errors++ == 0) {
            r.first_error = s.error().message;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    return r;
  }

  // How many blocks after the one that included the sign the signature came
  // (0: the respond landed in the same block), asked once per block after
  // the measurement.
  std::map<std::uint64_t, std::size_t> blocks_to_signature(const std::vector<Sample>& samples) {
    std::map<std::uint64_t, std::size_t> out;
    for (const auto& s : samples) ++out[block(s.signature_block).height - block(s.included_block).height];
    return out;
  }

  std::size_t clients() const { return clients_.size(); }

 private:
  std::string text(std::size_t client, std::size_t i) const {
    return "sign_bench " + std::to_string(nodes_) + " nodes, client " + std::to_string(client) + ", #" + std::to_string(i);
  }

  std::unique_ptr<near::RpcClient> new_rpc() {
    return must(near::RpcClient::create(net_.rpc_url(), near::RpcClientOptions{seconds(30)}), "rpc client");
  }

  void find_domain() {
    auto state = must(model::parse_protocol_state(must(rpc_->view(net_.contract_id, "state"), "view state")), "state");
    const auto* running = state.running();
    if (!running) throw std::runtime_error("the devnet's contract is not Running");
    for (const auto& d : running->domains.domains) {
      const auto* key = running->keyset.find(d.id);
      if (d.protocol == "Frost" && key && key->key.kind == model::CurveKind::kEd25519) {
        domain_id_ = d.id;
        group_key_.bytes = key->key.edwards_point;
        return;
      }
    }
    throw std::runtime_error("the devnet has no Frost (Ed25519) domain");
  }

  BlockInfo block(const std::string& hash) {
    if (auto it = blocks_.find(hash); it != blocks_.end()) return it->second;
    const json b = must(rpc_->call("block", json{{"block_id", hash}}), "block " + hash);
    const BlockInfo info{b.at("header").at("height").get<std::uint64_t>(),
                         static_cast<std::int64_t>(b.at("header").at("timestamp").get<std::uint64_t>())};
    blocks_.emplace(hash, info);
    return info;
  }

  std::size_t nodes_, threshold_;
  Options o_;
  fs::path dir_;
  devnet::Devnet net_;
  bool up_ = false;
  double startup_s_ = 0;
  std::unique_ptr<near::RpcClient> rpc_;
  std::uint64_t domain_id_ = 0;
  core::Ed25519PublicKey group_key_;
  std::vector<std::unique_ptr<SignClient>> clients_;
  std::map<std::string, BlockInfo> blocks_;
};

std::vector<double> pick(const std::vector<Sample>& samples, double Sample::*field) {
  std::vector<double> v;
  for (const auto& s : samples) v.push_back(s.*field);
  return v;
}

void print_latency(const char* what, const std::vector<double>& v) {
  std::printf("    %-60s p50 %6.1f ms  p99 %6.1f ms\n", what, percentile(v, 0.5), percentile(v, 0.99));
}

void print_blocks(const std::map<std::uint64_t, std::size_t>& blocks) {
  std::printf("    %-60s", "signature in the block that included the sign (+0), +1, ...:");
  for (const auto& [b, n] : blocks) std::printf(" +%llu: %zu", static_cast<unsigned long long>(b), n);
  std::printf("\n");
}

void run_network(std::size_t nodes, std::size_t threshold, const Options& o, const UnitCosts& u) {
  std::printf("== sign on a %zu-node devnet (threshold %zu: %zu signers per signature), block interval %lld ms, node poll %lld ms\n",
              nodes, threshold, threshold, static_cast<long long>(o.block.count()), static_cast<long long>(o.poll.count()));
  std::fflush(stdout);
  const InProcess f = frost_in_process(nodes, threshold, u);
  Bench bench(nodes, threshold, o);
  bench.start();
  bench.add_clients(std::max<std::size_t>(o.clients_per_node * nodes, 1));
  bench.warm_up();
  std::printf("  devnet created and up in %.1f s; mesh warmed up (first signature)\n", bench.startup_seconds());
  std::fflush(stdout);

  const Run seq = bench.sequential();
  std::printf("  sequential, 1 client, %zu requests: %zu verified signatures, %zu errors%s%s\n", o.requests,
              seq.samples.size(), seq.errors, seq.errors ? "; first: " : "", seq.first_error.c_str());
  const auto land_to_respond = pick(seq.samples, &Sample::land_to_respond_ms);
  const auto land_to_outcome = pick(seq.samples, &Sample::land_to_outcome_ms);
  print_latency("landing -> signature in the outcome (at the client)", land_to_outcome);
  print_latency("landing -> respond executed (pending list watched)", land_to_respond);
  print_latency("submission -> outcome (send_tx + tx, the whole call)", pick(seq.samples, &Sample::submit_to_outcome_ms));
  print_blocks(bench.blocks_to_signature(seq.samples));
  std::fflush(stdout);

  if (o.clients_per_node > 0) {
    const Run con = bench.concurrent();
    std::printf("  concurrent, %zu clients (own keys on %zu operator accounts), %.0f s: %zu verified signatures, "
                "%.1f signatures/s; %zu errors%s%s\n",
                bench.clients(), std::min(bench.clients(), nodes), o.seconds, con.in_window,
                static_cast<double>(con.in_window) / o.seconds, con.errors, con.errors ? "; first: " : "",
                con.first_error.c_str());
    print_latency("landing -> signature in the outcome (at the client)", pick(con.samples, &Sample::land_to_outcome_ms));
    print_latency("submission -> outcome (send_tx + tx, the whole call)", pick(con.samples, &Sample::submit_to_outcome_ms));
    print_blocks(bench.blocks_to_signature(con.samples));
  }

  std::printf("  one %zu-of-%zu FROST signature in process (all parties on one core, messages encoded and decoded): %.3f ms;\n"
              "    its group operations: %ld base mults, %ld variable-base mults, %ld element decodings, %ld additions, "
              "%ld Ed25519 verification%s = %.3f ms\n",
              threshold, nodes, f.signature_s * 1e3, f.calls.base, f.calls.var, f.calls.valid, f.calls.add, f.calls.verify,
              f.calls.verify == 1 ? "" : "s", f.group_ops_s * 1e3);
  const double outcome_s = percentile(land_to_outcome, 0.5) / 1e3;
  const double respond_s = percentile(land_to_respond, 0.5) / 1e3;
  std::printf("  ratio sign latency / group-operation time of one signature (sequential p50): %.0f "
              "(landing -> outcome), %.0f (landing -> respond)\n",
              outcome_s / f.group_ops_s, respond_s / f.group_ops_s);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sign latency and throughput on a local devnet, beside the group operations of one FROST signature"};
  Options o;
  std::vector<std::string> networks = {"3:2", "10:7"};
  int block_ms = 100, poll_ms = 100, respond_poll_ms = 5;
  std::optional<std::uint64_t> seed;
  std::string bin_dir;
  app.add_option("--network", networks, "NODES:THRESHOLD, repeatable")->capture_default_str();
  app.add_option("--requests", o.requests, "Sequential sign requests per network")->capture_default_str();
  app.add_option("--clients-per-node", o.clients_per_node, "Concurrent clients per node (0: no concurrent phase)")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "Length of the concurrent phase")->capture_default_str();
  app.add_option("--block-interval-ms", block_ms)->capture_default_str();
  app.add_option("--poll-interval-ms", poll_ms, "The nodes' chain poll interval")->capture_default_str();
  app.add_option("--respond-poll-ms", respond_poll_ms, "How often the sequential client looks at the pending request")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the sequential client's pauses (default: from the clock; printed)");
  app.add_option("--bin-dir", bin_dir, "Where mpc-sandbox and mpc-node are (default: ../apps beside this binary)");
  CLI11_PARSE(app, argc, argv);
  if (block_ms <= 0 || poll_ms <= 0 || respond_poll_ms <= 0 || o.requests == 0 || o.seconds <= 0)
    die("--block-interval-ms, --poll-interval-ms, --respond-poll-ms, --requests and --seconds must be positive");
  o.block = milliseconds(block_ms);
  o.poll = milliseconds(poll_ms);
  o.respond_poll = milliseconds(respond_poll_ms);
  o.seed = seed ? *seed : static_cast<std::uint64_t>(steady_clock::now().time_since_epoch().count());
  o.bin_dir = bin_dir.empty() ? devnet::self_dir().parent_path() / "apps" : fs::path(bin_dir);
  if (sodium_init() < 0) die("libsodium init failed");

  std::vector<std::pair<std::size_t, std::size_t>> parsed;
  for (const auto& n : networks) {
    std::size_t nodes = 0, threshold = 0;
    char extra = 0;
    if (std::sscanf(n.c_str(), "%zu:%zu%c", &nodes, &threshold, &extra) != 2 || threshold < 2 || threshold > nodes)
      die("--network takes NODES:THRESHOLD with 2 <= THRESHOLD <= NODES, got '" + n + "'");
    parsed.emplace_back(nodes, threshold);
  }

  const UnitCosts u = measure_unit_costs();
  std::printf("sign_bench --seed %llu\n", static_cast<unsigned long long>(o.seed));
  std::printf("== unit costs (one core): base mult %.1f us, variable-base mult %.1f us, element decoding %.1f us, "
              "addition %.2f us, Ed25519 verify %.1f us\n",
              u.base * 1e6, u.var * 1e6, u.valid * 1e6, u.add * 1e6, u.verify * 1e6);
  try {
    for (const auto& [nodes, threshold] : parsed) run_network(nodes, threshold, o, u);
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
