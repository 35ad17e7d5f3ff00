// TDX quote verification on one core: the recorded reference attestation
// (tests/fixtures/attest) verified end to end (DCAP quote, collateral,
// dstack checks, report data, allowed set) in a loop, with where the time
// goes (certificate chains and CRLs, the four ECDSA signatures outside
// certificates, the collateral's JSON documents, the rest), and the same
// machine's `openssl speed -seconds 1 ecdsap256` in the same run for scale.
//
// ECDSA verifications per quote are counted exactly: this binary exports its
// own ECDSA_verify (ENABLE_EXPORTS), which libcrypto's provider calls for
// every ECDSA P-256 verification (certificates and CRLs included), counting
// and forwarding to the real one.
//
//   attest_bench [--seconds S]   (default 3)
#include <dlfcn.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/attestation.h"
#include "attest/report_data.h"
#include "core/near_key.h"

namespace {

long ecdsa_verifies = 0;

std::string read(const std::string& name) {
  const char* dir = std::getenv("MPC_FIXTURES_DIR");
  const std::string path = std::string(dir != nullptr && *dir ? dir : MPC_FIXTURES_DIR_DEFAULT) + "/attest/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "attest_bench: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class T>
T must(mpc::core::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "attest_bench: %s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

double us(std::chrono::nanoseconds ns, long n) { return static_cast<double>(ns.count()) / 1000.0 / static_cast<double>(n); }

struct Speed {
  double sign_per_s = 0, verify_per_s = 0;
};

// The "256 bits ecdsa (nistp256)" row of `openssl speed -seconds 1 ecdsap256`:
// sign time, verify time, sign/s, verify/s.
std::optional<Speed> openssl_speed() {
  FILE* p = popen("openssl speed -seconds 1 ecdsap256 2>/dev/null", "r");
  if (p == nullptr) return std::nullopt;
  std::optional<Speed> out;
  char line[512];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    const char* row = std::strstr(line, "ecdsa (nistp256)");
    if (row == nullptr) continue;
    double sign_s = 0, verify_s = 0;
    Speed s;
    if (std::sscanf(row + std::strlen("ecdsa (nistp256)"), " %lfs %lfs %lf %lf", &sign_s, &verify_s, &s.sign_per_s,
                    &s.verify_per_s) == 4) {
      out = s;
    }
  }
  pclose(p);
  return out;
}

}  // namespace

// Every ECDSA verification libcrypto makes, counted.
extern "C" int ECDSA_verify(int type, const unsigned char* dgst, int dgst_len, const unsigned char* sig, int sig_len,
                            EC_KEY* eckey) {
  using Fn = int (*)(int, const unsigned char*, int, const unsigned char*, int, EC_KEY*);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "ECDSA_verify"));
  ++ecdsa_verifies;
  return real(type, dgst, dgst_len, sig, sig_len, eckey);
}

