// Raft cluster simulation sweep: `npm run sim -- raft --seeds 1000` or
// `npm run sim -- raft --seed 42` (replays one seed, with its event log when
// --verbose). Prints `seed=S` and the violated invariant for any failure and
// the throughput in seeds per minute.
import { SimFailure, runRaftSim } from './raft-cluster.ts';

import { hasFlag, isReplay, seedsFromArgs } from './sim-args.ts';

const replay = isReplay();
const verbose = hasFlag('--verbose');
const seeds = seedsFromArgs(100);

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
    if (replay) console.log(JSON.stringify(r));
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
