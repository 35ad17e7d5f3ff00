#include "threshold/messages.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <iostream>
#include <random>

namespace mpc::threshold {
namespace {

using core::Bytes;

Element point(std::uint8_t k) {
  Scalar s{};
  s[0] = k;
  Element e;
  EXPECT_EQ(crypto_scalarmult_ed25519_base_noclamp(e.data(), s.data()), 0);
  return e;
}

SessionId session(std::uint8_t b) {
  SessionId s;
  s.fill(b);
  return s;
}

SignRequest sample_request() {
  SignRequest r;
  r.session = session(7);
  r.request_context = {'c', 't', 'x'};
  r.domain_id = 0x0102030405060708ULL;
  r.message = {'h', 'e', 'l', 'l', 'o'};
  r.tweak.fill(0x11);
  r.signers = {0, 2, 5};
  return r;
}

std::vector<Message> samples() {
  SigningPackage p;
  p.session = session(3);
  p.commitments = {{1, point(1), point(2)}, {4, point(3), point(4)}};
  Scalar share{};
  share[0] = 9;
  share[31] = 0x0f;
  return {sample_request(),
          Commitment{session(2), point(5), point(6), point(7)},
          p,
          SignatureShare{session(4), share},
          Abort{session(5), "deadline passed (é)"}};
}

Bytes encode(const Message& m) {
  auto b = encode_message(m);
  EXPECT_TRUE(b) << b.error().message;
  return b ? *b : Bytes{};
}

std::string decode_error(const Bytes& b) {
  auto m = decode_message(b);
  EXPECT_FALSE(m) << "decoded what it should have refused";
  return m ? "" : m.error().message;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(SigningMessages, EveryTypeRoundTripsExactly) {
  for (const auto& m : samples()) {
    const Bytes b = encode(m);
    EXPECT_EQ(b[0], kWireVersion);
    EXPECT_EQ(b[1], static_cast<std::uint8_t>(message_type(m)));
    auto d = decode_message(b);
    ASSERT_TRUE(d) << message_type_name(message_type(m)) << ": " << d.error().message;
    EXPECT_TRUE(*d == m) << message_type_name(message_type(m));
    EXPECT_EQ(session_of(*d), session_of(m));
  }
}

TEST(SigningMessages, EveryTruncationIsRefusedNamingTheTypeOrHeader) {
  for (const auto& m : samples()) {
    const Bytes b = encode(m);
    for (std::size_t n = 0; n < b.size(); ++n) {
      const std::string e = decode_error(Bytes(b.begin(), b.begin() + n));
      if (n < kHeaderSize) {
        EXPECT_TRUE(has(e, "truncated")) << e;
      } else {
        EXPECT_TRUE(has(e, message_type_name(message_type(m)))) << n << ": " << e;
      }
    }
  }
}

TEST(SigningMessages, TrailingBytesAreRefused) {
  for (const auto& m : samples()) {
    Bytes b = encode(m);
    b.push_back(0);
    EXPECT_TRUE(has(decode_error(b), "trailing")) << message_type_name(message_type(m));
  }
}

TEST(SigningMessages, WrongVersionUnknownTypeAndOversizedInputAreRefused) {
  Bytes b = encode(sample_request());
  b[0] = 2;
  EXPECT_TRUE(has(decode_error(b), "unsupported version 2"));
  b[0] = kWireVersion;
  b[1] = 9;
  EXPECT_TRUE(has(decode_error(b), "unknown type 9"));
  b[1] = 0;
  EXPECT_TRUE(has(decode_error(b), "unknown type 0"));
  EXPECT_TRUE(has(decode_error(Bytes(kMaxEncodedMessageSize + 1, 1)), "limit"));
}

TEST(SigningMessages, ARequestAtEveryLimitEncodesToTheMaximumSizeAndDecodes) {
  SignRequest r = sample_request();
  r.request_context.assign(kMaxRequestContextSize, 0xaa);
  r.message.assign(kMaxSignMessageSize, 0xbb);
  r.signers.clear();
  for (std::uint64_t i = 0; i < kMaxSigners; ++i) r.signers.push_back(i * 3);
  const Bytes b = encode(r);
  EXPECT_EQ(b.size(), kMaxEncodedMessageSize);
  auto d = decode_message(b);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(std::get<SignRequest>(*d) == r);
}

TEST(SigningMessages, OversizedFieldsAreRefusedOnEncodeAndOnDecode) {
  SignRequest big_context = sample_request();
  big_context.request_context.assign(kMaxRequestContextSize + 1, 0);
  auto e1 = encode_message(big_context);
  ASSERT_FALSE(e1);
  EXPECT_TRUE(has(e1.error().message, "request_context is 4097 bytes"));

  SignRequest big_message = sample_request();
  big_message.message.assign(kMaxSignMessageSize + 1, 0);
  EXPECT_FALSE(encode_message(big_message));

  // On the wire: a context length field claiming 4097 bytes (with the bytes there).
  Bytes b = encode(sample_request());
  Bytes forged(b.begin(), b.begin() + kHeaderSize);
  const std::uint32_t len = kMaxRequestContextSize + 1;
  for (int i = 0; i < 4; ++i) forged.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
  forged.insert(forged.end(), len, 0);
  EXPECT_TRUE(has(decode_error(forged), "request_context is 4097 bytes, the limit is 4096"));
  // A length field claiming 4 GiB with nothing behind it.
  Bytes huge(b.begin(), b.begin() + kHeaderSize);
  for (int i = 0; i < 4; ++i) huge.push_back(0xff);
  EXPECT_TRUE(has(decode_error(huge), "limit"));

  Abort long_reason{session(1), std::string(kMaxAbortReasonSize + 1, 'x')};
  EXPECT_FALSE(encode_message(long_reason));
}

TEST(SigningMessages, SignerSetsMustBeAscendingDistinctAndOfTwoToSixtyFour) {
  auto refused = [](std::vector<std::uint64_t> ids, const std::string& why) {
    SignRequest r = sample_request();
    r.signers = std::move(ids);
    auto e = encode_message(r);
    ASSERT_FALSE(e) << why;
    EXPECT_TRUE(has(e.error().message, "SignRequest")) << e.error().message;
    // And the same bytes forged on the wire are refused by decode.
    SignRequest ok = sample_request();
    Bytes b = encode(ok);
    b.resize(b.size() - 1 - 8 * ok.signers.size());
    b.push_back(static_cast<std::uint8_t>(r.signers.size()));
    for (auto id : r.signers) {
      for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(id >> (8 * i)));
    }
    decode_error(b);
  };
  refused({3, 1}, "unsorted");
  refused({1, 1}, "repeated");
  refused({1}, "a single signer");
  refused({}, "no signer");
  std::vector<std::uint64_t> many(kMaxSigners + 1);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = i;
  refused(many, "65 signers");
  refused({1, UINT64_MAX}, "an id without identifier");

  SigningPackage p = std::get<SigningPackage>(samples()[2]);
  std::swap(p.commitments[0], p.commitments[1]);
  auto e = encode_message(p);
  ASSERT_FALSE(e);
  EXPECT_TRUE(has(e.error().message, "not strictly ascending")) << e.error().message;
}

TEST(SigningMessages, InvalidElementsAndNonCanonicalScalarsAreRefusedNamingTheField) {
  Bytes c = encode(samples()[1]);
  Bytes identity = c;
  std::fill(identity.begin() + kHeaderSize + 32, identity.begin() + kHeaderSize + 64, 0);
  identity[kHeaderSize + 32] = 1;
  const std::string e1 = decode_error(identity);
  EXPECT_TRUE(has(e1, "Commitment: binding commitment")) << e1;
  EXPECT_TRUE(has(e1, "identity")) << e1;

  Bytes s = encode(samples()[3]);
  std::fill(s.begin() + kHeaderSize, s.end(), 0xff);
  const std::string e2 = decode_error(s);
  EXPECT_TRUE(has(e2, "SignatureShare: share")) << e2;
  EXPECT_TRUE(has(e2, "not canonical")) << e2;

  Bytes p = encode(samples()[2]);
  p[kHeaderSize + 1 + 8] ^= 0x80;  // the first hiding commitment's first byte
  EXPECT_TRUE(has(decode_error(p), "SigningPackage: hiding commitment"));
}

TEST(SigningMessages, AbortReasonsMustBeUtf8WithoutControlCharacters) {
  EXPECT_FALSE(encode_message(Abort{session(1), "line\nbreak"}));
  EXPECT_FALSE(encode_message(Abort{session(1), std::string("bad \xff utf8")}));
  Bytes b = encode(Abort{session(1), "abc"});
  b.back() = 0x1b;  // ESC
  EXPECT_TRUE(has(decode_error(b), "control character"));
  // make_abort always produces something that encodes.
  Abort a = make_abort(session(1), std::string(1000, '\n') + "\xff");
  EXPECT_EQ(a.reason.size(), kMaxAbortReasonSize);
  EXPECT_TRUE(encode_message(a));
}

// Random mutations of valid encodings: decode never crashes and whatever it
// accepts encodes back to the same bytes.
TEST(SigningMessages, RandomMutationsNeverCrashAndAcceptedInputRoundTrips) {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("MPC_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "seed " << seed << " (MPC_TEST_SEED reproduces)\n";
  std::mt19937_64 rng(seed);
  const auto all = samples();
  int accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes b = encode(all[rng() % all.size()]);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0: b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); break;
        case 1: b.resize(rng() % (b.size() + 1)); break;
        default: b.insert(b.begin() + static_cast<long>(rng() % (b.size() + 1)), static_cast<std::uint8_t>(rng()));
      }
      if (b.empty()) b.push_back(1);
    }
    auto m = decode_message(b);
    if (!m) {
      EXPECT_FALSE(m.error().message.empty());
      continue;
    }
    ++accepted;
    auto again = encode_message(*m);
    ASSERT_TRUE(again) << "seed " << seed;
    EXPECT_EQ(*again, b) << "seed " << seed;
  }
  std::cout << accepted << " of 20000 mutations decoded\n";
}

}  // namespace
}  // namespace mpc::threshold
