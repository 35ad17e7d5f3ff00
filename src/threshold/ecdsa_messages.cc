#include "threshold/ecdsa_messages.h"

#include <string>

#include "threshold/internal/wire.h"

namespace mpc::threshold {

using core::ByteView;
using core::Bytes;
using core::invalid;
using core::Result;

namespace {

using internal::Reader;

constexpr const char* kHeaderName = "ecdsa message";

const Curve& secp() { return Curve::of(KeyCurve::kSecp256k1); }

Result<CurvePoint> read_point(Reader& r, const char* field) {
  MPC_ASSIGN(ByteView b, r.take(33, field));
  auto p = secp().decode_point(b);
  if (!p) return r.refuse(field, p.error().message);
  return std::move(*p);
}

Result<CurveScalar> read_scalar(Reader& r, const char* field) {
  MPC_ASSIGN(ByteView b, r.take(kCurveScalarSize, field));
  auto s = secp().decode_scalar(b);
  if (!s) return r.refuse(field, s.error().message);
  return std::move(*s);
}

core::Status check_point(const CurvePoint& p, EcdsaMessageType type, const char* field) {
  auto decoded = secp().decode_point(p);
  if (!decoded) {
    return invalid(internal::prefixed(ecdsa_message_type_name(type), std::string(field) + ": " + decoded.error().message));
  }
  return {};
}

bool known_type(std::uint8_t t) { return t >= 32 && t <= 36; }

core::Status check_participants(const std::vector<std::uint64_t>& ids) {
  if (ids.size() < 3 || ids.size() > kMaxEcdsaParticipants) {
    return invalid(internal::prefixed("PresignRequest", "participants: " + std::to_string(ids.size()) + " is not 3.." +
                                                            std::to_string(kMaxEcdsaParticipants)));
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] <= ids[i - 1]) return invalid(internal::prefixed("PresignRequest", "participants: not strictly ascending"));
  }
  return {};
}

}  // namespace

const char* ecdsa_message_type_name(EcdsaMessageType type) {
  switch (type) {
    case EcdsaMessageType::kPresignShares: return "PresignShares";
    case EcdsaMessageType::kPresignOpen: return "PresignOpen";
    case EcdsaMessageType::kPresignW: return "PresignW";
    case EcdsaMessageType::kSignShare: return "SignShare";
    case EcdsaMessageType::kPresignRequest: return "PresignRequest";
  }
  return "unknown";
}

EcdsaMessageType ecdsa_message_type(const EcdsaMessage& message) {
  switch (message.index()) {
    case 0: return EcdsaMessageType::kPresignShares;
    case 1: return EcdsaMessageType::kPresignOpen;
    case 2: return EcdsaMessageType::kPresignW;
    case 3: return EcdsaMessageType::kSignShare;
    default: return EcdsaMessageType::kPresignRequest;
  }
}

const SessionId& ecdsa_message_session(const EcdsaMessage& message) {
  return std::visit([](const auto& m) -> const SessionId& { return m.session; }, message);
}

Result<Bytes> encode_ecdsa_message(const EcdsaMessage& message) {
  const EcdsaMessageType type = ecdsa_message_type(message);
  // Reserved up front: PresignShares holds secrets, and no reallocation may
  // leave copies of them behind.
  Bytes out;
  out.reserve(kMaxEcdsaMessageSize);
  auto append = [&out](ByteView b) { out.insert(out.end(), b.begin(), b.end()); };
  out.push_back(kEcdsaWireVersion);
  out.push_back(static_cast<std::uint8_t>(type));
  append(ecdsa_message_session(message));
  if (const auto* m = std::get_if<PresignSharesMessage>(&message)) {
    for (const CurveScalar* s : {&m->k, &m->a, &m->b, &m->d, &m->e}) append(s->view());
  } else if (const auto* m = std::get_if<PresignOpenMessage>(&message)) {
    MPC_TRY(check_point(m->big_r, type, "R_i"));
    append(m->big_r);
    append(m->w.view());
  } else if (const auto* m = std::get_if<PresignWMessage>(&message)) {
    MPC_TRY(check_point(m->big_w, type, "W_i"));
    append(m->big_w);
  } else if (const auto* m = std::get_if<PresignRequestMessage>(&message)) {
    MPC_TRY(check_participants(m->participants));
    std::uint8_t word[8];
    internal::put_le(m->epoch_id, 8, word);
    append(ByteView(word, 8));
    internal::put_le(m->domain_id, 8, word);
    append(ByteView(word, 8));
    out.push_back(static_cast<std::uint8_t>(m->participants.size()));
    for (auto id : m->participants) {
      internal::put_le(id, 8, word);
      append(ByteView(word, 8));
    }
  } else {
    append(std::get<SignShareMessage>(message).s.view());
  }
  return out;
}

