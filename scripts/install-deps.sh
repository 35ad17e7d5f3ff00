#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with.
# Idempotent and quiet when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libssl-dev libsodium-dev nlohmann-json3-dev libsimdjson-dev libcli11-dev
  libspdlog-dev libsqlite3-dev sqlite3 libgtest-dev libgmock-dev libbenchmark-dev
  libjemalloc-dev  # mpc-node's allocator (apps/mpc_node.cc)
  openssl procps curl help2man dpkg-dev ccache
  # The end-to-end tests' independent verifiers: Ed25519 and secp256k1 ECDSA
  # with Python's `cryptography` (tests/e2e/verify_ed25519.py,
  # verify_secp256k1.py), secp256k1 public key recovery with python3-ecdsa,
  # and the openssl command line (openssl, above).
  python3 python3-cryptography python3-ecdsa
)

# Node.js and npm (compatibility tests, demo): the machine's if present (it
# may come from another source than Debian), else Debian's.
packages+=(node=nodejs npm=npm)

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
install_missing install-deps "${packages[@]}"
