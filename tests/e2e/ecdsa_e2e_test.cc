// End-to-end threshold ECDSA (issue 16) over real processes: the devnet's
// secp256k1 domain (DamgardEtAl, 3 nodes, threshold 2: every signature
// takes all three) answers `sign` for a 32-byte hash. Every answer is
// checked outside our signing code: the openssl command line, Python's
// `cryptography` under the key the contract's derived_public_key view
// names, and python-ecdsa recovering that key from (r, s, recovery id).
// Killed and restarted nodes never use a presignature twice; the network
// signs again after a migration and after two nodes die with their homes
// and are restored from backups.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "core/crypto.h"
#include "core/json_limits.h"
#include "core/key_derivation.h"
#include "core/near_key.h"
#include "e2e_support.h"
#include "operator_steps.h"

namespace mpc::e2e {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kEcdsaDomain = 0;  // the devnet's domains: 0 secp256k1 (DamgardEtAl), 1 ed25519

core::Bytes hash_of(std::string_view text) {
  const auto h = core::sha256(core::as_bytes(text));
  return core::Bytes(h.begin(), h.end());
}

// The answer under the key derived for (predecessor, path): the contract's
// view and our derivation agree on the key; OpenSSL and Python accept the
// signature; python-ecdsa recovers the key from the recovery id.
core::Status verify_ecdsa_everywhere(Network& net, const std::string& predecessor, const std::string& path, core::ByteView hash,
                                     const core::Secp256k1SignatureResponse& response, const std::string& response_json) {
  auto derived = core::derive_secp256k1_public_key(net.secp256k1_group_key(kEcdsaDomain), core::derive_tweak(predecessor, path));
  if (!derived) return std::unexpected(derived.error());
  MPC_ASSIGN(auto view_text, net.derived_public_key(predecessor, path, kEcdsaDomain));
  MPC_ASSIGN(auto view_key, core::NearPublicKey::parse(view_text));
  if (view_key.is_ed25519() || std::get<core::Secp256k1PublicKey>(view_key.key) != *derived)
    return core::fail(core::ErrorCode::kInternal, "derived_public_key says " + view_text + ", our derivation differs");
  if (int rc = openssl_verify_secp256k1(*derived, hash, response); rc != 0)
    return core::fail(core::ErrorCode::kInternal, "openssl refused the signature (" + std::to_string(rc) + "): " + response_json);
  if (int rc = python_verify_secp256k1(view_text, hash, response_json); rc != 0)
    return core::fail(core::ErrorCode::kInternal, "Python refused the signature or the recovered key (" + std::to_string(rc) + "): " + response_json);
  return {};
}

void sign_and_verify(Network& net, std::size_t i, const std::string& path, const std::string& text, std::chrono::milliseconds timeout = 60s) {
  const auto hash = hash_of(text);
  auto answer = net.sign_ecdsa(i, kEcdsaDomain, path, hash, timeout);
  ASSERT_TRUE(answer) << "sign as operator " << i << ": " << answer.error().message;
  auto ok = verify_ecdsa_everywhere(net, net.node(i).account_id, path, hash, answer->first, answer->second);
  ASSERT_TRUE(ok) << ok.error().message;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every threshold ECDSA session any of these logs led (a session id is the
// presignature's id), in order.
std::vector<std::string> led_ecdsa_sessions(const std::vector<fs::path>& logs) {
  static const std::regex led("leading threshold ECDSA session ([0-9a-f]+) ");
  std::vector<std::string> out;
  for (const auto& log : logs) {
    const auto text = read_text(log);
    for (std::sregex_iterator it(text.begin(), text.end(), led), end; it != end; ++it) out.push_back((*it)[1]);
  }
  return out;
}

bool mentions(const fs::path& log, const std::string& what) { return read_text(log).find(what) != std::string::npos; }

// ---------------------------------------------------------------- scenarios

TEST(ThresholdEcdsa, NearApiJsSignsAHashAndEveryVerifierAgrees) {
  Network net;
  const std::string account = net.node(0).account_id;
  const auto hash = hash_of("an Ethereum transaction's hash");
  auto text = near_api_js_sign_ecdsa(net.rpc_url(), net.operator_credentials(0), net.devnet().contract_id, kEcdsaDomain, "ethereum-1", hash);
  ASSERT_TRUE(text) << text.error().message;
  auto parsed = core::parse_json(*text, core::JsonLimits{});
  ASSERT_TRUE(parsed) << *text;
  auto response = core::parse_signature_response(*parsed);
  ASSERT_TRUE(response && std::holds_alternative<core::Secp256k1SignatureResponse>(*response)) << *text;
  const auto& sig = std::get<core::Secp256k1SignatureResponse>(*response);
  auto ok = verify_ecdsa_everywhere(net, account, "ethereum-1", hash, sig, *text);
  ASSERT_TRUE(ok) << ok.error().message;

  // The verifiers can refuse: a flipped bit of s, another path's key, another hash.
  auto flipped = sig;
  flipped.s[20] ^= 0x10;
  const std::string flipped_json = core::to_json(core::SignatureResponse(flipped)).dump();
  EXPECT_FALSE(verify_ecdsa_everywhere(net, account, "ethereum-1", hash, flipped, flipped_json));
  EXPECT_FALSE(verify_ecdsa_everywhere(net, account, "ethereum-2", hash, sig, *text));
  EXPECT_FALSE(verify_ecdsa_everywhere(net, account, "ethereum-1", hash_of("another"), sig, *text));

  // Other callers and paths, through our own client; the Ed25519 domain signs on.
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 1, "bitcoin/0", "a Bitcoin sighash"));
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 2, "", "the empty path"));
  auto eddsa = net.sign(0, 1, "solana", core::as_bytes("and Ed25519 still"));
  ASSERT_TRUE(eddsa) << eddsa.error().message;
  auto fine = no_crash({net.watched(0), net.watched(1), net.watched(2)});
  EXPECT_TRUE(fine) << fine.error().message;
}

