#!/usr/bin/env bash
# The story an MPC node operator lives, on a local network (mpc-devnet: the
# embedded mpc-sandbox chain plus real mpc-node processes on loopback):
#   1. register a backup service for node0's account and back up its shares;
#   2. node0's machine fails (process killed, home deleted);
#   3. a new machine: new TLS and access keys, start-migration, put-keyshares,
#      the new node concludes the migration on-chain by itself;
#   4. the contract lists the new node with the same participant id, it holds
#      exactly node0's shares (digests compared), and it can be backed up again;
#   5. the migrated network signs: with node1 down, a `sign` request can only be
#      answered by the new node0 and node2 (threshold 2, FROST over the P2P
#      mesh); the signature is verified by OpenSSL under the derived key.
# Exits 0 on success; otherwise names the failing step. Leaves no process.
set -uo pipefail
build=${BUILD_DIR:-build}
apps="$(cd "$build/apps" && pwd)"
devnet="$apps/mpc-devnet"; node_bin="$apps/mpc-node"; cli="$apps/backup-cli"; sandbox="$apps/mpc-sandbox"
block_ms=${DEMO_BLOCK_INTERVAL_MS:-200}
poll_ms=${DEMO_POLL_INTERVAL_MS:-200}
dir=$(mktemp -d /tmp/mpc-demo.XXXXXX)
net="$dir/devnet"
new_pid=""
step_name=""
sign_path="demo/payments"
sign_message="pay 10 to bob"
# `sign` through the contract (1 yoctoNEAR, as the reference asks); prints the
# Ed25519 signature as hex. $1: a credential file of the caller.
sign_hex() {
  local msg_hex
  msg_hex=$(printf '%s' "$sign_message" | od -An -v -tx1 | tr -d ' \n')
  "$sandbox" call sign --rpc-url "$MPC_RPC_URL" --contract-id "$MPC_CONTRACT_ID" --credentials "$1" --deposit-yocto 1 \
    --timeout-seconds 60 --args "{\"request\":{\"domain_id\":1,\"path\":\"$sign_path\",\"payload_v2\":{\"Eddsa\":\"$msg_hex\"}}}" \
    | sed -n 's/^  result: //p' | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["scheme"]=="Ed25519"; print(bytes(r["signature"]).hex())'
}
# Verifies a hex signature of $sign_message by the key derived for ($1, $sign_path)
# with OpenSSL: the contract's derived_public_key view, as PEM.
openssl_verify() {
  local derived
  derived=$("$sandbox" view derived_public_key --rpc-url "$MPC_RPC_URL" --contract-id "$MPC_CONTRACT_ID" \
    --args "{\"path\":\"$sign_path\",\"predecessor\":\"$1\",\"domain_id\":1}") || return 1
  say "derived public key for $1, path $sign_path: $derived"
  python3 - "$derived" "$dir/derived.pem" <<'PY' || return 1
import base64, json, sys
text = json.loads(sys.argv[1]); assert text.startswith("ed25519:")
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
n = 0
for c in text[len("ed25519:"):]: n = n * 58 + alphabet.index(c)
raw = n.to_bytes(32, "big")
der = bytes.fromhex("302a300506032b6570032100") + raw  # SubjectPublicKeyInfo, id-Ed25519
open(sys.argv[2], "w").write("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n")
PY
  printf '%s' "$sign_message" >"$dir/message"
  python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$2" >"$dir/signature"
  openssl pkeyutl -verify -pubin -inkey "$dir/derived.pem" -rawin -in "$dir/message" -sigfile "$dir/signature"
}

