#include "threshold/messages.h"

#include <algorithm>
#include <string>

#include "core/utf8.h"
#include "threshold/internal/wire.h"

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

Result<Element> read_element(Reader& r, const char* field) {
  MPC_ASSIGN(ByteView b, r.take(kElementSize, field));
  auto e = deserialize_element(b);
  if (!e) return r.refuse(field, e.error().message);
  return *e;
}

Status check_signer_ids(const std::vector<std::uint64_t>& ids, const char* type, const char* field) {
  if (ids.size() < kMinSigners || ids.size() > kMaxSigners) {
    return invalid(prefixed(type, std::string(field) + " holds " + std::to_string(ids.size()) +
                                      " signers, must be between " + std::to_string(kMinSigners) + " and " +
                                      std::to_string(kMaxSigners)));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == UINT64_MAX) {
      return invalid(prefixed(type, std::string(field) + " holds participant id 2^64-1, which has no identifier"));
    }
    if (i > 0 && ids[i] <= ids[i - 1]) {
      return invalid(prefixed(type, std::string(field) + " is not strictly ascending (" + std::to_string(ids[i]) +
                                        " after " + std::to_string(ids[i - 1]) + ")"));
    }
  }
  return {};
}

std::vector<std::uint64_t> package_ids(const SigningPackage& p) {
  std::vector<std::uint64_t> ids;
  ids.reserve(p.commitments.size());
  for (const auto& e : p.commitments) ids.push_back(e.participant_id);
  return ids;
}

Result<Message> decode_body(MessageType type, const SessionId& session, Reader& r) {
  switch (type) {
    case MessageType::kSignRequest: {
      SignRequest m;
      m.session = session;
      MPC_ASSIGN(ByteView context, r.sized(4, kMaxRequestContextSize, "request_context"));
      m.request_context.assign(context.begin(), context.end());
      MPC_ASSIGN(m.domain_id, r.uint(8, "domain_id"));
      MPC_ASSIGN(ByteView message, r.sized(4, kMaxSignMessageSize, "message"));
      m.message.assign(message.begin(), message.end());
      MPC_ASSIGN(m.tweak, r.fixed<32>("tweak"));
      MPC_ASSIGN(std::size_t n, r.count(kMinSigners, kMaxSigners, "signer count"));
      for (std::size_t i = 0; i < n; ++i) {
        MPC_ASSIGN(std::uint64_t id, r.uint(8, "signer id"));
        m.signers.push_back(id);
      }
      MPC_TRY(r.finish());
      MPC_TRY(check_sign_request(m));
      return m;
    }
    case MessageType::kCommitment: {
      Commitment m;
      m.session = session;
      MPC_ASSIGN(m.hiding, read_element(r, "hiding commitment"));
      MPC_ASSIGN(m.binding, read_element(r, "binding commitment"));
      MPC_ASSIGN(m.verifying_share, read_element(r, "verifying share"));
      MPC_TRY(r.finish());
      return m;
    }
    case MessageType::kSigningPackage: {
      SigningPackage m;
      m.session = session;
      MPC_ASSIGN(std::size_t n, r.count(kMinSigners, kMaxSigners, "commitment count"));
      for (std::size_t i = 0; i < n; ++i) {
        PackageEntry e;
        MPC_ASSIGN(e.participant_id, r.uint(8, "participant id"));
        MPC_ASSIGN(e.hiding, read_element(r, "hiding commitment"));
        MPC_ASSIGN(e.binding, read_element(r, "binding commitment"));
        m.commitments.push_back(e);
      }
      MPC_TRY(r.finish());
      MPC_TRY(check_signing_package(m));
      return m;
    }
    case MessageType::kSignatureShare: {
      SignatureShare m;
      m.session = session;
      MPC_ASSIGN(ByteView share, r.take(kScalarSize, "share"));
      auto s = deserialize_scalar(share);
      if (!s) return r.refuse("share", s.error().message);
      m.share = *s;
      MPC_TRY(r.finish());
      return m;
    }
    case MessageType::kAbort: {
      Abort m;
      m.session = session;
      MPC_ASSIGN(ByteView reason, r.sized(2, kMaxAbortReasonSize, "reason"));
      m.reason.assign(reason.begin(), reason.end());
      MPC_TRY(r.finish());
      MPC_TRY(check_abort(m));
      return m;
    }
  }
  return invalid("unknown message type " + std::to_string(static_cast<int>(type)));
}

}  // namespace

const char* message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kSignRequest: return "SignRequest";
    case MessageType::kCommitment: return "Commitment";
    case MessageType::kSigningPackage: return "SigningPackage";
    case MessageType::kSignatureShare: return "SignatureShare";
    case MessageType::kAbort: return "Abort";
  }
  return "unknown";
}

