#include "p2p/wire.h"

#include "core/secret.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace mpc::p2p::wire {

namespace {

void put_be(core::Bytes& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

bool known_type(std::uint8_t type) { return type >= 0x01 && type <= 0x04; }

// Buffers larger than this are released once they empty.
constexpr std::size_t kKeepCapacity = 64 * 1024;

}  // namespace

const char* frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kHello: return "hello";
    case FrameType::kMessage: return "message";
    case FrameType::kPing: return "ping";
    case FrameType::kPong: return "pong";
  }
  return "unknown";
}

core::Bytes encode_frame(FrameType type, core::ByteView payload) {
  assert(payload.size() <= kMaxPayloadLimit);
  core::Bytes out;
  out.reserve(kHeaderSize + payload.size());
  put_be(out, payload.size(), 4);
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

core::Bytes encode_hello(const Hello& hello) {
  core::Bytes payload;
  payload.reserve(kHelloSize);
  put_be(payload, hello.version, 2);
  put_be(payload, hello.sender, 8);
  put_be(payload, hello.recipient, 8);
  return encode_frame(FrameType::kHello, payload);
}

namespace {
core::Bytes nonce_frame(FrameType type, std::uint64_t nonce) {
  core::Bytes payload;
  payload.reserve(kPingSize);
  put_be(payload, nonce, 8);
  return encode_frame(type, payload);
}
}  // namespace

core::Bytes encode_ping(std::uint64_t nonce) { return nonce_frame(FrameType::kPing, nonce); }
core::Bytes encode_pong(std::uint64_t nonce) { return nonce_frame(FrameType::kPong, nonce); }

std::expected<Hello, FrameError> decode_hello(core::ByteView payload) {
  if (payload.size() != kHelloSize)
    return std::unexpected(FrameError{kBadFrame, "a HELLO payload is " + std::to_string(kHelloSize) + " bytes, got " +
                                                     std::to_string(payload.size())});
  Hello h;
  h.version = static_cast<std::uint16_t>(get_be(payload.data(), 2));
  h.sender = get_be(payload.data() + 2, 8);
  h.recipient = get_be(payload.data() + 10, 8);
  return h;
}

std::expected<std::uint64_t, FrameError> decode_nonce(core::ByteView payload) {
  if (payload.size() != kPingSize)
    return std::unexpected(FrameError{kBadFrame, "a PING/PONG payload is " + std::to_string(kPingSize) + " bytes, got " +
                                                     std::to_string(payload.size())});
  return get_be(payload.data(), 8);
}

FrameDecoder::FrameDecoder(std::size_t max_payload) : max_payload_(std::min(max_payload, kMaxPayloadLimit)) {}

FrameDecoder::~FrameDecoder() { core::secure_wipe(buf_.data(), buf_.size()); }

std::span<std::uint8_t> FrameDecoder::prepare(std::size_t n) {
  if (start_ > 0) {
    // Move the unconsumed tail to the front.
    const std::size_t left = end_ - start_;
    if (left > 0) std::memmove(buf_.data(), buf_.data() + start_, left);
    // Messages may carry secrets (a key event's private share): no stale copy stays behind.
    core::secure_wipe(buf_.data() + left, end_ - left);
    start_ = 0;
    end_ = left;
  }
  if (buf_.size() < end_ + n) buf_.resize(end_ + n);
  return {buf_.data() + end_, n};
}

void FrameDecoder::commit(std::size_t n) {
  assert(end_ + n <= buf_.size());
  end_ += n;
}

void FrameDecoder::feed(core::ByteView data) {
  auto room = prepare(data.size());
  if (!data.empty()) std::memcpy(room.data(), data.data(), data.size());
  commit(data.size());
}

std::optional<FrameError> FrameDecoder::check_header(std::uint8_t type, std::uint32_t length) const {
  if (!known_type(type)) return FrameError{kUnknownFrameType, "unknown frame type " + std::to_string(type)};
  const auto t = static_cast<FrameType>(type);
  if (expect_hello_ && t != FrameType::kHello)
    return FrameError{kExpectedHello, std::string("expected a HELLO frame first, got ") + frame_type_name(t)};
  if (!expect_hello_ && t == FrameType::kHello) return FrameError{kUnexpectedHello, "a second HELLO frame"};
  switch (t) {
    case FrameType::kHello:
      if (length != kHelloSize)
        return FrameError{kBadFrame, "a HELLO frame of " + std::to_string(length) + " bytes (must be " +
                                         std::to_string(kHelloSize) + ")"};
      break;
    case FrameType::kPing:
    case FrameType::kPong:
      if (length != kPingSize)
        return FrameError{kBadFrame, std::string("a ") + frame_type_name(t) + " frame of " + std::to_string(length) +
                                         " bytes (must be " + std::to_string(kPingSize) + ")"};
      break;
    case FrameType::kMessage:
      if (length > max_payload_)
        return FrameError{kOversizedFrame, "a message of " + std::to_string(length) + " bytes (limit " +
                                               std::to_string(max_payload_) + ")"};
      break;
  }
  return std::nullopt;
}

std::expected<std::optional<Frame>, FrameError> FrameDecoder::next() {
  if (failed_) return std::unexpected(*failed_);
  if (buffered() < kHeaderSize) return std::nullopt;
  const std::uint8_t* p = buf_.data() + start_;
  const auto length = static_cast<std::uint32_t>(get_be(p, 4));
  const std::uint8_t type = p[4];
  if (auto error = check_header(type, length)) {
    failed_ = *error;
    return std::unexpected(*error);
  }
  if (buffered() - kHeaderSize < length) return std::nullopt;
  Frame frame;
  frame.type = static_cast<FrameType>(type);
  frame.payload.assign(p + kHeaderSize, p + kHeaderSize + length);
  core::secure_wipe(buf_.data() + start_ + kHeaderSize, length);  // the payload's only copy is the frame's now
  start_ += kHeaderSize + length;
  if (start_ == end_) {
    start_ = end_ = 0;
    if (buf_.capacity() > kKeepCapacity) core::Bytes().swap(buf_);
  }
  return frame;
}

}  // namespace mpc::p2p::wire
