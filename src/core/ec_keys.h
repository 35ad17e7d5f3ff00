// EC public keys and ECDSA verification through OpenSSL, in one place: the
// contract's `respond` check, threshold ECDSA's coordinator, the TDX quote
// verifier (P-256) and the tests all load keys and verify the same way.
#pragma once

#include "core/bytes.h"
#include "core/openssl_ptr.h"

namespace mpc::core {

// An OpenSSL public key of the named group ("secp256k1", "prime256v1")
// from its SEC1 octets (33-byte compressed or 65-byte 0x04 || X || Y);
// null when they are not a point of the curve.
EvpPkeyPtr ec_public_key(const char* group, ByteView sec1);
// The same from X || Y (64 bytes, uncompressed without the 0x04 prefix).
EvpPkeyPtr ec_public_key_xy(const char* group, ByteView xy);

// OpenSSL's ECDSA verification of (r, s), each big-endian and at most 32
// bytes, over the prehash `hash` under `key`. False on anything invalid
// (never throws, clears OpenSSL's error queue).
bool ecdsa_verify_prehash(EVP_PKEY* key, ByteView hash, ByteView r, ByteView s);

}  // namespace mpc::core
