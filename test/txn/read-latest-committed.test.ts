// MvccTxnManager.readLatestCommitted (the read-only fast path of an
// implicit single-key read): it answers exactly as a fresh transaction's
// get when the head carries no intent (committed value, tombstone, missing
// key) and refuses (NEEDS_DECODE) whenever another transaction holds an
// intent on the key, so the caller reads in a transaction as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { headKey } from '../../src/txn/keys.ts';
import { NEEDS_DECODE } from '../../src/txn/head.ts';
import { openTxnManager, type MvccTxnManager } from '../../src/txn/index.ts';

const b = (s: string): Buffer => Buffer.from(s);

async function open(): Promise<{ m: MvccTxnManager; clock: ManualClock }> {
  const clock = new ManualClock(1_000);
  const m = await openTxnManager(new MemoryEngine(), { clock });
  const t = m.begin();
  await t.put(b('a'), b('1'));
  await t.put(b('b'), b('2'));
  await t.commit();
  return { m, clock };
}

function fast(m: MvccTxnManager, key: string): string | undefined | typeof NEEDS_DECODE {
  const r = m.readLatestCommitted(headKey(b(key)));
  return r === NEEDS_DECODE || r === undefined ? r : r.toString();
}

async function viaTxn(m: MvccTxnManager, key: string): Promise<string | undefined> {
  const t = m.begin({ isolation: 'read committed' });
  const v = await t.get(b(key));
  await t.commit();
  return v?.toString();
}

test('readLatestCommitted answers as a fresh transaction: committed, updated, deleted, missing', async () => {
  const { m, clock } = await open();
  assert.equal(fast(m, 'a'), '1');
  assert.equal(fast(m, 'zz'), undefined);
  // Commits in the same millisecond as the read (the HLC's logical part) are seen too.
  const t = m.begin();
  await t.put(b('a'), b('new'));
  await t.delete(b('b'));
  await t.commit();
  for (const k of ['a', 'b', 'zz']) assert.equal(fast(m, k), await viaTxn(m, k));
  assert.equal(fast(m, 'a'), 'new');
  assert.equal(fast(m, 'b'), undefined);
  clock.advance(5);
  const t2 = m.begin();
  await t2.put(b('b'), b('back'));
  await t2.commit();
  assert.equal(fast(m, 'b'), 'back');
});

test('readLatestCommitted refuses a key with another transaction intent (write, lock, committing)', async () => {
  const { m } = await open();
  const w = m.begin({ isolation: 'read committed' });
  await w.put(b('a'), b('pending'));
  await w.lockForUpdate(b('b'));
  assert.equal(fast(m, 'a'), NEEDS_DECODE);
  assert.equal(fast(m, 'b'), NEEDS_DECODE);
  // The transaction path handles it: the committed version, not the intent.
  assert.equal(await viaTxn(m, 'a'), '1');
  const committing = w.commit();
  assert.equal(fast(m, 'a'), NEEDS_DECODE); // the record is being made durable: a reader must wait
  await committing;
  assert.equal(fast(m, 'a'), 'pending');
  assert.equal(fast(m, 'b'), '2');
});

test('readLatestCommitted refuses after close', async () => {
  const { m } = await open();
  await m.close();
  assert.equal(fast(m, 'a'), NEEDS_DECODE);
});
