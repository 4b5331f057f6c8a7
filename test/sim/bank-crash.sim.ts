// Sweep of the transaction crash-atomicity simulation (bank transfers on the
// LSM engine over SimVfs, test/txn/crash.lib.ts): `--seeds N` (default 300)
// runs seeds 1..N, `--seed S` runs one. Prints the seed of any failure and
// exits non-zero.
import { runTxnCrashSeed } from '../txn/crash.lib.ts';
import { seedsFromArgs } from './sim-args.ts';

const seeds = seedsFromArgs(300);
let failed = 0;
let transfers = 0;
let acked = 0;
const started = Date.now();
for (const seed of seeds) {
  try {
    const r = await runTxnCrashSeed(seed, 4);
    transfers += r.transfers;
    acked += r.acked;
  } catch (err) {
    failed++;
    console.log(`FAIL seed=${seed}: ${(err as Error).message}`);
  }
}
console.log(
  `bank-crash: ${seeds.length} seeds, ${transfers} transfers, ${acked} acknowledged, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(failed > 0 ? 1 : 0);
