// near-api-js (unchanged, from npm) against a real mpc-sandbox process:
// view calls, access-key queries, signed function calls and their outcomes,
// and the errors NEAR tooling expects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, keyStores, KeyPair, utils } from 'near-api-js';

const here = dirname(fileURLToPath(import.meta.url));
const sandboxBin = process.env.MPC_SANDBOX_BIN ?? join(here, '../../build/apps/mpc-sandbox');

let home;
let proc;
let near;
let keyStore;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(path, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (existsSync(path)) return readFileSync(path, 'utf8').trim();
    await sleep(50);
  }
  throw new Error(`mpc-sandbox did not write ${path} within ${ms} ms`);
}

function credentials(accountId) {
  return JSON.parse(readFileSync(join(home, 'credentials', `${accountId}.json`), 'utf8'));
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'mpc-compat-'));
  execFileSync(sandboxBin, ['init', '--home', home, '--participants', '3', '--threshold', '2']);
  proc = spawn(sandboxBin, ['run', '--home', home, '--rpc-addr', '127.0.0.1:0', '--block-interval-ms', '100'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const addr = await waitForFile(join(home, 'rpc.addr'), 10000);
  keyStore = new keyStores.InMemoryKeyStore();
  for (const id of ['node0.sandbox', 'node1.sandbox', 'mpc.sandbox']) {
    await keyStore.setKey('sandbox', id, KeyPair.fromString(credentials(id).private_key));
  }
  near = await connect({ networkId: 'sandbox', nodeUrl: `http://${addr}`, keyStore });
});

after(() => {
  if (proc) proc.kill('SIGTERM');
  if (home) rmSync(home, { recursive: true, force: true });
});

test('status and block are readable', async () => {
  const status = await near.connection.provider.status();
  assert.equal(status.chain_id, 'mpc-sandbox');
  const block = await near.connection.provider.block({ finality: 'final' });
  assert.ok(block.header.height >= 1);
  assert.equal(typeof block.header.hash, 'string');
});

test('view calls return the contract state', async () => {
  const account = await near.account('node0.sandbox');
  const state = await account.viewFunction({ contractId: 'mpc.sandbox', methodName: 'state', args: {} });
  assert.ok(state.Running, 'the contract starts Running');
  const ids = state.Running.parameters.participants.participants.map((p) => p[0]);
  assert.deepEqual(ids, ['node0.sandbox', 'node1.sandbox', 'node2.sandbox']);
});

test('access keys and accounts can be queried', async () => {
  const account = await near.account('node0.sandbox');
  const keys = await account.getAccessKeys();
  assert.equal(keys.length, 1);
  assert.equal(keys[0].public_key, credentials('node0.sandbox').public_key);
  assert.equal(keys[0].access_key.permission, 'FullAccess');
  const state = await account.state();
  assert.ok(BigInt(state.amount) > 0n);
  await assert.rejects(() => near.connection.provider.query({
    request_type: 'view_account', finality: 'final', account_id: 'nobody.sandbox',
  }), (e) => e.type === 'AccountDoesNotExist');
});

test('a signed function call executes and its effect is visible', async () => {
  const account = await near.account('node0.sandbox');
  const backupKey = KeyPair.fromRandom('ed25519').getPublicKey().toString();
  const outcome = await account.functionCall({
    contractId: 'mpc.sandbox',
    methodName: 'register_backup_service',
    args: { backup_service_info: { public_key: backupKey } },
    attachedDeposit: 1n,
  });
  assert.ok('SuccessValue' in outcome.status, JSON.stringify(outcome.status));
  const info = await account.viewFunction({ contractId: 'mpc.sandbox', methodName: 'migration_info', args: {} });
  assert.equal(info['node0.sandbox'][0].public_key, backupKey);
  // The nonce moved on.
  const keys = await account.getAccessKeys();
  assert.ok(BigInt(keys[0].access_key.nonce) >= 1n);
});

test('a contract panic is reported as a failed transaction', async () => {
  const account = await near.account('mpc.sandbox');  // not a participant
  await assert.rejects(() => account.functionCall({
    contractId: 'mpc.sandbox',
    methodName: 'start_node_migration',
    args: { destination_node_info: { signer_account_pk: KeyPair.fromRandom('ed25519').getPublicKey().toString(),
      destination_node_info: { url: 'https://x:1', tls_public_key: KeyPair.fromRandom('ed25519').getPublicKey().toString() } } },
    attachedDeposit: 1n,
  }), (e) => /panicked/i.test(e.message) || e.type === 'ExecutionError' || e.type === 'FunctionCallError');
});

test('an unknown method is reported as MethodNotFound', async () => {
  const account = await near.account('node1.sandbox');
  await assert.rejects(() => account.functionCall({ contractId: 'mpc.sandbox', methodName: 'no_such_method', args: {} }),
    (e) => /MethodNotFound|MethodResolveError/.test(`${e.type} ${e.message}`));
});

test('a key added with AddKey can sign, within its permissions', async () => {
  const account = await near.account('node1.sandbox');
  const fcKey = KeyPair.fromRandom('ed25519');
  await account.addKey(fcKey.getPublicKey(), 'mpc.sandbox', ['update_participant_url'], 0n);
  const keys = await account.getAccessKeys();
  const added = keys.find((k) => k.public_key === fcKey.getPublicKey().toString());
  assert.equal(added.access_key.permission.FunctionCall.receiver_id, 'mpc.sandbox');
  // Sign with the function-call key: a deposit is refused before execution.
  const fcStore = new keyStores.InMemoryKeyStore();
  await fcStore.setKey('sandbox', 'node1.sandbox', fcKey);
  const fcNear = await connect({ networkId: 'sandbox', nodeUrl: near.config.nodeUrl, keyStore: fcStore });
  const fcAccount = await fcNear.account('node1.sandbox');
  await assert.rejects(() => fcAccount.functionCall({
    contractId: 'mpc.sandbox', methodName: 'register_backup_service',
    args: { backup_service_info: { public_key: fcKey.getPublicKey().toString() } }, attachedDeposit: 1n,
  }), (e) => /DepositWithFunctionCall|MethodNameMismatch/.test(`${e.type} ${e.message}`));
});

test('a transfer moves balance', async () => {
  const from = await near.account('node0.sandbox');
  const to = await near.account('node1.sandbox');
  const before = BigInt((await to.state()).amount);
  await from.sendMoney('node1.sandbox', utils.format.parseNearAmount('1'));
  const afterBal = BigInt((await to.state()).amount);
  assert.equal(afterBal - before, 10n ** 24n);
});
