#include "cli/cli.h"

#include <pthread.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "core/secret.h"

namespace mpc::cli {

int exit_code_for(const core::Error& e) {
  switch (e.code) {
    case core::ErrorCode::kUnavailable:
    case core::ErrorCode::kTimeout: return kNetwork;
    case core::ErrorCode::kPermissionDenied: return kAuth;
    case core::ErrorCode::kFailedPrecondition:
    case core::ErrorCode::kAlreadyExists:
    case core::ErrorCode::kInvalidArgument: return kValidation;
    case core::ErrorCode::kTxRejected:
    case core::ErrorCode::kContractPanic: return kChainRefused;
    default: return kOther;
  }
}

const char* exit_codes_help() {
  return "Exit codes: 0 success; 1 other failure; 2 usage error (a flag or input file in the wrong form, checked before "
         "any traffic); 3 network failure or timeout (a peer or the RPC unreachable, or the peer closed without answering); "
         "4 authentication failure (a peer's key is not the expected one, the contract registers another backup-service "
         "key, wrong encryption key); 5 validation failure (data refused by a rule: shares that do not match the keyset, an "
         "older epoch, a backup that does not cover the keyset, a contract state that does not allow the step); 6 the chain "
         "refused the transaction (rejected, or the contract panicked: its message is printed).";
}

int fail(const std::string& app, const core::Error& e, int code) {
  std::cerr << app << ": error: " << e.message << "\n";
  return code;
}

std::string version_line(const std::string& name) { return name + " " + MPC_VERSION; }

void add_version_flag(CLI::App& app, const std::string& name) {
  app.set_version_flag("--version", version_line(name), "Print the version and exit");
}

void add_log_format_option(CLI::App& app, std::string& format, const std::string& env_name) {
  format = "text";
  app.add_option("--log-format", format, "Log lines as text or json (one JSON object per line)")
      ->envname(env_name)
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void setup_logging(const std::string& app, const std::string& format) {
  core::setup_logging(app, core::parse_log_format(format, "--log-format").value_or(core::LogFormat::kText));
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  return std::nullopt;
}

SignalWaiter::SignalWaiter() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int SignalWaiter::wait() {
  int sig = 0;
  sigwait(&set_, &sig);
  return sig;
}

const char* SignalWaiter::name(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

void wipe_option_results(CLI::Option* option) {
  for (const auto& value : option->results()) core::secure_wipe(const_cast<char*>(value.data()), value.size());
  option->clear();
}

void scrub_env(const char* name) {
  if (char* value = std::getenv(name)) {
    core::secure_wipe(value, std::strlen(value));
    ::unsetenv(name);
  }
}

WipeOnExit::~WipeOnExit() { core::secure_wipe(secret_.data(), secret_.size()); }

}  // namespace mpc::cli
