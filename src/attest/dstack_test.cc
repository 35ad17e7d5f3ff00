#include "attest/dstack.h"

#include <gtest/gtest.h>

#include "attest/checks.h"
#include "core/crypto.h"
#include "support/attest/fixtures.h"

namespace mpc::attest {
namespace {

using testing::allowed_set;
using testing::expected_report;
using testing::read_fixture;
using testing::tcb_info;

TdReport10 recorded_report() {
  auto q = parse_quote(testing::quote_bytes());
  EXPECT_TRUE(q);
  return q ? q->report : TdReport10{};
}

std::size_t index_of(const DstackTcbInfo& info, const std::string& event) {
  for (std::size_t i = 0; i < info.event_log.size(); ++i) {
    if (info.event_log[i].imr == 3 && info.event_log[i].event == event) return i;
  }
  ADD_FAILURE() << "no event " << event;
  return 0;
}

// The app compose with one field changed (null removes it).
std::string app_compose_with(const std::string& key, const nlohmann::json& value) {
  auto j = nlohmann::json::parse(tcb_info().app_compose);
  if (value.is_null()) {
    j.erase(key);
  } else {
    j[key] = value;
  }
  return j.dump(4);
}

TEST(Dstack, ParsesTheRecordedTcbInfo) {
  const DstackTcbInfo& t = tcb_info();
  EXPECT_EQ(core::hex_encode(t.mrtd), expected_report()["report"]["mr_td"]);
  EXPECT_EQ(core::hex_encode(t.rtmr3), expected_report()["report"]["rt_mr3"]);
  EXPECT_EQ(t.event_log.size(), 29u);
  EXPECT_TRUE(t.os_image_hash.has_value());
  EXPECT_EQ(t.app_compose, read_fixture("app_compose.json"));
}

TEST(Dstack, ReplayingTheRecordedEventLogGivesTheQuotesRtmr3) {
  auto rtmr3 = replay_rtmr3(tcb_info().event_log);
  ASSERT_TRUE(rtmr3) << rtmr3.error().message;
  EXPECT_EQ(core::hex_encode(*rtmr3), expected_report()["report"]["rt_mr3"]);
}

TEST(Dstack, TheRecordedAttestationPassesTheDstackChecks) {
  auto f = check_dstack(recorded_report(), tcb_info());
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(core::hex_encode(f->compose_hash), core::hex_encode(tcb_info().compose_hash));
  EXPECT_EQ(core::hex_encode(f->mpc_image_hash), read_fixture("mpc_image_digest.txt"));
  EXPECT_EQ(f->launcher_compose_hash, core::sha256(core::as_bytes(read_fixture("launcher_image_compose.yaml"))));
  auto index = check_allowed(*f, recorded_report(), tcb_info(), allowed_set());
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ(*index, 1u);  // the dev image's measurements
}

// allowed_set.json is derived from the reference's compiled-in measurement
// files (mpc-attestation/assets) and its launcher compose and image digest.
TEST(Dstack, TheAllowedSetFixtureIsTheReferencesDefaultMeasurements) {
  const AllowedSet& a = allowed_set();
  ASSERT_EQ(a.measurements.size(), 2u);
  for (auto [i, file] : {std::pair{0, "os_measurements_prod_tcb_info.json"}, std::pair{1, "os_measurements_dev_tcb_info.json"}}) {
    auto info = parse_dstack_tcb_info(read_fixture(file));
    ASSERT_TRUE(info) << info.error().message;
    auto m = measurements_of(*info);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(*m, a.measurements[static_cast<std::size_t>(i)]) << file;
  }
  ASSERT_EQ(a.mpc_image_hashes.size(), 1u);
  EXPECT_EQ(core::hex_encode(a.mpc_image_hashes[0]), read_fixture("mpc_image_digest.txt"));
  ASSERT_EQ(a.launcher_compose_hashes.size(), 1u);
  EXPECT_EQ(a.launcher_compose_hashes[0], core::sha256(core::as_bytes(read_fixture("launcher_image_compose.yaml"))));
}

TEST(Dstack, ChangedEventsBreakTheReplay) {
  const TdReport10 report = recorded_report();
  auto expect = [&](const DstackTcbInfo& info, Check check, const char* what) {
    auto f = check_dstack(report, info);
    ASSERT_FALSE(f) << what;
    EXPECT_TRUE(failed_check(f.error(), check)) << what << ": " << f.error().message;
  };
  const std::size_t compose = index_of(tcb_info(), "compose-hash");
  DstackTcbInfo t = tcb_info();
  t.event_log[compose].event_payload[0] = t.event_log[compose].event_payload[0] == '0' ? '1' : '0';
  expect(t, Check::kEventLog, "payload changed");
  t = tcb_info();
  t.event_log[compose].digest[5] ^= 1;
  expect(t, Check::kEventLog, "digest changed");
  t = tcb_info();
  t.event_log[compose].event_type = 1;
  expect(t, Check::kEventLog, "type changed");
  t = tcb_info();
  t.event_log[compose].event_payload = "zz";
  expect(t, Check::kEventLog, "payload not hex");
  t = tcb_info();
  t.event_log.erase(t.event_log.begin() + static_cast<std::ptrdiff_t>(index_of(t, "key-provider")));
  expect(t, Check::kRtmr3, "an event removed");
  t = tcb_info();
  std::swap(t.event_log[compose], t.event_log[compose + 1]);
  expect(t, Check::kRtmr3, "two events swapped");
  t = tcb_info();
  t.rtmr3[0] ^= 1;
  expect(t, Check::kRtmr3, "tcb info rtmr3");
  // Events of other registers are not replayed (as in the reference).
  t = tcb_info();
  t.event_log[0].digest[0] ^= 1;
  EXPECT_TRUE(check_dstack(report, t));
}

TEST(Dstack, TheComposeHashEventMustBeSingleAndMatch) {
  const TdReport10 report = recorded_report();
  DstackTcbInfo t = tcb_info();
  t.compose_hash[0] ^= 1;
  auto f = check_dstack(report, t);
  ASSERT_FALSE(f);
  EXPECT_TRUE(failed_check(f.error(), Check::kAppCompose)) << f.error().message;
  t = tcb_info();
  t.app_compose += " ";
  f = check_dstack(report, t);
  ASSERT_FALSE(f);
  EXPECT_TRUE(failed_check(f.error(), Check::kAppCompose)) << f.error().message;
  t = tcb_info();
  t.event_log[index_of(t, "compose-hash")].imr = 2;  // gone from RTMR3 (and from the replay)
  f = check_dstack(report, t);
  ASSERT_FALSE(f);
  EXPECT_TRUE(failed_check(f.error(), Check::kRtmr3)) << f.error().message;
  // A named event must occur once in RTMR3.
  t = tcb_info();
  t.event_log.push_back(t.event_log[index_of(t, "key-provider")]);
  auto m = measurements_of(t);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("duplicate key-provider"), std::string::npos) << m.error().message;
  t = tcb_info();
  t.event_log.erase(t.event_log.begin() + static_cast<std::ptrdiff_t>(index_of(t, "key-provider")));
  m = measurements_of(t);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("no key-provider"), std::string::npos) << m.error().message;
}

