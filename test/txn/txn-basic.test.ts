// Behaviour of single transactions and simple pairs over the MemoryEngine:
// snapshots, own writes, scans, savepoints, waiting, deadlock, first-updater
// wins, read refresh, GC. The anomaly matrix and the bank test live beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { openTxnManager, type MvccTxn, type MvccTxnManager } from '../../src/txn/index.ts';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Buffer | undefined): string | undefined => v?.toString();

async function open(): Promise<MvccTxnManager> {
  return openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
}

async function seed(m: MvccTxnManager, kv: Record<string, string>): Promise<void> {
  const t = m.begin();
  for (const [k, v] of Object.entries(kv)) await t.put(b(k), b(v));
  await t.commit();
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof NextDbError) return e.code;
    throw e;
  }
}

test('own writes are visible to self only until commit; snapshot is stable', async () => {
  const m = await open();
  await seed(m, { a: '1' });
  const t1 = m.begin({ isolation: 'repeatable read' });
  const t2 = m.begin({ isolation: 'repeatable read' });
  assert.equal(str(await t2.get(b('a'))), '1'); // t2 snapshot taken here
  await t1.put(b('a'), b('2'));
  await t1.put(b('b'), b('x'));
  assert.equal(str(await t1.get(b('a'))), '2');
  assert.equal(str(await t2.get(b('a'))), '1');
  assert.equal(await t2.get(b('b')), undefined);
  await t1.commit();
  assert.equal(str(await t2.get(b('a'))), '1');
  assert.equal(await t2.get(b('b')), undefined);
  await t2.commit();
  const t3 = m.begin();
  assert.equal(str(await t3.get(b('a'))), '2');
  assert.deepEqual(
    (await t3.scan({ start: b(''), end: b('z') })).map((kv) => `${kv.key}=${kv.value}`),
    ['a=2', 'b=x'],
  );
  await t3.commit();
  await m.close();
});

test('scan: bounds, reverse, limit, deletes, own intents, history versions', async () => {
  const m = await open();
  await seed(m, { a: '1', b: '2', c: '3', d: '4' });
  const old = m.begin({ isolation: 'repeatable read' });
  old.beginStatement();
  const t = m.begin();
  await t.delete(b('b'));
  await t.put(b('c'), b('33'));
  await t.put(b('bb'), b('new'));
  const fmt = (kvs: { key: Buffer; value: Buffer }[]): string => kvs.map((kv) => `${kv.key}=${kv.value}`).join(',');
  assert.equal(fmt(await t.scan({ start: b('a'), end: b('d') })), 'a=1,bb=new,c=33');
  assert.equal(fmt(await t.scan({ start: b('a'), end: b('e'), reverse: true, limit: 2 })), 'd=4,c=33');
  await t.commit();
  assert.equal(fmt(await old.scan({ start: b('a'), end: b('e') })), 'a=1,b=2,c=3,d=4');
  assert.equal(fmt(await old.scan({ start: b('b'), end: b('e'), limit: 2 })), 'b=2,c=3');
  const now = m.begin();
  assert.equal(fmt(await now.scan({ start: b('a'), end: b('e') })), 'a=1,bb=new,c=33,d=4');
  await now.commit();
  await old.commit();
  await m.close();
});

test('keys containing zero bytes keep their order and history', async () => {
  const m = await open();
  const keys = [
    Buffer.from([1]),
    Buffer.from([1, 0]),
    Buffer.from([1, 0, 0]),
    Buffer.from([1, 0, 1]),
    Buffer.from([1, 1]),
  ];
  for (let round = 0; round < 3; round++) {
    const t = m.begin();
    for (const k of keys) await t.put(k, Buffer.from(`${k.toString('hex')}-${round}`));
    await t.commit();
  }
  const t = m.begin();
  const kvs = await t.scan({ start: Buffer.alloc(0), end: Buffer.from([2]) });
  assert.deepEqual(
    kvs.map((kv) => kv.key.toString('hex')),
    keys.map((k) => k.toString('hex')),
  );
  assert.ok(kvs.every((kv) => kv.value.toString().endsWith('-2')));
  await t.commit();
  await m.close();
});

