// Writes the seed corpus of key_event_message_fuzz,
// fuzz/corpus/key_event_message/, on Ed25519 and on secp256k1:
//   - the messages of a real key generation among participants 0, 1, 2
//     (threshold 2) in which dealer 1's Share to participant 0 is altered on
//     the way, so that 0 complains in its Echo and 1 answers with a Reveal:
//     every message type (16..20) comes from a real session, which then
//     completes;
//   - the messages of a real resharing of that key to participants 0..3,
//     threshold 3, dealt by 0 and 1 (Commitments without a proof); it is
//     checked to keep the group key;
//   - messages at their limits: Commitments with 64 coefficients and a
//     proof, an Echo of kMaxKeyEventMessageSize (64 digests, 63 complaints),
//     a Reveal with 63 entries (valid points and scalars, ids at the ends of
//     the u64 range).
// Of a session it writes every message as sent (before the alteration),
// each distinct byte string once, named after its first sender (the echoes
// of participants that complain about no one are identical, and so are all
// confirmations), and of the private Shares the one each dealer sends to
// its lowest-id recipient.
// Files: <curve>_<keygen|reshare>_<type>_<sender>[_to_<receiver>].bin,
// <curve>_limit_<type>.bin. Deterministic: all randomness comes from
// threshold::testing::TestRandom with a fixed seed.
// The committed corpus came from `key_event_message_make_seeds <repo>/fuzz/corpus`
// (built in a fuzz build directory: ninja -C build-fuzz key_event_message_make_seeds).
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/secret.h"
#include "support/threshold/frost_testing.h"
#include "threshold/curve.h"
#include "threshold/key_event.h"
#include "threshold/key_event_messages.h"

using namespace mpc;
using namespace mpc::threshold;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSeed = 0x6b65795f6576656e;  // "key_even"

fs::path dir;
std::set<core::Bytes> written;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "key_event_message_make_seeds: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must(core::Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(*r);
}

const char* curve_tag(KeyCurve curve) { return curve == KeyCurve::kEd25519 ? "ed25519" : "secp256k1"; }

const char* type_tag(KeyEventMessageType type) {
  switch (type) {
    case KeyEventMessageType::kCommitments: return "commitments";
    case KeyEventMessageType::kShare: return "share";
    case KeyEventMessageType::kEcho: return "echo";
    case KeyEventMessageType::kReveal: return "reveal";
    case KeyEventMessageType::kConfirm: return "confirm";
  }
  die("unknown message type");
}

// Writes `bytes` as <name>.bin unless the same bytes were written already;
// they must decode and re-encode to themselves.
void write(const std::string& name, const core::Bytes& bytes) {
  auto decoded = decode_key_event_message(bytes);
  if (!decoded) die(name + " does not decode: " + decoded.error().message);
  if (must(encode_key_event_message(*decoded), name) != bytes) die(name + " does not re-encode to itself");
  if (!written.insert(bytes).second) return;
  std::ofstream out(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) die("cannot write " + (dir / (name + ".bin")).string());
}

struct Envelope {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  core::Bytes payload;
};

// One key event's sessions on an in-memory mesh. Every message is written
// as its sender sent it; `alter` may then change it in flight.
struct Mesh {
  std::string prefix;  // <curve>_<keygen|reshare>
  std::map<std::uint64_t, KeyEventSession> sessions;
  std::deque<Envelope> queue;
  std::set<std::uint64_t> shares_written;  // dealers whose Share was written
  std::function<void(Envelope&)> alter;

  void post(std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      const auto type = static_cast<KeyEventMessageType>(o.payload.at(1));
      std::string name = prefix + "_" + type_tag(type) + "_" + std::to_string(from);
      if (o.to) {
        // The first private Share a dealer sends goes to its lowest-id
        // recipient (sessions are visited in ascending order).
        if (type != KeyEventMessageType::kShare) die(name + " sent privately");
        if (shares_written.insert(from).second) write(name + "_to_" + std::to_string(*o.to), o.payload);
        queue.push_back(Envelope{from, *o.to, o.payload});
        continue;
      }
      write(name, o.payload);
      for (const auto& [to, s] : sessions) {
        if (to != from) queue.push_back(Envelope{from, to, o.payload});
      }
    }
  }
  void run() {
    for (auto& [id, s] : sessions) post(id, s.start());
    while (!queue.empty()) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      if (alter) alter(e);
      auto out = sessions.at(e.to).on_message(e.from, e.payload);
      if (!out) die(prefix + ": participant " + std::to_string(e.to) + " refused a message: " + out.error().message);
      post(e.to, std::move(*out));
    }
    for (const auto& [id, s] : sessions) {
      if (!s.done()) die(prefix + ": participant " + std::to_string(id) + " did not finish: " + s.failure().value_or("-"));
    }
  }
  const KeyEventOutput& out(std::uint64_t id) const { return *sessions.at(id).output(); }
};

