// The threshold ECDSA messages a peer sends over the mesh
// (threshold::decode_ecdsa_message, threshold/ecdsa_messages.h) and the two
// state machines that consume them (PresignSession, ecdsa_presign.h;
// EcdsaSignCoordinator, ecdsa_sign.h), on bytes a hostile peer controls.
//
// The input. Without the delimiter kSplit it is one message; otherwise it
// is records separated by kSplit (at most kMaxRecords), each a control byte
// then the message:
//   bits 0-2  sender: ids[v] for v < n (ids[0] is the victim itself),
//             kOutsider for v = n, otherwise the peer ids[1 + v % (n - 1)]
//   bits 3-6  position p: delivered just before the (p mod (m + 1))-th of
//             the m honest messages the victim receives (m + 1: after all)
//   bit  7    presigning only: delivered before the victim's start()
// A lone message comes from ids[1], to the presigning just before ids[1]'s
// honest message of the same type byte (so an altered message stands in for
// it), to the coordinator before every honest share.
//
// Every message (the whole input and each record) is decoded:
//   - no crash, no read past the input (ASan), no undefined behaviour;
//   - a refusal is kInvalidArgument, printable, naming "ecdsa message: "
//     for the header or "<MessageType>: " for a body;
//   - what decodes carries the input's type byte and session id, is at most
//     kMaxEcdsaMessageSize, a PresignRequest's set is 3..63 strictly
//     ascending ids, and it encodes back to exactly the input;
//   - routing agrees with decoding: is_ecdsa_message / ecdsa_session_of read
//     the header; ECDSA, key event and signing messages never route as one
//     another and never decode as one another.
//
// Then the records are delivered, together with the honest messages of a
// real run (tests/support/threshold/ecdsa_testing.h, 3 participants, or 5
// when the first message with an ECDSA header carries a session of the
// 5-participant run), to
//   - a PresignSession of the victim ids[0], re-created from the run's seed
//     (so the recorded messages of the others fit it), mid-protocol wherever
//     the positions put the records;
//   - an EcdsaSignCoordinator (coordinator ids[0]) built from the run's
//     presignature, with the others' honest SignShares;
//   - when the fuzzed presigning ends with a presignature other than the
//     honest one: a coordinator built from it, with the honest SignShares.
// Properties:
//   - a refused message changes nothing observable (done, failure, blamed,
//     waiting_for; the coordinator's waiting_for and failure) and its error
//     is kInvalidArgument, printable, naming the sender;
//   - an accepted message decodes, is of the machine's types, carries its
//     session and comes from another member of the set; nothing is accepted
//     after the end or after a failure;
//   - while no record was accepted, every honest message is; when every
//     accepted record was the honest message of its sender, the victim sends
//     exactly what it sends in the honest run and ends with the same
//     presignature, and the coordinator returns the run's signature;
//   - the victim's messages decode, carry the session and go where they
//     should (PresignShares privately to each other member, PresignOpen and
//     PresignW broadcast); done and failed exclude each other; blamed is a
//     member; a presignature is handed out once;
//   - a returned signature always has a recovery id that recovers the key
//     derived independently (core/key_derivation.h) with OpenSSL EC
//     arithmetic, low s; with the run's R it is the run's signature; a
//     coordinator's final failure is "ecdsa sign failed: ..." and failure()
//     says the same.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/key_derivation.h"
#include "fuzz_support.h"
#include "support/threshold/ecdsa_testing.h"
#include "threshold/ecdsa_messages.h"
#include "threshold/ecdsa_presign.h"
#include "threshold/ecdsa_sign.h"
#include "threshold/key_event.h"
#include "threshold/key_event_messages.h"
#include "threshold/messages.h"

using namespace mpc;
using namespace mpc::threshold;
using mpc::threshold::testing::EcdsaEnvelope;
using mpc::threshold::testing::EcdsaRun;

