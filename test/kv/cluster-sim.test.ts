// Runs the whole-node cluster simulation (test/sim/cluster-sim.ts) over a
// few dozen seeds — bank transfers and audits, register reads and writes,
// under crashes, partitions, message loss/duplication and clock jumps — and
// checks that a seed replays exactly. Thousands of seeds: `npm run sim -- cluster`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runClusterSim } from '../sim/cluster-sim.ts';

const SEEDS = Number(process.env.CLUSTER_SIM_SEEDS ?? 30);

test(`cluster simulation: ${SEEDS} seeds keep every invariant`, async () => {
  const failures: string[] = [];
  let acked = 0;
  let crashes = 0;
  let terms = 0;
  let ambiguousCommitted = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    try {
      const r = await runClusterSim(seed);
      acked += r.transfers.acked;
      crashes += r.crashes;
      terms += r.terms;
      ambiguousCommitted += r.transfers.ambiguousCommitted;
    } catch (e) {
      failures.push(`seed=${seed}: ${(e as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  // The runs did real work under real faults.
  assert.ok(acked >= SEEDS * 30, `only ${acked} acknowledged transfers over ${SEEDS} seeds`);
  assert.ok(crashes >= SEEDS, `only ${crashes} crashes over ${SEEDS} seeds`);
  assert.ok(terms >= SEEDS * 2, `only ${terms} leadership terms over ${SEEDS} seeds`);
  assert.ok(ambiguousCommitted > 0, 'no ambiguous commit turned out committed: the 40003 path was never exercised');
});

test('cluster simulation: a seed replays exactly', async () => {
  assert.deepEqual(await runClusterSim(5), await runClusterSim(5));
});