TEST(Dstack, TheAppComposeMustBeTheHardenedConfiguration) {
  EXPECT_TRUE(check_app_compose(tcb_info().app_compose));
  EXPECT_TRUE(check_app_compose(app_compose_with("secure_time", false)));
  EXPECT_TRUE(check_app_compose(app_compose_with("tproxy_enabled", false)));
  EXPECT_TRUE(check_app_compose(app_compose_with("features", nlohmann::json::array({"x"}))));
  EXPECT_TRUE(check_app_compose(app_compose_with("pre_launch_script", nlohmann::json(nullptr))));
  const std::vector<std::pair<std::string, nlohmann::json>> refused = {
      {"manifest_version", 1},
      {"runner", "bash"},
      {"kms_enabled", true},
      {"gateway_enabled", true},
      {"gateway_enabled", nullptr},  // removed: must be explicitly false
      {"tproxy_enabled", true},
      {"public_logs", false},
      {"public_sysinfo", false},
      {"local_key_provider_enabled", false},
      {"no_instance_id", false},
      {"no_instance_id", nullptr},
      {"allowed_envs", nlohmann::json::array({"SECRET"})},
      {"pre_launch_script", "echo pwn"},
      {"init_script", "echo pwn"},
      {"bash_script", "echo pwn"},
      {"some_future_dstack_field", "whatever"},
      {"public_logs", "yes"},
      {"name", nullptr},
  };
  for (const auto& [key, value] : refused) {
    auto s = check_app_compose(app_compose_with(key, value));
    ASSERT_FALSE(s) << key << " = " << value.dump();
    EXPECT_TRUE(failed_check(s.error(), Check::kAppCompose)) << s.error().message;
    EXPECT_NE(s.error().message.find(key), std::string::npos) << s.error().message;
  }
  EXPECT_FALSE(check_app_compose("[]"));
  EXPECT_FALSE(check_app_compose("{"));
  // A repeated field (serde refuses it; the last one must not win here).
  std::string twice = tcb_info().app_compose;
  twice.insert(1, "\"gateway_enabled\": true,");
  auto s = check_app_compose(twice);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("duplicate field \"gateway_enabled\""), std::string::npos) << s.error().message;
}