test('savepoints: nested rollback-to undoes later writes and keeps earlier ones', async () => {
  const m = await open();
  await seed(m, { a: '0' });
  const t = m.begin();
  await t.put(b('a'), b('1'));
  t.savepoint('s1');
  await t.put(b('a'), b('2'));
  await t.put(b('b'), b('2'));
  t.savepoint('s2');
  await t.delete(b('a'));
  assert.equal(await t.get(b('a')), undefined);
  await t.rollbackToSavepoint('s2');
  assert.equal(str(await t.get(b('a'))), '2');
  await t.rollbackToSavepoint('s1');
  assert.equal(str(await t.get(b('a'))), '1');
  assert.equal(await t.get(b('b')), undefined);
  assert.equal(await code(t.rollbackToSavepoint('s2')), '3B001');
  t.savepoint('s3');
  await t.put(b('c'), b('3'));
  t.releaseSavepoint('s3');
  assert.throws(() => t.releaseSavepoint('s3'), /does not exist/);
  await t.commit();
  const r = m.begin();
  assert.equal(str(await r.get(b('a'))), '1');
  assert.equal(await r.get(b('b')), undefined);
  assert.equal(str(await r.get(b('c'))), '3');
  await r.commit();
  await m.close();
});

test('rollback-to releases a lock taken after the savepoint', async () => {
  const m = await open();
  await seed(m, { a: '0' });
  const t1 = m.begin({ isolation: 'read committed' });
  t1.savepoint('s');
  await t1.put(b('a'), b('1'));
  const t2 = m.begin({ isolation: 'read committed' });
  let done = false;
  const w = t2.put(b('a'), b('2')).then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  await t1.rollbackToSavepoint('s');
  await w;
  assert.equal(done, true);
  await t2.commit();
  await t1.commit();
  await m.close();
});

test('rollback discards writes; aborted transactions accept only rollback', async () => {
  const m = await open();
  await seed(m, { a: '1' });
  const t = m.begin();
  await t.put(b('a'), b('2'));
  await t.rollback();
  assert.equal(t.state, 'aborted');
  assert.equal(await code(t.get(b('a'))), '25P02');
  const r = m.begin({ readOnly: true });
  assert.equal(str(await r.get(b('a'))), '1');
  assert.equal(await code(r.put(b('a'), b('3'))), '25006');
  await r.commit();
  await m.close();
});

test('repeatable read: second updater waits, then fails with 40001 naming key and txn', async () => {
  const m = await open();
  await seed(m, { x: '1' });
  const t1 = m.begin({ isolation: 'repeatable read' });
  const t2 = m.begin({ isolation: 'repeatable read' });
  t1.beginStatement();
  t2.beginStatement();
  await t1.put(b('x'), b('2'));
  let settled = false;
  const p = t2.put(b('x'), b('3')).then(
    () => 'ok',
    (e: NextDbError) => e,
  );
  void p.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'second writer must wait');
  await t1.commit();
  const err = await p;
  assert.ok(err instanceof NextDbError);
  assert.equal(err.code, '40001');
  assert.match(err.message, /"x"/);
  assert.match(err.message, new RegExp(t1.id.replace('.', '\\.')));
  assert.match(err.message, /retry/);
  assert.equal(t2.state, 'aborted');
  await m.close();
});

test('read committed: second updater waits, then proceeds on the latest version', async () => {
  const m = await open();
  await seed(m, { x: '1' });
  const t1 = m.begin({ isolation: 'read committed' });
  const t2 = m.begin({ isolation: 'read committed' });
  t1.beginStatement();
  await t1.put(b('x'), b(String(Number(str(await t1.getForUpdate(b('x')))) + 1)));
  t2.beginStatement();
  const p = (async () => {
    const v = await t2.getForUpdate(b('x'));
    await t2.put(b('x'), b(String(Number(str(v)) + 1)));
  })();
  await new Promise((r) => setImmediate(r));
  await t1.commit();
  await p;
  await t2.commit();
  const r = m.begin();
  assert.equal(str(await r.get(b('x'))), '3');
  await r.commit();
  await m.close();
});

