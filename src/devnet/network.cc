#include "devnet/network.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>
#include <fstream>
#include <random>
#include <optional>
#include <set>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/file_util.h"
#include "core/json_limits.h"
#include "core/near_key.h"
#include "core/u128.h"
#include "devnet/dealer.h"
#include "node/home.h"
#include "net/host_port.h"
#include "net/http_server.h"
#include "node/keyshare_store.h"
#include "sandbox/setup.h"

namespace mpc::devnet {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kBalance = "1000000000000000000000000000";  // 1000 NEAR

core::Status write_layout(const Devnet& net, const fs::path& dir, core::Env& env) {
  std::string text = net.to_json().dump(2) + "\n";
  return core::write_file_exclusive(dir / "devnet.json", core::as_bytes(text), 0600, env);
}

core::Status build(const fs::path& tmp, const fs::path& final_dir, const DevnetSpec& spec, Devnet& net, core::Env& env,
                   std::optional<DealtKeyset> imported) {
  MPC_TRY(core::ensure_directory(tmp, 0700, env));
  MPC_TRY(core::ensure_directory(tmp / "nodes", 0700, env));
  MPC_TRY(core::ensure_directory(tmp / "operators", 0700, env));
  MPC_TRY(core::ensure_directory(tmp / "run", 0700, env));
  net.dir = final_dir;
  net.threshold = spec.threshold;
  net.hard_launch = spec.hard_launch;
  // Listeners get their ports on the first `up`: each service binds port 0
  // and the bound address is recorded (Devnet::save); later `up`s bind the
  // same ports again.
  net.rpc_addr = spec.host + ":0";

  // Keys: every node home, operator key and AES key.
  std::vector<node::NodeHome> homes;
  sandbox::Genesis genesis;
  genesis.chain_id = "mpc-devnet";
  genesis.genesis_time_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  genesis.contract_account_id = net.contract_id;
  const auto balance = *core::parse_u128(kBalance);
  {
    core::NearCredentials contract{net.contract_id, core::Ed25519SecretKey::generate()};
    MPC_TRY(core::write_credentials_file(tmp / "operators" / (net.contract_id + ".json"), contract));
    genesis.accounts.push_back({net.contract_id, balance, {{core::NearPublicKey{contract.secret_key.public_key()}, {}}}});
  }
  std::set<std::uint16_t> p2p_ports;  // given out: each is free again until `up`, and must not be given twice
  for (std::size_t i = 0; i < spec.nodes + spec.candidates; ++i) {
    DevnetNode n;
    n.account_id = "node" + std::to_string(i) + ".devnet";
    n.participant_id = i;
    n.home = fs::path("nodes") / ("node" + std::to_string(i));
    // The P2P address is only named (in the contract), not served yet: a
    // port number that was free, distinct from every listener's.
    MPC_ASSIGN(auto pport, pick_free_port(spec.host, p2p_ports));
    p2p_ports.insert(pport);
    n.p2p_addr = net::HostPort{spec.host, pport}.to_string();
    n.migration_addr = net::HostPort{spec.host, 0}.to_string();
    n.metrics_addr = net::HostPort{spec.host, 0}.to_string();
    n.operator_key = fs::path("operators") / (n.account_id + ".json");
    n.encryption_key = fs::path("operators") / (n.account_id + ".backup_encryption_key");

    MPC_ASSIGN(auto home, node::NodeHome::init(tmp / n.home, n.account_id));
    core::NearCredentials op{n.account_id, core::Ed25519SecretKey::generate()};
    MPC_TRY(core::write_credentials_file(tmp / n.operator_key, op));
    core::SecretBytes aes(32);
    core::random_fill(aes.mutable_view());
    core::SecretString aes_hex(core::hex_encode(aes.view()));
    MPC_TRY(core::write_file_exclusive(tmp / n.encryption_key, core::as_bytes(aes_hex.reveal()), 0600));

    sandbox::KeyPermission node_key;  // the node's own key: function calls to the contract only
    node_key.full_access = false;
    node_key.receiver_id = net.contract_id;
    genesis.accounts.push_back(
        {n.account_id,
         balance,
         {{core::NearPublicKey{op.secret_key.public_key()}, sandbox::KeyPermission{}},
          {core::NearPublicKey{home.access_key.secret_key.public_key()}, node_key}}});
    homes.push_back(std::move(home));
    net.nodes.push_back(std::move(n));
  }

  model::ThresholdParameters parameters;
  parameters.threshold = spec.threshold;
  parameters.participants.next_id = spec.nodes;
  for (std::size_t i = 0; i < spec.nodes; ++i) {
    parameters.participants.participants.push_back({net.nodes[i].account_id, i, {net.nodes[i].p2p_url(), homes[i].tls_key.public_key()}});
  }
  model::ProtocolState state;
  if (!imported && spec.keys == DevnetSpec::Keys::kGenerate) {
    // Initializing: the nodes generate every domain's key, domain 0 first;
    // the leader starts the first attempt once the nodes are up.
    model::InitializingState init;
    for (std::size_t d = 0; d < spec.domains.size(); ++d) {
      model::DomainConfig config;
      config.id = d;
      config.protocol = domain_protocol(spec.domains[d]);
      config.purpose = "Sign";
      config.extra["reconstruction_threshold"] = spec.threshold;
      init.domains.domains.push_back(config);
    }
    init.domains.next_domain_id = spec.domains.size();
    net.warnings = signing_warnings(spec.nodes, spec.threshold, init.domains.domains);
    init.epoch_id = 0;
    init.generating_key = {{"epoch_id", 0},
                           {"domain", to_json(init.domains.domains.front())},
                           {"parameters", to_json(parameters)},
                           {"instance", nullptr},
                           {"next_attempt_id", 0}};
    init.cancel_votes = json::array();
    state.state = init;
  } else {
    // The keyset: the imported shares', or dealt by a trusted dealer; and each node's shares.
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < spec.nodes; ++i) ids.push_back(i);
    DealtKeyset dealt;
    if (imported) {
      dealt = std::move(*imported);
    } else {
      std::vector<DomainToDeal> to_deal;
      for (std::size_t d = 0; d < spec.domains.size(); ++d) to_deal.push_back({d, spec.domains[d], 0});
      MPC_ASSIGN(dealt, deal_keyset(to_deal, ids, spec.threshold, 0));
    }
    model::RunningState running;
    std::uint64_t next_domain_id = 0;
    for (const auto& key : dealt.keyset.domains) {
      model::DomainConfig config;
      config.id = key.domain_id;
      config.protocol = domain_protocol(key.key.kind);
      config.purpose = "Sign";
      running.domains.domains.push_back(config);
      next_domain_id = std::max(next_domain_id, key.domain_id + 1);
    }
    running.domains.next_domain_id = next_domain_id;
    net.warnings = signing_warnings(spec.nodes, spec.threshold, running.domains.domains);
    running.keyset = dealt.keyset;
    running.parameters = parameters;
    for (std::size_t i = 0; i < spec.nodes; ++i) {
      MPC_ASSIGN(auto store, node::KeyshareStore::open(tmp / net.nodes[i].home / "keyshares.enc",
                                                       homes[i].local_storage_key.clone()));
      MPC_TRY(store->import(std::move(dealt.shares[i]), dealt.keyset));
    }
    running.parameters_votes = {{"proposal_by_account", json::object()}};
    running.add_domains_votes = {{"proposal_by_account", json::object()}};
    state.state = running;
  }
  genesis.contract_state = {{"protocol_state", to_json(state)}};

