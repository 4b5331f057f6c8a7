// Runs the deterministic Raft cluster simulation (test/sim/raft-cluster.ts)
// over a few hundred seeds, and checks that its linearizability checker
// rejects known non-linearizable histories (a checker that accepts
// everything would make the simulation worthless).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runRaftSim } from '../sim/raft-cluster.ts';
import { checkLinearizable } from '../sim/raft-linearizability.ts';
import type { KvOp } from '../sim/raft-linearizability.ts';

const SEEDS = Number(process.env.RAFT_SIM_SEEDS ?? 1000);

test(`raft simulation: ${SEEDS} seeds keep every invariant`, () => {
  const failures: string[] = [];
  let ops = 0;
  let leaders = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    try {
      const r = runRaftSim(seed);
      ops += r.ops;
      leaders += r.leaders;
    } catch (e) {
      failures.push(`seed=${seed}: ${(e as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  // The runs did real work: elections happened and clients got answers.
  assert.ok(leaders >= SEEDS, `only ${leaders} leaders over ${SEEDS} seeds`);
  assert.ok(ops >= SEEDS * 50, `only ${ops} client ops over ${SEEDS} seeds`);
});

test('raft simulation: a seed replays exactly', () => {
  assert.deepEqual(runRaftSim(7), runRaftSim(7));
});

const put = (key: string, value: string, call: number, ret: number): KvOp => ({ kind: 'put', key, value, call, ret });
const get = (key: string, value: string | null, call: number, ret: number): KvOp => ({
  kind: 'get',
  key,
  value,
  call,
  ret,
});

test('linearizability checker: accepts linearizable histories', () => {
  assert.deepEqual(checkLinearizable([]), { ok: true });
  // Sequential.
  assert.deepEqual(checkLinearizable([get('x', null, 0, 1), put('x', 'a', 2, 3), get('x', 'a', 4, 5)]), { ok: true });
  // Concurrent read may see either side of an overlapping write.
  assert.deepEqual(checkLinearizable([put('x', 'a', 0, 10), get('x', null, 1, 2), get('x', 'a', 3, 4)]), { ok: true });
  // A write with unknown outcome may have happened...
  assert.deepEqual(checkLinearizable([put('x', 'a', 0, Infinity), get('x', 'a', 5, 6)]), { ok: true });
  // ...or not.
  assert.deepEqual(checkLinearizable([put('x', 'a', 0, Infinity), get('x', null, 5, 6)]), { ok: true });
  // Keys are independent registers.
  assert.deepEqual(
    checkLinearizable([put('x', 'a', 0, 1), put('y', 'b', 0, 1), get('y', 'b', 2, 3), get('x', 'a', 2, 3)]),
    { ok: true },
  );
});

test('linearizability checker: rejects non-linearizable histories', () => {
  // Stale read: the write finished before the read started.
  assert.equal(checkLinearizable([put('x', 'a', 0, 1), get('x', null, 2, 3)]).ok, false);
  // Read of a value never written.
  assert.equal(checkLinearizable([get('x', 'zz', 0, 1)]).ok, false);
  // Non-monotonic reads: once a reader saw b, a later read cannot see a again.
  assert.equal(
    checkLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 10), get('x', 'b', 3, 4), get('x', 'a', 5, 6)]).ok,
    false,
  );
  // Two readers see two concurrent writes in opposite orders, both after the writes finished.
  assert.equal(
    checkLinearizable([
      put('x', 'a', 0, 5),
      put('x', 'b', 0, 5),
      get('x', 'a', 6, 7),
      get('x', 'b', 8, 9),
      get('x', 'a', 10, 11),
    ]).ok,
    false,
  );
  // A lost acknowledged write: acked, then reads return the older value.
  assert.equal(checkLinearizable([put('x', 'a', 0, 1), put('x', 'b', 2, 3), get('x', 'a', 4, 5)]).ok, false);
  // Unknown-outcome write that a read saw cannot "un-happen" later.
  assert.equal(checkLinearizable([put('x', 'a', 0, Infinity), get('x', 'a', 1, 2), get('x', null, 3, 4)]).ok, false);
});

test('linearizability checker: property — histories of an atomic register are accepted, and corrupting a read is caught', () => {
  // Generate a history by executing ops atomically at distinct instants inside random intervals.
  const arbOps = fc.array(
    fc.tuple(
      fc.boolean(),
      fc.integer({ min: 0, max: 1 }),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 20 }),
    ),
    {
      minLength: 1,
      maxLength: 14,
    },
  );
  fc.assert(
    fc.property(arbOps, (spec) => {
      const state = new Map<string, string | null>();
      const ops: KvOp[] = [];
      spec.forEach(([isPut, k, before, after], i) => {
        const key = `k${k}`;
        const at = i * 10; // linearization point
        const call = at - before;
        const ret = at + after;
        if (isPut) {
          state.set(key, `v${i}`);
          ops.push(put(key, `v${i}`, call, ret));
        } else {
          ops.push(get(key, state.get(key) ?? null, call, ret));
        }
      });
      assert.equal(checkLinearizable(ops).ok, true);
      // A read returning a value written strictly after it returned is never linearizable.
      const reads = ops.map((o, i) => [o, i] as const).filter(([o]) => o.kind === 'get');
      for (const [r, i] of reads) {
        const later = ops.find((o, j) => j > i && o.kind === 'put' && o.key === r.key && o.call > r.ret);
        if (later === undefined) continue;
        const bad = ops.map((o, j) => (j === i ? { ...o, value: later.value } : o));
        assert.equal(checkLinearizable(bad).ok, false);
      }
    }),
    { numRuns: 300, seed: 42 },
  );
});
