// borsh SignedTransaction / Transaction decoding: what mpc-sandbox runs on
// the bytes of every send_tx, before any signature is checked.
//
// Properties: no crash; whatever decodes re-encodes to exactly the input
// (the decoder is strict, so a decoded transaction has one encoding and its
// hash is the hash of what was sent); the signed payload hashes without
// trouble.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "near/transaction.h"

using namespace mpc;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::ByteView input(data, size);
  if (auto stx = near::decode_signed_transaction(input)) {
    MPC_FUZZ_CHECK(near::encode_signed_transaction(*stx) == core::Bytes(input.begin(), input.end()));
    (void)near::verify_signature(*stx);
    for (const auto& action : stx->transaction.actions) {
      if (const auto* d = std::get_if<near::SignedDelegateAction>(&action)) (void)near::verify_signature(*d);
    }
  }
  if (auto tx = near::decode_transaction(input)) {
    MPC_FUZZ_CHECK(near::encode_transaction(*tx) == core::Bytes(input.begin(), input.end()));
    (void)near::transaction_hash(*tx);
  }
  return 0;
}
