// The node-to-node wire protocol: the ONE place it is written down (the
// README's "Node-to-node protocol" section summarises it).
//
// Transport: TLS 1.3 with mutual authentication and reference-compatible
// certificates (tls/tls.h). Each side's identity is the Ed25519 key in its
// certificate, which must be the `tls_public_key` the contract lists for the
// participant (checked by p2p::Mesh, not here).
//
// Frames, in both directions, after the TLS handshake:
//
//   +----------------+---------+---------------------+
//   | length: u32 BE | type:u8 | payload[length]     |
//   +----------------+---------+---------------------+
//
// `length` counts the payload only (not the 5-byte header). Types:
//
//   0x01 HELLO    payload exactly 18 bytes:
//                 version:u16 BE | sender participant id:u64 BE | recipient participant id:u64 BE
//   0x02 MESSAGE  payload 0..max_payload bytes (default 1 MiB): opaque application bytes
//   0x03 PING     payload exactly 8 bytes: nonce:u64 BE
//   0x04 PONG     payload exactly 8 bytes: the nonce of the PING it answers
//
// Handshake: the dialer (the participant with the LOWER id; see
// p2p/peer_set.h) sends HELLO first; the listener checks it (version equal to
// kProtocolVersion, sender = the participant whose key is in the dialer's
// certificate, recipient = its own id) and only then answers with its own
// HELLO, which the dialer checks likewise. Then each side may send MESSAGE,
// PING and PONG frames; a PING is answered by a PONG with the same nonce.
//
// Violations close the connection (no error frame is sent); the reason is
// counted: a header whose type is unknown (unknown_frame_type), a MESSAGE
// longer than max_payload (oversized_frame; decided from the header, before
// any payload is read or allocated), a HELLO/PING/PONG of the wrong length
// (bad_frame), anything but HELLO first (expected_hello), a HELLO after the
// handshake (unexpected_hello).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace mpc::p2p::wire {

inline constexpr std::uint16_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderSize = 5;
inline constexpr std::size_t kHelloSize = 18;
inline constexpr std::size_t kPingSize = 8;
inline constexpr std::size_t kDefaultMaxPayload = std::size_t{1} << 20;
// The largest max_payload a decoder accepts (the u32 length field's range).
inline constexpr std::size_t kMaxPayloadLimit = 0xFFFFFFFFu;

enum class FrameType : std::uint8_t {
  kHello = 0x01,
  kMessage = 0x02,
  kPing = 0x03,
  kPong = 0x04,
};

// "hello", "message", "ping", "pong", or "unknown".
const char* frame_type_name(FrameType type);

struct Frame {
  FrameType type = FrameType::kMessage;
  core::Bytes payload;
};

struct Hello {
  std::uint16_t version = kProtocolVersion;
  std::uint64_t sender = 0;     // the sender's participant id
  std::uint64_t recipient = 0;  // the participant id the sender believes it talks to
  bool operator==(const Hello&) const = default;
};

// Why a byte stream is not a valid frame sequence. `reason` is one of the
// labels named at the top of this file (a static string); `message` says
// what was seen, for logs (never payload bytes).
struct FrameError {
  std::string_view reason;
  std::string message;
};

// Frame reasons (metrics labels).
inline constexpr std::string_view kUnknownFrameType = "unknown_frame_type";
inline constexpr std::string_view kOversizedFrame = "oversized_frame";
inline constexpr std::string_view kBadFrame = "bad_frame";
inline constexpr std::string_view kExpectedHello = "expected_hello";
inline constexpr std::string_view kUnexpectedHello = "unexpected_hello";

// A whole frame: header and payload. REQUIRES payload.size() <= kMaxPayloadLimit.
core::Bytes encode_frame(FrameType type, core::ByteView payload);
core::Bytes encode_hello(const Hello& hello);
core::Bytes encode_ping(std::uint64_t nonce);
core::Bytes encode_pong(std::uint64_t nonce);

// Payload decoders (the payload of a frame the decoder already sized).
std::expected<Hello, FrameError> decode_hello(core::ByteView payload);
std::expected<std::uint64_t, FrameError> decode_nonce(core::ByteView payload);

// Splits a byte stream into frames. Checks every header as soon as its 5
// bytes are in (type, and length against the type and max_payload), so a
// bad or oversized header is refused before its payload is read. Memory: the
// bytes of one incomplete frame plus the last read; the buffer is released
// when it empties after a large frame. After an error the decoder stays
// failed. Not thread-safe (one connection's reader).
class FrameDecoder {
 public:
  // REQUIRES max_payload <= kMaxPayloadLimit.
  explicit FrameDecoder(std::size_t max_payload);
  // Received bytes are wiped as frames are taken out, when the buffer is
  // compacted and on destruction: messages may carry secrets.
  ~FrameDecoder();
  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // While true (the initial state) only a HELLO is accepted.
  void expect_hello(bool expect) { expect_hello_ = expect; }
  bool expecting_hello() const { return expect_hello_; }

  // Room for the next read of up to `n` bytes; commit() what was read.
  std::span<std::uint8_t> prepare(std::size_t n);
  void commit(std::size_t n);
  // Appends `data` (prepare + copy + commit), for tests and fuzzing.
  void feed(core::ByteView data);

  // The next whole frame, nullopt when more bytes are needed, or the error.
  std::expected<std::optional<Frame>, FrameError> next();

  // Bytes received but not yet returned as frames.
  std::size_t buffered() const { return end_ - start_; }
  std::size_t capacity() const { return buf_.capacity(); }
  std::size_t max_payload() const { return max_payload_; }

 private:
  std::optional<FrameError> check_header(std::uint8_t type, std::uint32_t length) const;

  std::size_t max_payload_;
  bool expect_hello_ = true;
  std::optional<FrameError> failed_;
  core::Bytes buf_;
  std::size_t start_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
};

}  // namespace mpc::p2p::wire