test('deadlock: the transaction that closes the cycle gets 40P01', async () => {
  const m = await open();
  await seed(m, { a: '0', b: '0' });
  const t1 = m.begin();
  const t2 = m.begin();
  await t1.put(b('a'), b('1'));
  await t2.put(b('b'), b('2'));
  const p1 = t1.put(b('b'), b('1'));
  await new Promise((r) => setImmediate(r));
  const c2 = await code(t2.put(b('a'), b('2')));
  assert.equal(c2, '40P01');
  await p1;
  await t1.commit();
  const r = m.begin();
  assert.equal(str(await r.get(b('a'))), '1');
  assert.equal(str(await r.get(b('b'))), '1');
  await r.commit();
  await m.close();
});

test('serializable: write skew aborts the second committer; read-only never needs refresh', async () => {
  const m = await open();
  await seed(m, { x: '1', y: '1' });
  const t1 = m.begin();
  const t2 = m.begin();
  const ro = m.begin({ readOnly: true });
  for (const t of [t1, t2, ro]) {
    await t.get(b('x'));
    await t.get(b('y'));
  }
  await t1.put(b('x'), b('0'));
  await t2.put(b('y'), b('0'));
  await t1.commit();
  assert.equal(await code(t2.commit()), '40001');
  assert.equal(await code(ro.commit()), 'ok');
  await m.close();
});

test('gc removes versions below the horizon and keeps what a live snapshot needs', async () => {
  const clock = new ManualClock(1_000);
  const m = await openTxnManager(new MemoryEngine(), { clock });
  // A reader with an early snapshot makes commits keep superseded versions as history (see keepsHistory).
  const pin = m.begin({ isolation: 'repeatable read' });
  pin.beginStatement();
  for (let i = 0; i < 5; i++) await seed(m, { k: `v${i}`, gone: `g${i}` });
  const old = m.begin({ isolation: 'repeatable read' });
  old.beginStatement();
  for (let i = 5; i < 8; i++) await seed(m, { k: `v${i}` });
  const del = m.begin();
  await del.delete(b('gone'));
  await del.commit();
  await pin.commit();
  const s1 = await m.gc();
  assert.ok(s1.versionsRemoved >= 6, `removed ${s1.versionsRemoved}`);
  assert.equal(str(await old.get(b('k'))), 'v4');
  assert.equal(str(await old.get(b('gone'))), 'g4');
  await old.commit();
  const s2 = await m.gc();
  assert.ok(s2.versionsRemoved >= 3);
  assert.equal(s2.headsRemoved, 1);
  const r = m.begin();
  assert.equal(str(await r.get(b('k'))), 'v7');
  assert.equal(await r.get(b('gone')), undefined);
  await r.commit();
  assert.equal(m.engine.stats()['keys'], 3); // boot, hlc ceiling, head of k
  await m.close();
});

test('a reader whose snapshot is above a committing transaction waits for it and sees its writes', async () => {
  // sync() resolves only when released, holding the writer inside its commit window.
  let release: (() => void) | undefined;
  class SlowSync extends MemoryEngine {
    hold = false;
    override sync(): Promise<void> {
      return this.hold ? new Promise((r) => (release = r)) : Promise.resolve();
    }
  }
  const engine = new SlowSync();
  const m = await openTxnManager(engine, { clock: new ManualClock(1_000) });
  await seed(m, { a: '1', b: '1' });
  const w = m.begin();
  await w.put(b('a'), b('2'));
  await w.put(b('b'), b('2'));
  engine.hold = true;
  const committing = w.commit();
  const before = m.begin({ isolation: 'repeatable read' });
  let seen: string | undefined;
  const read = before.get(b('a')).then((v) => (seen = str(v)));
  await new Promise((r) => setImmediate(r));
  assert.equal(seen, undefined, 'reader must wait while the writer is not durable');
  engine.hold = false;
  release?.();
  await committing;
  await read;
  assert.equal(seen, '2');
  assert.equal(str(await before.get(b('b'))), '2');
  await before.commit();
  await m.close();
});

test('timestamps keep increasing across reopen even when the clock restarts lower', async () => {
  const engine = new MemoryEngine();
  const m1 = await openTxnManager(engine, { clock: new ManualClock(5_000) });
  await seed(m1, { a: '1' });
  await m1.close();
  const m2 = await openTxnManager(engine, { clock: new ManualClock(1_000) });
  assert.ok(m2.boot > m1.boot);
  await seed(m2, { a: '2' });
  const r = m2.begin();
  assert.equal(str(await r.get(b('a'))), '2');
  await r.commit();
  await m2.close();
});

