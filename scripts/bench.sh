#!/usr/bin/env bash
# Runs the benchmarks and prints their figures.
set -euo pipefail
build=${BUILD_DIR:-build}
echo "== crypto micro-benchmarks"
"$build/bench/crypto_bench" --benchmark_min_time=0.2
echo
echo "== mpc-sandbox load: signed function calls over JSON-RPC, 100 participants"
"$build/bench/sandbox_load" "$@"