MessageType message_type(const Message& message) {
  return static_cast<MessageType>(message.index() + 1);  // variant order = wire type - 1
}

const SessionId& session_of(const Message& message) {
  return std::visit([](const auto& m) -> const SessionId& { return m.session; }, message);
}

Status check_sign_request(const SignRequest& m) {
  if (m.request_context.size() > kMaxRequestContextSize) {
    return invalid(prefixed("SignRequest", "request_context is " + std::to_string(m.request_context.size()) +
                                               " bytes, the limit is " + std::to_string(kMaxRequestContextSize)));
  }
  if (m.message.size() > kMaxSignMessageSize) {
    return invalid(prefixed("SignRequest", "message is " + std::to_string(m.message.size()) +
                                               " bytes, the limit is " + std::to_string(kMaxSignMessageSize)));
  }
  return check_signer_ids(m.signers, "SignRequest", "signers");
}

Status check_signing_package(const SigningPackage& m) {
  return check_signer_ids(package_ids(m), "SigningPackage", "commitments");
}

Status check_abort(const Abort& m) {
  if (m.reason.size() > kMaxAbortReasonSize) {
    return invalid(prefixed("Abort", "reason is " + std::to_string(m.reason.size()) + " bytes, the limit is " +
                                         std::to_string(kMaxAbortReasonSize)));
  }
  if (!core::is_valid_utf8(m.reason)) return invalid(prefixed("Abort", "reason is not valid UTF-8"));
  for (unsigned char c : m.reason) {
    if (c < 0x20 || c == 0x7f) return invalid(prefixed("Abort", "reason holds a control character"));
  }
  return {};
}

Result<Bytes> encode_message(const Message& message) {
  Writer w;
  w.uint(kWireVersion, 1);
  w.uint(static_cast<std::uint8_t>(message_type(message)), 1);
  w.bytes(session_of(message));
  if (const auto* m = std::get_if<SignRequest>(&message)) {
    MPC_TRY(check_sign_request(*m));
    w.uint(m->request_context.size(), 4);
    w.bytes(m->request_context);
    w.uint(m->domain_id, 8);
    w.uint(m->message.size(), 4);
    w.bytes(m->message);
    w.bytes(m->tweak);
    w.uint(m->signers.size(), 1);
    for (auto id : m->signers) w.uint(id, 8);
  } else if (const auto* m = std::get_if<Commitment>(&message)) {
    w.bytes(m->hiding);
    w.bytes(m->binding);
    w.bytes(m->verifying_share);
  } else if (const auto* m = std::get_if<SigningPackage>(&message)) {
    MPC_TRY(check_signing_package(*m));
    w.uint(m->commitments.size(), 1);
    for (const auto& e : m->commitments) {
      w.uint(e.participant_id, 8);
      w.bytes(e.hiding);
      w.bytes(e.binding);
    }
  } else if (const auto* m = std::get_if<SignatureShare>(&message)) {
    w.bytes(m->share);
  } else if (const auto* m = std::get_if<Abort>(&message)) {
    MPC_TRY(check_abort(*m));
    w.uint(m->reason.size(), 2);
    w.bytes(core::as_bytes(m->reason));
  }
  return w.take();
}

Result<Message> decode_message(ByteView bytes) {
  if (bytes.size() > kMaxEncodedMessageSize) {
    return invalid("signing message is " + std::to_string(bytes.size()) + " bytes, the limit is " +
                   std::to_string(kMaxEncodedMessageSize));
  }
  if (bytes.size() < kHeaderSize) {
    return invalid("signing message is truncated: " + std::to_string(bytes.size()) + " bytes, the header alone is " +
                   std::to_string(kHeaderSize));
  }
  if (bytes[0] != kWireVersion) {
    return invalid("signing message has unsupported version " + std::to_string(bytes[0]) + " (this build speaks " +
                   std::to_string(kWireVersion) + ")");
  }
  const std::uint8_t type = bytes[1];
  if (type < static_cast<std::uint8_t>(MessageType::kSignRequest) || type > static_cast<std::uint8_t>(MessageType::kAbort)) {
    return invalid("signing message has unknown type " + std::to_string(type));
  }
  SessionId session;
  std::copy(bytes.begin() + 2, bytes.begin() + kHeaderSize, session.begin());
  const auto t = static_cast<MessageType>(type);
  Reader r(bytes.subspan(kHeaderSize), message_type_name(t));
  return decode_body(t, session, r);
}

Abort make_abort(const SessionId& session, std::string_view reason) {
  Abort a;
  a.session = session;
  a.reason.assign(reason.substr(0, kMaxAbortReasonSize));
  for (char& c : a.reason) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return a;
}

}  // namespace mpc::threshold