test('an intent left by a crashed process is ignored and cleaned up', async () => {
  const engine = new MemoryEngine();
  const m1 = await openTxnManager(engine, { clock: new ManualClock(1_000) });
  await seed(m1, { a: '1' });
  const t = m1.begin();
  await t.put(b('a'), b('uncommitted'));
  await t.put(b('c'), b('uncommitted'));
  // "Crash": m1 is dropped without rollback; the intents stay in the engine.
  const m2 = await openTxnManager(engine, { clock: new ManualClock(1_000) });
  const r = m2.begin();
  assert.equal(str(await r.get(b('a'))), '1');
  assert.deepEqual(
    (await r.scan({ start: b(''), end: b('z') })).map((kv) => kv.key.toString()),
    ['a'],
  );
  await r.put(b('a'), b('3'));
  await r.commit();
  const r2 = m2.begin();
  assert.equal(str(await r2.get(b('a'))), '3');
  await r2.commit();
  await m2.close();
});

test('serializable read refresh is conservative: an overwritten read fails the commit even without a cycle', async () => {
  // Documented in docs/reference/isolation.md: PostgreSQL's SSI would commit T1 here.
  const m = await open();
  await seed(m, { x: '1', y: '1' });
  const t1 = m.begin();
  assert.equal(str(await t1.get(b('x'))), '1');
  await t1.put(b('y'), b('2'));
  const t2 = m.begin();
  await t2.put(b('x'), b('2'));
  await t2.commit();
  const err = await t1.commit().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof NextDbError && err.code === '40001');
  assert.match(err.message, /key "x" that this transaction read was written by transaction/);
  await m.close();
});

test('background gc runs every gcEveryCommits write commits', async () => {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000), gcEveryCommits: 10 });
  // A READ COMMITTED reader whose snapshot trails every commit: each commit keeps history, GC removes it.
  const pin = m.begin({ isolation: 'read committed' });
  for (let i = 0; i < 95; i++) {
    pin.beginStatement();
    await seed(m, { k: `v${i}` });
  }
  await new Promise((r) => setImmediate(r));
  const keys = m.engine.stats()['keys']!;
  // Without GC: 2 meta keys + head + 94 history versions.
  assert.ok(keys < 20, `${keys} keys left; background GC did not run`);
  assert.equal(m.lastGcError, undefined);
  const r = m.begin();
  assert.equal(str(await r.get(b('k'))), 'v94');
  await r.commit();
  await pin.commit();
  await m.close();
});

test('gc works through more versions than one batch holds', async () => {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000), gcEveryCommits: 0 });
  const pin = m.begin({ isolation: 'repeatable read' });
  pin.beginStatement(); // keeps the superseded versions as history until it ends
  for (let round = 0; round < 3; round++) {
    const t = m.begin();
    for (let i = 0; i < 1500; i++) await t.put(b(`k${i}`), b(`v${round}`));
    await t.commit();
  }
  const del = m.begin();
  for (let i = 0; i < 1500; i++) await del.delete(b(`k${i}`));
  await del.commit();
  await pin.commit();
  const s = await m.gc();
  assert.equal(s.versionsRemoved, 4500);
  assert.equal(s.headsRemoved, 1500);
  assert.equal(m.engine.stats()['keys'], 2);
  await m.close();
});

test('closing the manager aborts live transactions and refuses new ones', async () => {
  const m = await open();
  await seed(m, { a: '1' });
  const t = m.begin();
  await t.put(b('a'), b('2'));
  await m.close();
  assert.equal(t.state, 'aborted');
  assert.equal(await code(t.get(b('a'))), '25P02');
  assert.throws(() => m.begin(), /closed/);
});

test('serializable refresh covers exactly the part of a scan that a limit let it examine', async () => {
  for (const [reverse, inside, outside] of [
    [false, 'ab', 'c'],
    [true, 'cd', 'b'],
  ] as const) {
    for (const [insert, expect] of [
      [inside, '40001'],
      [outside, 'ok'],
    ] as const) {
      const m = await open();
      await seed(m, { a: '1', b: '1', c: '1', d: '1' });
      const t1 = m.begin();
      const got = await t1.scan({ start: b('a'), end: b('z'), limit: 2, reverse });
      assert.deepEqual(
        got.map((kv) => kv.key.toString()),
        reverse ? ['d', 'c'] : ['a', 'b'],
      );
      await t1.put(b('zz'), b('x'));
      await seed(m, { [insert]: 'new' });
      assert.equal(await code(t1.commit()), expect, `reverse=${reverse} insert=${insert}`);
      await m.close();
    }
  }
});

