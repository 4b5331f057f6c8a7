// Sweep of the bank test (test/txn/bank.lib.ts) in every isolation mode:
// `--seeds N` (default 2000) runs seeds 1..N, `--seed S` runs one,
// `--mode M` limits it to one mode (serializable | "repeatable read" |
// "read committed" | mixed). Prints the seed of any failure and exits non-zero.
import { runBankSeed, type BankMode } from '../txn/bank.lib.ts';
import { arg, seedsFromArgs } from './sim-args.ts';

const seeds = seedsFromArgs(2000);
const modeArg = arg('--mode');
const modes: readonly BankMode[] =
  modeArg !== undefined ? [modeArg as BankMode] : ['serializable', 'repeatable read', 'read committed', 'mixed'];
let failed = 0;
let commits = 0;
let retries = 0;
let refreshes = 0;
const started = Date.now();
for (const seed of seeds) {
  for (const mode of modes) {
    try {
      const s = await runBankSeed(seed, mode);
      commits += s.commits;
      retries += s.retries;
      refreshes += s.refreshes;
    } catch (err) {
      failed++;
      console.log(`FAIL seed=${seed} mode=${mode}: ${(err as Error).message}`);
    }
  }
}
console.log(
  `bank: ${seeds.length} seeds x ${modes.length} modes, ${commits} commits, ${retries} retries, ${refreshes} statement refreshes, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(failed > 0 ? 1 : 0);
