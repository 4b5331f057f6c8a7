// MvccTxn.getByHeadKey (the compiled point lookup's read): the same answers
// as get() on every path (committed, missing, own intent, another's intent
// waited for, serializable read set), with the head key in a buffer the
// caller overwrites right after the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { headKey } from '../../src/txn/keys.ts';
import { openTxnManager, type MvccTxn, type MvccTxnManager } from '../../src/txn/index.ts';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Buffer | undefined): string | undefined => v?.toString();

async function open(): Promise<MvccTxnManager> {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
  const t = m.begin();
  await t.put(b('a'), b('1'));
  await t.put(b('b'), b('2'));
  await t.commit();
  return m;
}

/** Reads `key` through a reused buffer that is scribbled over as soon as the call returns. */
function readReused(t: MvccTxn, scratch: Buffer, key: string): Promise<Buffer | undefined> {
  const hk = headKey(b(key));
  hk.copy(scratch);
  const p = t.getByHeadKey(scratch.subarray(0, hk.length));
  scratch.fill(0x7a);
  return p;
}

test('getByHeadKey answers as get: committed, missing, own writes', async () => {
  const m = await open();
  const t = m.beginTxn('read committed', false);
  const scratch = Buffer.alloc(32);
  assert.equal(str(await readReused(t, scratch, 'a')), '1');
  assert.equal(await readReused(t, scratch, 'zz'), undefined);
  await t.put(b('a'), b('own'));
  await t.delete(b('b'));
  assert.equal(str(await readReused(t, scratch, 'a')), 'own');
  assert.equal(await readReused(t, scratch, 'b'), undefined);
  assert.equal(str(await t.get(b('a'))), 'own');
  await t.commit();
});

test('getByHeadKey waits for a committing owner with a copy of the key (slow path)', async () => {
  const m = await open();
  const w = m.beginTxn('read committed', false);
  await w.put(b('a'), b('new'));
  const r = m.beginTxn('repeatable read', false);
  const scratch = Buffer.alloc(32);
  // The intent is above r's snapshot only once w commits: r sees the old value now.
  assert.equal(str(await readReused(r, scratch, 'a')), '1');
  await w.commit();
  assert.equal(str(await readReused(r, scratch, 'a')), '1'); // repeatable read keeps its snapshot
  await r.commit();
  const r2 = m.beginTxn('read committed', false);
  assert.equal(str(await readReused(r2, scratch, 'a')), 'new');
  await r2.commit();
});

test('a serializable read through getByHeadKey is in the read set (write skew refused)', async () => {
  const m = await open();
  const scratch = Buffer.alloc(32);
  const t1 = m.beginTxn('serializable', false);
  const t2 = m.beginTxn('serializable', false);
  assert.equal(str(await readReused(t1, scratch, 'a')), '1');
  assert.equal(str(await readReused(t2, scratch, 'b')), '2');
  await t2.put(b('a'), b('t2'));
  await t2.commit();
  await t1.put(b('b'), b('t1'));
  // t1 read a, which t2 changed after t1's snapshot: committing must fail (or t1 serializes before t2 only if a is unchanged).
  let code = 'ok';
  try {
    await t1.commit();
  } catch (e) {
    if (!(e instanceof NextDbError)) throw e;
    code = e.code;
  }
  assert.equal(code, '40001');
});
