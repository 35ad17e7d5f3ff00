#!/usr/bin/env bash
# The local story on the embedded chain (mpc-sandbox): an operator registers a
# backup service, moves node0 to a new machine through the contract's
# migration protocol, survives a chain crash mid-migration, and concludes.
# Exits 0 on success; otherwise names the failing step. Leaves no process.
set -uo pipefail
build=${BUILD_DIR:-build}
bin="$build/apps/mpc-sandbox"
dir=$(mktemp -d /tmp/mpc-demo.XXXXXX)
home="$dir/chain"
sandbox_pid=""
step_name=""

cleanup() {
  [ -n "$sandbox_pid" ] && kill -9 "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

step() { step_name="$1"; printf '\n\033[1m== %s\033[0m\n' "$1"; }
fail() { printf '\n\033[31mdemo failed at step: %s\033[0m\n%s\n' "$step_name" "${1:-}" >&2; exit 1; }
expect_failure() {  # runs a command that must fail, shows its error
  local out
  if out=$("$@" 2>&1); then fail "expected a refusal, but it succeeded: $out"; fi
  printf '  refused as it should be: %s\n' "$(echo "$out" | head -1)"
}

start_chain() {
  rm -f "$home/rpc.addr"
  "$bin" run --home "$home" --rpc-addr 127.0.0.1:0 --block-interval-ms 200 >>"$dir/sandbox.log" 2>&1 &
  sandbox_pid=$!
  for _ in $(seq 100); do [ -s "$home/rpc.addr" ] && break; sleep 0.05; done
  [ -s "$home/rpc.addr" ] || fail "mpc-sandbox did not start: $(tail -3 "$dir/sandbox.log")"
  export MPC_RPC_URL="http://$(cat "$home/rpc.addr")"
}

step "1. A local chain: mpc-sandbox with the MPC contract and 3 participants"
"$bin" init --home "$home" --participants 3 --threshold 2 || fail
start_chain
echo "  chain RPC at $MPC_RPC_URL (pid $sandbox_pid)"
"$bin" view state | head -30 || fail "view state"

step "2. node0's operator registers a backup service (signed transaction, 1 yoctoNEAR deposit)"
backup_pk=$("$bin" keygen --account-id node0.sandbox --out "$dir/backup_service_key.json") || fail
echo "  backup service key: $backup_pk"
"$bin" call register_backup_service --credentials "$home/credentials/node0.sandbox.json" --deposit-yocto 1 \
  --args "{\"backup_service_info\":{\"public_key\":\"$backup_pk\"}}" || fail

step "3. node0's machine is replaced: the new machine has a new TLS key and a new access key"
new_tls=$("$bin" keygen --account-id node0.sandbox --out "$dir/new_node_tls_key.json") || fail
new_access=$("$bin" keygen --account-id node0.sandbox --out "$dir/new_node_access_key.json") || fail
echo "  new TLS key:    $new_tls"
echo "  new access key: $new_access"
"$bin" add-key "$new_access" --credentials "$home/credentials/node0.sandbox.json" || fail "add the new node's access key"

step "4. The operator starts the migration on-chain"
"$bin" call start_node_migration --credentials "$home/credentials/node0.sandbox.json" --deposit-yocto 1 \
  --args "{\"destination_node_info\":{\"signer_account_pk\":\"$new_access\",\"destination_node_info\":{\"url\":\"https://node0-new.sandbox:443\",\"tls_public_key\":\"$new_tls\"}}}" || fail
"$bin" view migration_info || fail

step "5. The chain crashes (kill -9) mid-migration and restarts: nothing reported is lost"
kill -9 "$sandbox_pid"; wait "$sandbox_pid" 2>/dev/null; sandbox_pid=""
start_chain
"$bin" view migration_info | grep -q "$new_access" || fail "the migration did not survive the crash"
echo "  migration still recorded after the restart"

step "6. Only the new node's access key with the current keyset may conclude"
keyset=$("$bin" view state | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s).Running.keyset)))') || fail "read keyset"
expect_failure "$bin" call conclude_node_migration --credentials "$home/credentials/node0.sandbox.json" --args "{\"keyset\":$keyset}"
expect_failure "$bin" call conclude_node_migration --credentials "$dir/new_node_access_key.json" --args '{"keyset":{"epoch_id":7,"domains":[]}}'
"$bin" call conclude_node_migration --credentials "$dir/new_node_access_key.json" --args "{\"keyset\":$keyset}" || fail "conclude"

step "7. The contract lists the new node for node0.sandbox, with the same participant id"
"$bin" view state | node -e '
  let s=""; process.stdin.on("data", d => s += d).on("end", () => {
    const p = JSON.parse(s).Running.parameters.participants.participants.find(e => e[0] === "node0.sandbox");
    console.log(`  node0.sandbox: participant id ${p[1]}, url ${p[2].url}, tls key ${p[2].tls_public_key}`);
    if (p[1] !== 0 || p[2].tls_public_key !== process.argv[1]) { console.error("unexpected participant entry"); process.exit(1); }
  });' "$new_tls" || fail "check the participant entry"
"$bin" view migration_info || fail

step "8. Shut down cleanly"
kill -TERM "$sandbox_pid" && wait "$sandbox_pid" || fail "mpc-sandbox did not exit cleanly"
sandbox_pid=""
printf '\n\033[32mdemo complete\033[0m: backup registration, migration, crash recovery and conclusion on the local chain.\n'
echo "Next (not built yet): mpc-node serving shares over mutual TLS and backup-cli moving them; see README 'Status'."
