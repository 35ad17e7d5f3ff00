// The messages of a FROST signing session and their binary encoding.
//
// Wire format, version 1 (all integers little-endian):
//   u8 version (= 1) | u8 type | session id (32 bytes) | body
//   type 1 SignRequest:    u32 len | request_context (<= 4 KiB) | u64 domain_id |
//                          u32 len | message (<= 64 KiB) | tweak (32) |
//                          u8 n (2..64) | n x u64 signer id (strictly ascending)
//   type 2 Commitment:     hiding (32) | binding (32) | verifying_share (32)
//   type 3 SigningPackage: u8 n (2..64) | n x (u64 participant id | hiding (32) | binding (32)),
//                          ids strictly ascending
//   type 4 SignatureShare: share (32, canonical scalar)
//   type 5 Abort:          u16 len | reason (<= 256 bytes of UTF-8, no control characters)
// Nothing may follow the body. Decoding checks everything the types promise
// (sizes, order, canonical scalars, valid group elements: see
// frost.h deserialize_element) and refuses anything else with an error naming
// the message type and the field; it never reads past the input nor
// allocates more than the input's size.
//
// Commitment carries the signer's verifying share (its untweaked share·G),
// which the coordinator needs to check each signature share (RFC 9591
// verify_signature_share) and to name a signer whose share is wrong: the
// network's key shares come without a public key package. A signer lying
// about it gains nothing: its share then fails the check (it is named), or,
// if it answers consistently with the lie, the aggregate fails the final
// Ed25519 verification (the session fails without a signature).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "threshold/frost.h"

namespace mpc::threshold {

inline constexpr std::uint8_t kWireVersion = 1;
inline constexpr std::size_t kMaxRequestContextSize = 4 * 1024;
inline constexpr std::size_t kMaxSignMessageSize = 64 * 1024;
inline constexpr std::size_t kMinSigners = 2;  // as the reference (threshold-signatures) requires
inline constexpr std::size_t kMaxSigners = 64;
inline constexpr std::size_t kMaxAbortReasonSize = 256;
inline constexpr std::size_t kHeaderSize = 2 + 32;
// The largest valid encoding (a SignRequest with everything at its limit);
// decode_message refuses longer input before reading it.
inline constexpr std::size_t kMaxEncodedMessageSize =
    kHeaderSize + 4 + kMaxRequestContextSize + 8 + 4 + kMaxSignMessageSize + 32 + 1 + 8 * kMaxSigners;

using SessionId = std::array<std::uint8_t, 32>;
using Tweak = std::array<std::uint8_t, 32>;

enum class MessageType : std::uint8_t {
  kSignRequest = 1,
  kCommitment = 2,
  kSigningPackage = 3,
  kSignatureShare = 4,
  kAbort = 5,
};
const char* message_type_name(MessageType type);

// Leader -> every other signer: what to sign, with whom.
struct SignRequest {
  SessionId session{};
  core::Bytes request_context;  // opaque to this module; the node layer finds the contract request with it
  std::uint64_t domain_id = 0;
  core::Bytes message;          // signed as is
  Tweak tweak{};                // key derivation tweak, little-endian, reduced mod L when used
  std::vector<std::uint64_t> signers;  // participant ids, strictly ascending, leader included
  bool operator==(const SignRequest&) const = default;
};

// Signer -> leader, round one.
struct Commitment {
  SessionId session{};
  Element hiding{};
  Element binding{};
  Element verifying_share{};  // the sender's untweaked share·G
  bool operator==(const Commitment&) const = default;
};

struct PackageEntry {
  std::uint64_t participant_id = 0;
  Element hiding{};
  Element binding{};
  bool operator==(const PackageEntry&) const = default;
};

// Leader -> every other signer, round two: every signer's commitment.
struct SigningPackage {
  SessionId session{};
  std::vector<PackageEntry> commitments;  // ascending participant id
  bool operator==(const SigningPackage&) const = default;
};

// Signer -> leader, round two.
struct SignatureShare {
  SessionId session{};
  Scalar share{};
  bool operator==(const SignatureShare&) const = default;
};

// Either direction: the sender gives up on the session.
struct Abort {
  SessionId session{};
  std::string reason;
  bool operator==(const Abort&) const = default;
};

using Message = std::variant<SignRequest, Commitment, SigningPackage, SignatureShare, Abort>;

MessageType message_type(const Message& message);
const SessionId& session_of(const Message& message);

// The checks decode applies, for values built in memory: sizes, signer
// count and order (SignRequest); entry count and order (SigningPackage);
// reason length and characters (Abort).
core::Status check_sign_request(const SignRequest& request);
core::Status check_signing_package(const SigningPackage& package);
core::Status check_abort(const Abort& abort);

// Fails (kInvalidArgument) when the value would not decode.
core::Result<core::Bytes> encode_message(const Message& message);
// Never crashes, never reads out of bounds; kInvalidArgument on anything
// malformed (fuzz entry point).
core::Result<Message> decode_message(core::ByteView bytes);

// An Abort whose reason is `reason` cut to the limit and with control
// characters and invalid UTF-8 replaced by '?', so that it always encodes.
Abort make_abort(const SessionId& session, std::string_view reason);

}  // namespace mpc::threshold
