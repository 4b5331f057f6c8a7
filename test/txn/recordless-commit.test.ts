// Small transactions commit without a transaction record: one batch resolves
// every intent (the atomic flip), then the sync. While that sync is pending
// the new versions are in the engine but not durable: every reader that
// would see them (get, scan, the point-read fast path, a history read)
// waits; readers below the commit timestamp read the old version. A writer
// builds on them at once (early lock release): its own commit syncs after
// that batch, so it is never acknowledged before it. Big transactions (over
// resolveSliceKeys) still go through the record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { openTxnManager, type MvccTxnManager } from '../../src/txn/index.ts';
import { NEEDS_DECODE } from '../../src/txn/head.ts';
import { headKey, RECORD_SPACE_END, RECORD_SPACE_START } from '../../src/txn/keys.ts';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Buffer | undefined): string | undefined => v?.toString();
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A MemoryEngine whose sync() waits for release() while `hold` is set; records every put of the record space. */
class HeldSync extends MemoryEngine {
  hold = false;
  recordPuts = 0;
  private waiting: (() => void)[] = [];
  override sync(): Promise<void> {
    return this.hold ? new Promise((r) => this.waiting.push(r)) : Promise.resolve();
  }
  release(): void {
    this.hold = false;
    for (const r of this.waiting.splice(0)) r();
  }
  override put(key: Uint8Array, value: Uint8Array): void {
    if (Buffer.compare(key, RECORD_SPACE_START) >= 0 && Buffer.compare(key, RECORD_SPACE_END) < 0) this.recordPuts++;
    super.put(key, value);
  }
}

async function setup(options: { resolveSliceKeys?: number } = {}): Promise<{ e: HeldSync; m: MvccTxnManager }> {
  const e = new HeldSync();
  const m = await openTxnManager(e, { clock: new ManualClock(1_000), ...options });
  const t = m.begin();
  await t.put(b('a'), b('1'));
  await t.put(b('b'), b('1'));
  await t.commit();
  return { e, m };
}

test('a small commit writes no record; readers of its versions wait for the sync, writers do not', async () => {
  const { e, m } = await setup();
  assert.equal(e.recordPuts, 0);
  const old = m.begin({ isolation: 'repeatable read' });
  assert.equal(str(await old.get(b('a'))), '1'); // snapshot below the commit
  const w = m.begin();
  await w.put(b('a'), b('2'));
  await w.delete(b('b'));
  e.hold = true;
  let committed = false;
  const committing = w.commit().then(() => (committed = true));
  await tick();
  assert.equal(committed, false);
  assert.equal(e.recordPuts, 0, 'no transaction record');
  // The point-read fast path declines, and a real transaction waits.
  assert.equal(m.readLatestCommitted(headKey(b('a'))), NEEDS_DECODE);
  const reader = m.begin({ isolation: 'read committed' });
  const seen: string[] = [];
  const pGet = reader.get(b('a')).then((v) => seen.push(`get=${str(v)}`));
  const scanner = m.begin({ isolation: 'serializable', readOnly: true });
  const pScan = scanner
    .scan({ start: b('a'), end: b('z') })
    .then((kvs) => seen.push(`scan=${kvs.map((kv) => `${kv.key}:${kv.value}`).join(',')}`));
  const writer = m.begin({ isolation: 'read committed' });
  const pLock = writer.getForUpdate(b('a')).then((v) => seen.push(`lock=${str(v)}`));
  await tick();
  await tick();
  assert.deepEqual(seen, ['lock=2'], 'readers at or above the commit wait for durability; a writer does not');
  // A reader below the commit timestamp reads the old versions without waiting.
  assert.equal(str(await old.get(b('a'))), '1');
  assert.equal(str(await old.get(b('b'))), '1');
  assert.deepEqual(
    (await old.scan({ start: b('a'), end: b('z') })).map((kv) => `${kv.key}:${kv.value}`),
    ['a:1', 'b:1'],
  );
  e.release();
  await committing;
  await Promise.all([pGet, pScan, pLock]);
  assert.deepEqual(seen.sort(), ['get=2', 'lock=2', 'scan=a:2']);
  assert.equal(m.undurableFrom, Infinity);
  await reader.commit();
  await scanner.commit();
  await writer.rollback();
  assert.equal(str(m.readLatestCommitted(headKey(b('a'))) as Buffer), '2');
  await old.commit();
  await m.close();
});

