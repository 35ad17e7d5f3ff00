#include "attest/collateral.h"

#include <algorithm>
#include <ctime>

#include "attest/checks.h"
#include "core/json_limits.h"

namespace mpc::attest {
namespace {

using nlohmann::json;

// Bounds on the signed documents (real ones are ~6 KB and ~0.5 KB).
constexpr std::size_t kMaxSignedJsonSize = 256 * 1024;
constexpr std::size_t kMaxLevels = 256;
constexpr std::size_t kMaxAdvisories = 256;
constexpr std::size_t kMaxModuleIdentities = 64;

// Typed access to the fields of one JSON document, every error naming the
// field and carrying the document's check.
class Fields {
 public:
  explicit Fields(Check check) : check_(check) {}

  std::unexpected<core::Error> bad(const std::string& path, const std::string& what) const {
    return reject(check_, path + " " + what);
  }
  core::Result<const json*> member(const json& obj, const std::string& path, const char* key, bool required = true) const {
    if (!obj.is_object()) return bad(path, "is not an object");
    auto it = obj.find(key);
    if (it == obj.end() || (it->is_null() && !required)) {
      if (required) return bad(path + "." + key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  core::Result<std::string> string(const json& obj, const std::string& path, const char* key) const {
    MPC_ASSIGN(const json* v, member(obj, path, key));
    if (!v->is_string()) return bad(path + "." + key, "is not a string");
    return v->get<std::string>();
  }
  core::Result<std::uint64_t> uint(const json& obj, const std::string& path, const char* key, std::uint64_t max) const {
    MPC_ASSIGN(const json* v, member(obj, path, key));
    if (!v->is_number_unsigned() || v->get<std::uint64_t>() > max) {
      return bad(path + "." + key, "is not an integer in 0.." + std::to_string(max));
    }
    return v->get<std::uint64_t>();
  }
  template <std::size_t N>
  core::Result<std::array<std::uint8_t, N>> hex(const json& obj, const std::string& path, const char* key) const {
    MPC_ASSIGN(auto text, string(obj, path, key));
    auto bytes = core::hex_decode(text);
    if (!bytes || bytes->size() != N) return bad(path + "." + key, "is not " + std::to_string(N) + " bytes of hex");
    std::array<std::uint8_t, N> out{};
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
  }
  core::Result<std::int64_t> time(const json& obj, const std::string& path, const char* key) const {
    MPC_ASSIGN(auto text, string(obj, path, key));
    auto t = parse_utc_time(text);
    if (!t) return bad(path + "." + key, "is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)");
    return *t;
  }
  core::Result<const json*> array(const json& obj, const std::string& path, const char* key, std::size_t max,
                                  bool required = true) const {
    MPC_ASSIGN(const json* v, member(obj, path, key, required));
    if (v == nullptr) return nullptr;
    if (!v->is_array()) return bad(path + "." + key, "is not an array");
    if (v->size() > max) return bad(path + "." + key, "has more than " + std::to_string(max) + " entries");
    return v;
  }
  // {"tcbStatus": "...", "advisoryIDs": [...]} of a level.
  core::Result<TcbStatusWithAdvisory> status(const json& level, const std::string& path) const {
    TcbStatusWithAdvisory s;
    MPC_ASSIGN(auto text, string(level, path, "tcbStatus"));
    auto parsed = parse_tcb_status(text);
    if (!parsed) return bad(path + ".tcbStatus", "is not a known TCB status");
    s.status = *parsed;
    MPC_ASSIGN(const json* ids, array(level, path, "advisoryIDs", kMaxAdvisories, /*required=*/false));
    if (ids != nullptr) {
      for (const auto& id : *ids) {
        if (!id.is_string()) return bad(path + ".advisoryIDs", "holds a non-string");
        s.advisory_ids.push_back(id.get<std::string>());
      }
    }
    return s;
  }
  // 16 {"svn": n} components.
  core::Result<std::array<std::uint8_t, 16>> components(const json& tcb, const std::string& path, const char* key) const {
    MPC_ASSIGN(const json* list, array(tcb, path, key, 16));
    if (list->size() != 16) return bad(path + "." + key, "does not hold 16 components");
    std::array<std::uint8_t, 16> out{};
    for (std::size_t i = 0; i < 16; ++i) {
      MPC_ASSIGN(auto svn, uint((*list)[i], path + "." + key + "[" + std::to_string(i) + "]", "svn", 255));
      out[i] = static_cast<std::uint8_t>(svn);
    }
    return out;
  }

 private:
  Check check_;
};

core::Result<json> parse_document(std::string_view text, Check check, const char* what) {
  core::JsonLimits limits;
  limits.max_bytes = kMaxSignedJsonSize;
  limits.max_depth = 8;
  auto parsed = core::parse_json(text, limits);
  if (!parsed) return reject(check, std::string(what) + " is not valid JSON: " + parsed.error().message);
  if (!parsed->is_object()) return reject(check, std::string(what) + " is not a JSON object");
  return std::move(*parsed);
}

// A text field of the collateral, trailing NULs dropped.
core::Result<std::string> collateral_text(const json& obj, const char* key, bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return reject(Check::kCollateralFormat, std::string(key) + " is missing");
    return std::string();
  }
  if (!it->is_string()) return reject(Check::kCollateralFormat, std::string(key) + " is not a string");
  std::string s = it->get<std::string>();
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

// A byte field: hex string or array of byte values.
core::Result<core::Bytes> collateral_bytes(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return reject(Check::kCollateralFormat, std::string(key) + " is missing");
  if (it->is_string()) {
    auto bytes = core::hex_decode(it->get_ref<const std::string&>());
    if (!bytes) return reject(Check::kCollateralFormat, std::string(key) + " is not hex");
    return std::move(*bytes);
  }
  if (it->is_array()) {
    core::Bytes out;
    out.reserve(it->size());
    for (const auto& v : *it) {
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 255) {
        return reject(Check::kCollateralFormat, std::string(key) + " holds a value that is not a byte");
      }
      out.push_back(static_cast<std::uint8_t>(v.get<std::uint64_t>()));
    }
    return out;
  }
  return reject(Check::kCollateralFormat, std::string(key) + " is neither hex nor an array of bytes");
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

core::Result<Collateral> parse_collateral(std::string_view json_text) {
  core::JsonLimits limits;
  limits.max_bytes = kMaxCollateralSize;
  limits.max_depth = 2;
  auto parsed = core::parse_json(json_text, limits);
  if (!parsed) return reject(Check::kCollateralFormat, parsed.error().message);
  if (!parsed->is_object()) return reject(Check::kCollateralFormat, "not a JSON object");
  const json& o = *parsed;
  Collateral c;
  MPC_ASSIGN(c.pck_crl_issuer_chain, collateral_text(o, "pck_crl_issuer_chain", true));
  MPC_ASSIGN(c.root_ca_crl, collateral_bytes(o, "root_ca_crl"));
  MPC_ASSIGN(c.pck_crl, collateral_bytes(o, "pck_crl"));
  MPC_ASSIGN(c.tcb_info_issuer_chain, collateral_text(o, "tcb_info_issuer_chain", true));
  MPC_ASSIGN(c.tcb_info, collateral_text(o, "tcb_info", true));
  MPC_ASSIGN(c.tcb_info_signature, collateral_bytes(o, "tcb_info_signature"));
  MPC_ASSIGN(c.qe_identity_issuer_chain, collateral_text(o, "qe_identity_issuer_chain", true));
  MPC_ASSIGN(c.qe_identity, collateral_text(o, "qe_identity", true));
  MPC_ASSIGN(c.qe_identity_signature, collateral_bytes(o, "qe_identity_signature"));
  if (auto it = o.find("pck_certificate_chain"); it != o.end() && !it->is_null()) {
    MPC_ASSIGN(auto chain, collateral_text(o, "pck_certificate_chain", true));
    c.pck_certificate_chain = std::move(chain);
  }
  return c;
}

std::string_view tcb_status_name(TcbStatus status) {
  switch (status) {
    case TcbStatus::kUpToDate: return "UpToDate";
    case TcbStatus::kSWHardeningNeeded: return "SWHardeningNeeded";
    case TcbStatus::kConfigurationNeeded: return "ConfigurationNeeded";
    case TcbStatus::kConfigurationAndSWHardeningNeeded: return "ConfigurationAndSWHardeningNeeded";
    case TcbStatus::kOutOfDate: return "OutOfDate";
    case TcbStatus::kOutOfDateConfigurationNeeded: return "OutOfDateConfigurationNeeded";
    case TcbStatus::kRevoked: return "Revoked";
  }
  return "Unknown";
}

std::optional<TcbStatus> parse_tcb_status(std::string_view text) {
  for (auto s : {TcbStatus::kUpToDate, TcbStatus::kSWHardeningNeeded, TcbStatus::kConfigurationNeeded,
                 TcbStatus::kConfigurationAndSWHardeningNeeded, TcbStatus::kOutOfDate,
                 TcbStatus::kOutOfDateConfigurationNeeded, TcbStatus::kRevoked}) {
    if (text == tcb_status_name(s)) return s;
  }
  return std::nullopt;
}

TcbStatusWithAdvisory TcbStatusWithAdvisory::merge(const TcbStatusWithAdvisory& other) const {
  TcbStatusWithAdvisory out = *this;
  if (static_cast<int>(other.status) > static_cast<int>(status)) out.status = other.status;
  for (const auto& id : other.advisory_ids) {
    if (std::find(out.advisory_ids.begin(), out.advisory_ids.end(), id) == out.advisory_ids.end()) {
      out.advisory_ids.push_back(id);
    }
  }
  return out;
}

core::Result<TcbInfo> parse_tcb_info(std::string_view json_text) {
  MPC_ASSIGN(json doc, parse_document(json_text, Check::kTcbInfoFormat, "tcb info"));
  const Fields f(Check::kTcbInfoFormat);
  TcbInfo t;
  MPC_ASSIGN(t.id, f.string(doc, "tcbInfo", "id"));
  MPC_ASSIGN(auto version, f.uint(doc, "tcbInfo", "version", 0xffffffff));
  t.version = static_cast<std::uint32_t>(version);
  MPC_ASSIGN(t.issue_date, f.time(doc, "tcbInfo", "issueDate"));
  MPC_ASSIGN(t.next_update, f.time(doc, "tcbInfo", "nextUpdate"));
  MPC_ASSIGN(t.fmspc, f.hex<6>(doc, "tcbInfo", "fmspc"));
  MPC_ASSIGN(t.pce_id, f.hex<2>(doc, "tcbInfo", "pceId"));
  MPC_ASSIGN(auto tcb_type, f.uint(doc, "tcbInfo", "tcbType", 0xffffffff));
  t.tcb_type = static_cast<std::uint32_t>(tcb_type);
  MPC_ASSIGN(auto eval, f.uint(doc, "tcbInfo", "tcbEvaluationDataNumber", 0xffffffff));
  t.tcb_evaluation_data_number = static_cast<std::uint32_t>(eval);

  MPC_ASSIGN(const json* module, f.member(doc, "tcbInfo", "tdxModule", /*required=*/false));
  if (module != nullptr) {
    t.has_tdx_module = true;
    MPC_ASSIGN(t.tdx_module_mrsigner, f.hex<48>(*module, "tcbInfo.tdxModule", "mrsigner"));
    MPC_ASSIGN(t.tdx_module_attributes, f.hex<8>(*module, "tcbInfo.tdxModule", "attributes"));
    MPC_ASSIGN(t.tdx_module_attributes_mask, f.hex<8>(*module, "tcbInfo.tdxModule", "attributesMask"));
  }
  MPC_ASSIGN(const json* identities,
             f.array(doc, "tcbInfo", "tdxModuleIdentities", kMaxModuleIdentities, /*required=*/false));
  if (identities != nullptr) {
    for (std::size_t i = 0; i < identities->size(); ++i) {
      const json& e = (*identities)[i];
      const std::string path = "tcbInfo.tdxModuleIdentities[" + std::to_string(i) + "]";
      TdxModuleIdentity id;
      MPC_ASSIGN(id.id, f.string(e, path, "id"));
      MPC_ASSIGN(id.mrsigner, f.hex<48>(e, path, "mrsigner"));
      MPC_ASSIGN(id.attributes, f.hex<8>(e, path, "attributes"));
      MPC_ASSIGN(id.attributes_mask, f.hex<8>(e, path, "attributesMask"));
      MPC_ASSIGN(const json* levels, f.array(e, path, "tcbLevels", kMaxLevels));
      for (std::size_t j = 0; j < levels->size(); ++j) {
        const std::string lpath = path + ".tcbLevels[" + std::to_string(j) + "]";
        TdxModuleTcbLevel level;
        MPC_ASSIGN(const json* tcb, f.member((*levels)[j], lpath, "tcb"));
        MPC_ASSIGN(auto isvsvn, f.uint(*tcb, lpath + ".tcb", "isvsvn", 255));
        level.isv_svn = static_cast<std::uint8_t>(isvsvn);
        MPC_ASSIGN(level.status, f.status((*levels)[j], lpath));
        id.tcb_levels.push_back(std::move(level));
      }
      t.tdx_module_identities.push_back(std::move(id));
    }
  }

  MPC_ASSIGN(const json* levels, f.array(doc, "tcbInfo", "tcbLevels", kMaxLevels));
  for (std::size_t i = 0; i < levels->size(); ++i) {
    const std::string path = "tcbInfo.tcbLevels[" + std::to_string(i) + "]";
    TcbLevel level;
    MPC_ASSIGN(const json* tcb, f.member((*levels)[i], path, "tcb"));
    MPC_ASSIGN(level.sgx_components, f.components(*tcb, path + ".tcb", "sgxtcbcomponents"));
    MPC_ASSIGN(auto pcesvn, f.uint(*tcb, path + ".tcb", "pcesvn", 0xffff));
    level.pce_svn = static_cast<std::uint16_t>(pcesvn);
    MPC_ASSIGN(level.tdx_components, f.components(*tcb, path + ".tcb", "tdxtcbcomponents"));
    MPC_ASSIGN(level.status, f.status((*levels)[i], path));
    t.tcb_levels.push_back(std::move(level));
  }
  return t;
}

core::Result<QeIdentity> parse_qe_identity(std::string_view json_text) {
  MPC_ASSIGN(json doc, parse_document(json_text, Check::kQeIdentityFormat, "qe identity"));
  const Fields f(Check::kQeIdentityFormat);
  const std::string p = "enclaveIdentity";
  QeIdentity q;
  MPC_ASSIGN(q.id, f.string(doc, p, "id"));
  MPC_ASSIGN(auto version, f.uint(doc, p, "version", 0xffffffff));
  q.version = static_cast<std::uint32_t>(version);
  MPC_ASSIGN(q.issue_date, f.time(doc, p, "issueDate"));
  MPC_ASSIGN(q.next_update, f.time(doc, p, "nextUpdate"));
  MPC_ASSIGN(auto eval, f.uint(doc, p, "tcbEvaluationDataNumber", 0xffffffff));
  q.tcb_evaluation_data_number = static_cast<std::uint32_t>(eval);
  MPC_ASSIGN(q.miscselect, f.hex<4>(doc, p, "miscselect"));
  MPC_ASSIGN(q.miscselect_mask, f.hex<4>(doc, p, "miscselectMask"));
  MPC_ASSIGN(q.attributes, f.hex<16>(doc, p, "attributes"));
  MPC_ASSIGN(q.attributes_mask, f.hex<16>(doc, p, "attributesMask"));
  MPC_ASSIGN(q.mrsigner, f.hex<32>(doc, p, "mrsigner"));
  MPC_ASSIGN(auto prodid, f.uint(doc, p, "isvprodid", 0xffff));
  q.isv_prod_id = static_cast<std::uint16_t>(prodid);
  MPC_ASSIGN(const json* levels, f.array(doc, p, "tcbLevels", kMaxLevels));
  for (std::size_t i = 0; i < levels->size(); ++i) {
    const std::string path = p + ".tcbLevels[" + std::to_string(i) + "]";
    QeTcbLevel level;
    MPC_ASSIGN(const json* tcb, f.member((*levels)[i], path, "tcb"));
    MPC_ASSIGN(auto isvsvn, f.uint(*tcb, path + ".tcb", "isvsvn", 0xffff));
    level.isv_svn = static_cast<std::uint16_t>(isvsvn);
    MPC_ASSIGN(level.status, f.status((*levels)[i], path));
    q.tcb_levels.push_back(std::move(level));
  }
  return q;
}

core::Result<std::int64_t> parse_utc_time(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
    return core::invalid("not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ");
  }
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
    return core::invalid("not a valid UTC time");
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return core::invalid("not a valid UTC time");
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
}

std::string format_utc_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return std::to_string(unix_seconds);
  return buf;
}

}  // namespace mpc::attest
