#!/usr/bin/env python3
"""Verifies one Ed25519 signature (RFC 8032) with Python's `cryptography`.

A second, independent verifier for the end-to-end tests (the first is
OpenSSL, core::ed25519_verify): the network's FROST signatures must be plain
Ed25519 signatures that any verifier accepts.

Usage: verify_ed25519.py PUBLIC_KEY_HEX MESSAGE_HEX SIGNATURE_HEX
  PUBLIC_KEY_HEX  the 32-byte public key (compressed Edwards point), hex
  MESSAGE_HEX     the signed message, hex (may be empty)
  SIGNATURE_HEX   the 64-byte signature R || S, hex

Exit codes: 0 the signature verifies ("valid"), 1 it does not ("invalid"),
2 bad arguments (the message names which).
"""
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class UsageError(Exception):
    pass


def parse_hex(name, text, size=None):
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"verify_ed25519: {name} is not hex") from None
    if size is not None and len(data) != size:
        raise UsageError(f"verify_ed25519: {name} must be {size} bytes, got {len(data)}")
    return data


def main(argv):
    if len(argv) != 4:
        print("usage: verify_ed25519.py PUBLIC_KEY_HEX MESSAGE_HEX SIGNATURE_HEX", file=sys.stderr)
        return 2
    try:
        key_bytes = parse_hex("PUBLIC_KEY_HEX", argv[1], 32)
        message = parse_hex("MESSAGE_HEX", argv[2])
        signature = parse_hex("SIGNATURE_HEX", argv[3], 64)
    except UsageError as e:
        print(e, file=sys.stderr)
        return 2
    try:
        key = Ed25519PublicKey.from_public_bytes(key_bytes)
    except ValueError as e:
        print(f"verify_ed25519: PUBLIC_KEY_HEX is not an Ed25519 key: {e}", file=sys.stderr)
        return 2
    try:
        key.verify(signature, message)
    except InvalidSignature:
        print("invalid")
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
