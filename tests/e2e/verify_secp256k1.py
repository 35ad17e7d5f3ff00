#!/usr/bin/env python3
"""Checks one secp256k1 ECDSA `sign` response, independently of the project.

A second and third verifier for the end-to-end tests (the first is the
contract's own check, then OpenSSL): the network's threshold ECDSA
(DamgardEtAl) signatures must be plain ECDSA signatures over the 32-byte hash
that any verifier accepts, and their recovery id must recover the derived key
(as Ethereum's ecrecover does).

Usage: verify_secp256k1.py DERIVED_KEY HASH_HEX RESPONSE_JSON
  DERIVED_KEY    the key the request was signed under: 33-byte compressed
                 SEC1 hex (02/03 || X), 65-byte uncompressed hex (04 || X || Y),
                 or the contract's derived_public_key text
                 "secp256k1:<base58 of the 64 bytes X || Y>"
  HASH_HEX       the signed 32-byte hash (the request's Ecdsa payload), hex
  RESPONSE_JSON  the contract's response, {"scheme":"Secp256k1",
                 "big_r":{"affine_point":"<66 hex>"},"s":{"scalar":"<64 hex>"},
                 "recovery_id":N}

Two checks, both must hold:
  (a) Python's `cryptography` verifies (r, s), r = big_r's x mod n, over the
      PREHASHED hash under the derived key (ECDSA(Prehashed(SHA256))), and s
      is low (s <= n/2: the contract refuses high s);
  (b) python-ecdsa (Debian's python3-ecdsa) recovers the public key from
      (r, s, recovery_id, hash), recovery id = R's y parity + 2 if R's x >= n,
      and it equals the derived key.

Exit codes: 0 both hold ("valid"), 1 the signature is refused (a line
"invalid: ..." per failed check), 2 bad arguments (the message names which).
"""
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import ecdsa
from ecdsa.ellipticcurve import INFINITY
from ecdsa.errors import MalformedPointError
from ecdsa.numbertheory import inverse_mod
from ecdsa.util import sigencode_string

CURVE = ecdsa.SECP256k1
N = CURVE.order
P = CURVE.curve.p()
BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class UsageError(Exception):
    pass


def parse_hex(name, text, size=None):
    if not isinstance(text, str):
        raise UsageError(f"verify_secp256k1: {name} must be a hex string")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"verify_secp256k1: {name} is not hex") from None
    if size is not None and len(data) != size:
        raise UsageError(f"verify_secp256k1: {name} must be {size} bytes, got {len(data)}")
    return data


def base58_decode(text):
    number = 0
    for c in text:
        digit = BASE58_ALPHABET.find(c)
        if digit < 0:
            raise UsageError(f"verify_secp256k1: DERIVED_KEY: '{c}' is not a base58 character")
        number = number * 58 + digit
    leading_zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading_zeros + body


def parse_key(text):
    """The derived key as SEC1 bytes (compressed or uncompressed)."""
    if text.startswith("secp256k1:"):
        xy = base58_decode(text[len("secp256k1:"):])
        if len(xy) != 64:
            raise UsageError(f"verify_secp256k1: DERIVED_KEY: a secp256k1: key holds 64 bytes X || Y, got {len(xy)}")
        sec1 = b"\x04" + xy
    elif ":" in text:
        raise UsageError("verify_secp256k1: DERIVED_KEY: only secp256k1: keys (or SEC1 hex)")
    else:
        sec1 = parse_hex("DERIVED_KEY", text)
        if not ((len(sec1) == 33 and sec1[0] in (2, 3)) or (len(sec1) == 65 and sec1[0] == 4)):
            raise UsageError("verify_secp256k1: DERIVED_KEY must be 33-byte compressed (02/03) or 65-byte uncompressed (04) SEC1 hex")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), sec1)
    except ValueError as e:
        raise UsageError(f"verify_secp256k1: DERIVED_KEY is not a point of secp256k1: {e}") from None
    return key


