// The P2P frame decoder (p2p/wire.h) on a byte stream a hostile peer
// controls, cut into reads of varying sizes (the first input byte picks
// the cut points).
//
// Properties: no crash; every error is one of wire.h's reasons and is
// final; every frame honours its type's size rule (HELLO 18, PING/PONG 8,
// MESSAGE <= max_payload) and only HELLO comes first; the decoder never
// holds more than one frame and one read; and re-encoding the frames
// returned gives back exactly the bytes they were decoded from.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "p2p/wire.h"

using namespace mpc;
using namespace mpc::p2p;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  constexpr std::size_t kMaxPayload = 256;
  constexpr std::size_t kMaxRead = 64;
  const std::uint8_t cut_seed = data[0];
  const core::ByteView stream(data + 1, size - 1);

  wire::FrameDecoder decoder(kMaxPayload);
  core::Bytes reencoded;
  bool hello_seen = false;
  std::size_t fed = 0;
  while (fed < stream.size()) {
    const std::size_t n = std::min<std::size_t>(stream.size() - fed, 1 + (cut_seed * 31u + fed) % kMaxRead);
    decoder.feed(stream.subspan(fed, n));
    fed += n;
    for (;;) {
      auto next = decoder.next();
      if (!next) {
        const auto reason = next.error().reason;
        MPC_FUZZ_CHECK(reason == wire::kUnknownFrameType || reason == wire::kOversizedFrame || reason == wire::kBadFrame ||
                       reason == wire::kExpectedHello || reason == wire::kUnexpectedHello);
        MPC_FUZZ_CHECK(!decoder.next());  // final
        return 0;
      }
      if (!*next) break;
      const wire::Frame& frame = **next;
      switch (frame.type) {
        case wire::FrameType::kHello:
          MPC_FUZZ_CHECK(!hello_seen && frame.payload.size() == wire::kHelloSize);
          MPC_FUZZ_CHECK(wire::encode_hello(*wire::decode_hello(frame.payload)) ==
                         wire::encode_frame(frame.type, frame.payload));
          hello_seen = true;
          decoder.expect_hello(false);
          break;
        case wire::FrameType::kPing:
        case wire::FrameType::kPong:
          MPC_FUZZ_CHECK(hello_seen && frame.payload.size() == wire::kPingSize && wire::decode_nonce(frame.payload));
          break;
        case wire::FrameType::kMessage:
          MPC_FUZZ_CHECK(hello_seen && frame.payload.size() <= kMaxPayload);
          break;
        default:
          MPC_FUZZ_CHECK(false && "a frame of an unknown type was returned");
      }
      const auto bytes = wire::encode_frame(frame.type, frame.payload);
      reencoded.insert(reencoded.end(), bytes.begin(), bytes.end());
    }
    MPC_FUZZ_CHECK(decoder.buffered() < wire::kHeaderSize + kMaxPayload + kMaxRead);
  }
  const std::size_t consumed = fed - decoder.buffered();
  MPC_FUZZ_CHECK(reencoded.size() == consumed);
  MPC_FUZZ_CHECK(std::equal(reencoded.begin(), reencoded.end(), stream.begin()));
  return 0;
}
