#include "backup/node_client.h"

#include <limits>
#include <algorithm>
#include <random>
#include <thread>

#include "core/bytes.h"
#include "core/json_limits.h"
#include "net/mtls_client.h"
#include "net/refusal.h"
#include "tls/tls.h"

namespace mpc::backup {

namespace http = boost::beast::http;
using json = nlohmann::json;

namespace {

// The node's answer text, cut to a readable length (it never holds secrets:
// errors are plain text, shares are encrypted).
std::string answer_text(const std::string& body) {
  std::string t = body.substr(0, 300);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t;
}

}  // namespace

NodeClient::NodeClient(NodeClientConfig config, const core::Ed25519SecretKey& own_p2p_key, const core::SecretBytes& encryption_key)
    : config_(std::move(config)), own_key_(own_p2p_key), encryption_key_(encryption_key) {}

namespace {

net::MtlsResult<net::MtlsResponse> exchange_once(const NodeClientConfig& config, const std::shared_ptr<boost::asio::ssl::context>& ctx,
                                                 http::verb method, const std::string& path, const std::string& body,
                                                 std::chrono::milliseconds timeout) {
  net::MtlsClientOptions options;
  options.timeout = timeout;
  options.keep_alive = false;
  net::MtlsClient client(ctx, config.address.host, config.address.port, config.node_key, options);
  return client.request(method, path, body);
}

RetryEnvironment with_real_defaults(RetryEnvironment env) {
  if (!env.now) env.now = [] { return std::chrono::steady_clock::now(); };
  if (!env.sleep) env.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (!env.uniform)
    env.uniform = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  return env;
}

std::chrono::milliseconds ms_between(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

}  // namespace

bool is_transient(const net::MtlsFailure& f) {
  if (f.response_started) return false;
  switch (f.phase) {
    case net::MtlsPhase::kConnect:
    case net::MtlsPhase::kHandshake:
    case net::MtlsPhase::kWrite:
    case net::MtlsPhase::kReadBeforeResponse:
      return f.cause == net::MtlsCause::kRefused || f.cause == net::MtlsCause::kReset || f.cause == net::MtlsCause::kClosed;
    case net::MtlsPhase::kResolve:
    case net::MtlsPhase::kPeerKey:
    case net::MtlsPhase::kReadAfterResponseStarted:
      return false;
  }
  return false;
}

bool is_transient(const net::MtlsResponse& response) {
  if (response.status != 409) return false;
  auto it = response.headers.find(net::kRefusalHeader);
  return it != response.headers.end() && it->value() == net::kRefusalNotDestination;
}

std::chrono::milliseconds backoff_delay(int attempt, const RetryPolicy& policy, double uniform) {
  auto d = std::max<std::chrono::milliseconds>(policy.initial_backoff, std::chrono::milliseconds(1));
  for (int i = 0; i < attempt && d < policy.max_backoff; ++i) d *= 2;
  d = std::min(d, std::max(policy.max_backoff, std::chrono::milliseconds(1)));
  const double u = std::clamp(uniform, 0.0, 1.0);
  return d / 2 + std::chrono::milliseconds(static_cast<std::int64_t>(u * static_cast<double>((d - d / 2).count())));
}

core::Result<net::MtlsResponse> exchange_with_retries(const Attempt& attempt, std::chrono::milliseconds timeout,
                                                      const RetryPolicy& policy, const RetryEnvironment& environment) {
  const RetryEnvironment env = with_real_defaults(environment);
  const auto start = env.now();
  const auto deadline = start + timeout;
  const auto min_attempt = std::min(policy.min_attempt, timeout / 4);
  for (int n = 0;; ++n) {
    const auto left = std::max(ms_between(env.now(), deadline), std::chrono::milliseconds(1));
    auto res = attempt(left);
    const bool again = res ? is_transient(*res) : is_transient(res.error().failure);
    if (!again) {
      if (res) return std::move(*res);
      return std::unexpected(core::Error(std::move(res).error()));
    }
    const auto delay = backoff_delay(n, policy, env.uniform());
    if (env.now() + delay + min_attempt >= deadline) {
      if (res) return std::move(*res);  // e.g. still 409: the caller quotes the node's reason
      core::Error e(std::move(res).error());
      e.message += " (" + std::to_string(n + 1) + " attempt" + (n == 0 ? "" : "s") + " in " +
                   std::to_string(ms_between(start, env.now()).count()) + " ms)";
      return std::unexpected(std::move(e));
    }
    env.sleep(delay);
  }
}

core::Result<net::MtlsResponse> NodeClient::exchange(http::verb method, const std::string& path, std::string body) {
  MPC_ASSIGN(auto ctx, tls::make_client_context(own_key_));
  return exchange_with_retries(
      [&](std::chrono::milliseconds left) { return exchange_once(config_, ctx, method, path, body, left); }, config_.timeout,
      config_.retry, config_.environment);
}

core::Status NodeClient::hello() {
  MPC_ASSIGN(auto res, exchange(http::verb::get, "/hello", {}));
  if (res.status != 200)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the node answered /hello with HTTP " + std::to_string(res.status));
  return {};
}

core::Result<std::vector<model::Keyshare>> NodeClient::get_keyshares(const model::Keyset& keyset) {
  MPC_ASSIGN(auto res, exchange(http::verb::get, "/get_keyshares", to_json(keyset).dump()));
  if (res.status != 200)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the node at " + config_.address.to_string() + " refused: HTTP " +
                                                                std::to_string(res.status) + ": " + answer_text(res.body));
  auto sealed = core::base64_decode(res.body);
  if (!sealed) return core::fail(core::ErrorCode::kFailedPrecondition, "the node's answer is not base64: " + sealed.error().message);
  auto plain = core::aes_gcm_decrypt(encryption_key_, *sealed);
  if (!plain)
    return core::fail(core::ErrorCode::kPermissionDenied,
                      "the node's key shares do not decrypt with the given backup encryption key: the node was started with a "
                      "different MPC_BACKUP_ENCRYPTION_KEY_HEX (or the data was tampered with)");
  core::SecretString text(core::to_string(plain->view()));
  // From the network: nesting checked before a tree is built; the size is
  // bounded by the client's body limit already.
  auto parsed_json = core::parse_json(text.reveal(), core::JsonLimits{std::numeric_limits<std::size_t>::max(), 64});
  if (!parsed_json) {
    return core::fail(core::ErrorCode::kFailedPrecondition,
                      parsed_json.error().message == core::kNotValidJson
                          ? std::string("the node's decrypted answer is not JSON")
                          : "the node's decrypted answer: " + parsed_json.error().message);
  }
  json& parsed = *parsed_json;
  auto shares = model::parse_keyshares(parsed);
  model::wipe_private_shares(parsed);
  if (!shares) return core::fail(core::ErrorCode::kFailedPrecondition, "the node's answer is not a list of key shares: " + shares.error().message);
  if (auto st = model::check_keyshares_cover_keyset(*shares, keyset); !st)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the node returned key shares that do not match the keyset of epoch " +
                                                                std::to_string(keyset.epoch_id) + ": " + st.error().message +
                                                                "; nothing was stored");
  return std::move(*shares);
}

core::Status NodeClient::put_keyshares(const std::vector<model::Keyshare>& shares) {
  if (shares.empty()) return core::fail(core::ErrorCode::kFailedPrecondition, "no key shares to send");
  json array = json::array();
  for (const auto& s : shares) array.push_back(to_json(s));
  core::SecretString text(array.dump());
  model::wipe_private_shares(array);
  MPC_ASSIGN(auto sealed, core::aes_gcm_encrypt(encryption_key_, core::as_bytes(text.reveal())));
  MPC_ASSIGN(auto res, exchange(http::verb::put, "/set_keyshares", core::base64_encode(sealed)));
  if (res.status == 200) return {};
  const std::string why = answer_text(res.body);
  // A blob the node cannot decrypt means the two sides hold different AES keys.
  if (auto it = res.headers.find(net::kRefusalHeader);
      res.status == 400 && it != res.headers.end() && it->value() == net::kRefusalDecryptFailed)
    return core::fail(core::ErrorCode::kPermissionDenied, "the node could not decrypt the shares: " + why);
  return core::fail(core::ErrorCode::kFailedPrecondition,
                    "the node at " + config_.address.to_string() + " refused the key shares: HTTP " + std::to_string(res.status) + ": " + why);
}

}  // namespace mpc::backup
