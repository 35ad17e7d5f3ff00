#include "attest/quote.h"

#include <algorithm>
#include <cstring>

#include "attest/checks.h"
#include "core/json_limits.h"

namespace mpc::attest {
namespace {

// A cursor over the quote that refuses to read past its end.
class Reader {
 public:
  explicit Reader(core::ByteView bytes) : bytes_(bytes) {}
  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return bytes_.size() - offset_; }

  core::Status need(std::size_t n, const char* field) const {
    if (n > remaining()) {
      return reject(Check::kQuoteFormat, std::string(field) + " at offset " + std::to_string(offset_) + " needs " +
                                             std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
    }
    return {};
  }
  template <std::size_t N>
  core::Status array(std::array<std::uint8_t, N>& out, const char* field) {
    MPC_TRY(need(N, field));
    std::memcpy(out.data(), bytes_.data() + offset_, N);
    offset_ += N;
    return {};
  }
  core::Status u16(std::uint16_t& out, const char* field) {
    MPC_TRY(need(2, field));
    out = static_cast<std::uint16_t>(bytes_[offset_] | (bytes_[offset_ + 1] << 8));
    offset_ += 2;
    return {};
  }
  core::Status u32(std::uint32_t& out, const char* field) {
    MPC_TRY(need(4, field));
    out = static_cast<std::uint32_t>(bytes_[offset_]) | (static_cast<std::uint32_t>(bytes_[offset_ + 1]) << 8) |
          (static_cast<std::uint32_t>(bytes_[offset_ + 2]) << 16) |
          (static_cast<std::uint32_t>(bytes_[offset_ + 3]) << 24);
    offset_ += 4;
    return {};
  }
  core::Result<core::ByteView> take(std::size_t n, const char* field) {
    MPC_TRY(need(n, field));
    core::ByteView out = bytes_.subspan(offset_, n);
    offset_ += n;
    return out;
  }

 private:
  core::ByteView bytes_;
  std::size_t offset_ = 0;
};

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

core::Status read_td_report(Reader& r, TdReport10& t) {
  MPC_TRY(r.array(t.tee_tcb_svn, "TEE_TCB_SVN"));
  MPC_TRY(r.array(t.mr_seam, "MRSEAM"));
  MPC_TRY(r.array(t.mr_signer_seam, "MRSIGNERSEAM"));
  MPC_TRY(r.array(t.seam_attributes, "SEAMATTRIBUTES"));
  MPC_TRY(r.array(t.td_attributes, "TDATTRIBUTES"));
  MPC_TRY(r.array(t.xfam, "XFAM"));
  MPC_TRY(r.array(t.mr_td, "MRTD"));
  MPC_TRY(r.array(t.mr_config_id, "MRCONFIGID"));
  MPC_TRY(r.array(t.mr_owner, "MROWNER"));
  MPC_TRY(r.array(t.mr_owner_config, "MROWNERCONFIG"));
  MPC_TRY(r.array(t.rt_mr0, "RTMR0"));
  MPC_TRY(r.array(t.rt_mr1, "RTMR1"));
  MPC_TRY(r.array(t.rt_mr2, "RTMR2"));
  MPC_TRY(r.array(t.rt_mr3, "RTMR3"));
  MPC_TRY(r.array(t.report_data, "REPORTDATA"));
  return {};
}

}  // namespace

EnclaveReport parse_enclave_report(const std::array<std::uint8_t, kEnclaveReportSize>& raw) {
  // SGX REPORTBODY: CPUSVN 0..16, MISCSELECT 16..20, reserved 20..48,
  // ATTRIBUTES 48..64, MRENCLAVE 64..96, reserved 96..128, MRSIGNER 128..160,
  // reserved 160..256, ISVPRODID 256..258, ISVSVN 258..260, reserved 260..320,
  // REPORTDATA 320..384.
  EnclaveReport e;
  std::memcpy(e.cpu_svn.data(), raw.data(), 16);
  e.misc_select = le32(raw.data() + 16);
  std::memcpy(e.attributes.data(), raw.data() + 48, 16);
  std::memcpy(e.mr_enclave.data(), raw.data() + 64, 32);
  std::memcpy(e.mr_signer.data(), raw.data() + 128, 32);
  e.isv_prod_id = le16(raw.data() + 256);
  e.isv_svn = le16(raw.data() + 258);
  std::memcpy(e.report_data.data(), raw.data() + 320, 64);
  return e;
}

core::Result<Quote> parse_quote(core::ByteView bytes) {
  if (bytes.size() > kMaxQuoteSize) {
    return reject(Check::kQuoteFormat,
                  "quote of " + std::to_string(bytes.size()) + " bytes is over the limit of " + std::to_string(kMaxQuoteSize));
  }
  Quote q;
  Reader r(bytes);
  MPC_TRY(r.need(kSignedSize, "header and TD report"));
  std::memcpy(q.signed_data.data(), bytes.data(), kSignedSize);

  QuoteHeader& h = q.header;
  MPC_TRY(r.u16(h.version, "version"));
  MPC_TRY(r.u16(h.attestation_key_type, "attestation key type"));
  MPC_TRY(r.u32(h.tee_type, "TEE type"));
  MPC_TRY(r.u16(h.qe_svn, "QE SVN"));
  MPC_TRY(r.u16(h.pce_svn, "PCE SVN"));
  MPC_TRY(r.array(h.qe_vendor_id, "QE vendor id"));
  MPC_TRY(r.array(h.user_data, "user data"));
  if (h.version != kQuoteVersion4) {
    return reject(Check::kQuoteHeader, "quote version " + std::to_string(h.version) + " is not supported (only 4)");
  }
  if (h.tee_type != kTeeTypeTdx) {
    return reject(Check::kQuoteHeader, "TEE type " + std::to_string(h.tee_type) + " is not TDX (0x81)");
  }
  MPC_TRY(read_td_report(r, q.report));

  std::uint32_t signature_data_length = 0;
  MPC_TRY(r.u32(signature_data_length, "signature data length"));
  const std::size_t signature_start = r.offset();
  MPC_TRY(r.need(signature_data_length, "signature data"));

  MPC_TRY(r.array(q.signature, "quote signature"));
  MPC_TRY(r.array(q.attestation_key, "attestation key"));
  std::uint16_t outer_type = 0;
  std::uint32_t outer_size = 0;
  MPC_TRY(r.u16(outer_type, "certification data type"));
  MPC_TRY(r.u32(outer_size, "certification data size"));
  if (outer_type != kCertDataQeReport) {
    return reject(Check::kQuoteFormat, "certification data type " + std::to_string(outer_type) +
                                           " is not 6 (QE report certification data)");
  }
  const std::size_t outer_start = r.offset();
  MPC_TRY(r.need(outer_size, "certification data"));
  MPC_TRY(r.array(q.qe_report_raw, "QE report"));
  q.qe_report = parse_enclave_report(q.qe_report_raw);
  MPC_TRY(r.array(q.qe_report_signature, "QE report signature"));
  std::uint16_t auth_size = 0;
  MPC_TRY(r.u16(auth_size, "QE auth data size"));
  if (auth_size > kMaxQeAuthDataSize) {
    return reject(Check::kQuoteFormat, "QE auth data of " + std::to_string(auth_size) + " bytes is over the limit");
  }
  MPC_ASSIGN(auto auth, r.take(auth_size, "QE auth data"));
  q.qe_auth_data.assign(auth.begin(), auth.end());
  std::uint32_t inner_size = 0;
  MPC_TRY(r.u16(q.certification_type, "PCK certification data type"));
  MPC_TRY(r.u32(inner_size, "PCK certification data size"));
  if (inner_size > kMaxPckChainSize) {
    return reject(Check::kQuoteFormat, "PCK certification data of " + std::to_string(inner_size) + " bytes is over the limit");
  }
  MPC_ASSIGN(auto chain, r.take(inner_size, "PCK certification data"));
  q.pck_chain.assign(chain.begin(), chain.end());

  if (r.offset() - outer_start != outer_size) {
    return reject(Check::kQuoteFormat, "certification data size " + std::to_string(outer_size) + " does not match its content (" +
                                           std::to_string(r.offset() - outer_start) + " bytes)");
  }
  if (r.offset() - signature_start != signature_data_length) {
    return reject(Check::kQuoteFormat, "signature data length " + std::to_string(signature_data_length) +
                                           " does not match its content (" + std::to_string(r.offset() - signature_start) +
                                           " bytes)");
  }
  const auto tail = bytes.subspan(r.offset());
  if (auto it = std::find_if(tail.begin(), tail.end(), [](std::uint8_t b) { return b != 0; }); it != tail.end()) {
    return reject(Check::kQuoteFormat, "non-zero byte at offset " + std::to_string(r.offset() + (it - tail.begin())) +
                                           " after the signature data (only zero padding may follow)");
  }
  return q;
}

core::Result<core::Bytes> parse_quote_text(std::string_view text) {
  core::JsonLimits limits;
  limits.max_bytes = 4 * kMaxQuoteSize;
  limits.max_depth = 1;
  MPC_ASSIGN(auto json, core::parse_json(text, limits));
  core::Bytes out;
  if (json.is_array()) {
    out.reserve(json.size());
    for (std::size_t i = 0; i < json.size(); ++i) {
      const auto& v = json[i];
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 255) {
        return core::invalid("quote: element " + std::to_string(i) + " is not a byte value (0..255)");
      }
      out.push_back(static_cast<std::uint8_t>(v.get<std::uint64_t>()));
    }
  } else if (json.is_string()) {
    auto decoded = core::hex_decode(json.get_ref<const std::string&>());
    if (!decoded) return core::invalid("quote: the string is not hex");
    out = std::move(*decoded);
  } else {
    return core::invalid("quote: expected a JSON array of bytes or a hex string");
  }
  if (out.size() > kMaxQuoteSize) {
    return core::invalid("quote: " + std::to_string(out.size()) + " bytes is over the limit of " + std::to_string(kMaxQuoteSize));
  }
  return out;
}

}  // namespace mpc::attest
