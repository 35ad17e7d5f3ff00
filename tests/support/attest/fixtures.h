// Test-only: the recorded reference attestation (tests/fixtures/attest, see
// its README for origins), loaded once per test binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "attest/collateral.h"
#include "attest/dstack.h"
#include "attest/quote.h"
#include "core/near_key.h"
#include "support/fixtures.h"

namespace mpc::attest::testing {

// near/mpc crates/test-utils/src/attestation.rs VALID_ATTESTATION_TIMESTAMP
// (2026-08-13T12:00:00Z).
inline constexpr std::int64_t kReferenceTimestamp = 1786622400;

inline std::string read_fixture(const std::string& name) {
  const std::string path = mpc::testing::fixture_path("attest/" + name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing fixture " << path;
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline const core::Bytes& quote_bytes() {
  static const core::Bytes bytes = *parse_quote_text(read_fixture("quote.json"));
  return bytes;
}
inline const Collateral& collateral() {
  static const Collateral c = *parse_collateral(read_fixture("collateral.json"));
  return c;
}
inline const DstackTcbInfo& tcb_info() {
  static const DstackTcbInfo t = *parse_dstack_tcb_info(read_fixture("tcb_info.json"));
  return t;
}
inline const AllowedSet& allowed_set() {
  static const AllowedSet a = *parse_allowed_set(read_fixture("allowed_set.json"));
  return a;
}
inline const nlohmann::json& expected_report() {
  static const nlohmann::json j = nlohmann::json::parse(read_fixture("expected_report.json"));
  return j;
}
inline core::Ed25519PublicKey fixture_key(const std::string& file) {
  std::string text = read_fixture(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  auto key = core::parse_ed25519_public_key(text);
  EXPECT_TRUE(key.has_value()) << file;
  return key.value_or(core::Ed25519PublicKey{});
}
inline core::Ed25519PublicKey tls_key() { return fixture_key("near_p2p_public_key.pub"); }
inline core::Ed25519PublicKey account_key() { return fixture_key("near_account_public_key.pub"); }

// A seed for randomized tests: MPC_TEST_SEED when set, else fresh; printed.
inline std::uint64_t test_seed() {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("MPC_TEST_SEED"); s != nullptr && *s != '\0') {
    seed = std::strtoull(s, nullptr, 10);
  } else {
    seed = std::random_device{}();
    seed = (seed << 32) ^ std::random_device{}();
  }
  std::cout << "[ seed ] MPC_TEST_SEED=" << seed << "\n";
  return seed;
}

}  // namespace mpc::attest::testing
