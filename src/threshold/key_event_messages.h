// The messages of a key event (key_event.h) and their binary encoding.
//
// Wire format, version 1 (integers little-endian; scalars and points in the
// curve's encoding, curve.h):
//   u8 version (= 1) | u8 type (16..20) | session id (32) | u8 curve (0 Ed25519, 1 secp256k1) | body
//   type 16 Commitments: u8 count (2..64) | count x point (the dealer's
//                        coefficient commitments a_k·G, k = 0..count-1) |
//                        u8 proof (0: none, 1: follows) | [R point | z scalar]
//   type 17 Share:       scalar (the dealer's polynomial at the receiver's x; secret)
//   type 18 Echo:        u8 count (1..64) | count x 32-byte digest (one per dealer) |
//                        u8 complaints (0..63) | complaints x u64 dealer id (strictly ascending)
//   type 19 Reveal:      u8 count (1..63) | count x (u64 participant id | scalar),
//                        ids strictly ascending
//   type 20 Confirm:     32-byte digest
// Signing messages (messages.h) share the version byte and use types 1..5,
// so the type byte alone tells the two families apart
// (is_key_event_message). Nothing may follow the body. Decoding checks
// sizes, counts, order, canonical scalars and valid points (curve.h
// decode_point: never the identity) and refuses anything else with
// kInvalidArgument naming the message type and the field ("key event
// message ..." for the header); it never reads past the input and never
// allocates more than a small multiple of the input's size. The encoding is
// canonical: what decodes re-encodes to exactly its input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/secret.h"
#include "threshold/curve.h"
#include "threshold/messages.h"  // SessionId, kWireVersion

namespace mpc::threshold {

inline constexpr std::uint8_t kKeyEventWireVersion = kWireVersion;
inline constexpr std::size_t kMaxKeyEventParticipants = 64;
inline constexpr std::size_t kKeyEventHeaderSize = 2 + 32 + 1;
inline constexpr std::size_t kKeyEventDigestSize = 32;
// The largest valid encoding (an Echo with everything at its limit; a full
// Commitments message with a proof is smaller).
inline constexpr std::size_t kMaxKeyEventMessageSize =
    kKeyEventHeaderSize + 1 + kMaxKeyEventParticipants * kKeyEventDigestSize + 1 + 8 * (kMaxKeyEventParticipants - 1);

enum class KeyEventMessageType : std::uint8_t {
  kCommitments = 16,
  kShare = 17,
  kEcho = 18,
  kReveal = 19,
  kConfirm = 20,
};
const char* key_event_message_type_name(KeyEventMessageType type);

using KeyEventDigest = std::array<std::uint8_t, kKeyEventDigestSize>;

// Schnorr proof of knowledge of a_0 (keygen): R = k·G, z = k + c·a_0.
struct ProofOfKnowledge {
  CurvePoint r;
  CurveScalar z;
  bool operator==(const ProofOfKnowledge&) const = default;
};

// Dealer -> everyone: commitments to its polynomial's coefficients.
struct CommitmentsMessage {
  SessionId session{};
  KeyCurve curve = KeyCurve::kEd25519;
  std::vector<CurvePoint> coefficients;  // a_0·G first
  std::optional<ProofOfKnowledge> proof;  // keygen only
  bool operator==(const CommitmentsMessage&) const = default;
};

// Dealer -> one participant, privately: its share of the dealer's polynomial.
struct ShareMessage {
  SessionId session{};
  KeyCurve curve = KeyCurve::kEd25519;
  CurveScalar share;
  bool operator==(const ShareMessage&) const = default;
};

// Everyone -> everyone: one digest per dealer of what it received from that
// dealer publicly, and the dealers whose private share did not verify.
struct EchoMessage {
  SessionId session{};
  KeyCurve curve = KeyCurve::kEd25519;
  std::vector<KeyEventDigest> digests;  // dealer order
  std::vector<std::uint64_t> complaints;  // dealer ids, strictly ascending
  bool operator==(const EchoMessage&) const = default;
};

struct RevealEntry {
  std::uint64_t participant = 0;
  CurveScalar share;  // public once revealed
  bool operator==(const RevealEntry&) const = default;
};
// Accused dealer -> everyone: the shares of every participant that
// complained against it.
struct RevealMessage {
  SessionId session{};
  KeyCurve curve = KeyCurve::kEd25519;
  std::vector<RevealEntry> entries;  // ascending participant id
  bool operator==(const RevealMessage&) const = default;
};

// Everyone -> everyone: the digest of the complaints, the answers and the
// resulting set of excluded dealers.
struct ConfirmMessage {
  SessionId session{};
  KeyCurve curve = KeyCurve::kEd25519;
  KeyEventDigest digest{};
  bool operator==(const ConfirmMessage&) const = default;
};

using KeyEventMessage = std::variant<CommitmentsMessage, ShareMessage, EchoMessage, RevealMessage, ConfirmMessage>;

KeyEventMessageType key_event_message_type(const KeyEventMessage& message);
const SessionId& key_event_message_session(const KeyEventMessage& message);
KeyCurve key_event_message_curve(const KeyEventMessage& message);

// Fails (kInvalidArgument) when the value would not decode (counts, order,
// point encodings of the message's curve).
core::Result<core::Bytes> encode_key_event_message(const KeyEventMessage& message);
// Never crashes, never reads out of bounds; kInvalidArgument on anything
// malformed (fuzz entry point).
core::Result<KeyEventMessage> decode_key_event_message(core::ByteView bytes);

}  // namespace mpc::threshold