namespace {

// Separates the records of an input (fuzz/ecdsa_message_seeds.cc writes it too).
constexpr std::uint8_t kSplit[] = {0xEC, 0xD5, 0xA5, 0x5A};
constexpr std::size_t kMaxRecords = 32;
// Between the fixtures' ids (1, 4, 7, ...): no member of any set.
constexpr std::uint64_t kOutsider = 2;

// ---- decoding ----

void check_refusal(core::ByteView bytes, const core::Error& error) {
  const bool body = bytes.size() >= kEcdsaHeaderSize && bytes[0] == kEcdsaWireVersion && bytes[1] >= 32 && bytes[1] <= 36;
  const std::string prefix =
      body ? std::string(ecdsa_message_type_name(static_cast<EcdsaMessageType>(bytes[1]))) + ": " : "ecdsa message: ";
  fuzz::check_refusal(error, prefix);
}

void check_accepted(core::ByteView bytes, const EcdsaMessage& message) {
  MPC_FUZZ_CHECK(bytes.size() <= kMaxEcdsaMessageSize);
  MPC_FUZZ_CHECK(static_cast<std::uint8_t>(ecdsa_message_type(message)) == bytes[1]);
  const SessionId& session = ecdsa_message_session(message);
  MPC_FUZZ_CHECK(std::equal(session.begin(), session.end(), bytes.begin() + 2));
  if (const auto* m = std::get_if<PresignRequestMessage>(&message)) {
    MPC_FUZZ_CHECK(m->participants.size() >= 3 && m->participants.size() <= kMaxEcdsaParticipants);
    MPC_FUZZ_CHECK(std::adjacent_find(m->participants.begin(), m->participants.end(),
                                      [](std::uint64_t a, std::uint64_t b) { return a >= b; }) == m->participants.end());
  }
  MPC_FUZZ_CHECK(is_ecdsa_message(bytes));
  auto routed = ecdsa_session_of(bytes);
  MPC_FUZZ_CHECK(routed.has_value() && *routed == session);
  // The families' type bytes are disjoint: no other decoder takes it.
  MPC_FUZZ_CHECK(!decode_key_event_message(bytes).has_value());
  MPC_FUZZ_CHECK(!decode_message(bytes).has_value());
  fuzz::check_encodes_to(encode_ecdsa_message(message), bytes);
}

void check_routing(core::ByteView bytes) {
  const bool ecdsa = is_ecdsa_message(bytes);
  MPC_FUZZ_CHECK(ecdsa == (bytes.size() >= 2 && bytes[0] == kEcdsaWireVersion && bytes[1] >= 32 && bytes[1] <= 36));
  if (ecdsa) MPC_FUZZ_CHECK(!is_key_event_message(bytes) && !key_event_session_of(bytes).has_value());
  // Signing messages (threshold/messages.h: types 1..5) never route here.
  if (bytes.size() >= 2 && bytes[0] == kWireVersion && bytes[1] >= 1 && bytes[1] <= 5) MPC_FUZZ_CHECK(!ecdsa);
  auto session = ecdsa_session_of(bytes);
  MPC_FUZZ_CHECK(session.has_value() == (ecdsa && bytes.size() >= kEcdsaHeaderSize));
  if (session) MPC_FUZZ_CHECK(std::equal(session->begin(), session->end(), bytes.begin() + 2));
}

void check_decoding(core::ByteView bytes) {
  auto decoded = decode_ecdsa_message(bytes);
  if (decoded) {
    check_accepted(bytes, *decoded);
  } else {
    check_refusal(bytes, decoded.error());
  }
  check_routing(bytes);
}

// ---- the input's records ----

struct Record {
  std::size_t sender = 1;
  std::optional<std::size_t> position;  // nullopt: the lone message's default
  bool before_start = false;
  core::ByteView payload;
};

std::vector<Record> split(core::ByteView bytes) {
  std::vector<core::ByteView> parts;
  auto from = bytes.begin();
  while (parts.size() < kMaxRecords) {
    auto at = std::search(from, bytes.end(), std::begin(kSplit), std::end(kSplit));
    parts.emplace_back(from, at);
    if (at == bytes.end()) break;
    from = at + sizeof(kSplit);
  }
  std::vector<Record> records;
  if (parts.size() == 1) {
    records.push_back(Record{1, std::nullopt, false, parts[0]});
    return records;
  }
  for (core::ByteView part : parts) {
    if (part.empty()) continue;
    const std::uint8_t control = part[0];
    records.push_back(Record{static_cast<std::size_t>(control & 7), static_cast<std::size_t>((control >> 3) & 15),
                             (control & 0x80) != 0, part.subspan(1)});
  }
  return records;
}

// ---- the fixtures ----

struct Fixture {
  EcdsaRun run;
  std::uint64_t victim = 0;                  // ids[0]: presigns and coordinates
  std::vector<EcdsaEnvelope> to_victim;      // the honest presigning messages it receives, in order
  std::vector<core::Bytes> victim_sent;      // what it sends in the honest run, in order
  core::SecretBytes victim_presignature;     // its honest presignature (encode_presignature)
};

std::vector<Fixture>* fixtures = nullptr;

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "ecdsa_message fuzz set-up: %s\n", what.c_str());
  std::abort();
}

