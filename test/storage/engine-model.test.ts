// Property test: random sequences of puts, deletes, batches, scans (bounds,
// reverse, limit), snapshots, flushes, compactions and close/reopen, run on
// each engine and compared step by step with a sorted-map model. fast-check
// shrinks a failure to a minimal sequence and prints its seed
// (FC_SEED=<seed> replays it; FC_RUNS=<n> runs more cases).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ScanOptions, Snapshot } from '../../src/storage/engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import { memoryHarness, simLsmHarness, tinyLsm, type EngineHarness } from './engines.lib.ts';

type Model = Map<string, string>;

type Op =
  | { readonly t: 'put'; readonly k: string; readonly v: string }
  | { readonly t: 'del'; readonly k: string }
  | { readonly t: 'batch'; readonly ops: readonly { readonly k: string; readonly v: string | null }[] }
  | { readonly t: 'scan'; readonly o: ScanSpec; readonly snap: boolean }
  | { readonly t: 'get'; readonly k: string; readonly snap: boolean }
  | { readonly t: 'snapshot' }
  | { readonly t: 'flush' }
  | { readonly t: 'compact' }
  | { readonly t: 'reopen' };

interface ScanSpec {
  readonly lo: string | null;
  readonly loInc: boolean;
  readonly hi: string | null;
  readonly hiInc: boolean;
  readonly reverse: boolean;
  readonly limit: number | null;
}

// A small alphabet with 0x00 and 0xff makes overwrites, prefixes and byte-order edge cases common.
const keyArb = fc
  .array(fc.constantFrom('a', 'b', 'c', '\x00', '\xff'), { minLength: 0, maxLength: 3 })
  .map((cs) => cs.join(''));
const valArb = fc.string({ maxLength: 12 });
const scanArb: fc.Arbitrary<ScanSpec> = fc.record({
  lo: fc.option(keyArb),
  loInc: fc.boolean(),
  hi: fc.option(keyArb),
  hiInc: fc.boolean(),
  reverse: fc.boolean(),
  limit: fc.option(fc.integer({ min: 0, max: 6 })),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('put' as const), k: keyArb, v: valArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('del' as const), k: keyArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('batch' as const),
      ops: fc.array(fc.record({ k: keyArb, v: fc.option(valArb) }), { maxLength: 6 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('scan' as const), o: scanArb, snap: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), k: keyArb, snap: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
);

const L = (s: string): Buffer => Buffer.from(s, 'latin1');

function modelScan(m: Model, s: ScanSpec): string[] {
  let keys = [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  keys = keys.filter((k) => {
    if (s.lo !== null && (k < s.lo || (k === s.lo && !s.loInc))) return false;
    if (s.hi !== null && (k > s.hi || (k === s.hi && !s.hiInc))) return false;
    return true;
  });
  if (s.reverse) keys.reverse();
  if (s.limit !== null) keys = keys.slice(0, s.limit);
  return keys.map((k) => `${k}=${m.get(k)!}`);
}

function toOptions(s: ScanSpec): ScanOptions {
  const o: { -readonly [K in keyof ScanOptions]: ScanOptions[K] } = {};
  if (s.lo !== null) o[s.loInc ? 'gte' : 'gt'] = L(s.lo);
  if (s.hi !== null) o[s.hiInc ? 'lte' : 'lt'] = L(s.hi);
  if (s.reverse) o.reverse = true;
  if (s.limit !== null) o.limit = s.limit;
  return o;
}

async function check(h: EngineHarness, ops: readonly Op[]): Promise<void> {
  const model: Model = new Map();
  let snap: { s: Snapshot; m: Model } | undefined;
  try {
    for (const [i, op] of ops.entries()) {
      const at = `op #${i} ${JSON.stringify(op)}`;
      const e = h.engine;
      switch (op.t) {
        case 'put':
          e.put(L(op.k), L(op.v));
          model.set(op.k, op.v);
          break;
        case 'del':
          e.delete(L(op.k));
          model.delete(op.k);
          break;
        case 'batch': {
          const b = new WriteBatch();
          for (const x of op.ops) {
            if (x.v === null) {
              b.delete(L(x.k));
              model.delete(x.k);
            } else {
              b.put(L(x.k), L(x.v));
              model.set(x.k, x.v);
            }
          }
          e.write(b);
          break;
        }
        case 'scan': {
          const reader = op.snap && snap ? snap.s : e;
          const got = [...reader.scan(toOptions(op.o))].map(
            ([k, v]) => `${k.toString('latin1')}=${v.toString('latin1')}`,
          );
          assert.deepEqual(got, modelScan(op.snap && snap ? snap.m : model, op.o), at);
          break;
        }
        case 'get': {
          const reader = op.snap && snap ? snap.s : e;
          const m = op.snap && snap ? snap.m : model;
          assert.equal(reader.get(L(op.k))?.toString('latin1'), m.get(op.k), at);
          break;
        }
        case 'snapshot':
          snap?.s.release();
          snap = { s: e.snapshot(), m: new Map(model) };
          break;
        case 'flush':
          await e.flush();
          break;
        case 'compact':
          await e.compact();
          break;
        case 'reopen':
          snap?.s.release();
          snap = undefined;
          await h.reopen();
          break;
      }
      if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    // Final full comparison, and again after a reopen for durable engines.
    const all = { lo: null, loInc: true, hi: null, hiInc: true, reverse: false, limit: null };
    assert.deepEqual(
      [...h.engine.scan()].map(([k, v]) => `${k.toString('latin1')}=${v.toString('latin1')}`),
      modelScan(model, all),
      'final scan',
    );
    snap?.s.release();
    snap = undefined;
    await h.reopen();
    assert.deepEqual(
      [...h.engine.scan()].map(([k, v]) => `${k.toString('latin1')}=${v.toString('latin1')}`),
      modelScan(model, all),
      'scan after reopen',
    );
  } finally {
    snap?.s.release();
    await h.dispose();
  }
}

const runs = Number(process.env.FC_RUNS ?? 150);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const params = { numRuns: runs, ...(seed === undefined ? {} : { seed }) };
const opsArb = fc.array(opArb, { minLength: 1, maxLength: 200 });

test('model property: memory engine', async () => {
  await fc.assert(
    fc.asyncProperty(opsArb, (ops) => check(memoryHarness(), ops)),
    params,
  );
});

for (const map of [true, false]) {
  const reads = map ? 'tables read through their mapping' : 'tables read with read()';
  test(`model property: LSM engine (SimVfs, tiny tables so flushes and compactions happen; ${reads})`, async () => {
    const opts = { ...tinyLsm, memtableBytes: 600, tableBytes: 400, blockBytes: 128, l1MaxBytes: 1500 };
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => check(await simLsmHarness(opts, 1, { map }), ops)),
      params,
    );
  });
}