test('read committed insert: getForUpdate waits for a concurrent inserter and then sees its row', async () => {
  const m = await open();
  const t1 = m.begin({ isolation: 'read committed' });
  const t2 = m.begin({ isolation: 'read committed' });
  t1.beginStatement();
  t2.beginStatement();
  assert.equal(await t1.getForUpdate(b('pk')), undefined);
  await t1.put(b('pk'), b('first'));
  let seen: string | undefined = 'pending';
  const p = t2.getForUpdate(b('pk')).then((v) => (seen = str(v)));
  await new Promise((r) => setImmediate(r));
  assert.equal(seen, 'pending');
  await t1.commit();
  await p;
  assert.equal(seen, 'first'); // the SQL layer raises 23505 here
  await t2.rollback();
  await m.close();
});

test('a serialization failure inside a savepoint can be rolled back to it, as in PostgreSQL', async () => {
  const m = await open();
  await seed(m, { x: '1', y: '1' });
  const t1 = m.begin({ isolation: 'repeatable read' });
  t1.beginStatement();
  await t1.put(b('y'), b('kept'));
  t1.savepoint('s');
  const t2 = m.begin();
  await t2.put(b('x'), b('2'));
  await t2.commit();
  assert.equal(await code(t1.put(b('x'), b('3'))), '40001');
  assert.equal(t1.state, 'active', 'a failed block still holds locks, so it reports active');
  assert.equal((t1 as MvccTxn).failed, true);
  assert.equal(await code(t1.get(b('y'))), '25P02');
  await t1.rollbackToSavepoint('s');
  assert.equal(t1.state, 'active');
  assert.equal(str(await t1.get(b('y'))), 'kept');
  await t1.commit();
  const r = m.begin();
  assert.equal(str(await r.get(b('x'))), '2');
  assert.equal(str(await r.get(b('y'))), 'kept');
  await r.commit();
  await m.close();
});

test('a deadlock victim inside a savepoint keeps its locks until it rolls back to the savepoint', async () => {
  const m = await open();
  await seed(m, { a: '0', b: '0' });
  const t1 = m.begin();
  const t2 = m.begin();
  await t1.put(b('a'), b('1'));
  t2.savepoint('s');
  await t2.put(b('b'), b('2'));
  let t1Done = false;
  const p1 = t1.put(b('b'), b('1')).then(() => (t1Done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(await code(t2.put(b('a'), b('2'))), '40P01');
  await new Promise((r) => setImmediate(r));
  assert.equal(t1Done, false, 't2 still holds b');
  await t2.rollbackToSavepoint('s');
  await p1;
  await t1.commit();
  assert.equal(await code(t2.commit()), 'ok');
  const r = m.begin();
  assert.equal(str(await r.get(b('b'))), '1');
  await r.commit();
  await m.close();
});

test('COMMIT of a failed transaction rolls it back and releases its locks', async () => {
  const m = await open();
  await seed(m, { x: '1' });
  const t1 = m.begin({ isolation: 'repeatable read' });
  t1.beginStatement();
  t1.savepoint('s');
  await t1.put(b('held'), b('1'));
  await seed(m, { x: '2' });
  assert.equal(await code(t1.put(b('x'), b('3'))), '40001');
  assert.equal(await code(t1.commit()), '25P02');
  const t2 = m.begin();
  await t2.put(b('held'), b('2')); // would wait forever if t1 still held it
  await t2.commit();
  await m.close();
});

test('background gc after the first sweep visits only written keys, keeps what a live snapshot needs, and catches up later', async () => {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000), gcEveryCommits: 10 });
  const idle = (): Promise<void> => new Promise((r) => setImmediate(r));
  // Many keys that are never overwritten: nothing to collect there.
  for (let i = 0; i < 200; i++) await seed(m, { [`cold${i}`]: 'x' });
  await idle();
  // A reader whose snapshot must keep k's version 'a1' while background runs happen.
  await seed(m, { k: 'a0' });
  await seed(m, { k: 'a1' });
  const reader = m.begin({ isolation: 'repeatable read' });
  assert.equal(str(await reader.get(b('k'))), 'a1');
  for (let i = 0; i < 60; i++) {
    // k overwritten, d alternately written and deleted (tombstones).
    const t = m.begin();
    await t.put(b('k'), b(`b${i}`));
    if (i % 2 === 0) await t.put(b('d'), b('x'));
    else await t.delete(b('d'));
    await t.commit();
  }
  for (let i = 0; i < 5; i++) await idle();
  assert.equal(m.lastGcError, undefined);
  assert.equal(str(await reader.get(b('k'))), 'a1');
  await reader.commit();
  // More commits after the reader ended: the kept versions go.
  for (let i = 0; i < 30; i++) await seed(m, { k: `c${i}` });
  for (let i = 0; i < 5; i++) await idle();
  const history = [...m.engine.scan({ gte: Buffer.from([0x03]), lt: Buffer.from([0x04]) })];
  assert.ok(history.length < 15, `${history.length} history versions left`);
  const r = m.begin();
  assert.equal(str(await r.get(b('k'))), 'c29');
  assert.equal(str(await r.get(b('cold7'))), 'x');
  await r.commit();
  await m.close();
});

