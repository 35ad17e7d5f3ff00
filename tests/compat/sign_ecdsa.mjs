// near-api-js (unchanged, from npm) asks the MPC contract for a threshold
// ECDSA signature, as a wallet or dapp would: functionCall(sign) with a
// 32-byte hash on a DamgardEtAl domain, waiting through the RPC's 408s
// until the nodes' `respond` resolves the yield. Used by the e2e tests
// (tests/e2e/ecdsa_e2e_test.cc).
//
// node sign_ecdsa.mjs RPC_URL CREDENTIALS_JSON CONTRACT_ID DOMAIN_ID PATH HASH_HEX
// Prints "RESULT <the transaction's result as JSON>" and exits 0, or prints
// the error and exits 1.
import { readFileSync } from 'node:fs';
import { connect, keyStores, KeyPair, providers } from 'near-api-js';

const [rpcUrl, credentialsFile, contractId, domainId, path, hashHex] = process.argv.slice(2);
if (!hashHex || !/^[0-9a-f]{64}$/i.test(hashHex)) {
  console.error('usage: sign_ecdsa.mjs RPC_URL CREDENTIALS_JSON CONTRACT_ID DOMAIN_ID PATH HASH_HEX(32 bytes)');
  process.exit(2);
}

try {
  const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8'));
  const keyStore = new keyStores.InMemoryKeyStore();
  await keyStore.setKey('sandbox', credentials.account_id, KeyPair.fromString(credentials.private_key));
  const near = await connect({ networkId: 'sandbox', nodeUrl: rpcUrl, keyStore });
  const account = await near.account(credentials.account_id);
  const outcome = await account.functionCall({
    contractId,
    methodName: 'sign',
    args: { request: { path, payload_v2: { Ecdsa: hashHex.toLowerCase() }, domain_id: Number(domainId) } },
    gas: 50_000_000_000_000n,
    attachedDeposit: 1n,
  });
  console.log(`RESULT ${JSON.stringify(providers.getTransactionLastResult(outcome))}`);
} catch (e) {
  console.error(`sign failed: ${e.type ?? ''} ${e.message}`);
  process.exit(1);
}