std::uint64_t sender_of(const EcdsaRun& run, std::size_t selector) {
  const std::size_t n = run.ids.size();
  if (selector < n) return run.ids[selector];
  if (selector == n) return kOutsider;
  return run.ids[1 + selector % (n - 1)];
}

bool is_member(const EcdsaRun& run, std::uint64_t id) { return std::ranges::find(run.ids, id) != run.ids.end(); }

// Delivers the records due just before honest message i of `count` (i =
// count: after the last). With `presigning`, records marked before_start
// were delivered before start() already.
template <class DefaultPosition, class Deliver>
void deliver_records_at(const std::vector<Record>& records, std::size_t i, std::size_t count, bool presigning,
                        const DefaultPosition& default_position, const Deliver& deliver) {
  for (const Record& r : records) {
    if (presigning && r.before_start) continue;
    const std::size_t p = r.position ? *r.position : default_position(r);
    if (p % (count + 1) == i) deliver(r);
  }
}

// ---- presigning ----

struct PresignState {
  bool done = false;
  std::optional<std::string> failure;
  std::optional<std::uint64_t> blamed;
  std::vector<std::uint64_t> waiting_for;
  bool operator==(const PresignState&) const = default;
};

PresignState state_of(const PresignSession& s) { return {s.done(), s.failure(), s.blamed(), s.waiting_for()}; }

void check_state(const EcdsaRun& run, const PresignState& s) {
  MPC_FUZZ_CHECK(!(s.done && s.failure));
  if (s.failure) MPC_FUZZ_CHECK(s.failure->starts_with("ecdsa presign failed: "));
  if (s.blamed) MPC_FUZZ_CHECK(s.failure && is_member(run, *s.blamed));
  if (s.done || s.failure) MPC_FUZZ_CHECK(s.waiting_for.empty());
  for (std::uint64_t id : s.waiting_for) MPC_FUZZ_CHECK(is_member(run, id));
}

struct PresignOutcome {
  std::vector<core::Bytes> sent;
  std::optional<Presignature> output;
  bool accepted_any = false;
  bool only_honest = true;  // every accepted record is its sender's honest message to the victim
};

