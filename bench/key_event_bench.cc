// Key generation and resharing (threshold/key_event.h) in process: n
// participants (n = 3, 7, 15, threshold n/2 + 1) on Ed25519 and secp256k1,
// every message encoded, delivered to its recipients and decoded, as on the
// mesh. Resharing is a refresh of the generated key (every holder deals to
// the same set and threshold) and is checked to keep the key.
//
// Printed per curve and n: wall time of one whole key event (all n
// participants' work, on one thread), and the bytes one participant sends
// (a broadcast counts once per recipient; a dealer's private shares
// included), as the mean over the participants.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "support/threshold/frost_testing.h"
#include "threshold/key_event.h"

namespace {

using namespace mpc::threshold;

struct Envelope {
  std::uint64_t from, to;
  mpc::core::Bytes payload;
};

struct Run {
  std::map<std::uint64_t, KeyEventSession> sessions;
  std::vector<std::uint64_t> ids;
  std::deque<Envelope> queue;
  std::size_t bytes = 0;

  void post(std::uint64_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      for (std::uint64_t to : ids) {
        if (to == from || (o.to && *o.to != to)) continue;
        bytes += o.payload.size();
        queue.push_back(Envelope{from, to, o.payload});
      }
    }
  }
  void run() {
    for (auto& [id, s] : sessions) post(id, s.start());
    while (!queue.empty()) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      auto out = sessions.at(e.to).on_message(e.from, e.payload);
      if (!out) {
        std::fprintf(stderr, "refused: %s\n", out.error().message.c_str());
        std::exit(1);
      }
      post(e.to, std::move(*out));
    }
    for (auto& [id, s] : sessions) {
      if (!s.done()) {
        std::fprintf(stderr, "participant %llu did not finish: %s\n", static_cast<unsigned long long>(id),
                     s.failure().value_or("(no failure)").c_str());
        std::exit(1);
      }
    }
  }
};

KeyEventSetup base(KeyCurve curve, KeyEventKind kind, std::size_t n, std::size_t t, std::uint64_t self) {
  KeyEventSetup s;
  s.curve = curve;
  s.kind = kind;
  s.session.fill(kind == KeyEventKind::kKeygen ? 1 : 2);
  s.self = self;
  for (std::uint64_t i = 0; i < n; ++i) s.participants.push_back(i);
  s.threshold = t;
  return s;
}

struct Figures {
  double ms = 0;
  double bytes_per_node = 0;
};

template <typename MakeSetup>
Figures measure(std::size_t n, const RandomSource& random, MakeSetup make, Run& run) {
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t id = 0; id < n; ++id) {
    auto s = KeyEventSession::create(make(id), random);
    if (!s) {
      std::fprintf(stderr, "setup refused: %s\n", s.error().message.c_str());
      std::exit(1);
    }
    run.ids.push_back(id);
    run.sessions.emplace(id, std::move(*s));
  }
  run.run();
  const auto end = std::chrono::steady_clock::now();
  return Figures{std::chrono::duration<double, std::milli>(end - start).count(),
                 static_cast<double>(run.bytes) / static_cast<double>(n)};
}

}  // namespace

int main() {
  const std::uint64_t seed = testing::test_seed();
  testing::TestRandom rng(seed);
  const RandomSource random = rng.source();
  std::printf("key events in process (one thread; every message encoded and decoded)\n");
  std::printf("%-10s %4s %4s %14s %16s %14s %16s\n", "curve", "n", "t", "keygen ms", "keygen B/node", "reshare ms",
              "reshare B/node");
  for (KeyCurve curve : {KeyCurve::kEd25519, KeyCurve::kSecp256k1}) {
    for (std::size_t n : {3, 7, 15}) {
      const std::size_t t = n / 2 + 1;
      Run keygen;
      const Figures k =
          measure(n, random, [&](std::uint64_t id) { return base(curve, KeyEventKind::kKeygen, n, t, id); }, keygen);
      Run reshare;
      const Figures r = measure(
          n, random,
          [&](std::uint64_t id) {
            KeyEventSetup s = base(curve, KeyEventKind::kReshare, n, t, id);
            s.dealers = s.participants;
            s.old_threshold = t;
            s.old_share = keygen.sessions.at(id).output()->share.clone();
            s.old_group_key = keygen.sessions.at(id).output()->group_key;
            return s;
          },
          reshare);
      if (reshare.sessions.at(0).output()->group_key != keygen.sessions.at(0).output()->group_key) {
        std::fprintf(stderr, "reshare changed the key\n");
        return 1;
      }
      std::printf("%-10s %4zu %4zu %14.2f %16.0f %14.2f %16.0f\n", key_curve_name(curve), n, t, k.ms,
                  k.bytes_per_node, r.ms, r.bytes_per_node);
    }
  }
  return 0;
}
