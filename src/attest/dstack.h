// The dstack layer on top of a verified TD report, as the reference checks
// it (near/mpc crates/attestation attestation.rs, mpc-attestation):
//   - RTMR3: dstack's tcb_info.rtmr3 equals the report's, and replaying the
//     event log's IMR 3 events (all of dstack's type 0x08000001; each digest
//     = SHA-384(event_type as u32 LE || ":" || event || ":" || payload), and
//     rtmr = SHA-384(rtmr || digest) from 48 zero bytes) gives it;
//   - the app compose: parses with dstack's fields only (an unknown field is
//     refused), is the hardened configuration the reference requires, and
//     its SHA-256 is the payload of the single "compose-hash" event, which
//     equals tcb_info.compose_hash;
//   - the MPC image hash is the payload of the single "mpc-image-digest"
//     event; the launcher compose hash is SHA-256 of the app compose's
//     docker_compose_file; both must be in the allowed lists;
//   - MRTD and RTMR0-2 (of the report and of tcb_info) and the digest of the
//     single "key-provider" event must equal one allowed measurement set.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/quote.h"
#include "core/bytes.h"
#include "core/result.h"

namespace mpc::attest {

using Hash256 = std::array<std::uint8_t, 32>;

inline constexpr std::uint32_t kDstackEventType = 0x08000001;  // 134217729
inline constexpr std::size_t kMaxTcbInfoInputSize = 1 << 20;
inline constexpr std::size_t kMaxEvents = 1024;

struct EventLogEntry {
  std::uint32_t imr = 0;
  std::uint32_t event_type = 0;
  Hash384 digest{};
  std::string event;
  std::string event_payload;  // hex, as given
};

// dstack's tcb_info (the reference's TcbInfo; the dstack guest API's
// GetQuote/Info output): hex fields, the app compose text, the event log.
struct DstackTcbInfo {
  Hash384 mrtd{}, rtmr0{}, rtmr1{}, rtmr2{}, rtmr3{};
  std::optional<Hash256> os_image_hash;  // "" when absent
  Hash256 compose_hash{};
  Hash256 device_id{};
  std::string app_compose;
  std::vector<EventLogEntry> event_log;
};
// Errors are reject(Check::kTcbInfoInput, ...) naming the field. Unknown
// fields are ignored (as the reference's serde does).
core::Result<DstackTcbInfo> parse_dstack_tcb_info(std::string_view json_text);

// One allowed OS measurement set (the contract's allowed_os_measurements
// entries: {"mrtd","rtmr0","rtmr1","rtmr2","key_provider_event_digest"}, hex).
struct ExpectedMeasurements {
  Hash384 mrtd{}, rtmr0{}, rtmr1{}, rtmr2{};
  Hash384 key_provider_event_digest{};
  bool operator==(const ExpectedMeasurements&) const = default;
};

// What the verifier accepts. An empty list accepts nothing.
struct AllowedSet {
  std::vector<ExpectedMeasurements> measurements;
  std::vector<Hash256> mpc_image_hashes;
  std::vector<Hash256> launcher_compose_hashes;
};
// {"measurements": [ExpectedMeasurements...], "mpc_image_hashes": [hex...],
//  "launcher_compose_hashes": [hex...]}: all three keys required (lists may
// be empty). kInvalidArgument naming the field otherwise.
core::Result<AllowedSet> parse_allowed_set(std::string_view json_text);
nlohmann::json measurements_to_json(const ExpectedMeasurements& m);

// The measurements a tcb_info carries (MRTD, RTMR0-2 and its single
// key-provider event's digest), as the reference's include_measurements!
// reads its compiled-in sets.
core::Result<ExpectedMeasurements> measurements_of(const DstackTcbInfo& info);

// SHA-384(event_type LE || ":" || event || ":" || payload).
Hash384 event_digest(std::uint32_t event_type, std::string_view event, core::ByteView payload);
// The IMR 3 replay of the event log (checking each event's type and digest).
core::Result<Hash384> replay_rtmr3(const std::vector<EventLogEntry>& events);

// What the dstack checks found.
struct DstackFindings {
  Hash384 rtmr3{};
  Hash256 compose_hash{};
  Hash256 mpc_image_hash{};
  Hash256 launcher_compose_hash{};
  ExpectedMeasurements measurements;  // as measured
};

// RTMR3 replay and app compose checks against the report; extracts the
// hashes and measurements. Errors name kRtmr3, kEventLog or kAppCompose.
core::Result<DstackFindings> check_dstack(const TdReport10& report, const DstackTcbInfo& info);

// The findings against the allowed set: the index of the measurement set
// that matches. Errors name kMeasurements, kMpcImageHash or kLauncherComposeHash.
core::Result<std::size_t> check_allowed(const DstackFindings& findings, const TdReport10& report, const DstackTcbInfo& info,
                                        const AllowedSet& allowed);

// The reference's app compose policy on the app compose text: dstack's
// fields only, none repeated, typed as dstack types them, and the hardened
// settings. check_dstack applies it; errors are reject(Check::kAppCompose, ...).
core::Status check_app_compose(std::string_view app_compose_json);

}  // namespace mpc::attest
