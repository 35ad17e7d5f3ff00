#!/usr/bin/env bash
# Installs what `make fuzz` needs beyond scripts/install-deps.sh: clang 19
# and its compiler runtime (libFuzzer, ASan, UBSan). Debian 12's default
# clang (14) has libFuzzer (libclang-rt-14-dev) but cannot compile the
# project: its concepts support is too old for libstdc++ 12's std::expected.
# Idempotent and quiet when everything is present.
set -euo pipefail

"$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"

packages=(clang-19 libclang-rt-19-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-fuzz-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
