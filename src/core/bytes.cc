#include "core/bytes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace mpc::core {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase58Alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base58_value(char c) {
  const char* p = std::find(kBase58Alphabet, kBase58Alphabet + 58, c);
  return p == kBase58Alphabet + 58 ? -1 : static_cast<int>(p - kBase58Alphabet);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string hex_encode(ByteView data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (std::uint8_t b : data) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

Result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return invalid("hex text has an odd number of characters");
  Bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(text[2 * i]);
    int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return invalid("hex text has a non-hex character at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string base58_encode(ByteView data) {
  std::size_t zeros = 0;
  while (zeros < data.size() && data[zeros] == 0) ++zeros;
  // log(256)/log(58) ~ 1.366
  std::vector<std::uint8_t> digits((data.size() - zeros) * 138 / 100 + 1);
  std::size_t length = 0;
  for (std::size_t i = zeros; i < data.size(); ++i) {
    int carry = data[i];
    std::size_t j = 0;
    for (auto it = digits.rbegin(); (carry != 0 || j < length) && it != digits.rend(); ++it, ++j) {
      carry += 256 * (*it);
      *it = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    length = j;
  }
  auto it = digits.begin() + static_cast<std::ptrdiff_t>(digits.size() - length);
  while (it != digits.end() && *it == 0) ++it;
  std::string out(zeros, '1');
  for (; it != digits.end(); ++it) out.push_back(kBase58Alphabet[*it]);
  return out;
}

Result<Bytes> base58_decode(std::string_view text) {
  // Inputs here are keys and hashes; bound the quadratic work.
  if (text.size() > 1024) return invalid("base58 text is too long");
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;
  std::vector<std::uint8_t> bytes((text.size() - zeros) * 733 / 1000 + 1);
  std::size_t length = 0;
  for (std::size_t i = zeros; i < text.size(); ++i) {
    int carry = base58_value(text[i]);
    if (carry < 0) return invalid("base58 text has a character outside the alphabet at position " + std::to_string(i));
    std::size_t j = 0;
    for (auto it = bytes.rbegin(); (carry != 0 || j < length) && it != bytes.rend(); ++it, ++j) {
      carry += 58 * (*it);
      *it = static_cast<std::uint8_t>(carry % 256);
      carry /= 256;
    }
    length = j;
  }
  auto it = bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() - length);
  while (it != bytes.end() && *it == 0) ++it;
  Bytes out(zeros, 0);
  out.insert(out.end(), it, bytes.end());
  return out;
}

namespace {
// Two characters per table lookup: 3 bytes are 2 lookups of 12 bits.
struct Base64Pairs {
  std::array<char, 8192> pairs{};
  constexpr Base64Pairs() {
    for (std::size_t i = 0; i < 4096; ++i) {
      pairs[2 * i] = kBase64Alphabet[i >> 6];
      pairs[2 * i + 1] = kBase64Alphabet[i & 63];
    }
  }
};
constexpr Base64Pairs kBase64Pairs;
}  // namespace

char* base64_encode_into_portable(ByteView data, char* out) {
  const char* pairs = kBase64Pairs.pairs.data();
  const std::uint8_t* in = data.data();
  const std::size_t n = data.size();
  std::size_t i = 0;
  // 6 bytes (read as 8, big-endian) -> 8 characters.
  for (; i + 8 <= n; i += 6, out += 8) {
    std::uint64_t v;
    std::memcpy(&v, in + i, 8);
    v = __builtin_bswap64(v);
    std::memcpy(out, pairs + 2 * ((v >> 52) & 0xfff), 2);
    std::memcpy(out + 2, pairs + 2 * ((v >> 40) & 0xfff), 2);
    std::memcpy(out + 4, pairs + 2 * ((v >> 28) & 0xfff), 2);
    std::memcpy(out + 6, pairs + 2 * ((v >> 16) & 0xfff), 2);
  }
  for (; i + 3 <= n; i += 3, out += 4) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    std::memcpy(out, pairs + 2 * (v >> 12), 2);
    std::memcpy(out + 2, pairs + 2 * (v & 0xfff), 2);
  }
  if (const std::size_t rest = n - i; rest > 0) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | (rest == 2 ? std::uint32_t{in[i + 1]} << 8 : 0);
    std::memcpy(out, pairs + 2 * (v >> 12), 2);
    out[2] = rest == 2 ? pairs[2 * ((v >> 6) & 63) + 1] : '=';
    out[3] = '=';
    out += 4;
  }
  return out;
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
// 24 bytes -> 32 characters per step with AVX2 (W. Mula and D. Lemire,
// "Faster Base64 Encoding and Decoding Using AVX2 Instructions", ACM TWEB
// 2018): each 32-bit lane takes 3 input bytes, multiplies and masks split
// them into four 6-bit indices, and a 16-entry table of offsets turns the
// indices into the alphabet's characters. The rest goes the portable way.
__attribute__((target("avx2"))) char* base64_encode_into_avx2(ByteView data, char* out) {
  const std::uint8_t* in = data.data();
  const std::size_t n = data.size();
  std::size_t i = 0;
  // Bytes s1 s0 s2 s1 of each group in each 32-bit lane (16 bytes read per
  // half, 12 used: the loop stops 28 bytes before the end).
  const __m256i shuffle = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                           1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  const __m256i mask_ac = _mm256_set1_epi32(0x0fc0fc00), mul_ac = _mm256_set1_epi32(0x04000040);
  const __m256i mask_bd = _mm256_set1_epi32(0x003f03f0), mul_bd = _mm256_set1_epi32(0x01000010);
  // Index -> character offset, by class: 0 'a'-26 (26..51), 1-10 '0'-52
  // (52..61), 11 '+'-62, 12 '/'-63, 13 'A' (0..25).
  const __m256i offsets = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,  //
                                           'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
  const __m256i k51 = _mm256_set1_epi8(51), k26 = _mm256_set1_epi8(26), k13 = _mm256_set1_epi8(13);
  for (; i + 28 <= n; i += 24, out += 32) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i + 12));
    __m256i v = _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), shuffle);
    // Indices a, b, c, d of each group as its lane's 4 bytes, in order.
    const __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(v, mask_ac), mul_ac);
    const __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(v, mask_bd), mul_bd);
    const __m256i idx = _mm256_or_si256(ac, bd);
    // Class of each index: 1-12 from saturating idx - 51, 13 for idx < 26, else 0.
    __m256i cls = _mm256_subs_epu8(idx, k51);
    cls = _mm256_or_si256(cls, _mm256_and_si256(_mm256_cmpgt_epi8(k26, idx), k13));
    v = _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, cls));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v);
  }
  return base64_encode_into_portable(ByteView(in + i, n - i), out);
}
}  // namespace