TEST(ThresholdEcdsa, KilledAndRestartedNodesNeverUseAPresignatureTwice) {
  Network net;
  // Presignatures are being made in the background; two are used...
  ASSERT_TRUE(net.wait_node_metric(0, "mpc_presignatures_owned{domain=\"0\"}", [](double v) { return v >= 2; }, 60s)) << "node0's pool stays empty";
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 0, "before", "before the crash 1"));
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 1, "before", "before the crash 2"));
  // ... then two nodes are killed (-9) while their pools refill, and come back.
  net.stop_devnet_process("node1", true);
  net.stop_devnet_process("node2", true);
  net.restart_devnet();
  for (int i = 0; i < 4; ++i) ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, static_cast<std::size_t>(i % 3), "after", "after " + std::to_string(i)));
  // Once more, all three at once.
  for (const auto* name : {"node0", "node1", "node2"}) net.stop_devnet_process(name, true);
  net.restart_devnet();
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 2, "after", "after everyone restarted"));

  std::vector<fs::path> logs;
  for (std::size_t i = 0; i < 3; ++i) logs.push_back(net.watched(i).log);
  const auto led = led_ecdsa_sessions(logs);
  EXPECT_GE(led.size(), 7u);
  std::set<std::string> distinct(led.begin(), led.end());
  EXPECT_EQ(distinct.size(), led.size()) << "a leader used one of its presignatures twice";
  for (const auto& log : logs) {
    EXPECT_FALSE(mentions(log, "was used already")) << log << ": a member was asked for a presignature it had used";
    EXPECT_FALSE(mentions(log, "ecdsa sign failed")) << log;
  }
  auto fine = no_crash({net.watched(0), net.watched(1), net.watched(2)});
  EXPECT_TRUE(fine) << fine.error().message;
}

TEST(ThresholdEcdsa, SignsAfterAMigrationAndAfterTwoNodesAreRestoredFromBackups) {
  Network net;
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 0, "m", "before the migration"));
  // Node0 moves to a new machine: its presignature parts stay behind, and
  // every pool of the network is void (a participant changed).
  ASSERT_NO_FATAL_FAILURE(back_up(net, 0));
  auto dest0 = net.new_node(0);
  ASSERT_NO_FATAL_FAILURE(migrate_manually(net, 0, dest0));
  net.stop_devnet_process("node0", true);
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 0, "m", "after the migration"));
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 1, "m", "another caller after the migration"));

  // Disaster: nodes 1 and 2 die with their homes; their operators had backups.
  ASSERT_NO_FATAL_FAILURE(back_up(net, 1));
  ASSERT_NO_FATAL_FAILURE(back_up(net, 2));
  for (const std::size_t i : {std::size_t{1}, std::size_t{2}}) {
    net.stop_devnet_process("node" + std::to_string(i), true);
    fs::remove_all(net.devnet().path(net.node(i).home));
  }
  const auto hash = hash_of("pending through the disaster");
  auto submitted = net.submit_sign(net.operator_credentials(0), kEcdsaDomain, "dr", hash, core::SignPayload::Kind::kEcdsa);
  ASSERT_TRUE(submitted) << submitted.error().message;
  auto dest1 = net.new_node(1);
  ASSERT_NO_FATAL_FAILURE(migrate_manually(net, 1, dest1));
  auto dest2 = net.new_node(2);
  ASSERT_NO_FATAL_FAILURE(migrate_manually(net, 2, dest2));
  // The pending request is signed by the restored network (or, if the
  // restore outlasted the yield, a new one is).
  auto answer = net.await_response(*submitted, 60s);
  if (!answer && answer.error().message.find("Request has timed out.") != std::string::npos) {
    std::cerr << "the request pending through the restore timed out on chain; signing a new one\n";
    auto again = net.sign_ecdsa(0, kEcdsaDomain, "dr", hash);
    ASSERT_TRUE(again) << again.error().message;
    answer = std::pair{core::SignatureResponse(again->first), again->second};
  }
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_TRUE(std::holds_alternative<core::Secp256k1SignatureResponse>(answer->first)) << answer->second;
  auto ok = verify_ecdsa_everywhere(net, net.node(0).account_id, "dr", hash, std::get<core::Secp256k1SignatureResponse>(answer->first),
                                    answer->second);
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_NO_FATAL_FAILURE(sign_and_verify(net, 2, "dr", "and the restored network goes on"));
  auto fine = no_crash({net.watched(0, false), net.watched(1, false), net.watched(2, false), Network::watched(dest0),
                        Network::watched(dest1), Network::watched(dest2)});
  EXPECT_TRUE(fine) << fine.error().message;
}

}  // namespace
}  // namespace mpc::e2e
