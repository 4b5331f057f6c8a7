// Resolution of a big transaction's intents goes in slices that yield
// (src/txn/txn-manager.ts: resolveCommitted), at commit and at recovery:
// - between slices the record is still there, the resolved part grows one
//   slice at a time, and the transaction is still live: a reader meeting an
//   unresolved intent waits and then sees the committed value;
// - with the default yield (setImmediate) other callbacks run during a big
//   commit;
// - a commit cut short after its first slice (the process "stops") leaves
//   the record, and the next open's recovery finishes it, also in slices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { openTxnManager, type MvccTxn } from '../../src/txn/index.ts';
import { decodeHead } from '../../src/txn/head.ts';
import { HEAD_SPACE_END, HEAD_SPACE_START, RECORD_SPACE_END, RECORD_SPACE_START } from '../../src/txn/keys.ts';
import type { Engine } from '../../src/storage/engine.ts';

const key = (i: number): Buffer => Buffer.from(`k${String(i).padStart(6, '0')}`);

/** Heads carrying an intent of any transaction, and committed records left. */
function census(engine: Engine): { intents: number; resolved: number; records: number } {
  let intents = 0;
  let resolved = 0;
  for (const [, v] of engine.scan({ gte: HEAD_SPACE_START, lt: HEAD_SPACE_END })) {
    const h = decodeHead(v);
    if (h.intentTxn !== 0) intents++;
    else if (h.committedValue !== undefined) resolved++;
  }
  const records = [...engine.scan({ gte: RECORD_SPACE_START, lt: RECORD_SPACE_END })].length;
  return { intents, resolved, records };
}

test('commit resolves in slices: record kept until the last, readers wait for the owner', async () => {
  const engine = new MemoryEngine();
  const seen: { intents: number; resolved: number; records: number }[] = [];
  let reader: Promise<Buffer | undefined> | undefined;
  let readerDone = false;
  const readerDoneAt: boolean[] = [];
  const m = await openTxnManager(engine, {
    clock: new ManualClock(1_000),
    resolveSliceKeys: 100,
    yieldToOthers: async () => {
      seen.push(census(engine));
      readerDoneAt.push(readerDone);
      if (reader === undefined) {
        // A reader that starts now (snapshot above the commit) meets an unresolved intent of the last key.
        const r = m.begin({ isolation: 'repeatable read' });
        reader = r.get(key(4999)).finally(() => (readerDone = true));
      }
      await Promise.resolve();
    },
  });
  const t = m.begin() as MvccTxn;
  for (let i = 0; i < 5000; i++) await t.put(key(i), Buffer.from(`v${i}`));
  await t.commit();
  assert.equal(seen.length, 49, 'one yield between each two slices of 100');
  seen.forEach((c, i) => {
    assert.equal(c.records, 1, `the record is there while intents remain (yield ${i})`);
    assert.equal(c.resolved, (i + 1) * 100, `one more slice resolved at each yield (yield ${i})`);
    assert.equal(c.intents, 5000 - (i + 1) * 100);
  });
  assert.deepEqual(census(engine), { intents: 0, resolved: 5000, records: 0 });
  assert.equal(t.state, 'committed');
  assert.ok(reader !== undefined);
  assert.equal((await reader)?.toString(), 'v4999', 'the reader waited for the commit and sees its value');
  assert.ok(readerDone);
  assert.ok(!readerDoneAt.some(Boolean), 'the reader was still waiting at every yield of the commit');
  await m.close();
});

test('with the default yield, other callbacks run while a big commit resolves', async () => {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
  const t = m.begin();
  for (let i = 0; i < 20_000; i++) await t.put(key(i), Buffer.from('x'));
  let ticks = 0;
  let done = false;
  const ticker = (): void => {
    if (done) return;
    ticks++;
    setImmediate(ticker);
  };
  setImmediate(ticker);
  await t.commit();
  done = true;
  // 20,000 intents in slices of RESOLVE_SLICE_KEYS (1024): 19 yields, each lets the ticker run.
  assert.ok(ticks >= 15, `only ${ticks} callbacks ran during the commit`);
  await m.close();
});

test('recovery after a commit cut short finishes it from the record, in slices', async () => {
  const engine = new MemoryEngine();
  // The first manager "stops" after the first slice: its yield never returns.
  const m1 = await openTxnManager(engine, {
    clock: new ManualClock(1_000),
    resolveSliceKeys: 100,
    yieldToOthers: () => new Promise<void>(() => undefined),
  });
  const t = m1.begin();
  for (let i = 0; i < 1000; i++) await t.put(key(i), Buffer.from(`w${i}`));
  void t.commit();
  for (let i = 0; i < 20 && census(engine).resolved === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(census(engine), { intents: 900, resolved: 100, records: 1 }, 'cut short after the first slice');

  let yields = 0;
  const m2 = await openTxnManager(engine, {
    clock: new ManualClock(1_000),
    resolveSliceKeys: 100,
    yieldToOthers: () => {
      yields++;
      return Promise.resolve();
    },
  });
  assert.equal(m2.recoveredRecords, 1);
  assert.equal(yields, 9, "the record's 1000 keys (the first 100 already resolved: no-ops) in 10 slices");
  assert.deepEqual(census(engine), { intents: 0, resolved: 1000, records: 0 });
  const r = m2.begin();
  assert.equal((await r.get(key(999)))?.toString(), 'w999');
  assert.equal((await r.get(key(0)))?.toString(), 'w0');
  await r.commit();
  await m2.close();
});
