#include "core/bytes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

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

char* base64_encode_into(ByteView data, char* out) {
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
