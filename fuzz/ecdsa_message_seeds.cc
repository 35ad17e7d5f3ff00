// Writes the seed corpus of ecdsa_message_fuzz, fuzz/corpus/ecdsa_message/,
// from the two real runs the fuzz target replays
// (testing::ecdsa_fixture_run, tests/support/threshold/ecdsa_testing.h:
// 3 participants with threshold 2, "p3", and 5 with threshold 3, "p5"; the
// victim is ids[0] = 1):
//   - lone messages, as sent: the PresignShares each other participant sends
//     the victim, every participant's PresignOpen and PresignW, the
//     SignShare of every signer, a PresignRequest for the set;
//   - lone messages altered as a cheating participant would: ids[1]'s
//     PresignOpen with R_i + G (off the polynomial: blamed with 5) and with
//     w_i + 1 (caught by W = w·G), its PresignW with W_i + G, its SignShare
//     with s_i + 1;
//   - inputs of records (the fuzz target's kSplit format): every honest
//     message the victim receives, each from its sender just before its
//     honest copy, then every SignShare; the same with the PresignShares
//     delivered before start();
//   - a PresignRequest at its limit (63 ids at the top of the u64 range,
//     epoch and domain ids u64 max).
// Files: p<n>_<type>_<sender>[_to_<receiver>|_<alteration>].bin,
// p<n>_records_<honest|early>.bin, limit_request.bin. Each distinct byte
// string once; every lone message decodes and re-encodes to itself.
// Deterministic: the runs come from fixed seeds.
// The committed corpus came from `ecdsa_message_make_seeds <repo>/fuzz/corpus`
// (built in a fuzz build directory: ninja -C build-fuzz ecdsa_message_make_seeds).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "support/threshold/ecdsa_testing.h"
#include "threshold/curve.h"
#include "threshold/ecdsa_messages.h"

using namespace mpc;
using namespace mpc::threshold;
namespace fs = std::filesystem;