  MPC_TRY(core::write_file_exclusive(tmp / "chain.genesis.json",
                                     core::as_bytes(sandbox::genesis_to_json(genesis).dump(2) + "\n"), 0644));
  MPC_TRY(sandbox::create_chain(tmp / "chain", genesis));
  return write_layout(net, tmp, env);
}

}  // namespace

const char* domain_protocol(model::CurveKind kind) {
  return kind == model::CurveKind::kSecp256k1 ? "DamgardEtAl" : "Frost";
}

std::vector<std::string> signing_warnings(std::size_t participants, std::size_t threshold,
                                          const std::vector<model::DomainConfig>& domains) {
  std::string ids;
  std::size_t count = 0;
  for (const auto& d : domains) {
    if (d.protocol != "DamgardEtAl") continue;
    ids += (ids.empty() ? "" : ", ") + std::to_string(d.id);
    ++count;
  }
  // Every presigning and signing set has 2T - 1 participants
  // (threshold::ecdsa_signer_count; devnet's layer does not link threshold).
  const std::size_t signers = 2 * threshold - 1;
  if (count == 0 || threshold == 0 || signers <= participants) return {};
  // The largest threshold whose signing sets fit (2T - 1 <= participants),
  // if the contract allows it (T >= 2).
  const std::size_t fitting = (participants + 1) / 2;
  const std::string remedy = (fitting >= 2 ? "a threshold of at most " + std::to_string(fitting) + " or " : std::string()) +
                             "at least " + std::to_string(signers) + " participants";
  return {"secp256k1 domain" + std::string(count > 1 ? "s " : " ") + ids + " (DamgardEtAl) cannot be signed: threshold " +
          std::to_string(threshold) + " needs 2*threshold-1 = " + std::to_string(signers) +
          " participants in every threshold ECDSA signature, and this network has " + std::to_string(participants) +
          ". The keys are still generated, held, backed up and migrated; signing with them needs " + remedy + "."};
}

