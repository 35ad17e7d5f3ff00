#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with.
# Idempotent and quiet when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libssl-dev libsodium-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libsqlite3-dev sqlite3 libgtest-dev libgmock-dev libbenchmark-dev
  openssl procps curl help2man dpkg-dev ccache
  # The end-to-end tests' second Ed25519 verifier (tests/e2e/verify_ed25519.py).
  python3 python3-cryptography
)

# Node.js and npm (compatibility tests, demo): the machine's if present (it
# may come from another source than Debian), else Debian's.
packages+=(node=nodejs npm=npm)

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
install_missing install-deps "${packages[@]}"
