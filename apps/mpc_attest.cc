// mpc-attest: verify an Intel TDX (dstack) attestation offline, and compute
// the report data an MPC node or backup service must put in its quote.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "attest/attestation.h"
#include "attest/report_data.h"
#include "cli/cli.h"
#include "core/file_util.h"
#include "core/near_key.h"

namespace {

using namespace mpc;

const std::string kApp = "mpc-attest";

// A file the operator named; missing or unreadable is a usage error.
core::Result<std::string> read_input(const std::string& path, const std::string& flag, std::size_t limit) {
  auto text = core::read_file(path, limit);
  if (!text) return core::invalid(flag + ": cannot read " + path + ": " + text.error().message);
  return text;
}

// "ed25519:<base58>", or a file holding it (as the reference's .pub files).
core::Result<core::Ed25519PublicKey> read_key(const std::string& value, const std::string& flag) {
  std::string text = value;
  if (!value.starts_with("ed25519:")) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(value, ec)) {
      return core::invalid(flag + ": expected ed25519:<base58> or a file holding it");
    }
    MPC_ASSIGN(text, read_input(value, flag, 4096));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  }
  auto key = core::parse_ed25519_public_key(text);
  if (!key) return core::invalid(flag + ": " + key.error().message);
  return *key;
}

int report_data(const std::string& tls, const std::string& account) {
  auto tls_key = read_key(tls, "--tls-key");
  if (!tls_key) return cli::usage(kApp, tls_key.error().message);
  auto account_key = read_key(account, "--account-key");
  if (!account_key) return cli::usage(kApp, account_key.error().message);
  std::cout << core::hex_encode(attest::report_data_v1(*tls_key, *account_key)) << "\n";
  return cli::kOk;
}

struct VerifyArgs {
  std::string quote, collateral, tcb_info, measurements, tls_key, account_key;
  std::int64_t timestamp = 0;
};

int verify(const VerifyArgs& a) {
  // Inputs first: anything unreadable or malformed is a usage error (2).
  auto quote_text = read_input(a.quote, "--quote", 4 * attest::kMaxQuoteSize);
  if (!quote_text) return cli::usage(kApp, quote_text.error().message);
  auto quote = attest::parse_quote_text(*quote_text);
  if (!quote) return cli::usage(kApp, "--quote: " + quote.error().message);
  auto collateral_text = read_input(a.collateral, "--collateral", attest::kMaxCollateralSize);
  if (!collateral_text) return cli::usage(kApp, collateral_text.error().message);
  auto collateral = attest::parse_collateral(*collateral_text);
  if (!collateral) return cli::usage(kApp, "--collateral: " + collateral.error().message);
  auto tcb_text = read_input(a.tcb_info, "--tcb-info", attest::kMaxTcbInfoInputSize);
  if (!tcb_text) return cli::usage(kApp, tcb_text.error().message);
  auto tcb_info = attest::parse_dstack_tcb_info(*tcb_text);
  if (!tcb_info) return cli::usage(kApp, "--tcb-info: " + tcb_info.error().message);

  attest::VerifyOptions options;
  options.timestamp = a.timestamp;
  if (!a.tls_key.empty()) {
    auto tls_key = read_key(a.tls_key, "--tls-key");
    if (!tls_key) return cli::usage(kApp, tls_key.error().message);
    auto account_key = read_key(a.account_key, "--account-key");
    if (!account_key) return cli::usage(kApp, account_key.error().message);
    options.expected_report_data = attest::report_data_v1(*tls_key, *account_key);
  }
  std::optional<attest::AllowedSet> allowed;
  if (!a.measurements.empty()) {
    auto text = read_input(a.measurements, "--measurements", attest::kMaxTcbInfoInputSize);
    if (!text) return cli::usage(kApp, text.error().message);
    auto parsed = attest::parse_allowed_set(*text);
    if (!parsed) return cli::usage(kApp, "--measurements: " + parsed.error().message);
    allowed = std::move(*parsed);
    options.allowed = &*allowed;
  }

  auto verified = attest::verify_attestation(*quote, *collateral, *tcb_info, options);
  if (!verified) {
    // A check failed (the message names it); an internal error is 1.
    return cli::fail(kApp, verified.error(),
                     verified.error().code == core::ErrorCode::kFailedPrecondition ? cli::kValidation : cli::kOther);
  }
  std::cout << attest::to_json(*verified).dump(2) << "\n";
  return cli::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mpc-attest: verify an Intel TDX DCAP quote and its dstack measurements offline (the collateral is an input), "
               "or print the report data that binds a TLS key and an account key"};
  cli::add_version_flag(app, kApp);
  app.footer(cli::exit_codes_help());
  app.require_subcommand(1);

  VerifyArgs v;
  auto* verify_cmd = app.add_subcommand(
      "verify", "Verify an attestation at a time; print the verified fields as JSON; exit 0 only when every check holds");
  verify_cmd->add_option("--quote", v.quote, "The quote: a JSON array of bytes (or a JSON hex string)")->required();
  verify_cmd->add_option("--collateral", v.collateral, "The collateral JSON (Intel PCS data, as the reference's collateral.json)")
      ->required();
  verify_cmd->add_option("--tcb-info", v.tcb_info, "dstack's tcb_info JSON (measurements, app compose, event log)")->required();
  verify_cmd->add_option("--timestamp", v.timestamp, "The time to verify at, Unix seconds")
      ->required()
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{253402300799}));
  auto* tls = verify_cmd->add_option("--tls-key", v.tls_key, "Expected TLS key (ed25519:... or a file): checks the report data");
  auto* account =
      verify_cmd->add_option("--account-key", v.account_key, "Expected account key (ed25519:... or a file): checks the report data");
  tls->needs(account);
  account->needs(tls);
  verify_cmd->add_option("--measurements", v.measurements,
                         "Allowed set JSON: {\"measurements\": [{mrtd, rtmr0, rtmr1, rtmr2, key_provider_event_digest}], "
                         "\"mpc_image_hashes\": [...], \"launcher_compose_hashes\": [...]}");

  std::string rd_tls, rd_account;
  auto* rd = app.add_subcommand("report-data", "Print the expected report data (ReportDataV1, 64 bytes hex) for two keys");
  rd->add_option("--tls-key", rd_tls, "TLS key (ed25519:... or a file)")->required();
  rd->add_option("--account-key", rd_account, "Account key (ed25519:... or a file)")->required();

  if (auto code = cli::parse(app, argc, argv)) return *code;
  if (verify_cmd->parsed()) return verify(v);
  return report_data(rd_tls, rd_account);
}
