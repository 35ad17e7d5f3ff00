// The FROST signing messages a peer sends over the mesh
// (threshold::decode_message, threshold/messages.h), on bytes a hostile
// peer controls.
//
// Properties:
//   - no crash, no read past the input (ASan), no undefined behaviour;
//   - a refusal is kInvalidArgument with a message that names what was
//     wrong: "signing message ..." for the header and the overall size,
//     "<MessageType>: ..." for a body; it is printable ASCII (input bytes
//     are never echoed, only numbers);
//   - what decodes carries the input's type byte and session id, passes the
//     check_* function of its type, and encodes back to exactly the input
//     (the encoding is canonical: one value, one byte string);
//   - make_abort with any text as its reason (the input) always encodes
//     and decodes to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_support.h"
#include "threshold/messages.h"

using namespace mpc;
using namespace mpc::threshold;

namespace {

void check_refusal(core::ByteView bytes, const core::Error& error) {
  // A body's error names its type; header errors name the signing message.
  const bool body = bytes.size() >= kHeaderSize && bytes.size() <= kMaxEncodedMessageSize &&
                    bytes[0] == kWireVersion && bytes[1] >= 1 && bytes[1] <= 5;
  const std::string prefix =
      body ? std::string(message_type_name(static_cast<MessageType>(bytes[1]))) + ": " : "signing message ";
  fuzz::check_refusal(error, prefix);
}

void check_accepted(core::ByteView bytes, const Message& message) {
  MPC_FUZZ_CHECK(static_cast<std::uint8_t>(message_type(message)) == bytes[1]);
  const SessionId& session = session_of(message);
  MPC_FUZZ_CHECK(std::equal(session.begin(), session.end(), bytes.begin() + 2));
  if (const auto* m = std::get_if<SignRequest>(&message)) MPC_FUZZ_CHECK(check_sign_request(*m));
  if (const auto* m = std::get_if<SigningPackage>(&message)) MPC_FUZZ_CHECK(check_signing_package(*m));
  if (const auto* m = std::get_if<Abort>(&message)) MPC_FUZZ_CHECK(check_abort(*m));
  fuzz::check_encodes_to(encode_message(message), bytes);
}

void check_make_abort(core::ByteView bytes) {
  SessionId session{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), session.size()), session.begin());
  const std::string_view reason(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const Abort abort = make_abort(session, reason);
  MPC_FUZZ_CHECK(abort.reason.size() == std::min(reason.size(), kMaxAbortReasonSize));
  MPC_FUZZ_CHECK(check_abort(abort));
  auto encoded = encode_message(abort);
  MPC_FUZZ_CHECK(encoded.has_value());
  auto decoded = decode_message(*encoded);
  MPC_FUZZ_CHECK(decoded.has_value());
  MPC_FUZZ_CHECK(std::holds_alternative<Abort>(*decoded) && std::get<Abort>(*decoded) == abort);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::ByteView bytes(data, size);
  auto decoded = decode_message(bytes);
  if (decoded) {
    check_accepted(bytes, *decoded);
  } else {
    check_refusal(bytes, decoded.error());
  }
  check_make_abort(bytes);
  return 0;
}
