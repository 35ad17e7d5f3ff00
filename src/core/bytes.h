// Byte buffers and the text encodings the protocol uses.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace mpc::core {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string to_string(ByteView b) { return std::string(b.begin(), b.end()); }

// Lowercase hex. Decoding accepts either case, rejects odd length and any
// non-hex character (whitespace included).
std::string hex_encode(ByteView data);
Result<Bytes> hex_decode(std::string_view text);

// Base58 with the Bitcoin alphabet (as NEAR uses it).
std::string base58_encode(ByteView data);
Result<Bytes> base58_decode(std::string_view text);

// Standard base64 with padding. Decoding is strict: no whitespace, padding
// required, non-zero trailing bits rejected.
std::string base64_encode(ByteView data);
// The same, written to `out` (room for 4 * ceil(size / 3) characters, no
// terminator); returns the end. Encoding whole groups of 3 bytes at a time,
// piece by piece, gives the encoding of the whole.
// The fastest of base64_encoders() (AVX-512 VBMI, 48 bytes per step; AVX2,
// 24; else the portable one).
char* base64_encode_into(ByteView data, char* out);
char* base64_encode_into_portable(ByteView data, char* out);
// The encoders this CPU runs, fastest first, each with the contract of
// base64_encode_into (tests hold every one of them to it).
struct Base64Encoder {
  const char* name;
  char* (*encode)(ByteView data, char* out);
};
std::span<const Base64Encoder> base64_encoders();
Result<Bytes> base64_decode(std::string_view text);

// Constant-time equality for equal-length buffers (false if lengths differ).
bool constant_time_equal(ByteView a, ByteView b);

}  // namespace mpc::core
