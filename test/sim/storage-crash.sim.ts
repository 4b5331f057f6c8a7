// Sweep of the storage crash simulation: `--seeds N` (default 200) runs seeds
// 1..N, `--seed S` runs one. Prints the seed of any failure and exits non-zero.
import { runSimCrashSeed } from '../storage/crash-sim.lib.ts';
import { seedsFromArgs } from './sim-args.ts';

const seeds = seedsFromArgs(200);
let failed = 0;
let ops = 0;
const started = Date.now();
for (const seed of seeds) {
  try {
    ops += (await runSimCrashSeed(seed, 6)).ops;
  } catch (err) {
    failed++;
    console.log(`FAIL seed=${seed}: ${(err as Error).message}`);
  }
}
console.log(
  `storage-crash: ${seeds.length} seeds, ${ops} ops, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(failed > 0 ? 1 : 0);
