#!/usr/bin/env bash
# Runs the benchmarks and prints their figures. Extra arguments go to the
# sandbox load driver (e.g. --seconds 30).
set -euo pipefail
build=${BUILD_DIR:-build}
echo "== crypto micro-benchmarks"
"$build/bench/crypto_bench" --benchmark_min_time=0.2
echo
echo "== mpc-sandbox: signed function calls over JSON-RPC on loopback, 100 participants"
"$build/bench/sandbox_load" --block-interval-ms 500 "$@"
echo
"$build/bench/sandbox_load" --block-interval-ms 50 --views 500 "$@"
echo
echo "== mpc-node: GET /get_keyshares over mutual TLS on loopback"
"$build/bench/node_bench" --seconds 3
echo
echo "== mpc-node under a connection flood: 10,000 idle + 16 reopening source addresses"
"$build/bench/connection_flood"
echo
echo "== migrations on a local devnet (soft launch by the operator, hard launch by backup-cli run)"
"$build/bench/migration_bench" --runs 10
