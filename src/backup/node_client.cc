#include "backup/node_client.h"

#include <limits>
#include <thread>

#include "core/bytes.h"
#include "core/json_limits.h"
#include "net/mtls_client.h"
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

core::Result<net::MtlsResponse> exchange_once(const NodeClientConfig& config, const std::shared_ptr<boost::asio::ssl::context>& ctx,
                                              http::verb method, const std::string& path, const std::string& body,
                                              std::chrono::milliseconds timeout) {
  net::MtlsClientOptions options;
  options.timeout = timeout;
  options.keep_alive = false;
  net::MtlsClient client(ctx, config.address.host, config.address.port, config.node_key, options);
  return client.request(method, path, body);
}

// One exchange, retried for a short window when the node is not ready for us
// yet: it closed the connection right after the handshake (it is dropping
// connections because the chain just changed, or has not yet seen our
// registration), or it answers 409 (it has not yet seen the migration).
// Other answers and errors are returned at once.
core::Result<net::MtlsResponse> exchange(const NodeClientConfig& config, const core::Ed25519SecretKey& own_key, http::verb method,
                                         const std::string& path, std::string body) {
  MPC_ASSIGN(auto ctx, tls::make_client_context(own_key));
  const auto start = std::chrono::steady_clock::now();
  const auto window = std::min<std::chrono::milliseconds>(config.timeout, std::chrono::seconds(5));
  auto delay = std::chrono::milliseconds(200);
  for (;;) {
    const auto left = config.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    auto res = exchange_once(config, ctx, method, path, body, std::max(left, std::chrono::milliseconds(100)));
    const bool not_ready = (!res && res.error().code == core::ErrorCode::kPermissionDenied &&
                            res.error().message.find("closed the connection") != std::string::npos) ||
                           (res && res->status == 409);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    if (!not_ready || elapsed + delay >= window) return res;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

}  // namespace

core::Status NodeClient::hello() {
  MPC_ASSIGN(auto res, exchange(config_, own_key_, http::verb::get, "/hello", {}));
  if (res.status != 200)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the node answered /hello with HTTP " + std::to_string(res.status));
  return {};
}

core::Result<std::vector<core::Keyshare>> NodeClient::get_keyshares(const core::Keyset& keyset) {
  MPC_ASSIGN(auto res, exchange(config_, own_key_, http::verb::get, "/get_keyshares", core::to_json(keyset).dump()));
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
  auto shares = core::parse_keyshares(parsed);
  core::wipe_private_shares(parsed);
  if (!shares) return core::fail(core::ErrorCode::kFailedPrecondition, "the node's answer is not a list of key shares: " + shares.error().message);
  if (auto st = core::check_keyshares_cover_keyset(*shares, keyset); !st)
    return core::fail(core::ErrorCode::kFailedPrecondition, "the node returned key shares that do not match the keyset of epoch " +
                                                                std::to_string(keyset.epoch_id) + ": " + st.error().message +
                                                                "; nothing was stored");
  return std::move(*shares);
}

core::Status NodeClient::put_keyshares(const std::vector<core::Keyshare>& shares) {
  if (shares.empty()) return core::fail(core::ErrorCode::kFailedPrecondition, "no key shares to send");
  json array = json::array();
  for (const auto& s : shares) array.push_back(core::to_json(s));
  core::SecretString text(array.dump());
  core::wipe_private_shares(array);
  MPC_ASSIGN(auto sealed, core::aes_gcm_encrypt(encryption_key_, core::as_bytes(text.reveal())));
  MPC_ASSIGN(auto res, exchange(config_, own_key_, http::verb::put, "/set_keyshares", core::base64_encode(sealed)));
  if (res.status == 200) return {};
  const std::string why = answer_text(res.body);
  // A blob the node cannot decrypt means the two sides hold different AES keys.
  if (res.status == 400 && why.find("does not decrypt") != std::string::npos)
    return core::fail(core::ErrorCode::kPermissionDenied, "the node could not decrypt the shares: " + why);
  return core::fail(core::ErrorCode::kFailedPrecondition,
                    "the node at " + config_.address.to_string() + " refused the key shares: HTTP " + std::to_string(res.status) + ": " + why);
}

}  // namespace mpc::backup