core::Result<std::vector<model::CurveKind>> parse_domain_list(std::string_view text) {
  std::vector<model::CurveKind> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    std::string item(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    std::transform(item.begin(), item.end(), item.begin(), [](unsigned char c) { return std::tolower(c); });
    if (item == "secp256k1") out.push_back(model::CurveKind::kSecp256k1);
    else if (item == "ed25519") out.push_back(model::CurveKind::kEd25519);
    else return core::invalid("--domains: '" + item + "' is not a supported domain curve (secp256k1, ed25519)");
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return core::invalid("--domains: give at least one of secp256k1, ed25519");
  return out;
}

namespace {

// The ports the kernel hands to port-0 listeners and to outgoing
// connections (net.ipv4.ip_local_port_range; Linux's default if unreadable).
std::pair<unsigned, unsigned> ephemeral_port_range() {
  std::pair<unsigned, unsigned> range{32768, 60999};
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (in >> low >> high && low >= 1 && low <= high && high <= 65535) range = {low, high};
  return range;
}

}  // namespace

core::Result<std::uint16_t> pick_free_port(const std::string& host, const std::set<std::uint16_t>& taken) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return core::invalid("not an IP address: " + host);
  // Outside the ephemeral range: until its node listens on it, a port in
  // that range can become the source port of anyone's outgoing connection
  // (or another port-0 listener), and the node could not listen then.
  const auto [low, high] = ephemeral_port_range();
  std::vector<std::pair<unsigned, unsigned>> ranges;
  constexpr unsigned kFirst = 10000;  // clear of the usual fixed service ports
  if (low > kFirst) ranges.push_back({kFirst, low - 1});
  if (high < 65535) ranges.push_back({std::max(high + 1, kFirst), 65535});
  unsigned total = 0;
  for (const auto& [a, b] : ranges) total += b - a + 1;
  if (total > 0) {
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<unsigned> pick(0, total - 1);
    for (int attempt = 0; attempt < 64; ++attempt) {
      unsigned k = pick(rng);
      std::uint16_t port = 0;
      for (const auto& [a, b] : ranges) {
        if (k <= b - a) {
          port = static_cast<std::uint16_t>(a + k);
          break;
        }
        k -= b - a + 1;
      }
      if (taken.contains(port)) continue;
      // Listened on as the node will (net::bind_listener), then released.
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::acceptor acceptor(ioc);
      if (net::bind_listener(acceptor, {address, port})) return port;
    }
  }
  // The ephemeral range is all there is (or all else is busy or taken): a
  // port the kernel chooses, as free as it is now. Each one taken already
  // stays bound while the kernel is asked again, so it is not chosen twice.
  boost::asio::io_context ioc;
  std::vector<boost::asio::ip::tcp::acceptor> held;
  for (std::size_t attempt = 0; attempt <= taken.size(); ++attempt) {
    auto& acceptor = held.emplace_back(ioc);
    MPC_ASSIGN(auto bound, net::bind_listener(acceptor, {address, 0}));
    if (!taken.contains(bound.port())) return bound.port();
  }
  return core::fail(core::ErrorCode::kUnavailable, "no free port on " + host + " outside the ones already given out");
}

