// What every binary's main() shares: one exit-code table, reporting a
// failure, the --version flag, the --log-format option and waiting for
// SIGINT/SIGTERM. The binaries (apps/) only parse flags, call into their
// module and map the result to an exit code with this table.
#pragma once

#include <CLI/CLI.hpp>

#include <csignal>
#include <optional>
#include <string>

#include "core/logging.h"
#include "core/result.h"

namespace mpc::cli {

// The exit codes of every binary (README, "Exit codes").
enum Exit : int {
  kOk = 0,
  kOther = 1,         // home or secrets unreadable, I/O, anything unclassified
  kUsage = 2,         // a flag or an input file in the wrong form; checked before any traffic
  kNetwork = 3,       // a peer or the RPC unreachable, timed out, or closed without answering
  kAuth = 4,          // a peer's key is not the expected one; the wrong encryption key
  kValidation = 5,    // data (shares, keysets, states) refused by a rule; the contract state forbids the step
  kChainRefused = 6,  // the chain rejected the transaction or the contract panicked
};

// The table: kUnavailable/kTimeout -> 3; kPermissionDenied -> 4;
// kFailedPrecondition/kAlreadyExists/kInvalidArgument -> 5 (data refused);
// kTxRejected/kContractPanic -> 6; everything else -> 1. A malformed
// operator input is a usage error (2): the caller says so with usage().
int exit_code_for(const core::Error& e);

// One line of help text describing the table (for --help footers).
const char* exit_codes_help();

// Prints "<app>: error: <message>" to stderr; returns `code`.
int fail(const std::string& app, const core::Error& e, int code);
inline int fail(const std::string& app, const core::Error& e) { return fail(app, e, exit_code_for(e)); }
inline int usage(const std::string& app, const std::string& message) {
  return fail(app, core::Error{core::ErrorCode::kInvalidArgument, message}, kUsage);
}

// "NAME VERSION", as clap prints it (the project version from CMake).
std::string version_line(const std::string& name);
void add_version_flag(CLI::App& app, const std::string& name);

// --log-format text|json (env `env_name`); call setup_logging after parse.
void add_log_format_option(CLI::App& app, std::string& format, const std::string& env_name);
void setup_logging(const std::string& app, const std::string& format);

// Parses; on a parse error or --help/--version prints as CLI11 does and
// returns the exit code to end with (0 for help/version, kUsage otherwise).
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Secret flag values. CLI11 keeps its own copy of every option's text:
// wipe_option_results wipes that copy and clears the option (call after
// parsing, once the value is in the bound variable). scrub_env wipes and
// removes an environment variable the value may have come from.
void wipe_option_results(CLI::Option* option);
void scrub_env(const char* name);
// Wipes a bound secret string when main() returns.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::string& secret) : secret_(secret) {}
  ~WipeOnExit();
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

 private:
  std::string& secret_;
};

// Blocks SIGINT and SIGTERM in the calling thread (call before starting
// threads: they inherit the mask) and later waits for one of them.
class SignalWaiter {
 public:
  SignalWaiter();
  int wait();  // the signal that arrived
  static const char* name(int sig);

 private:
  sigset_t set_;
};

}  // namespace mpc::cli
