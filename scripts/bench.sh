#!/usr/bin/env bash
# Runs the benchmarks and prints their figures. Extra arguments go to the
# sandbox load driver (e.g. --seconds 30).
set -euo pipefail
build=${BUILD_DIR:-build}
# nginx is the reference server of node_vs_nginx: installed for the benchmark
# only, never a dependency of the product.
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
install_missing bench nginx
echo "== crypto micro-benchmarks"
"$build/bench/crypto_bench" --benchmark_min_time=0.2
echo
echo "== mpc-sandbox at 10, 100 and 1,000 participants: executed signed function calls/s against the single-core ed25519 verify rate, state view latency (500 ms, then 50 ms blocks)"
"$build/bench/sandbox_load" --block-interval-ms 500 "$@"
echo
"$build/bench/sandbox_load" --block-interval-ms 50 --views 500 "$@"
echo
echo "== mpc-node: GET /get_keyshares over mutual TLS on loopback"
"$build/bench/node_bench" --seconds 3
echo
echo "== mpc-node against nginx on the same bytes (GET /get_keyshares, mutual TLS 1.3, 1 to 1,000 domains): ratios, bare handshake, openssl speed"
"$build/bench/node_vs_nginx"
echo
echo "== mpc-node under a connection flood: 10,000 idle + 16 reopening source addresses"
"$build/bench/connection_flood"
echo
echo "== migrations on a local devnet (soft launch by the operator, hard launch by backup-cli run)"
"$build/bench/migration_bench" --runs 10
echo
echo "== FROST(Ed25519) in process: one signature against the group operations it makes"
"$build/bench/frost_bench"
echo
echo "== threshold ECDSA (secp256k1, DamgardEtAl) in process: presignatures/s, signatures/s, sign CPU p50/p99, against secp256k1 mults and OpenSSL ECDSA"
"$build/bench/ecdsa_bench"
echo
echo "== threshold ECDSA on local devnets of 3 and 5 nodes (real processes): presignatures/s and CPU per presignature, sign latency, burst signatures/s, against secp256k1 base mults"
"$build/bench/ecdsa_net_bench"
echo
echo "== sign on local devnets (3 nodes threshold 2, 10 nodes threshold 7): latency, signatures/s, ratio to the group operations"
"$build/bench/sign_bench"
echo
echo "== key generation and resharing in process (threshold/key_event.h): wall time and bytes per participant"
"$build/bench/key_event_bench"
echo
echo "== key generation and resharing on local devnets of 3, 7 and 15 nodes (real processes, loopback mesh)"
"$build/bench/key_event_net_bench"
echo
echo "== TDX quote verification (mpc-attest's library): verifications/s, breakdown, against openssl speed ecdsap256"
"$build/bench/attest_bench"
