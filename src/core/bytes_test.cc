#include "core/bytes.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <random>
#include <vector>

namespace mpc::core {
namespace {

TEST(Hex, RoundTripsAndAcceptsEitherCase) {
  Bytes b{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b), "0001abff");
  EXPECT_EQ(*hex_decode("0001ABff"), b);
  EXPECT_EQ(*hex_decode(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
  EXPECT_FALSE(hex_decode("ab\n"));
  EXPECT_FALSE(hex_decode("a "));
  EXPECT_NE(hex_decode("0g").error().message.find("position 1"), std::string::npos);
}

TEST(Base58, MatchesKnownVectors) {
  EXPECT_EQ(base58_encode(as_bytes("Hello World!")), "2NEpo7TZRRrLZSi2U");
  EXPECT_EQ(base58_encode(Bytes{0, 0, 1}), "112");
  EXPECT_EQ(base58_encode(Bytes{}), "");
  EXPECT_EQ(to_string(*base58_decode("2NEpo7TZRRrLZSi2U")), "Hello World!");
  EXPECT_EQ(*base58_decode("112"), (Bytes{0, 0, 1}));
}

TEST(Base58, RoundTripsRandomLengths) {
  for (std::size_t n = 0; n < 80; ++n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 97 + n) % (i % 3 == 0 ? 1 : 256));
    EXPECT_EQ(*base58_decode(base58_encode(b)), b) << n;
  }
}

TEST(Base58, RejectsCharactersOutsideTheAlphabet) {
  EXPECT_FALSE(base58_decode("0OIl"));
  EXPECT_FALSE(base58_decode("abc "));
  EXPECT_FALSE(base58_decode(std::string(2000, '2')));
}

TEST(Base64, MatchesRfc4648Vectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(base64_encode(as_bytes(plain[i])), enc[i]);
    EXPECT_EQ(to_string(*base64_decode(enc[i])), plain[i]);
  }
}

// Every encoder this CPU runs (AVX-512 VBMI, 48 bytes a step; AVX2, 24;
// portable) against OpenSSL on random bytes: every length up to 1,000, and
// an answer's size at 1,000 domains.
TEST(Base64, EveryEncoderMatchesOpenSslOnRandomBytes) {
  const unsigned seed = std::random_device{}();
  std::printf("Base64 random bytes: seed %u; encoders:", seed);
  for (const auto& encoder : base64_encoders()) std::printf(" %s", encoder.name);
  std::printf("\n");
  std::mt19937 rng(seed);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 1000; ++n) lengths.push_back(n);
  lengths.push_back(323'892 / 4 * 3 + 1);
  for (const std::size_t n : lengths) {
    Bytes data(n);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    std::string reference(4 * ((n + 2) / 3) + 1, '\0');
    reference.resize(static_cast<std::size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(reference.data()), data.data(), static_cast<int>(n))));
    for (const auto& encoder : base64_encoders()) {
      std::string out(reference.size() + 1, '#');
      char* end = encoder.encode(data, out.data());
      ASSERT_EQ(end, out.data() + reference.size()) << n << " " << encoder.name;
      ASSERT_EQ(out.substr(0, reference.size()), reference) << n << " " << encoder.name << " seed " << seed;
      ASSERT_EQ(out.back(), '#') << "wrote past its end at " << n << " " << encoder.name;
    }
  }
}

TEST(Base64, EveryLengthMatchesOpenSslAndPiecewiseEncodingIsWhole) {
  // Lengths around the 6-byte fast path and the 3-byte tail, every byte
  // value; OpenSSL's EVP_EncodeBlock is the independent reference.
  Bytes data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
  for (std::size_t n = 0; n <= data.size(); ++n) {
    const ByteView in(data.data(), n);
    std::string reference(4 * ((n + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(reference.data()), in.data(), static_cast<int>(n));
    reference.resize(static_cast<std::size_t>(len));
    EXPECT_EQ(base64_encode(in), reference) << n;
    for (const auto& encoder : base64_encoders()) {
      std::string into(reference.size() + 1, '#');
      EXPECT_EQ(encoder.encode(in, into.data()), into.data() + reference.size()) << n << " " << encoder.name;
      EXPECT_EQ(into.substr(0, reference.size()), reference) << n << " " << encoder.name;
      EXPECT_EQ(into.back(), '#') << "wrote past its end at " << n << " " << encoder.name;
    }
    // Groups of 3 bytes at a time, then the rest: the encoding of the whole.
    std::string pieces;
    for (std::size_t at = 0; at < n; at += 9) pieces += base64_encode(in.subspan(at, std::min<std::size_t>(9, n - at)));
    EXPECT_EQ(pieces, reference) << n;
  }
}

TEST(Base64, IsStrict) {
  EXPECT_FALSE(base64_decode("Zg"));        // missing padding
  EXPECT_FALSE(base64_decode("Zh=="));      // non-zero trailing bits
  EXPECT_FALSE(base64_decode("Zm9v\n"));    // whitespace
  EXPECT_FALSE(base64_decode("Zm=v"));      // data after padding
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // padding in the middle
  EXPECT_FALSE(base64_decode("Zm9-"));      // url-safe alphabet
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal(Bytes{1, 2}, Bytes{1, 2}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2}, Bytes{1, 3}));
  EXPECT_FALSE(constant_time_equal(Bytes{1, 2}, Bytes{1}));
}

}  // namespace
}  // namespace mpc::core

#include "core/u128.h"

namespace mpc::core {
namespace {

TEST(U128, RoundTripsDecimalTextUpToTheMaximum) {
  EXPECT_EQ(u128_to_string(0), "0");
  EXPECT_EQ(*parse_u128("1000000000000000000000000"), static_cast<u128>(1000000000000000000ull) * 1000000);
  const std::string max = "340282366920938463463374607431768211455";
  EXPECT_EQ(u128_to_string(*parse_u128(max)), max);
  EXPECT_FALSE(parse_u128("340282366920938463463374607431768211456"));
  EXPECT_FALSE(parse_u128("-1"));
  EXPECT_FALSE(parse_u128(""));
  EXPECT_FALSE(parse_u128("1e3"));
}

}  // namespace
}  // namespace mpc::core