int main(int argc, char** argv) {
  using namespace mpc;
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
  }
  // One core.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one);

  const std::string quote_text = read("quote.json"), collateral_text = read("collateral.json"),
                    tcb_text = read("tcb_info.json"), allowed_text = read("allowed_set.json");
  const auto quote = must(attest::parse_quote_text(quote_text), "quote");
  const auto collateral = must(attest::parse_collateral(collateral_text), "collateral");
  const auto tcb_info = must(attest::parse_dstack_tcb_info(tcb_text), "tcb info");
  const auto allowed = must(attest::parse_allowed_set(allowed_text), "allowed set");
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  };
  const auto tls = must(core::parse_ed25519_public_key(trim(read("near_p2p_public_key.pub"))), "tls key");
  const auto account = must(core::parse_ed25519_public_key(trim(read("near_account_public_key.pub"))), "account key");

  attest::VerifyOptions options;
  options.timestamp = 1786622400;  // the reference's test timestamp
  options.expected_report_data = attest::report_data_v1(tls, account);
  options.allowed = &allowed;

  // Exact ECDSA verifications in one verification.
  ecdsa_verifies = 0;
  must(attest::verify_attestation(quote, collateral, tcb_info, options), "verification");
  const long ecdsa_per_quote = ecdsa_verifies;

  // Verification on parsed inputs, timed by phase.
  attest::DcapTimings timings;
  options.timings = &timings;
  long n = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    must(attest::verify_attestation(quote, collateral, tcb_info, options), "verification");
    ++n;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double per_second = static_cast<double>(n) / std::chrono::duration<double>(elapsed).count();
  const double total_us = us(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed), n);

  // Parsing the three input files (what a verifier of fresh inputs adds).
  long m = 0;
  const auto parse_start = std::chrono::steady_clock::now();
  const auto parse_deadline = parse_start + std::chrono::duration<double>(seconds / 3);
  while (std::chrono::steady_clock::now() < parse_deadline) {
    must(attest::parse_quote_text(quote_text), "quote");
    must(attest::parse_collateral(collateral_text), "collateral");
    must(attest::parse_dstack_tcb_info(tcb_text), "tcb info");
    ++m;
  }
  const double parse_us =
      us(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - parse_start), m);

  const double cert_us = us(timings.certificates, n), sig_us = us(timings.signatures, n), json_us = us(timings.json, n);
  const double dcap_us = us(timings.total, n);
  std::printf("quote verification (DCAP + dstack + report data + allowed set), one core, %.1f s\n", seconds);
  std::printf("  %ld verifications: %.0f /s, %.1f us each\n", n, per_second, total_us);
  std::printf("  breakdown per verification:\n");
  std::printf("    certificates: PEM/DER decoding, 2 chains + CRLs          %7.1f us  %4.1f%%\n", cert_us,
              100 * cert_us / total_us);
  std::printf("    signatures (TCB info, QE identity, QE report, quote)  %7.1f us  %4.1f%%\n", sig_us, 100 * sig_us / total_us);
  std::printf("    JSON (TCB info, QE identity documents)                 %7.1f us  %4.1f%%\n", json_us,
              100 * json_us / total_us);
  std::printf("    rest (quote layout, TCB/QE matching, dstack checks)    %7.1f us  %4.1f%%\n",
              total_us - cert_us - sig_us - json_us, 100 * (total_us - cert_us - sig_us - json_us) / total_us);
  std::printf("    (of which DCAP alone %.1f us)\n", dcap_us);
  std::printf("  parsing the input files (quote JSON, collateral JSON, dstack tcb_info JSON): %.1f us more\n", parse_us);
  std::printf("  ECDSA P-256 verifications per quote: %ld\n", ecdsa_per_quote);

  // What one certificate decode costs here (OpenSSL 3 decodes the public key
  // through its provider decoders), on the quote's 3-certificate PCK chain.
  const std::string chain = *collateral.pck_certificate_chain;
  long decodes = 0;
  const auto decode_start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < decode_start + std::chrono::milliseconds(300)) {
    BIO* bio = BIO_new_mem_buf(chain.data(), static_cast<int>(chain.size()));
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_free(cert);
      ++decodes;
    }
    BIO_free(bio);
  }
  std::printf("  one certificate decode (PEM_read_bio_X509): %.1f us (5 per quote)\n",
              us(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - decode_start), decodes));

  if (auto speed = openssl_speed()) {
    const double ecdsa_us = 1e6 / speed->verify_per_s;
    std::printf("openssl speed -seconds 1 ecdsap256: %.0f sign/s, %.0f verify/s (%.1f us per verify)\n", speed->sign_per_s,
                speed->verify_per_s, ecdsa_us);
    std::printf("ratio: quote verifications/s : ECDSA verifies/s = 1 : %.1f; %ld verifies at openssl's speed = %.1f us "
                "= %.0f%% of a quote verification\n",
                speed->verify_per_s / per_second, ecdsa_per_quote, ecdsa_per_quote * ecdsa_us,
                100 * ecdsa_per_quote * ecdsa_us / total_us);
  } else {
    std::printf("openssl speed: not available (no `openssl` binary?)\n");
  }
  return 0;
}