core::Result<std::vector<std::vector<model::Keyshare>>> read_keyshare_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return core::invalid("--import-keyshares: " + dir.string() + " is not a directory");
  std::set<std::uint64_t> ids;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") continue;
    const auto stem = entry.path().stem().string();
    const bool digits = !stem.empty() && stem.size() <= 2 && std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || (stem.size() > 1 && stem[0] == '0'))
      return core::invalid("--import-keyshares: " + entry.path().filename().string() +
                           " is not named <participant id>.json (0.json, 1.json, ...)");
    ids.insert(std::stoull(stem));
  }
  if (ec) return core::invalid("--import-keyshares: cannot list " + dir.string() + ": " + ec.message());
  if (ids.size() < 2) return core::invalid("--import-keyshares: " + dir.string() + " holds fewer than two <participant id>.json files");
  if (*ids.rbegin() != ids.size() - 1)
    return core::invalid("--import-keyshares: the files must be 0.json .. " + std::to_string(ids.size() - 1) + ".json, one per participant");
  std::vector<std::vector<model::Keyshare>> out;
  for (std::uint64_t id = 0; id < ids.size(); ++id) {
    const auto path = dir / (std::to_string(id) + ".json");
    MPC_ASSIGN(auto text, core::read_file(path, 1 << 20));
    core::SecretString secret_text(std::move(text));
    auto j = core::parse_json(secret_text.reveal(), core::JsonLimits{1 << 20, 8, 1 << 16});
    if (!j) return core::invalid("--import-keyshares: " + path.string() + ": " + j.error().message);
    auto shares = model::parse_keyshares(*j);
    model::wipe_private_shares(*j);
    if (!shares) return core::invalid("--import-keyshares: " + path.string() + ": " + shares.error().message);
    out.push_back(std::move(*shares));
  }
  return out;
}

core::Result<Devnet> create_devnet(const fs::path& dir, const DevnetSpec& given, core::Env& env) {
  DevnetSpec spec = given;
  std::optional<DealtKeyset> imported;
  if (!spec.import_keyshares.empty()) {
    MPC_ASSIGN(auto shares, read_keyshare_dir(spec.import_keyshares));
    spec.nodes = shares.size();
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < shares.size(); ++i) ids.push_back(i);
    auto keyset = keyset_from_shares(std::move(shares), ids, spec.threshold);
    if (!keyset) return core::invalid("--import-keyshares: " + keyset.error().message);
    spec.domains.clear();
    for (const auto& d : keyset->keyset.domains) spec.domains.push_back(d.key.kind);
    imported = std::move(*keyset);
  }
  if (spec.nodes < 2 || spec.nodes > 64) return core::invalid("--nodes must be between 2 and 64");
  if (spec.candidates > 64 - spec.nodes) return core::invalid("--candidates: at most 64 nodes in all");
  // The contract's rules: 2 <= threshold <= participants.
  if (spec.threshold < 2 || spec.threshold > spec.nodes)
    return core::invalid("--threshold must be between 2 (the contract's minimum) and --nodes");
  if (spec.domains.empty()) return core::invalid("--domains: at least one domain");
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (fs::exists(dir / "devnet.json", ec))
      return core::fail(core::ErrorCode::kAlreadyExists, dir.string() + " already holds a devnet; use `mpc-devnet up`, or choose another --dir");
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec))
      return core::fail(core::ErrorCode::kAlreadyExists,
                        dir.string() + " exists and is not an empty directory (a half-created devnet?); remove it or choose another --dir");
    fs::remove(dir, ec);  // an empty directory: replaced by the complete one below
  }
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  const fs::path tmp = absolute.parent_path() / ("." + absolute.filename().string() + ".creating-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  Devnet net;
  if (auto st = build(tmp, absolute, spec, net, env, std::move(imported)); !st) {
    fs::remove_all(tmp, ec);
    return std::unexpected(st.error());
  }
  // The commit point: the complete devnet takes its name, durably.
  if (auto st = env.rename(tmp, absolute); !st) {
    fs::remove_all(tmp, ec);
    return core::fail(core::ErrorCode::kInternal, "cannot move the new devnet into " + absolute.string() + ": " + st.error().message);
  }
  MPC_TRY(env.sync_dir(absolute.parent_path()));
  return net;
}

