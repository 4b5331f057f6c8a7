// Crash test on the simulated Vfs: for each seed, rounds of random writes with
// syncs, background flushes and compactions, then a simulated power loss
// (unsynced bytes dropped or torn), reopen, and the prefix check of
// crash.lib.ts. A failure names its seed; `npm run sim -- storage-crash --seed S`
// replays it, `--seeds N` sweeps more.
import { test } from 'node:test';
import { runSimCrashSeed } from './crash-sim.lib.ts';

const seeds = Number(process.env.CRASH_SEEDS ?? 40);

test(`LSM survives simulated crashes (${seeds} seeds)`, async () => {
  for (let seed = 1; seed <= seeds; seed++) await runSimCrashSeed(seed);
});
