// Crash atomicity on the LSM engine over SimVfs: a few dozen seeds here,
// long sweeps in `npm run sim -- bank-crash`. See crash.lib.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTxnCrashSeed } from './crash.lib.ts';

test('transactions are all-or-nothing across simulated power loss (LSM + SimVfs)', async () => {
  let acked = 0;
  let recovered = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const r = await runTxnCrashSeed(seed);
    acked += r.acked;
    recovered += r.recoveredRecords;
  }
  assert.ok(acked > 30, `only ${acked} acknowledged commits: the workload did not exercise commits`);
  // Some crashes must land between the durable record flip and intent resolution.
  assert.ok(recovered > 0, 'no crash left a committed record for recovery to finish');
});
