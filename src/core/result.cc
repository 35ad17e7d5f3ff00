#include "core/result.h"

namespace mpc::core {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kTxRejected: return "transaction rejected";
    case ErrorCode::kContractPanic: return "contract panicked";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

}  // namespace mpc::core
