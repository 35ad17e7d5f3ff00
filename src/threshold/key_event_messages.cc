#include "threshold/key_event_messages.h"

#include <algorithm>
#include <string>

#include "threshold/internal/wire.h"
#include "threshold/key_event.h"

namespace mpc::threshold {

using core::ByteView;
using core::Bytes;
using core::invalid;
using core::Result;
using core::Status;

namespace {

using internal::prefixed;
using internal::Reader;
using internal::Writer;

// A point, then a scalar, of the message's curve (curve.h's encodings).
Result<CurvePoint> read_point(Reader& r, const Curve& curve, const char* field) {
  MPC_ASSIGN(ByteView b, r.take(curve.point_size(), field));
  auto p = curve.decode_point(b);
  if (!p) return r.refuse(field, p.error().message);
  return std::move(*p);
}

Result<CurveScalar> read_scalar(Reader& r, const Curve& curve, const char* field) {
  MPC_ASSIGN(ByteView b, r.take(kCurveScalarSize, field));
  auto s = curve.decode_scalar(b);
  if (!s) return r.refuse(field, s.error().message);
  return std::move(*s);
}

Status check_ascending(const std::vector<std::uint64_t>& ids, const char* type, const char* field) {
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] <= ids[i - 1]) {
      return invalid(prefixed(type, std::string(field) + " are not strictly ascending (" + std::to_string(ids[i]) +
                                        " after " + std::to_string(ids[i - 1]) + ")"));
    }
  }
  return {};
}

// A message of type M with the header's session and curve, its body empty.
template <class M>
M with_header(const SessionId& session, KeyCurve curve) {
  M m;
  m.session = session;
  m.curve = curve;
  return m;
}

Result<KeyEventMessage> decode_body(KeyEventMessageType type, const SessionId& session, KeyCurve curve, Reader& r) {
  const char* name = key_event_message_type_name(type);
  const Curve& c = Curve::of(curve);
  switch (type) {
    case KeyEventMessageType::kCommitments: {
      auto m = with_header<CommitmentsMessage>(session, curve);
      MPC_ASSIGN(std::size_t n, r.fitting_count(2, kMaxKeyEventParticipants, c.point_size(), "commitment count"));
      m.coefficients.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        MPC_ASSIGN(CurvePoint p, read_point(r, c, "coefficient commitment"));
        m.coefficients.push_back(std::move(p));
      }
      MPC_ASSIGN(std::uint64_t has_proof, r.uint(1, "proof flag"));
      if (has_proof > 1) return invalid(prefixed(name, "proof flag " + std::to_string(has_proof) + " is not 0 or 1"));
      if (has_proof == 1) {
        ProofOfKnowledge proof;
        MPC_ASSIGN(proof.r, read_point(r, c, "proof commitment R"));
        MPC_ASSIGN(proof.z, read_scalar(r, c, "proof response z"));
        m.proof = std::move(proof);
      }
      MPC_TRY(r.finish());
      return m;
    }
    case KeyEventMessageType::kShare: {
      auto m = with_header<ShareMessage>(session, curve);
      MPC_ASSIGN(m.share, read_scalar(r, c, "share"));
      MPC_TRY(r.finish());
      return m;
    }
    case KeyEventMessageType::kEcho: {
      auto m = with_header<EchoMessage>(session, curve);
      MPC_ASSIGN(std::size_t n, r.fitting_count(1, kMaxKeyEventParticipants, kKeyEventDigestSize, "digest count"));
      m.digests.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        MPC_ASSIGN(KeyEventDigest d, r.fixed<kKeyEventDigestSize>("digest"));
        m.digests.push_back(d);
      }
      MPC_ASSIGN(std::size_t k, r.fitting_count(0, kMaxKeyEventParticipants - 1, 8, "complaint count"));
      m.complaints.reserve(k);
      for (std::size_t i = 0; i < k; ++i) {
        MPC_ASSIGN(std::uint64_t id, r.uint(8, "complaint dealer id"));
        m.complaints.push_back(id);
      }
      MPC_TRY(r.finish());
      MPC_TRY(check_ascending(m.complaints, name, "complaint dealer ids"));
      return m;
    }
    case KeyEventMessageType::kReveal: {
      auto m = with_header<RevealMessage>(session, curve);
      MPC_ASSIGN(std::size_t n, r.fitting_count(1, kMaxKeyEventParticipants - 1, 8 + kCurveScalarSize, "entry count"));
      m.entries.reserve(n);
      std::vector<std::uint64_t> ids;
      for (std::size_t i = 0; i < n; ++i) {
        RevealEntry e;
        MPC_ASSIGN(e.participant, r.uint(8, "participant id"));
        MPC_ASSIGN(e.share, read_scalar(r, c, "revealed share"));
        ids.push_back(e.participant);
        m.entries.push_back(std::move(e));
      }
      MPC_TRY(r.finish());
      MPC_TRY(check_ascending(ids, name, "participant ids"));
      return m;
    }
    case KeyEventMessageType::kConfirm: {
      auto m = with_header<ConfirmMessage>(session, curve);
      MPC_ASSIGN(m.digest, r.fixed<kKeyEventDigestSize>("digest"));
      MPC_TRY(r.finish());
      return m;
    }
  }
  return invalid("key event message type " + std::to_string(static_cast<int>(type)) + " is unknown");
}