namespace {

// As ecdsa_message_fuzz.cc.
constexpr std::uint8_t kSplit[] = {0xEC, 0xD5, 0xA5, 0x5A};

fs::path dir;
std::set<core::Bytes> written;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ecdsa_message_make_seeds: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(core::Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

bool holds_split(const core::Bytes& bytes) {
  return std::search(bytes.begin(), bytes.end(), std::begin(kSplit), std::end(kSplit)) != bytes.end();
}

void write_file(const std::string& name, const core::Bytes& bytes) {
  if (!written.insert(bytes).second) return;
  std::ofstream out(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) die("cannot write " + (dir / (name + ".bin")).string());
}

// A lone message: must decode and re-encode to itself, and hold no kSplit.
void write(const std::string& name, const core::Bytes& bytes) {
  auto decoded = decode_ecdsa_message(bytes);
  if (!decoded) die(name + " does not decode: " + decoded.error().message);
  if (must(encode_ecdsa_message(*decoded), name) != bytes) die(name + " does not re-encode to itself");
  if (holds_split(bytes)) die(name + " holds the record delimiter");
  write_file(name, bytes);
}

const char* type_tag(std::uint8_t type) {
  switch (static_cast<EcdsaMessageType>(type)) {
    case EcdsaMessageType::kPresignShares: return "shares";
    case EcdsaMessageType::kPresignOpen: return "open";
    case EcdsaMessageType::kPresignW: return "w";
    case EcdsaMessageType::kSignShare: return "signshare";
    case EcdsaMessageType::kPresignRequest: return "request";
  }
  die("unknown message type " + std::to_string(type));
}

// Records in the fuzz target's format: control byte (sender index in bits
// 0-2, position in bits 3-6, before start() in bit 7) then the message.
struct Records {
  core::Bytes bytes;
  std::size_t count = 0;
  void add(std::size_t sender, std::size_t position, bool before_start, const core::Bytes& message) {
    if (sender > 7 || position > 15) die("a record's control does not fit");
    if (holds_split(message)) die("a record's message holds the delimiter");
    if (count > 0) bytes.insert(bytes.end(), std::begin(kSplit), std::end(kSplit));
    bytes.push_back(static_cast<std::uint8_t>(sender | position << 3 | (before_start ? 0x80 : 0)));
    bytes.insert(bytes.end(), message.begin(), message.end());
    ++count;
  }
};

core::Bytes altered(const core::Bytes& payload, const std::function<void(EcdsaMessage&)>& change) {
  EcdsaMessage m = must(decode_ecdsa_message(payload), "altering");
  change(m);
  return must(encode_ecdsa_message(m), "altered");
}

void run_seeds(std::size_t n) {
  const testing::EcdsaRun run = must(testing::ecdsa_fixture_run(n), "run of " + std::to_string(n));
  const std::string tag = "p" + std::to_string(n) + "_";
  const std::uint64_t victim = run.ids.front();
  const std::uint64_t liar = run.ids[1];
  auto index_of = [&](std::uint64_t id) {
    return static_cast<std::size_t>(std::find(run.ids.begin(), run.ids.end(), id) - run.ids.begin());
  };

  std::vector<testing::EcdsaEnvelope> to_victim;
  for (const auto& e : run.delivered) {
    const std::string name = tag + type_tag(e.payload.at(1)) + "_" + std::to_string(e.from);
    if (static_cast<EcdsaMessageType>(e.payload.at(1)) == EcdsaMessageType::kPresignShares) {
      if (e.to == victim) write(name + "_to_" + std::to_string(e.to), e.payload);
    } else {
      write(name, e.payload);
    }
    if (e.to == victim) to_victim.push_back(e);
  }
  for (const auto& [from, payload] : run.sign_shares) write(tag + "signshare_" + std::to_string(from), payload);
  PresignRequestMessage request;
  request.session = run.presign_session;
  request.epoch_id = 1;
  request.domain_id = 0;
  request.participants = run.ids;
  write(tag + "request_" + std::to_string(victim), must(encode_ecdsa_message(request), "request"));

  const CurvePoint g = secp().base_mul(secp().from_u64(1));
  const CurveScalar one = secp().from_u64(1);
  for (const auto& e : to_victim) {
    if (e.from != liar) continue;
    const std::string name = tag + type_tag(e.payload.at(1)) + "_" + std::to_string(e.from);
    const auto type = static_cast<EcdsaMessageType>(e.payload.at(1));
    if (type == EcdsaMessageType::kPresignOpen) {
      write(name + "_r_plus_g", altered(e.payload, [&](EcdsaMessage& m) {
              auto& o = std::get<PresignOpenMessage>(m);
              o.big_r = secp().add(o.big_r, g);
            }));
      write(name + "_w_plus_1", altered(e.payload, [&](EcdsaMessage& m) {
              auto& o = std::get<PresignOpenMessage>(m);
              o.w = secp().add(o.w, one);
            }));
    } else if (type == EcdsaMessageType::kPresignW) {
      write(name + "_plus_g", altered(e.payload, [&](EcdsaMessage& m) {
              auto& w = std::get<PresignWMessage>(m);
              w.big_w = secp().add(w.big_w, g);
            }));
    }
  }
  for (const auto& [from, payload] : run.sign_shares) {
    if (from != liar) continue;
    write(tag + "signshare_" + std::to_string(from) + "_plus_1", altered(payload, [&](EcdsaMessage& m) {
            auto& s = std::get<SignShareMessage>(m);
            s.s = secp().add(s.s, one);
          }));
  }

  for (bool early : {false, true}) {
    Records records;
    for (std::size_t i = 0; i < to_victim.size(); ++i) {
      const auto& e = to_victim[i];
      const bool shares = static_cast<EcdsaMessageType>(e.payload.at(1)) == EcdsaMessageType::kPresignShares;
      records.add(index_of(e.from), i, early && shares, e.payload);
    }
    for (std::size_t i = 0; i < run.sign_shares.size(); ++i) {
      records.add(index_of(run.sign_shares[i].first), i, false, run.sign_shares[i].second);
    }
    write_file(tag + "records_" + (early ? "early" : "honest"), records.bytes);
  }
}

void limit_seeds() {
  PresignRequestMessage request;
  request.session.fill(0xEE);
  request.epoch_id = UINT64_MAX;
  request.domain_id = UINT64_MAX;
  for (std::uint64_t k = 0; k < kMaxEcdsaParticipants; ++k) {
    request.participants.push_back(UINT64_MAX - (kMaxEcdsaParticipants - 1) + k);
  }
  const core::Bytes bytes = must(encode_ecdsa_message(request), "limit request");
  if (bytes.size() != kMaxEcdsaMessageSize) die("the limit request is not kMaxEcdsaMessageSize long");
  write("limit_request", bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ecdsa_message_make_seeds <corpus root>  (writes <root>/ecdsa_message/)\n");
    return 2;
  }
  dir = fs::path(argv[1]) / "ecdsa_message";
  fs::create_directories(dir);
  run_seeds(3);
  run_seeds(5);
  limit_seeds();
  std::printf("wrote %zu files to %s\n", written.size(), dir.c_str());
  return 0;
}