def parse_response(text):
    """(big_r bytes, s, recovery_id) of the contract's response JSON."""
    try:
        j = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"verify_secp256k1: RESPONSE_JSON is not JSON: {e}") from None
    if not isinstance(j, dict):
        raise UsageError("verify_secp256k1: RESPONSE_JSON must be a JSON object")
    if j.get("scheme") != "Secp256k1":
        raise UsageError(f"verify_secp256k1: RESPONSE_JSON.scheme must be \"Secp256k1\", got {j.get('scheme')!r}")
    try:
        big_r_hex = j["big_r"]["affine_point"]
        s_hex = j["s"]["scalar"]
        recovery_id = j["recovery_id"]
    except (KeyError, TypeError):
        raise UsageError("verify_secp256k1: RESPONSE_JSON needs big_r.affine_point, s.scalar and recovery_id") from None
    big_r = parse_hex("RESPONSE_JSON.big_r.affine_point", big_r_hex, 33)
    if big_r[0] not in (2, 3):
        raise UsageError("verify_secp256k1: RESPONSE_JSON.big_r.affine_point must be compressed SEC1 (02/03 prefix)")
    s = int.from_bytes(parse_hex("RESPONSE_JSON.s.scalar", s_hex, 32), "big")
    if isinstance(recovery_id, bool) or not isinstance(recovery_id, int) or not 0 <= recovery_id <= 3:
        raise UsageError(f"verify_secp256k1: RESPONSE_JSON.recovery_id must be an integer 0..3, got {recovery_id!r}")
    return big_r, s, recovery_id


def check_signature(key, digest, r, s):
    """(a): cryptography's ECDSA verification over the prehash, and low s."""
    if not 0 < r < N or not 0 < s < N:
        return "r and s must lie in 1..n-1"
    if s > N // 2:
        return "s is high (s > n/2); the contract accepts low s only"
    try:
        key.verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return "cryptography: the ECDSA signature does not verify under the derived key"
    return None


def recover_key(digest, r, s, recovery_id):
    """(b): the public key r^-1 (s R - e G) with python-ecdsa's curve
    arithmetic, R the point of x = r (+ n for recovery ids 2, 3) whose y has
    the recovery id's parity; None when no such key exists."""
    if not 0 < r < N or not 0 < s < N:
        return None
    x = r + N if recovery_id & 2 else r
    if x >= P:
        return None
    try:
        big_r = ecdsa.VerifyingKey.from_string(bytes([2 | (recovery_id & 1)]) + x.to_bytes(32, "big"), curve=CURVE).pubkey.point
    except MalformedPointError:
        return None  # no point of the curve has that x
    e = int.from_bytes(digest, "big") % N
    point = (big_r * s + CURVE.generator * ((-e) % N)) * inverse_mod(r, N)
    if point == INFINITY:
        return None
    recovered = ecdsa.VerifyingKey.from_public_point(point, curve=CURVE)
    if recovery_id < 2:
        # The library's own recovery (both parities of R with x = r) must
        # list it.
        candidates = ecdsa.VerifyingKey.from_public_key_recovery_with_digest(
            sigencode_string(r, s, N), digest, CURVE, hashfunc=hashlib.sha256)
        if not any(c.to_string("compressed") == recovered.to_string("compressed") for c in candidates):
            raise AssertionError("python-ecdsa's from_public_key_recovery_with_digest disagrees with the recovery")
    return recovered


def main(argv):
    if len(argv) != 4:
        print("usage: verify_secp256k1.py DERIVED_KEY HASH_HEX RESPONSE_JSON", file=sys.stderr)
        return 2
    try:
        key = parse_key(argv[1])
        digest = parse_hex("HASH_HEX", argv[2], 32)
        big_r, s, recovery_id = parse_response(argv[3])
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    r = int.from_bytes(big_r[1:], "big") % N
    expected = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    failures = []
    why = check_signature(key, digest, r, s)
    if why:
        failures.append(why)
    recovered = recover_key(digest, r, s, recovery_id)
    if recovered is None:
        failures.append(f"python-ecdsa: recovery id {recovery_id} recovers no key from (r, s, hash)")
    elif recovered.to_string("compressed") != expected:
        failures.append(f"python-ecdsa: recovery id {recovery_id} recovers {recovered.to_string('compressed').hex()}, "
                        f"not the derived key {expected.hex()}")
    if failures:
        for f in failures:
            print(f"invalid: {f}")
        return 1
    print(f"valid: cryptography verifies (r, s) under {expected.hex()} and python-ecdsa recovers it with recovery id {recovery_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