PresignOutcome replay_presign(const Fixture& fx, const std::vector<Record>& records) {
  const EcdsaRun& run = fx.run;
  testing::TestRandom own(testing::ecdsa_presign_seed(run.seed, fx.victim));
  auto created = PresignSession::create(testing::ecdsa_presign_setup(run, fx.victim), own.source());
  MPC_FUZZ_CHECK(created.has_value());
  PresignSession& session = *created;
  PresignOutcome outcome;

  auto take_sent = [&](std::vector<Outgoing> out, bool from_start) {
    for (Outgoing& o : out) {
      auto m = decode_ecdsa_message(o.payload);
      MPC_FUZZ_CHECK(m.has_value() && ecdsa_message_session(*m) == run.presign_session);
      const EcdsaMessageType type = ecdsa_message_type(*m);
      if (o.to) {
        MPC_FUZZ_CHECK(from_start && type == EcdsaMessageType::kPresignShares);
        MPC_FUZZ_CHECK(is_member(run, *o.to) && *o.to != fx.victim);
      } else {
        MPC_FUZZ_CHECK(type == EcdsaMessageType::kPresignOpen || type == EcdsaMessageType::kPresignW);
      }
      outcome.sent.push_back(std::move(o.payload));
    }
  };
  auto deliver_record = [&](const Record& r) {
    const std::uint64_t from = sender_of(run, r.sender);
    const PresignState before = state_of(session);
    auto result = session.on_message(from, r.payload);
    const PresignState after = state_of(session);
    check_state(run, after);
    if (!result) {
      fuzz::check_refusal(result.error(), "ecdsa presign: message from participant " + std::to_string(from) + " ");
      MPC_FUZZ_CHECK(after == before);
      return;
    }
    MPC_FUZZ_CHECK(!before.done && !before.failure);
    MPC_FUZZ_CHECK(is_member(run, from) && from != fx.victim);
    auto m = decode_ecdsa_message(r.payload);
    MPC_FUZZ_CHECK(m.has_value() && ecdsa_message_session(*m) == run.presign_session);
    const EcdsaMessageType type = ecdsa_message_type(*m);
    MPC_FUZZ_CHECK(type == EcdsaMessageType::kPresignShares || type == EcdsaMessageType::kPresignOpen ||
                   type == EcdsaMessageType::kPresignW);
    outcome.accepted_any = true;
    const bool honest = std::ranges::any_of(fx.to_victim, [&](const EcdsaEnvelope& e) {
      return e.from == from && std::ranges::equal(e.payload, r.payload);
    });
    if (!honest) outcome.only_honest = false;
    take_sent(std::move(*result), false);
  };
  const auto default_position = [&](const Record& r) -> std::size_t {
    // Just before the honest message of ids[1] with the same type byte.
    const std::uint64_t from = run.ids[1];
    for (std::size_t i = 0; i < fx.to_victim.size(); ++i) {
      const auto& e = fx.to_victim[i];
      if (e.from == from && r.payload.size() >= 2 && e.payload[1] == r.payload[1]) return i;
    }
    return 0;
  };

  for (const Record& r : records) {
    if (r.before_start) deliver_record(r);
  }
  check_state(run, state_of(session));
  take_sent(session.start(), true);
  const std::size_t count = fx.to_victim.size();
  for (std::size_t i = 0; i <= count; ++i) {
    deliver_records_at(records, i, count, true, default_position, deliver_record);
    if (i == count) break;
    const EcdsaEnvelope& e = fx.to_victim[i];
    const PresignState before = state_of(session);
    auto result = session.on_message(e.from, e.payload);
    check_state(run, state_of(session));
    if (!outcome.accepted_any) MPC_FUZZ_CHECK(result.has_value());
    if (result) {
      take_sent(std::move(*result), false);
    } else {
      MPC_FUZZ_CHECK(state_of(session) == before);
    }
  }
  // After the end (done or failed) nothing more is accepted.
  if (session.done() || session.failure()) {
    const PresignState before = state_of(session);
    MPC_FUZZ_CHECK(!session.on_message(fx.to_victim.back().from, fx.to_victim.back().payload).has_value());
    MPC_FUZZ_CHECK(state_of(session) == before);
  }
  outcome.output = session.take_output();
  MPC_FUZZ_CHECK(outcome.output.has_value() == session.done());
  MPC_FUZZ_CHECK(!session.take_output().has_value());
  if (outcome.output) {
    const Presignature& p = *outcome.output;
    MPC_FUZZ_CHECK(p.participants == run.ids && p.threshold == run.threshold && p.self == fx.victim);
    const Curve& c = Curve::of(KeyCurve::kSecp256k1);
    MPC_FUZZ_CHECK(c.decode_point(p.big_r).has_value());
  }
  return outcome;
}

// ---- signing ----

struct SignState {
  std::vector<std::uint64_t> waiting_for;
  std::optional<std::string> failure;
  bool operator==(const SignState&) const = default;
};

// A returned signature: recovers the independently derived key; with the
// run's R it is the run's signature.
// (The run's signature recovered it when the run was made.)
void check_signature(const Fixture& fx, const Presignature& presignature, const EcdsaSignature& sig) {
  if (sig == fx.run.signature) return;
  MPC_FUZZ_CHECK(presignature.big_r != fx.run.presignatures.at(fx.victim).big_r);
  MPC_FUZZ_CHECK(testing::ecdsa_signature_recovers(sig, fx.run.request.msg_hash, fx.run.derived_key));
}

