// Crash atomicity on the LSM engine over SimVfs: a few dozen seeds here,
// long sweeps in `npm run sim -- bank-crash`. See crash.lib.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTxnCrashSeed } from './crash.lib.ts';

test('transactions are all-or-nothing across simulated power loss (LSM + SimVfs)', async () => {
  let acked = 0;
  for (let seed = 1; seed <= 30; seed++) acked += (await runTxnCrashSeed(seed)).acked;
  assert.ok(acked > 30, `only ${acked} acknowledged commits: the workload did not exercise commits`);
});
