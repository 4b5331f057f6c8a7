// Whole-node cluster simulation sweep: `npm run sim -- cluster --seeds 1000`
// or `npm run sim -- cluster --seed 42` (replays one seed; --verbose prints
// its event log; --disk lsm|memory forces the storage, --bank kv|sql the bank's interface). Prints `seed=S` and the violated invariant for any failure
// and the throughput in seeds per minute.
import { SimFailure, runClusterSim } from './cluster-sim.ts';

import { arg, hasFlag, isReplay, seedsFromArgs } from './sim-args.ts';

const replay = isReplay();
const verbose = hasFlag('--verbose');
const disk = arg('--disk');
if (disk !== undefined && disk !== 'lsm' && disk !== 'memory') throw new Error('--disk is lsm or memory');
const bank = arg('--bank');
if (bank !== undefined && bank !== 'kv' && bank !== 'sql') throw new Error('--bank is kv or sql');
const seeds = seedsFromArgs(50);
const first = seeds[0] ?? 1;

const started = performance.now();
let failed = 0;
let events = 0;
let acked = 0;
let ambiguous = 0;
let crashes = 0;
let unknown = 0;
let replaced = 0;
for (const seed of seeds) {
  try {
    const r = await runClusterSim(seed, {
      ...(verbose ? { log: (l: string) => console.log(l) } : {}),
      ...(disk === undefined ? {} : { disk }),
    });
    events += r.events;
    acked += r.transfers.acked;
    ambiguous += r.transfers.ambiguous;
    crashes += r.crashes;
    if (r.linearizability === 'unknown') unknown++;
    if (r.replaced) replaced++;
    if (replay) console.log(JSON.stringify(r));
    if (seeds.length > 1 && (seed - first + 1) % 50 === 0) {
      const m = (performance.now() - started) / 60000;
      console.log(
        `  ${seed - first + 1} seeds done, ${failed} failed, ${((seed - first + 1) / m).toFixed(1)} seeds/min`,
      );
    }
  } catch (e) {
    failed++;
    const what = e instanceof SimFailure ? e.message : (e as Error).stack;
    console.log(`FAIL seed=${seed}: ${what}`);
  }
}
const minutes = (performance.now() - started) / 60000;
console.log(
  `cluster sim: ${seeds.length} seeds, ${failed} failed, ${unknown} linearizability searches inconclusive, ${events} events, ` +
    `${crashes} crashes, ${replaced} node replacements, ${acked} acknowledged transfers, ${ambiguous} ambiguous, ${(seeds.length / minutes).toFixed(1)} seeds/min`,
);
process.exit(failed > 0 ? 1 : 0);
