#include "near/rpc_client.h"

#include "core/json_limits.h"

#include <simdjson.h>

#include <optional>

#include "core/u128.h"

namespace mpc::near {

namespace {

// NEAR JSON-RPC envelopes are shallow; contract values (the state view) are
// a dozen levels at most. Sizes: the HTTP client's body limit bounds the
// envelope; a contract value is at most what the envelope carried.
constexpr core::JsonLimits kRpcAnswerLimits{std::size_t{64} << 20, 64};
constexpr core::JsonLimits kContractValueLimits{std::size_t{64} << 20, 64};
// simdjson counts a value inside the innermost array or object as a level
// of its own: 65 admits every answer of at most 64 levels that
// check_json_limits admits (and an empty array one level deeper), and
// bounds the recursion of to_tree below and of nlohmann's tree walks.
constexpr std::size_t kSimdjsonMaxDepth = kRpcAnswerLimits.max_depth + 1;
std::unique_ptr<simdjson::dom::parser> make_answer_parser() {
  auto parser = std::make_unique<simdjson::dom::parser>();
  // The capacity grows with the first answers; the depth stays.
  if (parser->allocate(64 * 1024, kSimdjsonMaxDepth) != simdjson::SUCCESS) throw std::bad_alloc();
  return parser;
}


// A JSON-RPC answer read with simdjson, for call_function: the bytes of
// result.result (an array of numbers 0..255 as long as the contract's value:
// 218 KB of state at 1,000 domains, ~800 KB of text) go straight into a byte
// vector, and everything else becomes the nlohmann tree parse_json would
// have built (a repeated key: the last one wins, as there; a non-negative
// integer is unsigned, as there). nlohmann's lexer spent ~15 ms on such an
// answer, most of an idle node's chain poll; simdjson validates the same
// grammar (UTF-8 included) at memory speed.
struct AnswerWithBytes {
  json root;
  bool have_bytes = false;  // result.result was an array
  bool bad_bytes = false;   // ... holding something other than numbers 0..255
  core::Bytes bytes;
};

json to_tree(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::ARRAY: {
      json out = json::array();
      simdjson::dom::array array;
      if (e.get_array().get(array) != simdjson::SUCCESS) return out;  // cannot happen: e is an array
      for (simdjson::dom::element v : array) out.push_back(to_tree(v));
      return out;
    }
    case element_type::OBJECT: {
      json out = json::object();
      simdjson::dom::object object;
      if (e.get_object().get(object) != simdjson::SUCCESS) return out;  // cannot happen: e is an object
      for (simdjson::dom::key_value_pair kv : object) out[std::string(kv.key)] = to_tree(kv.value);
      return out;
    }
    case element_type::INT64: {
      std::int64_t v = 0;
      if (e.get_int64().get(v) != simdjson::SUCCESS) return json();  // cannot happen: the type was checked
      return v >= 0 ? json(static_cast<std::uint64_t>(v)) : json(v);
    }
    case element_type::UINT64: {
      std::uint64_t v = 0;
      if (e.get_uint64().get(v) != simdjson::SUCCESS) return json();  // cannot happen: the type was checked
      return json(v);
    }
    case element_type::DOUBLE: {
      double v = 0;
      if (e.get_double().get(v) != simdjson::SUCCESS) return json();  // cannot happen: the type was checked
      return json(v);
    }
    case element_type::STRING: {
      std::string_view v;
      if (e.get_string().get(v) != simdjson::SUCCESS) return json();  // cannot happen: the type was checked
      return json(std::string(v));
    }
    case element_type::BOOL: {
      bool v = false;
      if (e.get_bool().get(v) != simdjson::SUCCESS) return json();  // cannot happen: the type was checked
      return json(v);
    }
    case element_type::NULL_VALUE: return json(nullptr);
  }
  return json();
}

// The top-level "result" object as a tree without its "result" member when
// that member is an array: the array is left in `bytes_array` instead (the
// last "result" member counts, as the last key does in a tree).
json result_without_bytes(simdjson::dom::object object, std::optional<simdjson::dom::element>& bytes_array) {
  json result = json::object();
  std::optional<simdjson::dom::element> last;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "result") last = kv.value;
    else result[std::string(kv.key)] = to_tree(kv.value);
  }
  if (last && last->is_array()) bytes_array = *last;
  else if (last) result["result"] = to_tree(*last);
  return result;
}

