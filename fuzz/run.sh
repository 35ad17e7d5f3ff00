#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets in build-fuzz (clang, ASan/UBSan)
# and runs each for FUZZ_SECONDS (default 60) on a copy of its seed corpus,
# one at a time, then prints per target: executions, exec/s, coverage
# (cov:/ft: of libFuzzer's final status line), corpus growth and the crash,
# if any. Stops by itself; exits 1 if any target found a crash.
#
#   FUZZ_SECONDS=N      seconds per target (default 60)
#   FUZZ_TARGETS="a b"  only these targets (names as in fuzz/<name>_fuzz.cc)
#   FUZZ_BUILD_DIR=dir  build directory (default build-fuzz)
#
# The committed seeds (fuzz/corpus/<name>) are never written; what a run
# finds goes to $FUZZ_BUILD_DIR/corpus/<name>, crashing inputs to
# $FUZZ_BUILD_DIR/artifacts/<name>/, the log to $FUZZ_BUILD_DIR/logs/<name>.log.
# A crash is reproduced with: $FUZZ_BUILD_DIR/fuzz/<name>_fuzz <crash file>.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD_DIR:-build-fuzz}"
all_targets="borsh_tx rpc contract_call keyshare_json keyshare_blob migration_http encodings json_limits p2p_frame frost_message key_event_message ecdsa_message"
targets="${FUZZ_TARGETS:-$all_targets}"

# -max_len per target: a little above the largest meaningful input.
max_len() {
  case "$1" in
    borsh_tx) echo 2048 ;;
    rpc) echo 4096 ;;
    contract_call) echo 4096 ;;
    keyshare_json) echo 4096 ;;
    keyshare_blob) echo 2048 ;;
    migration_http) echo 8192 ;;
    encodings) echo 256 ;;
    json_limits) echo 2048 ;;
    p2p_frame) echo 4096 ;;
    frost_message) echo 8192 ;;
    key_event_message) echo 3072 ;;  # the largest valid message (kMaxKeyEventMessageSize) is 2589 bytes
    ecdsa_message) echo 4096 ;;  # records of messages: the seed of a whole 5-party presigning and signing is 1780 bytes
    *) echo "fuzz: unknown target $1 (known: $all_targets)" >&2; exit 2 ;;
  esac
}
for t in $targets; do max_len "$t" >/dev/null; done
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz: FUZZ_SECONDS must be a positive integer" >&2; exit 2; }

scripts/install-fuzz-deps.sh
if [ ! -f "$build/build.ninja" ] || ! grep -qE '^MPC_FUZZ:[A-Z]*=ON$' "$build/CMakeCache.txt"; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPC_FUZZ=ON \
    -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_C_COMPILER=clang-19 >/dev/null
fi
build_targets=()
for t in $targets; do build_targets+=("${t}_fuzz"); done
cmake --build "$build" -j2 --target "${build_targets[@]}" | grep -v '^\[' || true
for t in $targets; do [ -x "$build/fuzz/${t}_fuzz" ] || { echo "fuzz: $build/fuzz/${t}_fuzz was not built" >&2; exit 1; }; done

mkdir -p "$build/logs"
results=()
crashed=0
for t in $targets; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$artifacts"
  cp -n "fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  before=$(find "$corpus" -type f | wc -l)
  echo "fuzz: $t for ${seconds}s (max_len $(max_len "$t"))"
  set +e
  # -timeout: one input may take 10 s at most; -rss_limit_mb bounds memory.
  # The run ends by itself after max_total_time (or at the first crash).
  "$build/fuzz/${t}_fuzz" "$corpus" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  after=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    crashed=1
    unit=$(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$log" | head -1)
    what=$(grep -m1 -E "^==[0-9]+==ERROR|runtime error|fuzz invariant|deadly signal|out-of-memory|timeout after" "$log" || true)
    status="CRASH ${unit:-(no input saved; see $log)} ${what:+($what)}"
  else
    status="no crash"
  fi
  results+=("$(printf '%-17s %12s %8s %7s %7s %11s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$before->$after" "$status")")
done

echo
printf '%-17s %12s %8s %7s %7s %11s  %s\n' target executions exec/s cov ft corpus result
for r in "${results[@]}"; do echo "$r"; done
exit "$crashed"