TEST(Dstack, EveryByteOfTheMatchingMeasurementsMatters) {
  const TdReport10 report = recorded_report();
  auto f = check_dstack(report, tcb_info());
  ASSERT_TRUE(f);
  for (auto field : {&ExpectedMeasurements::mrtd, &ExpectedMeasurements::rtmr0, &ExpectedMeasurements::rtmr1,
                     &ExpectedMeasurements::rtmr2, &ExpectedMeasurements::key_provider_event_digest}) {
    for (std::size_t i = 0; i < 48; ++i) {
      AllowedSet a = allowed_set();
      a.measurements.erase(a.measurements.begin());  // the dev set only
      (a.measurements[0].*field)[i] ^= 0x80;
      auto r = check_allowed(*f, report, tcb_info(), a);
      ASSERT_FALSE(r) << i;
      EXPECT_TRUE(failed_check(r.error(), Check::kMeasurements)) << r.error().message;
    }
  }
  // The measured side: tcb info's copy of the registers must agree too.
  DstackTcbInfo t = tcb_info();
  t.rtmr1[7] ^= 1;
  auto r = check_allowed(*f, report, t, allowed_set());
  ASSERT_FALSE(r);
  EXPECT_TRUE(failed_check(r.error(), Check::kMeasurements)) << r.error().message;
}

TEST(Dstack, ImageAndLauncherHashesMustBeAllowed) {
  const TdReport10 report = recorded_report();
  auto f = check_dstack(report, tcb_info());
  ASSERT_TRUE(f);
  struct Case {
    void (*edit)(AllowedSet&);
    Check check;
  };
  for (const Case& c : {
           Case{[](AllowedSet& a) { a.mpc_image_hashes[0][0] ^= 1; }, Check::kMpcImageHash},
           Case{[](AllowedSet& a) { a.mpc_image_hashes.clear(); }, Check::kMpcImageHash},
           Case{[](AllowedSet& a) { a.launcher_compose_hashes[0][31] ^= 1; }, Check::kLauncherComposeHash},
           Case{[](AllowedSet& a) { a.launcher_compose_hashes.clear(); }, Check::kLauncherComposeHash},
           Case{[](AllowedSet& a) { a.measurements.clear(); }, Check::kMeasurements},
       }) {
    AllowedSet a = allowed_set();
    c.edit(a);
    auto r = check_allowed(*f, report, tcb_info(), a);
    ASSERT_FALSE(r) << check_name(c.check);
    EXPECT_TRUE(failed_check(r.error(), c.check)) << r.error().message;
  }
}

TEST(Dstack, MalformedInputsNameTheField) {
  auto j = nlohmann::json::parse(read_fixture("tcb_info.json"));
  for (const char* field : {"mrtd", "rtmr3", "compose_hash", "app_compose", "event_log"}) {
    auto broken = j;
    broken.erase(field);
    auto t = parse_dstack_tcb_info(broken.dump());
    ASSERT_FALSE(t) << field;
    EXPECT_TRUE(failed_check(t.error(), Check::kTcbInfoInput)) << t.error().message;
    EXPECT_NE(t.error().message.find(field), std::string::npos) << t.error().message;
  }
  auto broken = j;
  broken["event_log"][3]["digest"] = "00";
  auto t = parse_dstack_tcb_info(broken.dump());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("event_log[3].digest"), std::string::npos) << t.error().message;
  broken = j;
  broken["event_log"][3]["imr"] = -1;
  EXPECT_FALSE(parse_dstack_tcb_info(broken.dump()));
  broken = j;
  broken["os_image_hash"] = "";
  auto no_os = parse_dstack_tcb_info(broken.dump());
  ASSERT_TRUE(no_os) << no_os.error().message;
  EXPECT_FALSE(no_os->os_image_hash.has_value());
  EXPECT_FALSE(parse_dstack_tcb_info("[]"));

  auto a = nlohmann::json::parse(read_fixture("allowed_set.json"));
  for (const char* field : {"measurements", "mpc_image_hashes", "launcher_compose_hashes"}) {
    auto missing = a;
    missing.erase(field);
    auto r = parse_allowed_set(missing.dump());
    ASSERT_FALSE(r) << field;
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
  auto short_hash = a;
  short_hash["measurements"][1]["rtmr2"] = "abcd";
  auto r = parse_allowed_set(short_hash.dump());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("measurements[1].rtmr2"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mpc::attest