// The coordinator from `presignature`, fed `records` among the honest shares.
// Returns true when it returned a signature.
bool replay_sign(const Fixture& fx, const Presignature& presignature, const std::vector<Record>& records) {
  const EcdsaRun& run = fx.run;
  auto created = EcdsaSignCoordinator::create(presignature, run.request);
  MPC_FUZZ_CHECK(created.has_value());
  EcdsaSignCoordinator& coordinator = *created;
  auto derived = core::secp256k1_decompress(coordinator.derived_public_key());
  MPC_FUZZ_CHECK(derived.has_value() && *derived == run.derived_key);

  bool accepted_any = false;
  bool only_honest = true;
  std::optional<EcdsaSignature> signature;
  bool ended = false;
  auto state = [&] { return SignState{coordinator.waiting_for(), coordinator.failure()}; };
  // Delivers; returns whether it was accepted.
  auto deliver = [&](std::uint64_t from, core::ByteView payload) {
    const SignState before = state();
    auto result = coordinator.on_message(from, payload);
    const SignState after = state();
    if (!result && after == before) {  // refused
      fuzz::check_refusal(result.error(), "ecdsa sign: share from participant " + std::to_string(from) + " ");
      return false;
    }
    // Accepted: a SignShare of this session from another signer, before the end.
    MPC_FUZZ_CHECK(!ended && !before.failure);
    MPC_FUZZ_CHECK(is_member(run, from) && from != fx.victim);
    auto m = decode_ecdsa_message(payload);
    MPC_FUZZ_CHECK(m.has_value() && std::holds_alternative<SignShareMessage>(*m) &&
                   ecdsa_message_session(*m) == run.request.session);
    if (!result) {  // the last share, and the combination failed
      MPC_FUZZ_CHECK(after.failure.has_value() && result.error().message == *after.failure);
      fuzz::check_refusal(result.error(), "ecdsa sign failed: ");
      MPC_FUZZ_CHECK(after.waiting_for.empty());
      ended = true;
    } else if (*result) {
      MPC_FUZZ_CHECK(!after.failure && after.waiting_for.empty());
      check_signature(fx, presignature, **result);
      signature = **result;
      ended = true;
    } else {
      MPC_FUZZ_CHECK(!after.failure && after.waiting_for.size() + 1 == before.waiting_for.size());
    }
    return true;
  };

  const auto& honest = run.sign_shares;
  const auto default_position = [](const Record&) -> std::size_t { return 0; };
  for (std::size_t i = 0; i <= honest.size(); ++i) {
    deliver_records_at(records, i, honest.size(), false, default_position, [&](const Record& r) {
      const std::uint64_t from = sender_of(run, r.sender);
      if (!deliver(from, r.payload)) return;
      accepted_any = true;
      const bool is_honest = std::ranges::any_of(honest, [&](const auto& h) {
        return h.first == from && std::ranges::equal(h.second, r.payload);
      });
      if (!is_honest) only_honest = false;
    });
    if (i == honest.size()) break;
    const bool accepted = deliver(honest[i].first, honest[i].second);
    if (!accepted_any) MPC_FUZZ_CHECK(accepted);
  }
  if (ended) MPC_FUZZ_CHECK(!deliver(honest.front().first, honest.front().second));
  const bool honest_presignature =
      std::ranges::equal(core::ByteView(encode_presignature(presignature).view()), fx.victim_presignature.view());
  if (only_honest && honest_presignature) MPC_FUZZ_CHECK(signature.has_value());
  return signature.has_value();
}

Fixture make_fixture(std::size_t n) {
  auto run = testing::ecdsa_fixture_run(n);
  if (!run) setup_failed(run.error().message);
  Fixture fx;
  fx.run = std::move(*run);
  fx.victim = fx.run.ids.front();
  for (const EcdsaEnvelope& e : fx.run.delivered) {
    if (e.to == fx.victim) fx.to_victim.push_back(e);
  }
  // The victim replayed alone must be the victim of the run.
  fx.victim_presignature = encode_presignature(fx.run.presignatures.at(fx.victim));
  PresignOutcome honest = replay_presign(fx, {});
  if (!honest.output) setup_failed("the victim's replay did not finish");
  if (!std::ranges::equal(core::ByteView(encode_presignature(*honest.output).view()), fx.victim_presignature.view())) {
    setup_failed("the victim's replay ended with another presignature than in the run");
  }
  fx.victim_sent = std::move(honest.sent);
  return fx;
}

const Fixture& fixture_for(const std::vector<Record>& records) {
  for (const Record& r : records) {
    auto session = ecdsa_session_of(r.payload);
    if (!session) continue;
    for (const Fixture& fx : *fixtures) {
      if (*session == fx.run.presign_session || *session == fx.run.request.session) return fx;
    }
    break;
  }
  return fixtures->front();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  fixtures = new std::vector<Fixture>();
  fixtures->push_back(make_fixture(3));
  fixtures->push_back(make_fixture(5));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::ByteView bytes(data, size);
  check_decoding(bytes);
  const std::vector<Record> records = split(bytes);
  if (records.size() != 1 || records[0].payload.size() != size) {
    for (const Record& r : records) check_decoding(r.payload);
  }

  const Fixture& fx = fixture_for(records);
  PresignOutcome presign = replay_presign(fx, records);
  if (presign.only_honest) {
    MPC_FUZZ_CHECK(presign.sent == fx.victim_sent);
    MPC_FUZZ_CHECK(presign.output.has_value());
  }
  replay_sign(fx, fx.run.presignatures.at(fx.victim), records);
  if (presign.output) {
    const bool same = std::ranges::equal(core::ByteView(encode_presignature(*presign.output).view()),
                                         fx.victim_presignature.view());
    if (presign.only_honest) MPC_FUZZ_CHECK(same);
    if (!same) replay_sign(fx, *presign.output, {});
  }
  return 0;
}
