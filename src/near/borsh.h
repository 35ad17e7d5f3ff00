// Borsh, the binary encoding of NEAR transactions: little-endian integers,
// u32 length prefixes for strings and vectors, u8 enum tags.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "core/u128.h"

namespace mpc::near {

class BorshWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u32(std::uint32_t v) { le(v, 4); }
  void u64(std::uint64_t v) { le(v, 8); }
  void u128(core::u128 v) {
    le(static_cast<std::uint64_t>(v), 8);
    le(static_cast<std::uint64_t>(v >> 64), 8);
  }
  void fixed(core::ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(core::ByteView b) {
    u32(static_cast<std::uint32_t>(b.size()));
    fixed(b);
  }
  void string(std::string_view s) { bytes(core::as_bytes(s)); }
  // Option<T>: writes the 0/1 tag; the caller writes the value when present.
  void option_tag(bool present) { u8(present ? 1 : 0); }
  // Vec<T>: writes the u32 element count; the caller writes the elements.
  void count(std::size_t n) { u32(static_cast<std::uint32_t>(n)); }

  const core::Bytes& data() const { return out_; }
  core::Bytes take() { return std::move(out_); }

 private:
  void le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  core::Bytes out_;
};

// Strict reader over a borrowed buffer (which must outlive it): every read is
// bounds-checked, length prefixes are checked against the remaining bytes
// before anything is allocated, finish() rejects trailing bytes. Errors are
// kInvalidArgument and name the field being read.
class BorshReader {
 public:
  explicit BorshReader(core::ByteView data) : data_(data) {}

  core::Result<std::uint8_t> u8(const char* what);
  core::Result<std::uint32_t> u32(const char* what);
  core::Result<std::uint64_t> u64(const char* what);
  core::Result<core::u128> u128(const char* what);
  core::Result<core::ByteView> fixed(std::size_t n, const char* what);
  core::Result<core::Bytes> bytes(const char* what);      // u32 length + bytes
  // u32 length + strictly valid UTF-8 (as Rust's String): invalid UTF-8 is
  // kInvalidArgument "borsh: <what> is not valid UTF-8 ...".
  core::Result<std::string> string(const char* what);
  template <std::size_t N>
  core::Result<std::array<std::uint8_t, N>> array(const char* what) {
    MPC_ASSIGN(auto v, fixed(N, what));
    std::array<std::uint8_t, N> out;
    std::copy(v.begin(), v.end(), out.begin());
    return out;
  }
  // Option<T> tag: false for 0, true for 1, an error for anything else.
  core::Result<bool> option_tag(const char* what);
  // A u32 element count that cannot claim more elements than bytes remain.
  core::Result<std::uint32_t> count(const char* what, std::size_t min_element_size = 1);
  core::Status finish() const;
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  core::Result<std::uint64_t> le(int n, const char* what);
  core::ByteView data_;
  std::size_t pos_ = 0;
};

}  // namespace mpc::near