cleanup() {
  [ -n "$new_pid" ] && kill "$new_pid" 2>/dev/null && wait "$new_pid" 2>/dev/null
  [ -f "$net/devnet.json" ] && "$devnet" down --dir "$net" >/dev/null 2>&1
  [ -n "${DEMO_KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT

step() { step_name="$1"; printf '\n\033[1m== %s\033[0m\n' "$1"; }
fail() { printf '\n\033[31mdemo failed at step: %s\033[0m\n%s\n' "$step_name" "${1:-}" >&2; exit 1; }
now_ms() { date +%s%3N; }
say() { printf '  %s\n' "$*"; }

step "0. A local MPC network: 3 nodes, threshold 2; the nodes generate a secp256k1 and an ed25519 key together (no dealer)"
"$devnet" create --dir "$net" --nodes 3 --threshold 2 --domains secp256k1,ed25519 || fail
# `up` returns once the nodes have run distributed key generation for both
# domains and the contract is Running with their keys.
"$devnet" up --dir "$net" --block-interval-ms "$block_ms" --poll-interval-ms "$poll_ms" || fail
eval "$("$devnet" env --dir "$net" --node 0)" || fail "devnet env"
export BACKUP_HOME_DIR="$dir/backup-home"
BACKUP_ENCRYPTION_KEY_HEX=$(cat "$BACKUP_ENCRYPTION_KEY_FILE"); export BACKUP_ENCRYPTION_KEY_HEX
export BACKUP_RPC_URL="$MPC_RPC_URL" MPC_CONTRACT_ACCOUNT_ID="$MPC_CONTRACT_ID" SIGNER_ACCOUNT_ID="$NODE_ACCOUNT_ID"
export SIGNER_KEY_FILE="$OPERATOR_KEY_FILE"

step "1. node0's operator creates a backup service, registers it on-chain and backs up node0"
"$cli" generate-keys || fail
"$cli" register || fail
t0=$(now_ms)
"$cli" get-keyshares --mpc-node-address "$NODE_MIGRATION_ADDR" --mpc-node-p2p-key "$NODE_P2P_KEY" || fail
backup_ms=$(( $(now_ms) - t0 ))
"$cli" verify || fail
old_digest=$("$node_bin" shares --home "$NODE_HOME" | sed -n 's/^digest //p')
say "node0's shares digest: $old_digest"
"$cli" status || fail

step "2. node0's machine fails: its process is killed and its home is gone"
kill -9 "$(cat "$net/run/node0.pid")" || fail "kill node0"
rm -rf "$NODE_HOME"
say "node0 killed, $NODE_HOME deleted"

step "3. A new machine: a new node home with new TLS and access keys"
new_home="$dir/new-machine/node0"
"$node_bin" init --home "$new_home" --account-id "$NODE_ACCOUNT_ID" || fail
new_tls=$("$node_bin" keys --home "$new_home" | sed -n 's/.*"tls_public_key": "\(.*\)".*/\1/p')
new_access=$("$node_bin" keys --home "$new_home" | sed -n 's/.*"access_public_key": "\(.*\)".*/\1/p')
[ -n "$new_tls" ] && [ -n "$new_access" ] || fail "reading the new node's keys"
say "the operator lets the new node's access key call the contract (a function-call key)"
"$sandbox" add-key "$new_access" --rpc-url "$MPC_RPC_URL" --contract-id "$MPC_CONTRACT_ID" --credentials "$OPERATOR_KEY_FILE" >/dev/null || fail "add-key"
# It takes over node0's P2P address; its migration endpoint is a port of its own.
new_url="$NODE_P2P_URL"
MPC_BACKUP_ENCRYPTION_KEY_HEX="$BACKUP_ENCRYPTION_KEY_HEX" "$node_bin" run --home "$new_home" --rpc-url "$MPC_RPC_URL" \
  --contract-id "$MPC_CONTRACT_ID" --p2p-url "$new_url" --p2p-listen-addr "${new_url#https://}" --migration-addr 127.0.0.1:0 --poll-interval-ms "$poll_ms" \
  --tee-attestation mock >>"$dir/new-node.log" 2>&1 &
new_pid=$!
for _ in $(seq 200); do [ -s "$new_home/migration.addr" ] && break; sleep 0.05; done
[ -s "$new_home/migration.addr" ] || fail "the new node did not start: $(tail -5 "$dir/new-node.log")"
new_addr=$(cat "$new_home/migration.addr")
say "new node at $new_url (P2P), migration endpoint on $new_addr (pid $new_pid)"

t0=$(now_ms)
"$cli" start-migration --destination-url "$new_url" --destination-tls-key "$new_tls" --destination-access-key "$new_access" || fail
say "put-keyshares: the contract names the destination (its TLS key; its host, on the migration port)"
"$cli" put-keyshares --destination-migration-port "${new_addr##*:}" || fail
say "waiting for the new node to conclude the migration on-chain"
concluded=""
for _ in $(seq 600); do
  if "$cli" status 2>/dev/null | grep -q "participant 0 at $new_url (TLS key $new_tls)"; then concluded=1; break; fi
  sleep 0.05
done
migration_ms=$(( $(now_ms) - t0 ))
[ -n "$concluded" ] || fail "the contract does not list the new node: $(tail -5 "$dir/new-node.log")"

step "4. The contract lists the new node for node0's account, same participant id; same shares; backed up again"
"$cli" status || fail
new_digest=$("$node_bin" shares --home "$new_home" 2>/dev/null | sed -n 's/^digest //p')
# The running node holds the store open; read its summary from the metrics-free CLI after the fact.
say "old node0 digest: $old_digest"
say "new node  digest: $new_digest"
[ -n "$new_digest" ] && [ "$old_digest" = "$new_digest" ] || fail "the new node's shares differ from node0's"
"$cli" get-keyshares --mpc-node-address "$new_addr" --mpc-node-p2p-key "$new_tls" || fail "backing up the new node"

step "5. The migrated network signs: node1 is down, so only the new node0 and node2 can answer (threshold 2)"
kill -9 "$(cat "$net/run/node1.pid")" || fail "stopping node1"
say "node1 stopped; a dapp (node2's operator account here) asks the contract to sign \"$sign_message\" (path $sign_path)"
t0=$(now_ms)
signature=$(sign_hex "$net/operators/node2.devnet.json") && [ -n "$signature" ] || fail "sign: $(tail -5 "$dir/new-node.log")"
sign_ms=$(( $(now_ms) - t0 ))
say "signature: $signature"
openssl_verify node2.devnet "$signature" || fail "OpenSSL does not verify the signature"
say "verified by OpenSSL; with node1 down and threshold 2, the new node0 took part"

step "6. Shut down"
kill "$new_pid" && wait "$new_pid"; new_pid=""
"$devnet" down --dir "$net" || fail
printf '\n\033[32mdemo complete\033[0m: backup, machine failure, migration to a new machine, conclusion on-chain, the migrated network signs.\n'
printf '  one backup (get-keyshares):                %5d ms\n' "$backup_ms"
printf '  migration (start-migration -> new node):   %5d ms   (block interval %d ms, node poll interval %d ms)\n' \
  "$migration_ms" "$block_ms" "$poll_ms"
printf '  sign (transaction -> signature in outcome): %5d ms\n' "$sign_ms"
