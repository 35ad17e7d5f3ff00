// near-api-js (unchanged, from npm) against a real mpc-sandbox process:
// view calls, access-key queries, signed function calls and their outcomes,
// the errors NEAR tooling expects, and `sign` through NEAR yield/resume (the
// caller's functionCall returns the signature a second actor's `respond`
// delivers, or fails with the reference's timeout).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, keyStores, KeyPair, utils, providers } from 'near-api-js';
import { ed25519 } from '@noble/curves/ed25519';
import { sha3_256 } from '@noble/hashes/sha3';
import { sha512 } from '@noble/hashes/sha512';

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

// ---------------------------------------------------------------- sign / respond

// A sandbox started from a genesis that holds a Frost (Ed25519) domain whose
// group secret this test knows, so that a second actor (a participant
// account) can answer `sign` with a real signature under the derived key.
const L = ed25519.CURVE.n;
const toLE = (n) => { const out = new Uint8Array(32); for (let i = 0; i < 32; i++) { out[i] = Number(n & 0xffn); n >>= 8n; } return out; };
const fromLE = (bytes) => bytes.reduceRight((acc, b) => (acc << 8n) + BigInt(b), 0n);
const randomScalar = () => (fromLE(sha512(crypto.getRandomValues(new Uint8Array(32)))) % (L - 1n)) + 1n;
const hex = (bytes) => Buffer.from(bytes).toString('hex');

// The reference's derive_tweak: SHA3-256 of the prefix, the account, ',', the path.
const tweakOf = (account, path) => sha3_256(new TextEncoder().encode(`near-mpc-recovery v0.1.0 epsilon derivation:${account},${path}`));

// A plain Ed25519 signature (RFC 8032 equations) by the key d·G held as a scalar.
function signWithScalar(d, message) {
  const A = ed25519.ExtendedPoint.BASE.multiply(d).toRawBytes();
  const r = randomScalar();
  const R = ed25519.ExtendedPoint.BASE.multiply(r).toRawBytes();
  const k = fromLE(sha512(new Uint8Array([...R, ...A, ...message]))) % L;
  const S = (r + k * d) % L;
  return new Uint8Array([...R, ...toLE(S)]);
}

async function startSigningSandbox({ yieldTimeoutBlocks, blockIntervalMs }) {
  const dir = mkdtempSync(join(tmpdir(), 'mpc-compat-sign-'));
  const store = new keyStores.InMemoryKeyStore();
  const groupSecret = randomScalar();
  const group = ed25519.ExtendedPoint.BASE.multiply(groupSecret).toRawBytes();
  const accounts = [];
  const participants = [];
  for (const [i, id] of ['user.sandbox', 'node0.sandbox', 'node1.sandbox', 'node2.sandbox'].entries()) {
    const key = KeyPair.fromRandom('ed25519');
    await store.setKey('sandbox', id, key);
    accounts.push({ account_id: id, balance: '1000000000000000000000000000', keys: [{ public_key: key.getPublicKey().toString(), permission: 'FullAccess' }] });
    if (i > 0) {
      participants.push([id, i - 1, { url: `https://${id}:1`, tls_public_key: KeyPair.fromRandom('ed25519').getPublicKey().toString() }]);
    }
  }
  const genesis = {
    chain_id: 'mpc-sandbox', contract_account_id: 'mpc.sandbox', yield_timeout_blocks: yieldTimeoutBlocks, accounts,
    contract_state: { protocol_state: { Running: {
      domains: { domains: [{ id: 0, protocol: 'Frost', purpose: 'Sign' }], next_domain_id: 1 },
      keyset: { epoch_id: 0, domains: [{ domain_id: 0, attempt: 0, key: { Ed25519: {
        near_public_key_compressed: `ed25519:${utils.serialize.base_encode(group)}`, edwards_point: [...group] } } }] },
      parameters: { participants: { next_id: 3, participants }, threshold: 2 },
    } } },
  };
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, JSON.stringify(genesis));
  const sandboxHome = join(dir, 'home');
  execFileSync(sandboxBin, ['init', '--home', sandboxHome, '--genesis', genesisFile]);
  const child = spawn(sandboxBin, ['run', '--home', sandboxHome, '--rpc-addr', '127.0.0.1:0', '--block-interval-ms', String(blockIntervalMs)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const addr = await waitForFile(join(sandboxHome, 'rpc.addr'), 10000);
  const conn = await connect({ networkId: 'sandbox', nodeUrl: `http://${addr}`, keyStore: store });
  return {
    near: conn, groupSecret, group,
    stop: () => { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); },
  };
}

// The second actor: a participant that finds the request in the view our
// nodes poll and answers it with a signature under the derived key.
async function respondToPending(sb, responderId, { payloadHex, predecessor, path }) {
  const responder = await sb.near.account(responderId);
  const deadline = Date.now() + 30000;
  for (;;) {
    const pending = await responder.viewFunction({ contractId: 'mpc.sandbox', methodName: 'pending_signature_requests', args: {} });
    const entry = pending.find((p) => p.request.payload.Eddsa === payloadHex && p.predecessor_id === predecessor);
    if (entry) {
      assert.equal(entry.path, path);
      assert.deepEqual(entry.request.tweak, [...tweakOf(predecessor, path)], 'the contract derives the reference tweak');
      const message = Buffer.from(payloadHex, 'hex');
      const d = (sb.groupSecret + fromLE(Uint8Array.from(entry.request.tweak))) % L;
      const signature = signWithScalar(d, message);
      await responder.functionCall({
        contractId: 'mpc.sandbox', methodName: 'respond',
        args: { request: entry.request, response: { scheme: 'Ed25519', signature: [...signature] } },
      });
      return { signature, derived: ed25519.ExtendedPoint.BASE.multiply(d).toRawBytes() };
    }
    if (Date.now() > deadline) throw new Error(`no pending request for ${payloadHex} within 30 s`);
    await sleep(50);
  }
}

