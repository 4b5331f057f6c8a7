// Property test against a simple model: random sequences of transactions
// (puts, deletes, gets, scans with bounds/limit/reverse, nested savepoints,
// commit or rollback) run one at a time, while long-lived snapshot readers
// opened at random points keep reading, and GC runs at random points.
// The model is a Map per committed state; a reader must always see exactly
// the state that was committed when its snapshot was taken, and a writer its
// own uncommitted state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { openTxnManager, type Txn } from '../../src/txn/index.ts';

type Model = Map<string, string>;

const keyArb = fc.constantFrom('a', 'b', 'b\u0000', 'b\u0000\u0000', 'c', 'ca', 'd');
const opArb = fc.oneof(
  fc.record({ op: fc.constant('put' as const), k: keyArb, v: fc.string({ maxLength: 3 }) }),
  fc.record({ op: fc.constant('del' as const), k: keyArb }),
  fc.record({ op: fc.constant('get' as const), k: keyArb }),
  fc.record({
    op: fc.constant('scan' as const),
    lo: keyArb,
    hi: keyArb,
    limit: fc.integer({ min: 0, max: 4 }),
    reverse: fc.boolean(),
  }),
  fc.record({ op: fc.constant('savepoint' as const), name: fc.constantFrom('s1', 's2') }),
  fc.record({ op: fc.constant('rollbackTo' as const), name: fc.constantFrom('s1', 's2') }),
  fc.record({ op: fc.constant('release' as const), name: fc.constantFrom('s1', 's2') }),
);
const txnArb = fc.record({
  ops: fc.array(opArb, { maxLength: 12 }),
  end: fc.constantFrom('commit', 'commit', 'rollback'),
  openReader: fc.boolean(),
  closeReader: fc.boolean(),
  gc: fc.boolean(),
});

function scanModel(m: Model, lo: string, hi: string, limit: number, reverse: boolean): string[] {
  const ks = [...m.keys()].filter(
    (k) => Buffer.compare(Buffer.from(k), Buffer.from(lo)) >= 0 && Buffer.compare(Buffer.from(k), Buffer.from(hi)) < 0,
  );
  ks.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  if (reverse) ks.reverse();
  return ks.slice(0, limit === 0 ? undefined : limit).map((k) => `${k}=${m.get(k)}`);
}

async function scanTxn(t: Txn, lo: string, hi: string, limit: number, reverse: boolean): Promise<string[]> {
  const kvs = await t.scan({
    start: Buffer.from(lo),
    end: Buffer.from(hi),
    reverse,
    ...(limit === 0 ? {} : { limit }),
  });
  return kvs.map((kv) => `${kv.key.toString()}=${kv.value.toString()}`);
}

test('serial transactions, savepoints, old snapshots and GC agree with a map model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(txnArb, { minLength: 1, maxLength: 12 }), async (txns) => {
      const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
      let committed: Model = new Map();
      const readers: { txn: Txn; state: Model }[] = [];
      const checkReaders = async (): Promise<void> => {
        for (const r of readers) {
          r.txn.beginStatement();
          assert.deepEqual(await scanTxn(r.txn, '', '\u00ff', 0, false), scanModel(r.state, '', '\u00ff', 0, false));
          for (const k of ['a', 'b\u0000', 'd'])
            assert.equal((await r.txn.get(Buffer.from(k)))?.toString(), r.state.get(k));
        }
      };
      for (const spec of txns) {
        if (spec.openReader) {
          const txn = m.begin({ isolation: 'repeatable read', readOnly: true });
          txn.beginStatement();
          readers.push({ txn, state: new Map(committed) });
        }
        const t = m.begin();
        let state: Model = new Map(committed);
        const sps: { name: string; state: Model }[] = [];
        for (const o of spec.ops) {
          switch (o.op) {
            case 'put':
              await t.put(Buffer.from(o.k), Buffer.from(o.v));
              state.set(o.k, o.v);
              break;
            case 'del':
              await t.delete(Buffer.from(o.k));
              state.delete(o.k);
              break;
            case 'get':
              assert.equal((await t.get(Buffer.from(o.k)))?.toString(), state.get(o.k));
              break;
            case 'scan':
              assert.deepEqual(
                await scanTxn(t, o.lo, o.hi, o.limit, o.reverse),
                scanModel(state, o.lo, o.hi, o.limit, o.reverse),
              );
              break;
            case 'savepoint':
              t.savepoint(o.name);
              sps.push({ name: o.name, state: new Map(state) });
              break;
            case 'rollbackTo': {
              const i = sps.map((s) => s.name).lastIndexOf(o.name);
              if (i < 0) {
                await assert.rejects(t.rollbackToSavepoint(o.name), /does not exist/);
              } else {
                await t.rollbackToSavepoint(o.name);
                state = new Map(sps[i]!.state);
                sps.length = i + 1;
              }
              break;
            }
            case 'release': {
              const i = sps.map((s) => s.name).lastIndexOf(o.name);
              if (i < 0) assert.throws(() => t.releaseSavepoint(o.name), /does not exist/);
              else {
                t.releaseSavepoint(o.name);
                sps.length = i;
              }
              break;
            }
          }
        }
        if (spec.end === 'commit') {
          await t.commit();
          committed = state;
        } else {
          await t.rollback();
        }
        await checkReaders();
        if (spec.closeReader && readers.length > 0) await readers.shift()!.txn.commit();
        if (spec.gc) await m.gc();
        await checkReaders();
      }
      const r = m.begin();
      assert.deepEqual(await scanTxn(r, '', '\u00ff', 0, false), scanModel(committed, '', '\u00ff', 0, false));
      await r.commit();
      for (const x of readers) await x.txn.commit();
      await m.gc();
      // After GC with no readers, only heads of live keys (and the two meta keys) remain.
      assert.equal(m.engine.stats()['keys'], committed.size + 2);
      await m.close();
    }),
    { numRuns: 300, seed: 20261126 },
  );
});