test('a commit keeps the version it supersedes as history only while a live snapshot is below it', async () => {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000), gcEveryCommits: 0 });
  const keys = (): number => m.engine.stats()['keys']!;
  await seed(m, { k: 'v0' });
  const base = keys(); // boot, hlc ceiling, head of k
  await seed(m, { k: 'v1' });
  assert.equal(keys(), base, 'no reader below the commit: no history version written');
  const notYet = m.begin({ isolation: 'repeatable read' }); // no snapshot taken yet: reads above later commits
  await seed(m, { k: 'v2' });
  assert.equal(keys(), base);
  assert.equal(str(await notYet.get(b('k'))), 'v2');
  const old = m.begin({ isolation: 'repeatable read' });
  old.beginStatement();
  await seed(m, { k: 'v3' }); // record-less commit
  const big = m.begin();
  await big.put(b('k'), b('v4'));
  for (let i = 0; i < 1100; i++) await big.put(b(`x${i}`), b('x')); // over resolveSliceKeys: commits with a record
  await big.commit();
  assert.equal(keys(), base + 2 + 1100, 'history of v2 and v3 kept for the reader below them');
  assert.equal(str(await old.get(b('k'))), 'v2');
  await old.commit();
  await notYet.commit();
  const s = await m.gc();
  assert.equal(s.versionsRemoved, 2);
  const del = m.begin();
  await del.delete(b('k'));
  await del.commit();
  const r = m.begin();
  assert.equal(await r.get(b('k')), undefined); // a tombstone head (no history), removed by GC later
  await r.commit();
  assert.equal((await m.gc()).headsRemoved, 1);
  await m.close();
});

test('putIfAbsent: writes a new key; on an existing one returns it and only locks it (as getForUpdate)', async () => {
  const m = await open();
  await seed(m, { a: '1' });
  const t = m.begin() as MvccTxn;
  assert.equal(await t.putIfAbsent(b('n'), b('new')), undefined);
  assert.equal(str(await t.get(b('n'))), 'new');
  assert.equal(str(await t.putIfAbsent(b('n'), b('again'))), 'new', 'its own write is what it finds');
  assert.equal(str(await t.putIfAbsent(b('a'), b('2'))), '1', 'a committed value is found, not overwritten');
  assert.equal(str(await t.get(b('a'))), '1');
  // The existing key is locked: another writer waits until t ends.
  const other = m.begin({ isolation: 'read committed' });
  let locked = true;
  const p = other.getForUpdate(b('a')).then((v) => {
    locked = false;
    return str(v);
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(locked, true);
  await t.commit();
  assert.equal(await p, '1');
  await other.rollback();
  const r = m.begin();
  assert.equal(str(await r.get(b('n'))), 'new');
  assert.equal(str(await r.get(b('a'))), '1');
  await r.commit();
  await m.close();
});
