// Errors as values. Every fallible operation in the project returns
// core::Result<T>; exceptions never cross a module boundary.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace mpc::core {

// Broad classes of failure; binaries map them to exit codes and RPC errors.
enum class ErrorCode {
  kInvalidArgument,   // malformed input: bad encoding, bad JSON, wrong length
  kNotFound,          // unknown account, key, method, file
  kPermissionDenied,  // signature/permission/authentication failure
  kFailedPrecondition,// state does not allow the operation (wrong protocol state, nonce)
  kAlreadyExists,     // refusing to overwrite
  kUnavailable,       // network unreachable, peer down
  kTimeout,           // a deadline passed
  kTxRejected,        // the chain refused a transaction before executing it (nonce, signature, permission)
  kContractPanic,     // a contract call executed and failed (panic, unknown method)
  kInternal,          // a bug or an environment failure (I/O, OpenSSL)
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // human-readable; never contains secret material

  // "what" prefixed to the message: Error{...}.context("reading secrets.json")
  Error context(const std::string& what) const& { return Error{code, what + ": " + message}; }
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}
inline std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace mpc::core

// Propagate an error from an expression returning Result/Status.
#define MPC_TRY(expr)                                              \
  do {                                                             \
    auto&& mpc_try_r_ = (expr);                                    \
    if (!mpc_try_r_) return std::unexpected(mpc_try_r_.error());   \
  } while (0)

#define MPC_CONCAT_INNER_(a, b) a##b
#define MPC_CONCAT_(a, b) MPC_CONCAT_INNER_(a, b)
// MPC_ASSIGN(auto x, expr): evaluates expr, returns its error or binds its value.
#define MPC_ASSIGN(decl, expr) MPC_ASSIGN_IMPL_(MPC_CONCAT_(mpc_assign_r_, __LINE__), decl, expr)
#define MPC_ASSIGN_IMPL_(tmp, decl, expr)                  \
  auto tmp = (expr);                                       \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  decl = std::move(*tmp)
