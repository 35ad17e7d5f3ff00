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

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (compatibility tests, demo): use the machine's if present
# (it may come from another source than Debian), else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
