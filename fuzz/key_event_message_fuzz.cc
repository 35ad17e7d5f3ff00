// The key event messages a peer sends over the mesh
// (threshold::decode_key_event_message, threshold/key_event_messages.h), on
// bytes a hostile peer controls, and the routing functions the node applies
// to every payload (is_key_event_message, key_event_session_of).
//
// Properties:
//   - no crash, no read past the input (ASan), no undefined behaviour;
//   - a refusal is kInvalidArgument with a message that names what was
//     wrong: "key event message ..." for the header and the overall size,
//     "<MessageType>: ..." for a body; it is printable ASCII (input bytes
//     are never echoed, only numbers);
//   - what decodes carries the input's type byte, session id and curve,
//     and encodes back to exactly the input (one value, one byte string);
//   - routing agrees with decoding: whatever decodes is a key event message
//     whose session key_event_session_of reads; a signing message never is.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "threshold/key_event.h"
#include "threshold/key_event_messages.h"

using namespace mpc;
using namespace mpc::threshold;

namespace {

void check_refusal(core::ByteView bytes, const core::Error& error) {
  const bool body = bytes.size() >= kKeyEventHeaderSize && bytes.size() <= kMaxKeyEventMessageSize &&
                    bytes[0] == kKeyEventWireVersion && bytes[1] >= 16 && bytes[1] <= 20 && bytes[34] <= 1;
  const std::string prefix =
      body ? std::string(key_event_message_type_name(static_cast<KeyEventMessageType>(bytes[1]))) + ": "
           : "key event message ";
  fuzz::check_refusal(error, prefix);
}

void check_accepted(core::ByteView bytes, const KeyEventMessage& message) {
  MPC_FUZZ_CHECK(static_cast<std::uint8_t>(key_event_message_type(message)) == bytes[1]);
  const SessionId& session = key_event_message_session(message);
  MPC_FUZZ_CHECK(std::equal(session.begin(), session.end(), bytes.begin() + 2));
  MPC_FUZZ_CHECK(static_cast<std::uint8_t>(key_event_message_curve(message) == KeyCurve::kSecp256k1) == bytes[34]);
  MPC_FUZZ_CHECK(is_key_event_message(bytes));
  auto routed = key_event_session_of(bytes);
  MPC_FUZZ_CHECK(routed.has_value() && *routed == session);
  fuzz::check_encodes_to(encode_key_event_message(message), bytes);
}

void check_routing(core::ByteView bytes) {
  const bool key_event = is_key_event_message(bytes);
  // Signing messages (threshold/messages.h: version 1, types 1..5) never route here.
  if (bytes.size() >= 2 && bytes[0] == kWireVersion && bytes[1] >= 1 && bytes[1] <= 5) MPC_FUZZ_CHECK(!key_event);
  auto session = key_event_session_of(bytes);
  if (session) {
    MPC_FUZZ_CHECK(key_event);
    MPC_FUZZ_CHECK(std::equal(session->begin(), session->end(), bytes.begin() + 2));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const core::ByteView bytes(data, size);
  auto decoded = decode_key_event_message(bytes);
  if (decoded) {
    check_accepted(bytes, *decoded);
  } else {
    check_refusal(bytes, decoded.error());
  }
  check_routing(bytes);
  return 0;
}
