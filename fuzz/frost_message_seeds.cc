// Writes the seed corpus of frost_message_fuzz, fuzz/corpus/frost_message/:
// every message of one real 2-of-3 and one 7-of-10 FROST session (the
// request a node leads with, as the node layer fills it: the contract's
// request JSON as context, the tweak of user.devnet's path "demo"), an
// Abort as the node sends one, and messages at their limits (64 signers,
// a 4 KiB context, a 256-byte reason). Deterministic: randomness comes
// from a hash of a counter, the dealer's polynomial from a fixed seed.
// The committed corpus came from `frost_message_make_seeds <repo>/fuzz/corpus`.
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/key_derivation.h"
#include "threshold/messages.h"
#include "threshold/signing_session.h"
#include "support/threshold/frost_testing.h"

using namespace mpc;
using namespace mpc::threshold;
namespace fs = std::filesystem;

namespace {

fs::path dir;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "frost_message_make_seeds: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(core::Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

void write(const std::string& name, const Message& m) {
  const core::Bytes bytes = must(encode_message(m), name.c_str());
  if (!decode_message(bytes)) die(name + " does not decode");
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) die("cannot write " + (dir / name).string());
}

// 32 bytes from BLAKE2b("frost_message seeds" || counter): reproducible.
RandomSource counter_random() {
  auto counter = std::make_shared<std::uint64_t>(0);
  return [counter](std::span<std::uint8_t, 32> out) {
    const std::string input = "frost_message seeds " + std::to_string((*counter)++);
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                       nullptr, 0);
  };
}

using threshold::testing::random_scalar;

// Shamir shares at x = id + 1 of a key from `random` (as the devnet dealer deals).
std::map<std::uint64_t, KeyPackage> deal(std::size_t n, std::size_t t, const RandomSource& random) {
  return must(threshold::testing::deal_first(n, t, random), "deal").keys;
}

// One session among `signers` (the first leads); writes its messages as
// <prefix>_<kind>[_<from>].bin.
void session(const std::string& prefix, std::size_t n, const std::vector<std::uint64_t>& signers,
             const RandomSource& random) {
  const auto keys = deal(n, signers.size(), random);
  core::SignPayload payload{core::SignPayload::Kind::kEddsa, core::Bytes{'h', 'e', 'l', 'l', 'o'}};
  const auto contract_request = core::SignatureRequest::make("user.devnet", "demo", payload, 1);
  SignRequest request;
  request.session = new_session_id(random);
  const std::string context = to_json(contract_request).dump();
  request.request_context.assign(context.begin(), context.end());
  request.domain_id = contract_request.domain_id;
  request.message = payload.bytes;
  request.tweak = contract_request.tweak;
  request.signers = signers;
  const std::uint64_t leader = signers.front();

  Coordinator coordinator = must(Coordinator::create(leader, keys.at(leader), request), "coordinator");
  if (!coordinator.start(random)) die("start");
  write(prefix + "_sign_request.bin", coordinator.request());
  std::map<std::uint64_t, Signer> others;
  for (std::uint64_t id : signers) {
    if (id != leader) others.emplace(id, must(Signer::create(id, leader, keys.at(id), request), "signer"));
  }
  std::optional<SigningPackage> package;
  for (auto& [id, signer] : others) {
    const Commitment c = must(signer.commit(random), "commit");
    write(prefix + "_commitment_" + std::to_string(id) + ".bin", c);
    auto step = must(coordinator.handle(id, c), "commitment");
    if (step.broadcast) package = step.broadcast;
  }
  if (!package) die("no signing package");
  write(prefix + "_signing_package.bin", *package);
  std::optional<core::Ed25519Signature> signature;
  for (auto& [id, signer] : others) {
    auto share = must(signer.handle(leader, *package), "share");
    if (!share) die("no share");
    write(prefix + "_signature_share_" + std::to_string(id) + ".bin", *share);
    auto step = must(coordinator.handle(id, *share), "share in");
    if (step.signature) signature = step.signature;
  }
  if (!signature) die("no signature");
  write(prefix + "_abort.bin", make_abort(request.session, "session timed out waiting for 1, 2"));
}

void at_limits(const RandomSource& random) {
  SignRequest request;
  request.session = new_session_id(random);
  request.request_context.assign(kMaxRequestContextSize, '{');
  request.domain_id = UINT64_MAX;
  request.message.assign(core::kEddsaPayloadMaxBytes, 0xa5);
  random(request.tweak);
  for (std::uint64_t id = 0; id < kMaxSigners; ++id) request.signers.push_back(id * 3);
  write("limit_sign_request.bin", request);

  SigningPackage package;
  package.session = request.session;
  for (std::uint64_t id = 0; id < kMaxSigners; ++id) {
    PackageEntry e;
    e.participant_id = UINT64_MAX - 1 - (kMaxSigners - 1 - id);
    const Scalar a = random_scalar(random), b = random_scalar(random);
    if (crypto_scalarmult_ed25519_base_noclamp(e.hiding.data(), a.data()) != 0 ||
        crypto_scalarmult_ed25519_base_noclamp(e.binding.data(), b.data()) != 0) {
      die("zero nonce");
    }
    package.commitments.push_back(e);
  }
  write("limit_signing_package.bin", package);
  write("limit_abort.bin", make_abort(request.session, std::string(kMaxAbortReasonSize, 'x')));
  write("empty_abort.bin", Abort{request.session, ""});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: frost_message_make_seeds <corpus root>  (writes <root>/frost_message/)\n");
    return 2;
  }
  if (sodium_init() < 0) die("libsodium init failed");
  dir = fs::path(argv[1]) / "frost_message";
  fs::create_directories(dir);
  const RandomSource random = counter_random();
  session("2of3", 3, {0, 2}, random);
  session("7of10", 10, {1, 2, 3, 5, 6, 8, 9}, random);
  at_limits(random);
  std::printf("wrote %s\n", dir.c_str());
  return 0;
}