core::Status Devnet::save() const {
  return core::write_file_atomic(dir / "devnet.json", core::as_bytes(to_json().dump(2) + "\n"), 0600);
}

json Devnet::to_json() const {
  json nodes_json = json::array();
  for (const auto& n : nodes)
    nodes_json.push_back({{"account_id", n.account_id},
                          {"participant_id", n.participant_id},
                          {"home", n.home.string()},
                          {"p2p_addr", n.p2p_addr},
                          {"migration_addr", n.migration_addr},
                          {"metrics_addr", n.metrics_addr},
                          {"operator_key", n.operator_key.string()},
                          {"encryption_key", n.encryption_key.string()}});
  return {{"version", kLayoutVersion}, {"contract_id", contract_id}, {"rpc_addr", rpc_addr}, {"threshold", threshold}, {"hard_launch", hard_launch}, {"nodes", nodes_json}};
}

core::Result<Devnet> Devnet::load(const fs::path& dir) {
  const auto file = dir / "devnet.json";
  std::error_code ec;
  if (!fs::exists(file, ec))
    return core::fail(core::ErrorCode::kNotFound,
                      file.string() + " not found: " + dir.string() + " is not a devnet (create one with `mpc-devnet create`)");
  MPC_ASSIGN(std::string text, core::read_file(file, 1 << 20));
  json j = core::parse_json(text, {1 << 20, 16}).value_or(json::value_t::discarded);
  try {
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error("not a JSON object");
    if (j.value("version", 0) != kLayoutVersion)
      return core::invalid(file.string() + " was written by another version of mpc-devnet (layout " +
                           std::to_string(j.value("version", 0)) + ", this one reads " + std::to_string(kLayoutVersion) +
                           "): create the devnet again");
    Devnet net;
    net.dir = fs::absolute(dir).lexically_normal();
    net.contract_id = j.at("contract_id").get<std::string>();
    net.rpc_addr = j.at("rpc_addr").get<std::string>();
    net.threshold = j.at("threshold").get<std::size_t>();
    net.hard_launch = j.value("hard_launch", false);
    for (const auto& n : j.at("nodes")) {
      DevnetNode node;
      node.account_id = n.at("account_id").get<std::string>();
      node.participant_id = n.at("participant_id").get<std::uint64_t>();
      node.home = n.at("home").get<std::string>();
      node.p2p_addr = n.at("p2p_addr").get<std::string>();
      node.migration_addr = n.at("migration_addr").get<std::string>();
      node.metrics_addr = n.at("metrics_addr").get<std::string>();
      node.operator_key = n.at("operator_key").get<std::string>();
      node.encryption_key = n.at("encryption_key").get<std::string>();
      net.nodes.push_back(std::move(node));
    }
    return net;
  } catch (const std::exception& e) {
    return core::invalid(file.string() + " is damaged: " + e.what());
  }
}

}  // namespace mpc::devnet
