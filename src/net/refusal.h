// Machine-readable reasons on the migration endpoint's refusals: an HTTP
// header beside the human-readable body, so that clients decide by value,
// never by reading the text. Absent on other answers (and on the reference
// node's, which has no such refusals).
#pragma once

#include <string_view>

namespace mpc::net {

inline constexpr std::string_view kRefusalHeader = "Mpc-Refusal";
// 409 on PUT /set_keyshares: this node is not (yet) the destination of an
// ongoing migration, or the protocol is not Running. May change with the chain.
inline constexpr std::string_view kRefusalNotDestination = "not_destination";
// 400 on PUT /set_keyshares: the blob does not decrypt with the node's key.
inline constexpr std::string_view kRefusalDecryptFailed = "decrypt_failed";

}  // namespace mpc::net