describe('sign through yield/resume', () => {
  let sb;
  before(async () => { sb = await startSigningSandbox({ yieldTimeoutBlocks: 1000, blockIntervalMs: 50 }); });
  after(() => sb?.stop());

  test('functionCall(sign) returns the signature a participant delivers with respond', async () => {
    const user = await sb.near.account('user.sandbox');
    const payloadHex = hex(crypto.getRandomValues(new Uint8Array(48)));
    const path = 'solana-1';
    const signing = user.functionCall({
      contractId: 'mpc.sandbox', methodName: 'sign',
      args: { request: { path, payload_v2: { Eddsa: payloadHex }, domain_id: 0 } },
      gas: 50_000_000_000_000n, attachedDeposit: 1n,
    });
    const [outcome, answered] = await Promise.all([signing, respondToPending(sb, 'node1.sandbox', { payloadHex, predecessor: 'user.sandbox', path })]);
    const result = providers.getTransactionLastResult(outcome);
    assert.deepEqual(result, { scheme: 'Ed25519', signature: [...answered.signature] });
    assert.ok(ed25519.verify(Uint8Array.from(result.signature), Buffer.from(payloadHex, 'hex'), answered.derived),
      'the signature verifies under the key derived for user.sandbox');
    assert.equal(outcome.final_execution_status, 'FINAL');
    // The transaction's status queried afterwards, as a wallet would.
    const status = await sb.near.connection.provider.txStatus(outcome.transaction.hash, 'user.sandbox', 'FINAL');
    assert.deepEqual(providers.getTransactionLastResult(status), result);
    const pending = await user.viewFunction({ contractId: 'mpc.sandbox', methodName: 'pending_signature_requests', args: {} });
    assert.equal(pending.length, 0);
  });

  test("a respond later than the RPC's wait reaches near-api-js through its retries on 408", async () => {
    // near-api-js retries send_tx when the RPC answers HTTP 408 (nearcore's
    // TIMEOUT_ERROR); the respond is sent only once that has happened.
    const realFetch = globalThis.fetch;
    let timeouts = 0;
    let sawTimeout;
    const firstTimeout = new Promise((resolve) => { sawTimeout = resolve; });
    globalThis.fetch = async (...args) => {
      const response = await realFetch(...args);
      if (response.status === 408) { timeouts += 1; sawTimeout(); }
      return response;
    };
    try {
      const user = await sb.near.account('user.sandbox');
      const payloadHex = hex(crypto.getRandomValues(new Uint8Array(16)));
      const signing = user.functionCall({
        contractId: 'mpc.sandbox', methodName: 'sign',
        args: { request: { path: 'late', payload_v2: { Eddsa: payloadHex }, domain_id: 0 } },
        gas: 50_000_000_000_000n, attachedDeposit: 1n,
      });
      await firstTimeout;
      const answered = await respondToPending(sb, 'node2.sandbox', { payloadHex, predecessor: 'user.sandbox', path: 'late' });
      const outcome = await signing;
      assert.ok(timeouts >= 1);
      assert.deepEqual(providers.getTransactionLastResult(outcome), { scheme: 'Ed25519', signature: [...answered.signature] });
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  test('sign refuses a missing deposit and an unknown domain with the reference texts', async () => {
    const user = await sb.near.account('user.sandbox');
    const args = (domain_id) => ({ request: { path: 'p', payload_v2: { Eddsa: '00' }, domain_id } });
    await assert.rejects(() => user.functionCall({ contractId: 'mpc.sandbox', methodName: 'sign', args: args(0), attachedDeposit: 0n }),
      (e) => `${e.type} ${e.message}`.includes('Attached deposit is lower than required. Attached: 0, required: 1'));
    await assert.rejects(() => user.functionCall({ contractId: 'mpc.sandbox', methodName: 'sign', args: args(5), attachedDeposit: 1n }),
      (e) => `${e.type} ${e.message}`.includes('The provided domain ID, 5, was not found.'));
  });
});

describe('sign without an answer', () => {
  let sb;
  before(async () => { sb = await startSigningSandbox({ yieldTimeoutBlocks: 20, blockIntervalMs: 50 }); });
  after(() => sb?.stop());

  test('functionCall(sign) fails with "Request has timed out." once the yield times out', async () => {
    const user = await sb.near.account('user.sandbox');
    await assert.rejects(() => user.functionCall({
      contractId: 'mpc.sandbox', methodName: 'sign',
      args: { request: { path: 'p', payload_v2: { Eddsa: 'abcd' }, domain_id: 0 } },
      gas: 50_000_000_000_000n, attachedDeposit: 1n,
    }), (e) => `${e.type} ${e.message}`.includes('Smart contract panicked: Request has timed out.'));
    const pending = await user.viewFunction({ contractId: 'mpc.sandbox', methodName: 'pending_signature_requests', args: {} });
    assert.equal(pending.length, 0);
  });
});