void write_header(Writer& w, KeyEventMessageType type, const SessionId& session, KeyCurve curve) {
  w.uint(kKeyEventWireVersion, 1);
  w.uint(static_cast<std::uint8_t>(type), 1);
  w.bytes(session);
  w.uint(curve == KeyCurve::kEd25519 ? 0 : 1, 1);
}

Status check_point(const Curve& curve, const CurvePoint& p, const char* type, const char* field) {
  auto d = curve.decode_point(p);
  if (!d) return invalid(prefixed(type, std::string(field) + ": " + d.error().message));
  return {};
}

Status check_scalar(const Curve& curve, const CurveScalar& s, const char* type, const char* field) {
  auto d = curve.decode_scalar(s.view());
  if (!d) return invalid(prefixed(type, std::string(field) + ": " + d.error().message));
  return {};
}

bool is_key_event_type(std::uint8_t type) { return type >= 16 && type <= 20; }

}  // namespace

const char* key_event_message_type_name(KeyEventMessageType type) {
  switch (type) {
    case KeyEventMessageType::kCommitments: return "Commitments";
    case KeyEventMessageType::kShare: return "Share";
    case KeyEventMessageType::kEcho: return "Echo";
    case KeyEventMessageType::kReveal: return "Reveal";
    case KeyEventMessageType::kConfirm: return "Confirm";
  }
  return "unknown";
}

KeyEventMessageType key_event_message_type(const KeyEventMessage& message) {
  return static_cast<KeyEventMessageType>(16 + message.index());
}

const SessionId& key_event_message_session(const KeyEventMessage& message) {
  return std::visit([](const auto& m) -> const SessionId& { return m.session; }, message);
}

KeyCurve key_event_message_curve(const KeyEventMessage& message) {
  return std::visit([](const auto& m) { return m.curve; }, message);
}

