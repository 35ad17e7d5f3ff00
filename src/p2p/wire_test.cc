#include "p2p/wire.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

namespace mpc::p2p::wire {
namespace {

core::Bytes header(std::uint32_t length, std::uint8_t type) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), type};
}

core::Bytes concat(std::initializer_list<core::Bytes> parts) {
  core::Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Wire, FramesAreBigEndianLengthThenTypeThenPayload) {
  const core::Bytes payload{'a', 'b', 'c'};
  EXPECT_EQ(encode_frame(FrameType::kMessage, payload), (core::Bytes{0, 0, 0, 3, 0x02, 'a', 'b', 'c'}));
  EXPECT_EQ(encode_ping(0x0102030405060708), (core::Bytes{0, 0, 0, 8, 0x03, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(encode_pong(1), (core::Bytes{0, 0, 0, 8, 0x04, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(encode_hello({1, 2, 0x0A0B}),
            (core::Bytes{0, 0, 0, 18, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B}));
}

TEST(Wire, HelloRoundTripsIncludingIdsAbove2To53) {
  const Hello hello{kProtocolVersion, (std::uint64_t{1} << 60) + 1, 0xFFFFFFFFFFFFFFFF};
  FrameDecoder decoder(kDefaultMaxPayload);
  decoder.feed(encode_hello(hello));
  auto frame = decoder.next();
  ASSERT_TRUE(frame && *frame);
  EXPECT_EQ((*frame)->type, FrameType::kHello);
  auto decoded = decode_hello((*frame)->payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, hello);
}

TEST(Wire, DecoderReassemblesFramesSplitAtEveryByte) {
  const core::Bytes stream = concat({encode_hello({1, 7, 9}), encode_frame(FrameType::kMessage, core::Bytes{1, 2, 3}),
                                     encode_frame(FrameType::kMessage, {}), encode_ping(42), encode_pong(43)});
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder(1024);
    std::vector<Frame> frames;
    auto drain = [&] {
      for (;;) {
        auto f = decoder.next();
        ASSERT_TRUE(f) << f.error().message;
        if (!*f) return;
        if ((*f)->type == FrameType::kHello) decoder.expect_hello(false);
        frames.push_back(std::move(**f));
      }
    };
    decoder.feed(core::ByteView(stream).first(split));
    drain();
    decoder.feed(core::ByteView(stream).subspan(split));
    drain();
    ASSERT_EQ(frames.size(), 5u) << "split at " << split;
    EXPECT_EQ(frames[1].payload, (core::Bytes{1, 2, 3}));
    EXPECT_TRUE(frames[2].payload.empty());
    EXPECT_EQ(frames[3].type, FrameType::kPing);
    EXPECT_EQ(*decode_nonce(frames[4].payload), 43u);
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(Wire, OversizedMessageIsRefusedFromItsHeaderAlone) {
  FrameDecoder decoder(1000);
  decoder.expect_hello(false);
  decoder.feed(header(1001, 0x02));  // no payload byte sent
  auto f = decoder.next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().reason, kOversizedFrame);
  EXPECT_NE(f.error().message.find("1001"), std::string::npos);
  // The decoder stays failed.
  decoder.feed(encode_ping(1));
  EXPECT_FALSE(decoder.next());
}

TEST(Wire, MessageOfExactlyMaxPayloadIsAccepted) {
  FrameDecoder decoder(1000);
  decoder.expect_hello(false);
  decoder.feed(encode_frame(FrameType::kMessage, core::Bytes(1000, 7)));
  auto f = decoder.next();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->payload.size(), 1000u);
}

TEST(Wire, UnknownTypeIsRefused) {
  for (std::uint8_t type : {0x00, 0x05, 0x7F, 0xFF}) {
    FrameDecoder decoder(1000);
    decoder.expect_hello(false);
    decoder.feed(header(0, type));
    auto f = decoder.next();
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().reason, kUnknownFrameType) << int(type);
  }
}

TEST(Wire, ControlFramesOfTheWrongLengthAreRefused) {
  struct Case {
    std::uint8_t type;
    std::uint32_t length;
    bool hello_phase;
  } cases[] = {{0x01, 17, true}, {0x01, 19, true}, {0x01, 0x80000000u, true}, {0x03, 7, false}, {0x04, 9, false}};
  for (const auto& c : cases) {
    FrameDecoder decoder(kDefaultMaxPayload);
    decoder.expect_hello(c.hello_phase);
    decoder.feed(header(c.length, c.type));
    auto f = decoder.next();
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().reason, kBadFrame) << int(c.type) << " " << c.length;
  }
}

TEST(Wire, OnlyHelloBeforeTheHandshakeAndNeverAfter) {
  FrameDecoder first(1000);
  first.feed(encode_frame(FrameType::kMessage, core::Bytes{1}));
  auto f = first.next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().reason, kExpectedHello);

  FrameDecoder later(1000);
  later.expect_hello(false);
  later.feed(encode_hello({}));
  f = later.next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().reason, kUnexpectedHello);
}

TEST(Wire, PayloadDecodersCheckLengths) {
  EXPECT_FALSE(decode_hello(core::Bytes(17)));
  EXPECT_FALSE(decode_nonce(core::Bytes(9)));
  EXPECT_EQ(*decode_nonce(core::Bytes{0, 0, 0, 0, 0, 0, 1, 0}), 256u);
}

TEST(Wire, BufferIsReleasedAfterALargeFrame) {
  FrameDecoder decoder(1 << 20);
  decoder.expect_hello(false);
  decoder.feed(encode_frame(FrameType::kMessage, core::Bytes(1 << 20, 1)));
  EXPECT_GE(decoder.capacity(), std::size_t{1} << 20);
  auto f = decoder.next();
  ASSERT_TRUE(f && *f);
  EXPECT_LT(decoder.capacity(), std::size_t{64} << 10);
}

TEST(Wire, RandomStreamsNeverBufferMoreThanOneFrameAndAChunk) {
  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::printf("RandomStreamsNeverBufferMoreThanOneFrameAndAChunk: seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr std::size_t kMax = 4096, kChunk = 512;
  for (int round = 0; round < 200; ++round) {
    FrameDecoder decoder(kMax);
    decoder.expect_hello(rng() % 2 == 0);
    for (int i = 0; i < 50; ++i) {
      auto room = decoder.prepare(kChunk);
      const std::size_t n = rng() % (kChunk + 1);
      for (std::size_t j = 0; j < n; ++j) room[j] = static_cast<std::uint8_t>(rng() % 8 == 0 ? rng() : rng() % 5);
      decoder.commit(n);
      bool failed = false;
      for (;;) {
        auto f = decoder.next();
        if (!f) {
          failed = true;
          break;
        }
        if (!*f) break;
        EXPECT_LE((*f)->payload.size(), kMax);
      }
      if (failed) break;
      EXPECT_LE(decoder.buffered(), kHeaderSize + kMax + kChunk);
    }
  }
}

}  // namespace
}  // namespace mpc::p2p::wire
