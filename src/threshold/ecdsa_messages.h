// The messages of threshold ECDSA (ecdsa_presign.h, ecdsa_sign.h) and their
// binary encoding.
//
// Wire format, version 1 (scalars 32 bytes big-endian < n, points 33-byte
// SEC1 compressed, never the point at infinity; curve.h's secp256k1
// encodings):
//   u8 version (= 1) | u8 type (32..36) | session id (32) | body
//   type 32 PresignShares: 5 scalars k, a, b, d, e: the sender's five
//                          polynomials at the receiver's x (secret; sent
//                          privately)
//   type 33 PresignOpen:   point R_i = k_i·G | scalar w_i = a_i·k_i + b_i
//   type 34 PresignW:      point W_i = a_i·R
//   type 35 SignShare:     scalar s_i (to the coordinator only)
//   type 36 PresignRequest: u64 epoch id | u64 domain id | u8 count (3..63)
//                          | count x u64 participant id, strictly ascending:
//                          the initiator asks the others of the set to
//                          presign with it (integers little-endian)
// Signing messages (messages.h) use types 1..5 and key event messages
// (key_event_messages.h) 16..20, all with the same version byte, so the type
// byte alone tells the families apart (is_ecdsa_message). Nothing may follow
// the body. Decoding checks the size, canonical scalars and valid points
// and refuses anything else with kInvalidArgument naming the message type
// and the field ("ecdsa message ..." for the header); it never reads past
// the input and allocates nothing beyond the fixed-size message. The
// encoding is canonical: what decodes re-encodes to exactly its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "threshold/curve.h"
#include "threshold/messages.h"  // SessionId, kWireVersion

namespace mpc::threshold {

inline constexpr std::uint8_t kEcdsaWireVersion = kWireVersion;
inline constexpr std::size_t kEcdsaHeaderSize = 2 + 32;
// The largest presigning (and signing) set: 2T - 1 with T <= 32.
inline constexpr std::size_t kMaxEcdsaParticipants = 63;
// The largest valid encoding (a PresignRequest of 63 participants).
inline constexpr std::size_t kMaxEcdsaMessageSize = kEcdsaHeaderSize + 8 + 8 + 1 + 8 * kMaxEcdsaParticipants;

enum class EcdsaMessageType : std::uint8_t {
  kPresignShares = 32,
  kPresignOpen = 33,
  kPresignW = 34,
  kSignShare = 35,
  kPresignRequest = 36,
};
const char* ecdsa_message_type_name(EcdsaMessageType type);

// Presigning round 1, one participant -> another, privately.
struct PresignSharesMessage {
  SessionId session{};
  CurveScalar k, a, b, d, e;
  bool operator==(const PresignSharesMessage&) const = default;
};
// Presigning round 2, broadcast.
struct PresignOpenMessage {
  SessionId session{};
  CurvePoint big_r;  // R_i
  CurveScalar w;     // w_i
  bool operator==(const PresignOpenMessage&) const = default;
};
// Presigning round 3, broadcast.
struct PresignWMessage {
  SessionId session{};
  CurvePoint big_w;  // W_i
  bool operator==(const PresignWMessage&) const = default;
};
// Signing, participant -> coordinator.
struct SignShareMessage {
  SessionId session{};
  CurveScalar s;
  bool operator==(const SignShareMessage&) const = default;
};

// Presigning set-up: the initiator (the presignature's owner, the only node
// that may later lead a signature with it) -> every other participant of the
// set. Public.
struct PresignRequestMessage {
  SessionId session{};
  std::uint64_t epoch_id = 0;
  std::uint64_t domain_id = 0;
  std::vector<std::uint64_t> participants;  // strictly ascending, 3..63
  bool operator==(const PresignRequestMessage&) const = default;
};

using EcdsaMessage =
    std::variant<PresignSharesMessage, PresignOpenMessage, PresignWMessage, SignShareMessage, PresignRequestMessage>;

EcdsaMessageType ecdsa_message_type(const EcdsaMessage& message);
const SessionId& ecdsa_message_session(const EcdsaMessage& message);

// Fails (kInvalidArgument) when a point is not a valid secp256k1 point
// encoding or a PresignRequest's participants are not 3..63 strictly
// ascending ids (so would not decode).
core::Result<core::Bytes> encode_ecdsa_message(const EcdsaMessage& message);
// Never crashes, never reads out of bounds; kInvalidArgument on anything
// malformed.
core::Result<EcdsaMessage> decode_ecdsa_message(core::ByteView bytes);

// True when `payload` is (by its header) a threshold ECDSA message: the node
// routes on it.
bool is_ecdsa_message(core::ByteView payload);
// The session id an ECDSA message carries (header only; no validation of the
// body), so the node can route it to its session or buffer it.
std::optional<SessionId> ecdsa_session_of(core::ByteView payload);

}  // namespace mpc::threshold
