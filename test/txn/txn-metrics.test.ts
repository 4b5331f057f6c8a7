// The transaction layer's conflict and lock-wait counters as /metrics shows
// them (ServerMetrics reads src/txn/txn-metrics.ts at scrape time): a real
// write refresh, a refresh failure, a first-updater-wins failure and a lock
// wait each move their figure by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerMetrics } from '../../src/server/server-metrics.ts';
import type { EngineStats } from '../../src/storage/engine.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { openTxnManager, type MvccTxn } from '../../src/txn/index.ts';

const b = (s: string): Buffer => Buffer.from(s);

function figure(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  assert.ok(m !== null, `${name} missing from /metrics`);
  return Number(m[1]);
}

test('/metrics counts 40001 by kind, write refreshes and lock waits', async () => {
  const metrics = new ServerMetrics(
    () => 0,
    () => ({}) as EngineStats,
  );
  const before = await metrics.registry.metrics();
  for (const k of ['write_too_old', 'write_refresh_failed', 'commit_refresh_failed', 'deadlock'])
    assert.equal(figure(before, `nextdb_txn_conflicts_total{kind="${k}"}`), 0);

  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
  const seed = m.begin();
  await seed.put(b('x'), b('0'));
  await seed.commit();
  const conflict = async (
    level: 'serializable' | 'repeatable read',
    readFirst: string,
    changeRead: boolean,
  ): Promise<MvccTxn> => {
    const t1 = m.begin({ isolation: level }) as MvccTxn;
    const t2 = m.begin({ isolation: level }) as MvccTxn;
    t2.beginStatement();
    await t2.get(b(readFirst));
    t1.beginStatement();
    await t1.put(b('x'), b('1'));
    if (changeRead) await t1.put(b(readFirst), b('1'));
    // t2 waits for t1's lock on x: one lock wait.
    t2.beginStatement();
    const p = t2.put(b('x'), b('2')).then(
      () => 'ok',
      (e: unknown) => e,
    );
    await new Promise((r) => setImmediate(r));
    await t1.commit();
    await p;
    return t2;
  };
  // SERIALIZABLE, a read before changed: refresh fails.
  const t2 = await conflict('serializable', 'w', true);
  assert.equal(t2.state, 'aborted');
  // SERIALIZABLE, nothing read changed: refresh succeeds.
  const t3 = await conflict('serializable', 'y', false);
  assert.equal(t3.retryStatement(), true);
  await t3.put(b('x'), b('3'));
  await t3.commit();
  // REPEATABLE READ: first updater wins.
  await conflict('repeatable read', 'z', false);
  await m.close();

  const after = await metrics.registry.metrics();
  assert.equal(figure(after, 'nextdb_txn_conflicts_total{kind="write_refresh_failed"}'), 1);
  assert.equal(figure(after, 'nextdb_txn_conflicts_total{kind="write_too_old"}'), 1);
  assert.equal(figure(after, 'nextdb_txn_conflicts_total{kind="commit_refresh_failed"}'), 0);
  assert.equal(figure(after, 'nextdb_txn_write_refreshes_total'), 1);
  assert.equal(figure(after, 'nextdb_txn_lock_waits_total'), 3);
  assert.ok(figure(after, 'nextdb_txn_lock_wait_seconds_total') > 0);
});