KeyEventSetup setup(KeyCurve curve, KeyEventKind kind, const SessionId& session, std::vector<std::uint64_t> ids,
                    std::uint64_t threshold, std::uint64_t self) {
  KeyEventSetup s;
  s.curve = curve;
  s.kind = kind;
  s.session = session;
  s.self = self;
  s.participants = std::move(ids);
  s.threshold = threshold;
  return s;
}

CurveScalar random_scalar(const Curve& curve, const RandomSource& random) {
  std::array<std::uint8_t, 64> wide{};
  random(std::span<std::uint8_t, 32>(wide.data(), 32));
  random(std::span<std::uint8_t, 32>(wide.data() + 32, 32));
  CurveScalar s = curve.reduce_wide(wide);
  core::secure_wipe(wide.data(), wide.size());
  return s;
}

void sessions(KeyCurve curve, const RandomSource& random) {
  const Curve& c = Curve::of(curve);
  const std::string tag = curve_tag(curve);

  Mesh keygen;
  keygen.prefix = tag + "_keygen";
  const SessionId keygen_session = new_session_id(random);
  for (std::uint64_t id : {0, 1, 2}) {
    keygen.sessions.emplace(
        id, must(KeyEventSession::create(setup(curve, KeyEventKind::kKeygen, keygen_session, {0, 1, 2}, 2, id), random),
                 keygen.prefix + " setup"));
  }
  bool altered = false;
  bool revealed = false;
  keygen.alter = [&](Envelope& e) {
    if (e.payload.at(1) == static_cast<std::uint8_t>(KeyEventMessageType::kReveal)) revealed = true;
    if (e.from != 1 || e.to != 0 || e.payload.at(1) != static_cast<std::uint8_t>(KeyEventMessageType::kShare)) return;
    auto m = must(decode_key_event_message(e.payload), "share 1 -> 0");
    auto& share = std::get<ShareMessage>(m);
    share.share = c.add(share.share, c.from_u64(1));
    e.payload = must(encode_key_event_message(m), "altered share");
    altered = true;
  };
  keygen.run();
  if (!altered) die(keygen.prefix + ": dealer 1 sent participant 0 no share");
  if (!revealed) die(keygen.prefix + ": dealer 1 did not reveal");

  Mesh reshare;
  reshare.prefix = tag + "_reshare";
  const SessionId reshare_session = new_session_id(random);
  for (std::uint64_t id : {0, 1, 2, 3}) {
    KeyEventSetup s = setup(curve, KeyEventKind::kReshare, reshare_session, {0, 1, 2, 3}, 3, id);
    s.dealers = {0, 1};
    s.old_threshold = 2;
    s.old_group_key = keygen.out(0).group_key;
    if (id <= 1) s.old_share = keygen.out(id).share.clone();
    reshare.sessions.emplace(id, must(KeyEventSession::create(std::move(s), random), reshare.prefix + " setup"));
  }
  reshare.run();
  for (std::uint64_t id : {0, 1, 2, 3}) {
    if (reshare.out(id).group_key != keygen.out(0).group_key) die(reshare.prefix + " changed the group key");
  }

  const std::string limit = tag + "_limit_";
  const auto point = [&] { return c.base_mul(random_scalar(c, random)); };
  CommitmentsMessage commitments{new_session_id(random), curve, {}, std::nullopt};
  for (std::size_t k = 0; k < kMaxKeyEventParticipants; ++k) commitments.coefficients.push_back(point());
  commitments.proof = ProofOfKnowledge{point(), random_scalar(c, random)};
  write(limit + "commitments", must(encode_key_event_message(commitments), limit + "commitments"));

  EchoMessage echo{commitments.session, curve, {}, {}};
  echo.digests.resize(kMaxKeyEventParticipants);
  for (auto& d : echo.digests) random(d);
  for (std::uint64_t k = 0; k + 1 < kMaxKeyEventParticipants; ++k) echo.complaints.push_back(UINT64_MAX - 62 + k);
  const core::Bytes echo_bytes = must(encode_key_event_message(echo), limit + "echo");
  if (echo_bytes.size() != kMaxKeyEventMessageSize) die(limit + "echo is not kMaxKeyEventMessageSize long");
  write(limit + "echo", echo_bytes);

  RevealMessage reveal{commitments.session, curve, {}};
  for (std::uint64_t k = 0; k + 1 < kMaxKeyEventParticipants; ++k) {
    reveal.entries.push_back(RevealEntry{k == 0 ? 0 : UINT64_MAX - 62 + k, random_scalar(c, random)});
  }
  write(limit + "reveal", must(encode_key_event_message(reveal), limit + "reveal"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: key_event_message_make_seeds <corpus root>  (writes <root>/key_event_message/)\n");
    return 2;
  }
  dir = fs::path(argv[1]) / "key_event_message";
  fs::create_directories(dir);
  threshold::testing::TestRandom rng(kSeed);
  const RandomSource random = rng.source();
  sessions(KeyCurve::kEd25519, random);
  sessions(KeyCurve::kSecp256k1, random);
  std::printf("wrote %zu files to %s\n", written.size(), dir.c_str());
  return 0;
}