AnswerWithBytes read_answer_with_bytes(simdjson::dom::element root) {
  AnswerWithBytes out;
  simdjson::dom::object top_object;
  if (root.get_object().get(top_object) != simdjson::SUCCESS) {  // not an object: no bytes
    out.root = to_tree(root);
    return out;
  }
  // The bytes of the last top-level "result" (the last key wins), when it
  // is an object whose own last "result" is an array.
  std::optional<simdjson::dom::element> bytes_array;
  out.root = json::object();
  for (simdjson::dom::key_value_pair top : top_object) {
    if (top.key == "result") bytes_array.reset();
    simdjson::dom::object result_object;
    if (top.key == "result" && top.value.get_object().get(result_object) == simdjson::SUCCESS)
      out.root["result"] = result_without_bytes(result_object, bytes_array);
    else
      out.root[std::string(top.key)] = to_tree(top.value);
  }
  if (!bytes_array) return out;
  out.have_bytes = true;
  simdjson::dom::array array;
  if (bytes_array->get_array().get(array) != simdjson::SUCCESS) {  // cannot happen: checked
    out.bad_bytes = true;
    return out;
  }
  out.bytes.reserve(array.size());
  for (simdjson::dom::element b : array) {
    std::uint64_t v = 0;
    // get_uint64 refuses a double, a string, a container and a negative
    // number; an integer past 2^63 is refused by the bound.
    if (b.get_uint64().get(v) != simdjson::SUCCESS || v > 255) {
      out.bad_bytes = true;
      break;
    }
    out.bytes.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

// Null-safe member access: nullptr unless `j` is an object holding `key`.
const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string string_field(const json& j, const char* key) {
  const json* f = field(j, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

std::string clip(std::string s, std::size_t n = 500) {
  if (s.size() > n) s = s.substr(0, n) + "…";
  return s;
}

// A readable one-line description of NEAR's nested error enums:
// {"InvalidNonce":{"tx_nonce":5,"ak_nonce":7}} -> InvalidNonce {"ak_nonce":7,"tx_nonce":5}
// {"TxExecutionError":{"InvalidTxError":"Expired"}} -> TxExecutionError.InvalidTxError: Expired
std::string describe(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.size() == 1) {
    const auto& inner = j.begin().value();
    if (inner.is_object() && inner.size() == 1 && !inner.begin().value().is_primitive()) {
      return j.begin().key() + "." + describe(inner);
    }
    if (inner.is_object() && inner.size() == 1 && inner.begin().value().is_string()) {
      return j.begin().key() + "." + inner.begin().key() + ": " + inner.begin().value().get<std::string>();
    }
    if (inner.is_string()) return j.begin().key() + ": " + inner.get<std::string>();
    return j.begin().key() + " " + clip(inner.dump());
  }
  return clip(j.dump());
}

// "Smart contract panicked: msg" -> "msg"; leaves other texts alone.
std::string strip_panic_prefix(std::string msg) {
  constexpr std::string_view kPrefix = "Smart contract panicked: ";
  if (auto pos = msg.find(kPrefix); pos != std::string::npos) {
    msg = msg.substr(pos + kPrefix.size());
    // Legacy debug form: ...ExecutionError("Smart contract panicked: msg"))
    if (auto end = msg.find("\")"); end != std::string::npos) msg = msg.substr(0, end);
  }
  return msg;
}

// The message of a FunctionCallError value (several generations of nearcore).
std::string function_call_error_message(const json& fce) {
  if (const json* e = field(fce, "ExecutionError"); e != nullptr && e->is_string()) {
    return strip_panic_prefix(e->get<std::string>());
  }
  if (const json* host = field(fce, "HostError")) {
    if (const json* gp = field(*host, "GuestPanic")) {
      std::string m = string_field(*gp, "panic_msg");
      if (!m.empty()) return m;
    }
  }
  return describe(fce);
}

core::Error tx_rejected(const json& why) {
  const json* inner = &why;
  if (const json* t = field(*inner, "TxExecutionError")) inner = t;
  if (const json* t = field(*inner, "InvalidTxError")) inner = t;
  return core::Error{core::ErrorCode::kTxRejected, "transaction rejected: " + describe(*inner)};
}

}  // namespace

core::Error classify_rpc_error(const json& error) {
  if (!error.is_object()) {
    return core::Error{core::ErrorCode::kInternal, "RPC error: " + clip(error.dump())};
  }
  const json empty = json::object();
  const json* cause = field(error, "cause");
  const std::string cause_name = cause != nullptr ? string_field(*cause, "name") : std::string();
  const json& info = cause != nullptr && field(*cause, "info") != nullptr ? *field(*cause, "info") : empty;
  const json* data = field(error, "data");
  const std::string type = string_field(error, "name");

  // Human text: the cause's info, else the legacy data/message fields.
  std::string text = string_field(info, "error_message");
  if (text.empty()) text = string_field(info, "vm_error");
  if (text.empty() && data != nullptr) text = data->is_string() ? data->get<std::string>() : describe(*data);
  if (text.empty() && info.is_object() && !info.empty()) text = describe(info);
  if (text.empty()) text = string_field(error, "message");

  if (cause_name == "INVALID_TRANSACTION") {
    // Details live in the legacy `data` ({"TxExecutionError":{"InvalidTxError":…}})
    // or, on newer nodes, in cause.info.
    if (data != nullptr && data->is_object() && !data->empty()) return tx_rejected(*data);
    if (info.is_object() && !info.empty()) return tx_rejected(info);
    return core::Error{core::ErrorCode::kTxRejected, "transaction rejected: " + clip(text)};
  }
  if (cause_name == "UNKNOWN_ACCOUNT" || cause_name == "UNKNOWN_ACCESS_KEY" || cause_name == "UNKNOWN_TRANSACTION" ||
      cause_name == "UNKNOWN_BLOCK" || cause_name == "UNKNOWN_CHUNK" || cause_name == "NO_CONTRACT_CODE" ||
      cause_name == "UNKNOWN_RECEIPT") {
    return core::Error{core::ErrorCode::kNotFound, cause_name + ": " + clip(text)};
  }
  if (cause_name == "CONTRACT_EXECUTION_ERROR") {
    return core::Error{core::ErrorCode::kContractPanic, "contract panicked: " + clip(strip_panic_prefix(text))};
  }
  if (cause_name == "TIMEOUT_ERROR" || type == "TIMEOUT_ERROR") {
    return core::Error{core::ErrorCode::kTimeout,
                       "RPC node timed out waiting for the transaction (it may still execute): " + clip(text)};
  }
  if (cause_name == "NO_SYNCED_BLOCKS" || cause_name == "NOT_SYNCED_YET" || cause_name == "SHARD_UNAVAILABLE" ||
      type == "INTERNAL_ERROR") {
    return core::Error{core::ErrorCode::kUnavailable, "RPC node cannot serve the request: " + cause_name + " " + clip(text)};
  }
  if (type == "REQUEST_VALIDATION_ERROR") {
    return core::Error{core::ErrorCode::kInvalidArgument, "RPC rejected the request: " + cause_name + " " + clip(text)};
  }
  const std::string name = cause_name.empty() ? (type.empty() ? std::string("RPC error") : type) : cause_name;
  return core::Error{core::ErrorCode::kInternal, "RPC error " + name + ": " + clip(text)};
}

core::Result<AccessKeyPermission> parse_access_key_permission(const json& j) {
  if (j.is_string() && j.get<std::string>() == "FullAccess") return AccessKeyPermission{FullAccessPermission{}};
  const json* fc = field(j, "FunctionCall");
  if (fc == nullptr || !fc->is_object()) return core::invalid("access key permission is neither FullAccess nor FunctionCall");
  FunctionCallPermission p;
  if (const json* a = field(*fc, "allowance"); a != nullptr && !a->is_null()) {
    if (!a->is_string()) return core::invalid("access key allowance is not a decimal string");
    MPC_ASSIGN(p.allowance, core::parse_u128(a->get<std::string>()));
  }
  p.receiver_id = string_field(*fc, "receiver_id");
  if (const json* m = field(*fc, "method_names"); m != nullptr) {
    if (!m->is_array()) return core::invalid("access key method_names is not an array");
    for (const auto& name : *m) {
      if (!name.is_string()) return core::invalid("access key method name is not a string");
      p.method_names.push_back(name.get<std::string>());
    }
  }
  return AccessKeyPermission{std::move(p)};
}

RpcClient::RpcClient(net::Url url, RpcClientOptions options)
    : answer_parser_(make_answer_parser()),
      http_(std::move(url), net::HttpClientOptions{options.timeout, options.response_limit}) {}

RpcClient::~RpcClient() = default;

core::Result<std::unique_ptr<RpcClient>> RpcClient::create(std::string_view url, RpcClientOptions options) {
  auto parsed = net::Url::parse(url);
  if (!parsed) return core::invalid("RPC URL: " + parsed.error().message);
  return std::unique_ptr<RpcClient>(new RpcClient(std::move(*parsed), options));
}

namespace {
// parse_json, or (with `bytes`) the same tree less result.result, whose
// bytes go to `bytes` (AnswerWithBytes).
// The depth limit is simdjson's own (answer_parser_ is allocated with
// kSimdjsonMaxDepth), not a scan of check_json_limits before it: that scan
// was a sixth of an idle node's chain poll. Either way a refused answer is
// "not JSON-RPC" to the caller.
core::Result<json> parse_answer(std::string_view text, RpcClient::ResultBytes* bytes, simdjson::dom::parser& parser) {
  if (bytes == nullptr) return core::parse_json(text, kRpcAnswerLimits);
  if (text.size() > kRpcAnswerLimits.max_bytes)
    return core::invalid("JSON body larger than " + std::to_string(kRpcAnswerLimits.max_bytes) + " bytes");
  if (text.find('\0') != std::string_view::npos) return core::invalid(std::string(core::kNotValidJson));
  simdjson::dom::element root;
  if (parser.max_depth() != kSimdjsonMaxDepth) return core::fail(core::ErrorCode::kInternal, "the JSON parser has no depth limit");
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) return core::invalid(std::string(core::kNotValidJson));
  AnswerWithBytes answer = read_answer_with_bytes(root);
  bytes->present = answer.have_bytes;
  bytes->valid = answer.have_bytes && !answer.bad_bytes;
  bytes->bytes = std::move(answer.bytes);
  return std::move(answer.root);
}
}  // namespace

core::Result<json> RpcClient::call(const std::string& method, const json& params) { return call_with(method, params, nullptr); }

core::Result<json> RpcClient::call_with(const std::string& method, const json& params, ResultBytes* bytes) {
  std::lock_guard lock(mu_);
  const std::string where = http_.url().host_port();
  const std::string id = std::to_string(next_id_++);
  const json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  auto res = http_.post(req.dump());
  if (!res) {
    auto e = res.error();
    if (is_rpc_unreachable(e)) e.message = "RPC unreachable: " + e.message;
    return std::unexpected(e);
  }
  // The endpoint is not trusted to be well-formed: its answer is parsed
  // with depth and size limits (a view result holds its bytes as numbers,
  // so the value count is bounded by the body size only).
  core::Result<json> parsed = parse_answer(res->body, bytes, *answer_parser_);
  json body = parsed ? std::move(*parsed) : json();
  if (!parsed || !body.is_object()) {
    if (res->status == 429 || res->status >= 500) {
      return core::fail(core::ErrorCode::kUnavailable, "RPC unreachable: " + where +
                                                           " answered HTTP " + std::to_string(res->status));
    }
    return core::fail(core::ErrorCode::kInternal, "RPC " + method + ": " + where + " answered HTTP " +
                                                      std::to_string(res->status) + " with a body that is not JSON-RPC");
  }
  if (const json* e = field(body, "error"); e != nullptr && !e->is_null()) {
    return std::unexpected(classify_rpc_error(*e));
  }
  if (const json* rid = field(body, "id"); rid != nullptr && !rid->is_null() && *rid != json(id)) {
    return core::fail(core::ErrorCode::kInternal, "RPC " + method + ": " + where + " answered another request's id");
  }
  const json* result = field(body, "result");
  if (result == nullptr) {
    return core::fail(core::ErrorCode::kInternal, "RPC " + method + ": " + where + " answered without a result");
  }
  // Older nodes report query errors inside the result: {"error":"…","logs":[]}.
  if (const json* qe = field(*result, "error"); qe != nullptr && qe->is_string()) {
    const std::string text = qe->get<std::string>();
    if (text.find("does not exist") != std::string::npos || text.find("UnknownAccount") != std::string::npos) {
      return core::fail(core::ErrorCode::kNotFound, clip(text));
    }
    return core::fail(core::ErrorCode::kContractPanic, "contract panicked: " + clip(strip_panic_prefix(text)));
  }
  return std::move(body["result"]);
}

core::Result<json> RpcClient::status() { return call("status", json::array()); }

core::Result<BlockRef> RpcClient::block_final() {
  MPC_ASSIGN(json block, call("block", json{{"finality", "final"}}));
  const json* header = field(block, "header");
  const json* height = header != nullptr ? field(*header, "height") : nullptr;
  const std::string hash_text = header != nullptr ? string_field(*header, "hash") : std::string();
  if (height == nullptr || !height->is_number_unsigned() || hash_text.empty()) {
    return core::fail(core::ErrorCode::kInternal, "RPC block: the answer has no header.height/hash");
  }
  auto hash = core::base58_decode(hash_text);
  if (!hash || hash->size() != 32) {
    return core::fail(core::ErrorCode::kInternal, "RPC block: the block hash is not 32 bytes of base58");
  }
  BlockRef ref;
  ref.height = height->get<std::uint64_t>();
  std::copy(hash->begin(), hash->end(), ref.hash.begin());
  return ref;
}

core::Result<json> RpcClient::view_account(const std::string& account_id) {
  return call("query", json{{"request_type", "view_account"}, {"finality", "final"}, {"account_id", account_id}});
}

namespace {
core::Result<AccessKeyView> parse_access_key_view(const json& j, const char* what) {
  const json* nonce = field(j, "nonce");
  const json* perm = field(j, "permission");
  if (nonce == nullptr || !nonce->is_number_unsigned() || perm == nullptr) {
    return core::fail(core::ErrorCode::kInternal, std::string(what) + ": the answer has no nonce/permission");
  }
  auto p = parse_access_key_permission(*perm);
  if (!p) return core::fail(core::ErrorCode::kInternal, std::string(what) + ": " + p.error().message);
  return AccessKeyView{nonce->get<std::uint64_t>(), std::move(*p)};
}
}  // namespace

core::Result<AccessKeyView> RpcClient::view_access_key(const std::string& account_id, const core::NearPublicKey& key) {
  MPC_ASSIGN(json r, call("query", json{{"request_type", "view_access_key"},
                                        {"finality", "final"},
                                        {"account_id", account_id},
                                        {"public_key", key.to_string()}}));
  return parse_access_key_view(r, "RPC view_access_key");
}

core::Result<std::vector<AccessKeyInfo>> RpcClient::view_access_key_list(const std::string& account_id) {
  MPC_ASSIGN(json r, call("query", json{{"request_type", "view_access_key_list"},
                                        {"finality", "final"},
                                        {"account_id", account_id}}));
  const json* keys = field(r, "keys");
  if (keys == nullptr || !keys->is_array()) {
    return core::fail(core::ErrorCode::kInternal, "RPC view_access_key_list: the answer has no keys array");
  }
  std::vector<AccessKeyInfo> out;
  for (const auto& k : *keys) {
    auto pk = core::NearPublicKey::parse(string_field(k, "public_key"));
    if (!pk) return core::fail(core::ErrorCode::kInternal, "RPC view_access_key_list: bad public_key: " + pk.error().message);
    const json* ak = field(k, "access_key");
    if (ak == nullptr) return core::fail(core::ErrorCode::kInternal, "RPC view_access_key_list: entry without access_key");
    MPC_ASSIGN(auto view, parse_access_key_view(*ak, "RPC view_access_key_list"));
    out.push_back(AccessKeyInfo{std::move(*pk), std::move(view)});
  }
  return out;
}

core::Result<CallResult> RpcClient::call_function(const std::string& contract_id, const std::string& method,
                                                  const json& args) {
  const std::string args_text = args.dump();
  ResultBytes bytes;
  MPC_ASSIGN(json r, call_with("query",
                               json{{"request_type", "call_function"},
                                    {"finality", "final"},
                                    {"account_id", contract_id},
                                    {"method_name", method},
                                    {"args_base64", core::base64_encode(core::as_bytes(args_text))}},
                               &bytes));
  if (!bytes.present) {
    return core::fail(core::ErrorCode::kInternal, "RPC call_function " + method + ": the answer has no result bytes");
  }
  if (!bytes.valid) {
    return core::fail(core::ErrorCode::kInternal, "RPC call_function " + method + ": result is not an array of bytes");
  }
  CallResult out;
  out.result = std::move(bytes.bytes);
  if (const json* logs = field(r, "logs"); logs != nullptr && logs->is_array()) {
    for (const auto& l : *logs) {
      if (l.is_string()) out.logs.push_back(l.get<std::string>());
    }
  }
  if (const json* height = field(r, "block_height"); height != nullptr && height->is_number_unsigned()) {
    out.block_height = height->get<std::uint64_t>();
  }
  return out;
}

core::Result<json> RpcClient::view(const std::string& contract_id, const std::string& method, const json& args) {
  MPC_ASSIGN(auto answer, view_answer(contract_id, method, args));
  return std::move(answer.value);
}

core::Result<ViewAnswer> RpcClient::view_answer(const std::string& contract_id, const std::string& method, const json& args) {
  MPC_ASSIGN(auto r, call_function(contract_id, method, args));
  MPC_ASSIGN(json value, view_value(r, contract_id, method));
  return ViewAnswer{std::move(value), r.block_height};
}

core::Result<json> view_value(const CallResult& r, const std::string& contract_id, const std::string& method) {
  auto j = core::parse_json(std::string_view(reinterpret_cast<const char*>(r.result.data()), r.result.size()), kContractValueLimits);
  if (!j) {
    return core::fail(core::ErrorCode::kInternal, "view " + method + " on " + contract_id + " did not return JSON" +
                                                      (j.error().message == core::kNotValidJson ? "" : " (" + j.error().message + ")"));
  }
  return std::move(*j);
}

core::Result<TxOutcome> parse_outcome(const json& outcome) {
  const json* status = field(outcome, "status");
  if (status == nullptr) return core::fail(core::ErrorCode::kInternal, "transaction outcome has no status");
  TxOutcome out;
  out.raw = outcome;
  if (const json* to = field(outcome, "transaction_outcome")) out.tx_hash = string_field(*to, "id");
  const std::string tx_note = out.tx_hash.empty() ? "" : " (transaction " + out.tx_hash + ")";
  if (const json* receipts = field(outcome, "receipts_outcome"); receipts != nullptr && receipts->is_array()) {
    for (const auto& r : *receipts) {
      const json* o = field(r, "outcome");
      const json* logs = o != nullptr ? field(*o, "logs") : nullptr;
      if (logs == nullptr || !logs->is_array()) continue;
      for (const auto& l : *logs) {
        if (l.is_string()) out.logs.push_back(l.get<std::string>());
      }
    }
  }
  if (const json* v = field(*status, "SuccessValue")) {
    if (!v->is_string()) return core::fail(core::ErrorCode::kInternal, "transaction SuccessValue is not a string");
    if (!v->get<std::string>().empty()) {
      auto bytes = core::base64_decode(v->get<std::string>());
      if (!bytes) return core::fail(core::ErrorCode::kInternal, "transaction SuccessValue is not base64");
      out.success_value = std::move(*bytes);
    }
    return out;
  }
  if (const json* f = field(*status, "Failure")) {
    if (const json* ae = field(*f, "ActionError")) {
      const json* kind = field(*ae, "kind");
      const json* index = field(*ae, "index");
      const std::string where = index != nullptr && index->is_number_unsigned()
                                    ? "action " + std::to_string(index->get<std::uint64_t>()) + ": "
                                    : std::string();
      if (kind != nullptr) {
        if (const json* fce = field(*kind, "FunctionCallError")) {
          return core::fail(core::ErrorCode::kContractPanic,
                            "contract panicked: " + clip(function_call_error_message(*fce)) + tx_note);
        }
        return core::fail(core::ErrorCode::kFailedPrecondition, "transaction failed: " + where + describe(*kind) + tx_note);
      }
    }
    if (const json* ie = field(*f, "InvalidTxError")) {
      auto e = tx_rejected(*ie);
      e.message += tx_note;
      return std::unexpected(e);
    }
    return core::fail(core::ErrorCode::kFailedPrecondition, "transaction failed: " + describe(*f) + tx_note);
  }
  if (status->is_string()) {
    // "NotStarted" / "Started": the transaction has not finished executing.
    return core::fail(core::ErrorCode::kTimeout, "transaction has not finished executing: " + status->get<std::string>() + tx_note);
  }
  return core::fail(core::ErrorCode::kInternal, "transaction outcome status is neither SuccessValue nor Failure");
}

core::Result<TxOutcome> RpcClient::send_tx(const SignedTransaction& tx, const std::string& wait_until) {
  const auto bytes = encode_signed_transaction(tx);
  MPC_ASSIGN(json r, call("send_tx", json{{"signed_tx_base64", core::base64_encode(bytes)}, {"wait_until", wait_until}}));
  if (field(r, "status") == nullptr) {
    // Below EXECUTED_OPTIMISTIC the node answers {"final_execution_status": …} only.
    TxOutcome out;
    out.tx_hash = core::base58_encode(transaction_hash(tx.transaction));
    out.raw = std::move(r);
    return out;
  }
  return parse_outcome(r);
}

core::Result<TxOutcome> RpcClient::broadcast_tx_commit(const SignedTransaction& tx) {
  const auto bytes = encode_signed_transaction(tx);
  MPC_ASSIGN(json r, call("broadcast_tx_commit", json::array({core::base64_encode(bytes)})));
  return parse_outcome(r);
}

core::Result<TxOutcome> RpcClient::tx_status(const std::string& tx_hash_base58, const std::string& sender_id) {
  MPC_ASSIGN(json r, call("tx", json{{"tx_hash", tx_hash_base58}, {"sender_account_id", sender_id}, {"wait_until", "FINAL"}}));
  return parse_outcome(r);
}

// ---------------------------------------------------------------- Signer

Signer::Signer(RpcClient& rpc, std::string account_id, core::Ed25519SecretKey key)
    : rpc_(rpc), account_id_(std::move(account_id)), key_(std::move(key)) {}

core::Result<SignedTransaction> Signer::build(const std::string& receiver_id, const std::vector<Action>& actions,
                                              bool refresh) {
  if (refresh || !nonce_) {
    auto ak = rpc_.view_access_key(account_id_, public_key());
    if (!ak) {
      if (ak.error().code == core::ErrorCode::kNotFound) {
        return core::fail(core::ErrorCode::kPermissionDenied, "the key " + public_key().to_string() +
                                                                  " is not an access key of account " + account_id_);
      }
      return std::unexpected(ak.error());
    }
    nonce_ = ak->nonce;
  }
  MPC_ASSIGN(auto block, rpc_.block_final());
  Transaction tx;
  tx.signer_id = account_id_;
  tx.public_key = public_key();
  tx.nonce = *nonce_ + 1;
  tx.receiver_id = receiver_id;
  tx.block_hash = block.hash;
  tx.actions = actions;
  return sign_transaction(std::move(tx), key_);
}

core::Result<TxOutcome> Signer::send(const std::string& receiver_id, std::vector<Action> actions) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto stx = build(receiver_id, actions, /*refresh=*/attempt > 0);
    if (!stx) {
      nonce_.reset();
      return std::unexpected(stx.error());
    }
    const std::uint64_t used = stx->transaction.nonce;
    auto r = rpc_.send_tx(*stx);
    if (r || is_contract_panic(r.error()) || r.error().code == core::ErrorCode::kFailedPrecondition) {
      nonce_ = used;  // the transaction executed: its nonce is spent
      return r;
    }
    nonce_.reset();  // unknown state: ask the chain next time
    const bool stale = is_tx_rejected(r.error()) && (r.error().message.find("InvalidNonce") != std::string::npos ||
                                                     r.error().message.find("Expired") != std::string::npos);
    if (!stale || attempt > 0) return r;
    // Another client used this key, or the block hash aged: refresh and sign again.
  }
  return core::fail(core::ErrorCode::kInternal, "unreachable");
}

core::Result<TxOutcome> Signer::call(const std::string& contract_id, const std::string& method, const json& args,
                                     u128 deposit, std::uint64_t gas) {
  return send(contract_id, {function_call(method, args.dump(), gas, deposit)});
}

core::Result<json> Signer::call_function_json(const std::string& contract_id, const std::string& method,
                                              const json& args, u128 deposit, std::uint64_t gas) {
  MPC_ASSIGN(auto out, call(contract_id, method, args, deposit, gas));
  if (out.success_value.empty()) return json();
  auto j = core::parse_json(std::string_view(reinterpret_cast<const char*>(out.success_value.data()), out.success_value.size()),
                            kContractValueLimits);
  if (!j) {
    return core::fail(core::ErrorCode::kInternal, method + " on " + contract_id + " returned a value that is not JSON" +
                                                      (j.error().message == core::kNotValidJson ? "" : " (" + j.error().message + ")"));
  }
  return std::move(*j);
}

}  // namespace mpc::near