namespace {
// 48 bytes -> 64 characters per step with AVX-512 VBMI (the approach of
// W. Mula and D. Lemire, "Base64 encoding and decoding at almost the speed
// of a memory copy", Software: Practice and Experience 2020): a byte
// permutation puts each 3-byte group s0 s1 s2 into a 32-bit lane as the
// little-endian number s0 s1 s2 (bytes s2, s1, s0, s0); a multishift takes
// from each lane the bytes that start at bits 18, 12, 6 and 0, whose low 6
// bits are the group's four indices in order; a second permutation looks
// them up in the 64-character alphabet (it reads only the low 6 bits).
constexpr std::array<std::uint8_t, 64> kVbmiGroupBytes = [] {
  std::array<std::uint8_t, 64> t{};
  for (std::size_t lane = 0; lane < 16; ++lane) {
    t[4 * lane] = static_cast<std::uint8_t>(3 * lane + 2);
    t[4 * lane + 1] = static_cast<std::uint8_t>(3 * lane + 1);
    t[4 * lane + 2] = static_cast<std::uint8_t>(3 * lane);
    t[4 * lane + 3] = static_cast<std::uint8_t>(3 * lane);
  }
  return t;
}();
// Bit offsets of the indices a, b, c, d of the two lanes of each 64-bit word.
constexpr std::uint64_t kVbmiIndexShifts = 18ULL | 12ULL << 8 | 6ULL << 16 | 0ULL << 24 |  //
                                           50ULL << 32 | 44ULL << 40 | 38ULL << 48 | 32ULL << 56;

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) char* base64_encode_into_avx512vbmi(ByteView data, char* out) {
  const std::uint8_t* in = data.data();
  const std::size_t n = data.size();
  std::size_t i = 0;
  const __m512i group_bytes = _mm512_loadu_si512(kVbmiGroupBytes.data());
  const __m512i shifts = _mm512_set1_epi64(static_cast<long long>(kVbmiIndexShifts));
  const __m512i alphabet = _mm512_loadu_si512(kBase64Alphabet);
  constexpr __mmask64 k48 = (__mmask64{1} << 48) - 1;  // reads exactly the 48 bytes of a step
  // The zero-masking forms, every lane selected: GCC 12's plain forms start
  // from an "undefined" register that -Wmaybe-uninitialized reports.
  constexpr __mmask64 all = ~__mmask64{0};
  for (; i + 48 <= n; i += 48, out += 64) {
    const __m512i v = _mm512_maskz_permutexvar_epi8(all, group_bytes, _mm512_maskz_loadu_epi8(k48, in + i));
    const __m512i idx = _mm512_maskz_multishift_epi64_epi8(all, shifts, v);
    _mm512_storeu_si512(out, _mm512_maskz_permutexvar_epi8(all, idx, alphabet));
  }
  return base64_encode_into_avx2(ByteView(in + i, n - i), out);
}

std::vector<Base64Encoder> available_base64_encoders() {
  std::vector<Base64Encoder> all;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi") &&
      __builtin_cpu_supports("avx2"))
    all.push_back({"avx512vbmi", base64_encode_into_avx512vbmi});
  if (__builtin_cpu_supports("avx2")) all.push_back({"avx2", base64_encode_into_avx2});
  all.push_back({"portable", base64_encode_into_portable});
  return all;
}
}  // namespace
#else
namespace {
std::vector<Base64Encoder> available_base64_encoders() { return {{"portable", base64_encode_into_portable}}; }
}  // namespace
#endif

std::span<const Base64Encoder> base64_encoders() {
  static const std::vector<Base64Encoder> all = available_base64_encoders();
  return all;
}

char* base64_encode_into(ByteView data, char* out) {
  static const auto fastest = base64_encoders().front().encode;
  return fastest(data, out);
}

std::string base64_encode(ByteView data) {
  std::string out((data.size() + 2) / 3 * 4, '\0');
  base64_encode_into(data, out.data());
  return out;
}

Result<Bytes> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return invalid("base64 text length is not a multiple of 4");
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return invalid("base64 text has data after padding");
      v[k] = base64_value(c);
      if (v[k] < 0) return invalid("base64 text has an invalid character at position " + std::to_string(i + k));
    }
    std::uint32_t n = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    if (pad < 2) out.push_back(static_cast<std::uint8_t>(n >> 8));
    if (pad < 1) out.push_back(static_cast<std::uint8_t>(n));
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) {
      return invalid("base64 text has non-zero bits before its padding");
    }
  }
  return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mpc::core