Result<EcdsaMessage> decode_ecdsa_message(ByteView bytes) {
  Reader header(bytes, kHeaderName);
  MPC_ASSIGN(std::uint64_t version, header.uint(1, "version"));
  if (version != kEcdsaWireVersion) {
    return invalid(internal::prefixed(kHeaderName, "version " + std::to_string(version) + " is not " +
                                                       std::to_string(kEcdsaWireVersion)));
  }
  MPC_ASSIGN(std::uint64_t raw_type, header.uint(1, "type"));
  if (!known_type(static_cast<std::uint8_t>(raw_type))) {
    return invalid(internal::prefixed(kHeaderName, "type " + std::to_string(raw_type) + " is not an ECDSA message type (32..36)"));
  }
  const auto type = static_cast<EcdsaMessageType>(raw_type);
  MPC_ASSIGN(auto session, header.fixed<32>("session id"));
  Reader r(bytes.subspan(kEcdsaHeaderSize), ecdsa_message_type_name(type));
  switch (type) {
    case EcdsaMessageType::kPresignShares: {
      PresignSharesMessage m;
      m.session = session;
      MPC_ASSIGN(m.k, read_scalar(r, "k share"));
      MPC_ASSIGN(m.a, read_scalar(r, "a share"));
      MPC_ASSIGN(m.b, read_scalar(r, "b share"));
      MPC_ASSIGN(m.d, read_scalar(r, "d share"));
      MPC_ASSIGN(m.e, read_scalar(r, "e share"));
      MPC_TRY(r.finish());
      return m;
    }
    case EcdsaMessageType::kPresignOpen: {
      PresignOpenMessage m;
      m.session = session;
      MPC_ASSIGN(m.big_r, read_point(r, "R_i"));
      MPC_ASSIGN(m.w, read_scalar(r, "w_i"));
      MPC_TRY(r.finish());
      return m;
    }
    case EcdsaMessageType::kPresignW: {
      PresignWMessage m;
      m.session = session;
      MPC_ASSIGN(m.big_w, read_point(r, "W_i"));
      MPC_TRY(r.finish());
      return m;
    }
    case EcdsaMessageType::kSignShare: {
      SignShareMessage m;
      m.session = session;
      MPC_ASSIGN(m.s, read_scalar(r, "s_i"));
      MPC_TRY(r.finish());
      return m;
    }
    case EcdsaMessageType::kPresignRequest: {
      PresignRequestMessage m;
      m.session = session;
      MPC_ASSIGN(m.epoch_id, r.uint(8, "epoch id"));
      MPC_ASSIGN(m.domain_id, r.uint(8, "domain id"));
      MPC_ASSIGN(std::size_t count, r.fitting_count(3, kMaxEcdsaParticipants, 8, "participants"));
      m.participants.reserve(count);
      for (std::size_t i = 0; i < count; ++i) {
        MPC_ASSIGN(std::uint64_t id, r.uint(8, "participant id"));
        if (!m.participants.empty() && id <= m.participants.back()) return r.refuse("participants", "not strictly ascending");
        m.participants.push_back(id);
      }
      MPC_TRY(r.finish());
      return m;
    }
  }
  return invalid(internal::prefixed(kHeaderName, "unknown type"));
}

bool is_ecdsa_message(ByteView payload) {
  return payload.size() >= 2 && payload[0] == kEcdsaWireVersion && known_type(payload[1]);
}

std::optional<SessionId> ecdsa_session_of(ByteView payload) {
  if (!is_ecdsa_message(payload) || payload.size() < kEcdsaHeaderSize) return std::nullopt;
  SessionId id;
  std::copy(payload.begin() + 2, payload.begin() + kEcdsaHeaderSize, id.begin());
  return id;
}

}  // namespace mpc::threshold
