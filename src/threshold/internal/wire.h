// What the binary message codecs of this module share (messages.cc: the
// signing messages, key_event_messages.cc: the key event messages):
// little-endian integers, a bounds-checked reader and a writer.
//
// Every refusal is kInvalidArgument "<type>: <what>", <type> the message
// type being decoded (the Reader's), and names the field; the texts are part
// of the codecs' contract (tests and fuzz targets check them).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/bytes.h"
#include "core/result.h"

namespace mpc::threshold::internal {

// "<type>: <message>".
std::string prefixed(const char* type, const std::string& message);

// The low `width` (at most 8) bytes of `v`, least significant first, at `out`.
void put_le(std::uint64_t v, std::size_t width, std::uint8_t* out);
// `b` (at most 8 bytes) read as a little-endian integer.
std::uint64_t get_le(core::ByteView b);

// Reads a message body front to back; every read is bounds-checked and an
// error names the message type and the field.
class Reader {
 public:
  Reader(core::ByteView data, const char* type) : data_(data), type_(type) {}

  const char* type() const { return type_; }
  std::size_t left() const { return data_.size() - pos_; }

  core::Result<core::ByteView> take(std::size_t n, const char* field);
  template <std::size_t N>
  core::Result<std::array<std::uint8_t, N>> fixed(const char* field) {
    MPC_ASSIGN(core::ByteView b, take(N, field));
    std::array<std::uint8_t, N> out;
    std::copy(b.begin(), b.end(), out.begin());
    return out;
  }
  // A little-endian integer of `width` (1..8) bytes.
  core::Result<std::uint64_t> uint(std::size_t width, const char* field);
  // A `width`-byte length, checked against `limit` before anything is read,
  // then that many bytes.
  core::Result<core::ByteView> sized(std::size_t width, std::size_t limit, const char* field);
  // A u8 count in [min, max].
  core::Result<std::size_t> count(std::size_t min, std::size_t max, const char* field);
  // A u8 count in [min, max] whose `item_size`-byte items fit in what is
  // left (so that nothing is reserved for items that are not there).
  core::Result<std::size_t> fitting_count(std::size_t min, std::size_t max, std::size_t item_size, const char* field);
  // Fails unless everything has been read.
  core::Status finish() const;

  // The refusal of `field` for the reason `why` (a decoder's own check).
  std::unexpected<core::Error> refuse(const char* field, const std::string& why) const;

 private:
  core::ByteView data_;
  std::size_t pos_ = 0;
  const char* type_;
};

// Appends a message front to back.
class Writer {
 public:
  void bytes(core::ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // The low `width` (at most 8) bytes of `v`, little-endian.
  void uint(std::uint64_t v, std::size_t width);
  core::Bytes take() { return std::move(out_); }

 private:
  core::Bytes out_;
};

}  // namespace mpc::threshold::internal