test('a failed sync still counts the commit (the batch is in the engine) and reports the error', async () => {
  const { e, m } = await setup();
  const w = m.begin();
  await w.put(b('a'), b('3'));
  e.sync = () => Promise.reject(new Error('disk gone'));
  await assert.rejects(w.commit(), /disk gone/);
  assert.equal(w.state, 'committed');
  assert.equal(m.undurableFrom, Infinity);
  e.sync = () => Promise.resolve();
  const r = m.begin();
  assert.equal(str(await r.get(b('a'))), '3');
  await r.commit();
  await m.close();
});

test('a transaction over resolveSliceKeys commits through its record, as before', async () => {
  const { e, m } = await setup({ resolveSliceKeys: 2 });
  const w = m.begin();
  for (const k of ['a', 'b', 'c']) await w.put(b(k), b('9'));
  await w.commit();
  assert.equal(e.recordPuts, 1);
  assert.equal(
    [...e.scan({ gte: RECORD_SPACE_START, lt: RECORD_SPACE_END })].length,
    0,
    'record deleted after resolution',
  );
  const r = m.begin();
  assert.deepEqual(
    (await r.scan({ start: b('a'), end: b('z') })).map((kv) => `${kv.key}:${kv.value}`),
    ['a:9', 'b:9', 'c:9'],
  );
  await r.commit();
  await m.close();
});

test('two small commits in flight: undurableFrom follows the oldest until both syncs end', async () => {
  const { e, m } = await setup();
  const w1 = m.begin();
  await w1.put(b('a'), b('5'));
  const w2 = m.begin();
  await w2.put(b('b'), b('6'));
  e.hold = true;
  const c1 = w1.commit();
  const c2 = w2.commit();
  await tick();
  const from = m.undurableFrom;
  assert.ok(Number.isFinite(from));
  e.release();
  await Promise.all([c1, c2]);
  assert.equal(m.undurableFrom, Infinity);
  await m.close();
});

test('early lock release: a writer commits over an undurable version; nothing is acknowledged or read before its sync', async () => {
  const { e, m } = await setup();
  const w1 = m.begin();
  await w1.put(b('a'), b('2'));
  e.hold = true;
  let c1Done = false;
  const c1 = w1.commit().then(() => (c1Done = true));
  await tick();
  // Between the two commits: a snapshot above w1's commit and below w2's.
  const between = m.begin({ isolation: 'repeatable read' });
  between.beginStatement();
  const w2 = m.begin();
  assert.equal(str(await w2.getForUpdate(b('a'))), '2', 'the writer locks at once and sees the undurable version');
  await w2.put(b('a'), b('3'));
  let c2Done = false;
  const c2 = w2.commit().then(() => (c2Done = true));
  await tick();
  await tick();
  assert.equal(c2Done, false, 'w2 waits for its own sync');
  assert.equal(c1Done, false);
  // w2's version is the head; w1's went to history (a snapshot is below w2). Reading it waits for w1's sync.
  const seen: string[] = [];
  const pHist = between.get(b('a')).then((v) => seen.push(`get=${str(v)}`));
  const pScan = between.scan({ start: b('a'), end: b('b') }).then((kvs) => seen.push(`scan=${kvs.length}`));
  const latest = m.begin({ isolation: 'read committed' });
  const pLatest = latest.get(b('a')).then((v) => seen.push(`latest=${str(v)}`));
  await tick();
  await tick();
  assert.deepEqual(seen, [], 'no reader sees an undurable version, from the head or from history');
  e.release();
  await Promise.all([c1, c2, pHist, pScan, pLatest]);
  assert.deepEqual(seen.sort(), ['get=2', 'latest=3', 'scan=1']);
  await between.commit();
  await latest.commit();
  await m.close();
});
