#!/usr/bin/env bash
# Installs what `make fuzz` needs beyond scripts/install-deps.sh: clang 19
# and its compiler runtime (libFuzzer, ASan, UBSan). Debian 12's default
# clang (14) has libFuzzer (libclang-rt-14-dev) but cannot compile the
# project: its concepts support is too old for libstdc++ 12's std::expected.
# Idempotent and quiet when everything is present.
set -euo pipefail

"$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
install_missing install-fuzz-deps clang-19 libclang-rt-19-dev
