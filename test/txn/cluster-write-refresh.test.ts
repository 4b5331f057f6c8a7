// The SERIALIZABLE write refresh over a replicated node: the SQL engine over
// ClusterTxnManager (DeferredTxn -> ClusterTxn -> MvccTxn) reruns a statement
// whose write met a newer committed version, as on a single node, and the
// result replicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterTxnManager } from '../../src/kv/cluster-txn-manager.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { txnCounters } from '../../src/txn/index.ts';
import { Harness } from '../kv/cluster-harness.ts';

test('cluster: a SERIALIZABLE UPDATE that meets a newer commit refreshes and commits (no 40001)', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  const leader = await h.leader();
  const sql = await h.drive(
    SqlEngine.open({ engine: leader.engine, txnManager: new ClusterTxnManager(leader), clock: h.clock, seed: 1 }),
    2000,
  );
  const a = sql.createSession({ user: 'postgres', database: 'postgres' });
  const s = sql.createSession({ user: 'postgres', database: 'postgres' });
  const run = async (session: typeof a, text: string): Promise<string[][]> => {
    const r = await h.drive(session.simpleQuery(text), 2000);
    return (r[r.length - 1]?.rows ?? []).map((row) => row.map((v) => (v === null ? 'NULL' : v.toString())));
  };
  await run(a, 'CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)');
  await run(a, 'CREATE TABLE other (id int PRIMARY KEY)');
  await run(a, 'INSERT INTO counter VALUES (1, 100)');
  const before = txnCounters.writeRefreshes;
  await run(s, 'BEGIN ISOLATION LEVEL SERIALIZABLE');
  await run(s, 'SELECT * FROM other'); // snapshot taken; reads nothing the other changes
  await run(a, 'UPDATE counter SET n = n + 10 WHERE id = 1');
  await run(s, 'UPDATE counter SET n = n + 1 WHERE id = 1');
  await run(s, 'COMMIT');
  assert.equal(txnCounters.writeRefreshes - before, 1);
  assert.deepEqual(await run(a, 'SELECT n FROM counter'), [['111']]);
  await h.converge();
  assert.equal(h.content(2), h.content(1));
  await s.close();
  await a.close();
  await sql.close();
  assert.deepEqual(h.fatal, []);
});
