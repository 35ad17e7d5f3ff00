#include "threshold/internal/wire.h"

namespace mpc::threshold::internal {

using core::ByteView;
using core::invalid;
using core::Result;
using core::Status;

std::string prefixed(const char* type, const std::string& message) { return std::string(type) + ": " + message; }

void put_le(std::uint64_t v, std::size_t width, std::uint8_t* out) {
  for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(ByteView b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < b.size() && i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return v;
}

Result<ByteView> Reader::take(std::size_t n, const char* field) {
  if (left() < n) {
    return invalid(prefixed(type_, std::string("truncated at ") + field + " (needs " + std::to_string(n) + " bytes, " +
                                       std::to_string(left()) + " left)"));
  }
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<std::uint64_t> Reader::uint(std::size_t width, const char* field) {
  MPC_ASSIGN(ByteView b, take(width, field));
  return get_le(b);
}

Result<ByteView> Reader::sized(std::size_t width, std::size_t limit, const char* field) {
  MPC_ASSIGN(std::uint64_t n, uint(width, field));
  if (n > limit) {
    return invalid(prefixed(type_, std::string(field) + " is " + std::to_string(n) + " bytes, the limit is " +
                                       std::to_string(limit)));
  }
  return take(static_cast<std::size_t>(n), field);
}

Result<std::size_t> Reader::count(std::size_t min, std::size_t max, const char* field) {
  MPC_ASSIGN(std::uint64_t n, uint(1, field));
  if (n < min || n > max) {
    return invalid(prefixed(type_, std::string(field) + " " + std::to_string(n) + " is not between " +
                                       std::to_string(min) + " and " + std::to_string(max)));
  }
  return static_cast<std::size_t>(n);
}

Result<std::size_t> Reader::fitting_count(std::size_t min, std::size_t max, std::size_t item_size,
                                          const char* field) {
  MPC_ASSIGN(std::size_t n, count(min, max, field));
  if (n * item_size > left()) {
    return invalid(prefixed(type_, std::string("truncated: ") + field + " " + std::to_string(n) + " needs " +
                                       std::to_string(n * item_size) + " bytes, " + std::to_string(left()) + " left"));
  }
  return n;
}

Status Reader::finish() const {
  if (left() != 0) return invalid(prefixed(type_, std::to_string(left()) + " unexpected trailing bytes"));
  return {};
}

std::unexpected<core::Error> Reader::refuse(const char* field, const std::string& why) const {
  return invalid(prefixed(type_, std::string(field) + ": " + why));
}

void Writer::uint(std::uint64_t v, std::size_t width) {
  const std::size_t at = out_.size();
  out_.resize(at + width);
  put_le(v, width, out_.data() + at);
}

}  // namespace mpc::threshold::internal
