#include "near/borsh.h"

#include "core/utf8.h"

namespace mpc::near {

namespace {
std::unexpected<core::Error> truncated(const char* what, std::size_t need, std::size_t have) {
  return core::invalid(std::string("borsh: truncated input reading ") + what + " (need " + std::to_string(need) +
                       " bytes, " + std::to_string(have) + " left)");
}
}  // namespace

core::Result<std::uint64_t> BorshReader::le(int n, const char* what) {
  if (remaining() < static_cast<std::size_t>(n)) return truncated(what, n, remaining());
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(data_[pos_ + i]) << (8 * i);
  pos_ += static_cast<std::size_t>(n);
  return v;
}

core::Result<std::uint8_t> BorshReader::u8(const char* what) {
  MPC_ASSIGN(auto v, le(1, what));
  return static_cast<std::uint8_t>(v);
}
core::Result<std::uint32_t> BorshReader::u32(const char* what) {
  MPC_ASSIGN(auto v, le(4, what));
  return static_cast<std::uint32_t>(v);
}
core::Result<std::uint64_t> BorshReader::u64(const char* what) { return le(8, what); }
core::Result<core::u128> BorshReader::u128(const char* what) {
  MPC_ASSIGN(auto lo, le(8, what));
  MPC_ASSIGN(auto hi, le(8, what));
  return static_cast<core::u128>(hi) << 64 | lo;
}

core::Result<core::ByteView> BorshReader::fixed(std::size_t n, const char* what) {
  if (remaining() < n) return truncated(what, n, remaining());
  auto v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

core::Result<core::Bytes> BorshReader::bytes(const char* what) {
  MPC_ASSIGN(auto n, u32(what));
  MPC_ASSIGN(auto v, fixed(n, what));
  return core::Bytes(v.begin(), v.end());
}

core::Result<std::string> BorshReader::string(const char* what) {
  MPC_ASSIGN(auto n, u32(what));
  MPC_ASSIGN(auto v, fixed(n, what));
  std::string s(v.begin(), v.end());
  // Rust's borsh decodes String with from_utf8: anything else is not a NEAR value.
  if (const std::size_t ok = core::utf8_valid_prefix(s); ok != s.size()) {
    return core::invalid(std::string("borsh: ") + what + " is not valid UTF-8 (invalid byte at offset " + std::to_string(ok) +
                         " of " + std::to_string(s.size()) + ")");
  }
  return s;
}

core::Result<bool> BorshReader::option_tag(const char* what) {
  MPC_ASSIGN(auto tag, u8(what));
  if (tag > 1) return core::invalid(std::string("borsh: invalid Option tag ") + std::to_string(tag) + " in " + what);
  return tag == 1;
}

core::Result<std::uint32_t> BorshReader::count(const char* what, std::size_t min_element_size) {
  MPC_ASSIGN(auto n, u32(what));
  if (min_element_size > 0 && n > remaining() / min_element_size) {
    return core::invalid(std::string("borsh: ") + what + " claims " + std::to_string(n) +
                         " elements but only " + std::to_string(remaining()) + " bytes remain");
  }
  return n;
}

core::Status BorshReader::finish() const {
  if (remaining() != 0) {
    return core::invalid("borsh: " + std::to_string(remaining()) + " trailing bytes after the value");
  }
  return {};
}

}  // namespace mpc::near
