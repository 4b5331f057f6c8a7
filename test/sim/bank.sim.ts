// Sweep of the bank test (test/txn/bank.lib.ts) in every isolation mode:
// `--seeds N` (default 2000) runs seeds 1..N, `--seed S` runs one,
// `--mode M` limits it to one mode (serializable | "repeatable read" |
// "read committed" | mixed). Prints the seed of any failure and exits non-zero.
import { runBankSeed, type BankMode } from '../txn/bank.lib.ts';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const one = arg('--seed');
const seeds =
  one === undefined ? Array.from({ length: Number(arg('--seeds') ?? 2000) }, (_, i) => i + 1) : [Number(one)];
const modes: readonly BankMode[] =
  arg('--mode') !== undefined
    ? [arg('--mode') as BankMode]
    : ['serializable', 'repeatable read', 'read committed', 'mixed'];
let failed = 0;
let commits = 0;
let retries = 0;
const started = Date.now();
for (const seed of seeds) {
  for (const mode of modes) {
    try {
      const s = await runBankSeed(seed, mode);
      commits += s.commits;
      retries += s.retries;
    } catch (err) {
      failed++;
      console.log(`FAIL seed=${seed} mode=${mode}: ${(err as Error).message}`);
    }
  }
}
console.log(
  `bank: ${seeds.length} seeds x ${modes.length} modes, ${commits} commits, ${retries} retries, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
process.exit(failed > 0 ? 1 : 0);