Result<Bytes> encode_key_event_message(const KeyEventMessage& message) {
  const KeyEventMessageType type = key_event_message_type(message);
  const char* name = key_event_message_type_name(type);
  const Curve& curve = Curve::of(key_event_message_curve(message));
  Writer w;
  write_header(w, type, key_event_message_session(message), curve.id());
  if (const auto* m = std::get_if<CommitmentsMessage>(&message)) {
    if (m->coefficients.size() < 2 || m->coefficients.size() > kMaxKeyEventParticipants) {
      return invalid(prefixed(name, "holds " + std::to_string(m->coefficients.size()) +
                                        " coefficient commitments, must be between 2 and " +
                                        std::to_string(kMaxKeyEventParticipants)));
    }
    w.uint(m->coefficients.size(), 1);
    for (const auto& p : m->coefficients) {
      MPC_TRY(check_point(curve, p, name, "coefficient commitment"));
      w.bytes(p);
    }
    w.uint(m->proof ? 1 : 0, 1);
    if (m->proof) {
      MPC_TRY(check_point(curve, m->proof->r, name, "proof commitment R"));
      MPC_TRY(check_scalar(curve, m->proof->z, name, "proof response z"));
      w.bytes(m->proof->r);
      w.bytes(m->proof->z.view());
    }
  } else if (const auto* m = std::get_if<ShareMessage>(&message)) {
    MPC_TRY(check_scalar(curve, m->share, name, "share"));
    w.bytes(m->share.view());
  } else if (const auto* m = std::get_if<EchoMessage>(&message)) {
    if (m->digests.empty() || m->digests.size() > kMaxKeyEventParticipants) {
      return invalid(prefixed(name, "holds " + std::to_string(m->digests.size()) + " digests, must be between 1 and " +
                                        std::to_string(kMaxKeyEventParticipants)));
    }
    if (m->complaints.size() > kMaxKeyEventParticipants - 1) {
      return invalid(prefixed(name, "holds " + std::to_string(m->complaints.size()) + " complaints, the limit is " +
                                        std::to_string(kMaxKeyEventParticipants - 1)));
    }
    MPC_TRY(check_ascending(m->complaints, name, "complaint dealer ids"));
    w.uint(m->digests.size(), 1);
    for (const auto& d : m->digests) w.bytes(d);
    w.uint(m->complaints.size(), 1);
    for (std::uint64_t id : m->complaints) w.uint(id, 8);
  } else if (const auto* m = std::get_if<RevealMessage>(&message)) {
    if (m->entries.empty() || m->entries.size() > kMaxKeyEventParticipants - 1) {
      return invalid(prefixed(name, "holds " + std::to_string(m->entries.size()) + " entries, must be between 1 and " +
                                        std::to_string(kMaxKeyEventParticipants - 1)));
    }
    std::vector<std::uint64_t> ids;
    for (const auto& e : m->entries) ids.push_back(e.participant);
    MPC_TRY(check_ascending(ids, name, "participant ids"));
    w.uint(m->entries.size(), 1);
    for (const auto& e : m->entries) {
      MPC_TRY(check_scalar(curve, e.share, name, "revealed share"));
      w.uint(e.participant, 8);
      w.bytes(e.share.view());
    }
  } else if (const auto* m = std::get_if<ConfirmMessage>(&message)) {
    w.bytes(m->digest);
  }
  return w.take();
}

Result<KeyEventMessage> decode_key_event_message(ByteView bytes) {
  if (bytes.size() < kKeyEventHeaderSize) {
    return invalid("key event message of " + std::to_string(bytes.size()) + " bytes is shorter than its " +
                   std::to_string(kKeyEventHeaderSize) + "-byte header");
  }
  if (bytes.size() > kMaxKeyEventMessageSize) {
    return invalid("key event message of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                   std::to_string(kMaxKeyEventMessageSize));
  }
  if (bytes[0] != kKeyEventWireVersion) {
    return invalid("key event message version " + std::to_string(bytes[0]) + " is not supported (expected " +
                   std::to_string(kKeyEventWireVersion) + ")");
  }
  if (!is_key_event_type(bytes[1])) {
    return invalid("key event message type " + std::to_string(bytes[1]) + " is unknown");
  }
  if (bytes[34] > 1) return invalid("key event message curve " + std::to_string(bytes[34]) + " is unknown");
  const auto type = static_cast<KeyEventMessageType>(bytes[1]);
  const KeyCurve curve = bytes[34] == 0 ? KeyCurve::kEd25519 : KeyCurve::kSecp256k1;
  SessionId session;
  std::copy(bytes.begin() + 2, bytes.begin() + 34, session.begin());
  Reader r(bytes.subspan(kKeyEventHeaderSize), key_event_message_type_name(type));
  return decode_body(type, session, curve, r);
}

bool is_key_event_message(ByteView payload) {
  return payload.size() >= 2 && payload[0] == kKeyEventWireVersion && is_key_event_type(payload[1]);
}

std::optional<SessionId> key_event_session_of(ByteView payload) {
  if (!is_key_event_message(payload) || payload.size() < 34) return std::nullopt;
  SessionId session;
  std::copy(payload.begin() + 2, payload.begin() + 34, session.begin());
  return session;
}

}  // namespace mpc::threshold
