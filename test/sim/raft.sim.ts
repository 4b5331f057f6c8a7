// Raft cluster simulation sweep: `npm run sim -- raft --seeds 1000` or
// `npm run sim -- raft --seed 42` (replays one seed, with its event log when
// --verbose). Prints `seed=S` and the violated invariant for any failure and
// the throughput in seeds per minute.
import { SimFailure, runRaftSim } from './raft-cluster.ts';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const one = opt('seed');
const count = Number(opt('seeds') ?? 100);
const first = Number(opt('from') ?? 1);
const verbose = args.includes('--verbose');
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: count }, (_, i) => first + i);

const started = performance.now();
let failed = 0;
let events = 0;
let ops = 0;
let unknown = 0;
let worstLiveMs = 0;
for (const seed of seeds) {
  try {
    const r = runRaftSim(seed, verbose ? { log: (l) => console.log(l) } : {});
    events += r.events;
    ops += r.ops;
    if (r.linearizability === 'unknown') unknown++;
    worstLiveMs = Math.max(worstLiveMs, r.healToLiveMs);
    if (one !== undefined) console.log(JSON.stringify(r));
  } catch (e) {
    failed++;
    const what = e instanceof SimFailure ? e.message : (e as Error).stack;
    console.log(`FAIL seed=${seed}: ${what}`);
  }
}
const minutes = (performance.now() - started) / 60000;
console.log(
  `raft sim: ${seeds.length} seeds, ${failed} failed, ${unknown} linearizability searches inconclusive, ${events} events, ${ops} client ops, ` +
    `worst heal-to-live ${worstLiveMs}ms, ${(seeds.length / minutes).toFixed(0)} seeds/min`,
);
process.exit(failed > 0 ? 1 : 0);
