// The SQL engine, unchanged, over a replicated node (ClusterTxnManager):
// DDL and a bank transfer run on the leader are applied byte-identically on
// every replica, survive the leader's crash, and the next leader's SQL
// engine reads them; a follower's transactions fail with NotLeaderError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterTxnManager } from '../../src/kv/cluster-txn-manager.ts';
import { StaleTxnManager } from '../../src/kv/stale-txn-manager.ts';
import type { ClusterNode } from '../../src/kv/cluster-node.ts';
import { NotLeaderError } from '../../src/raft/errors.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { Harness } from './cluster-harness.ts';

async function openSql(h: Harness, node: ClusterNode): Promise<SqlEngine> {
  return h.drive(
    SqlEngine.open({ engine: node.engine, txnManager: new ClusterTxnManager(node), clock: h.clock, seed: 1 }),
    2000,
  );
}

async function query(h: Harness, sql: SqlEngine, text: string): Promise<string[][]> {
  const session = sql.createSession({ user: 'postgres', database: 'postgres' });
  try {
    const results = await h.drive(session.simpleQuery(text), 2000);
    const last = results[results.length - 1];
    return (last?.rows ?? []).map((r) => r.map((v) => (v === null ? 'NULL' : v.toString())));
  } finally {
    await session.close();
  }
}

test('SQL over a replicated node: DDL and transfers replicate, survive a leader crash, followers refuse', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  const leader = await h.leader();
  const sql = await openSql(h, leader);
  await query(h, sql, 'CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL)');
  await query(h, sql, 'INSERT INTO acct VALUES (1, 100), (2, 100), (3, 100)');
  await query(
    h,
    sql,
    'BEGIN; UPDATE acct SET balance = balance - 30 WHERE id = 1; UPDATE acct SET balance = balance + 30 WHERE id = 3; COMMIT',
  );
  assert.deepEqual(await query(h, sql, 'SELECT id, balance FROM acct ORDER BY id'), [
    ['1', '70'],
    ['2', '100'],
    ['3', '130'],
  ]);
  await h.converge();
  assert.equal(h.content(2), h.content(1));
  assert.equal(h.content(3), h.content(1));

  // A follower's transactions are refused with the leader's id.
  const follower = [...h.nodes.values()].find((n) => n !== leader)!;
  const txn = new ClusterTxnManager(follower).begin();
  await assert.rejects(
    txn.get(Buffer.from('x')),
    (e: unknown) => e instanceof NotLeaderError && e.leader === leader.id,
  );

  // The leader crashes; the next leader's SQL engine sees every committed row.
  await sql.close();
  h.crash(leader.id);
  const next = await h.leader();
  assert.notEqual(next.id, leader.id);
  const sql2 = await openSql(h, next);
  assert.deepEqual(await query(h, sql2, 'SELECT sum(balance), count(*) FROM acct'), [['300', '3']]);
  await query(h, sql2, 'UPDATE acct SET balance = balance + 1 WHERE id = 2');
  await h.start(leader.id);
  await h.converge();
  assert.equal(h.content(leader.id), h.content(next.id));
  await sql2.close();
  assert.deepEqual(h.fatal, []);
});

test('stale reads: a follower runs read-only SQL on its own replica (StaleTxnManager); writes are refused with 25006', async () => {
  const h = new Harness([1, 2, 3]);
  await h.startAll();
  const leader = await h.leader();
  const sql = await openSql(h, leader);
  await query(h, sql, 'CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)');
  await query(h, sql, "INSERT INTO kv VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  // An open transaction's intent is not visible to stale readers; a committed one is.
  const open = sql.createSession({ user: 'postgres', database: 'postgres' });
  await h.drive(open.simpleQuery("BEGIN; UPDATE kv SET v = 'uncommitted' WHERE k = 1"), 2000);
  await query(h, sql, "UPDATE kv SET v = 'bb' WHERE k = 2");
  await h.converge();
  const follower = [...h.nodes.values()].find((n) => n !== leader)!;
  const stale = await h.drive(
    SqlEngine.open({ engine: follower.engine, txnManager: new StaleTxnManager(follower), clock: h.clock, seed: 2 }),
    2000,
  );
  assert.deepEqual(await query(h, stale, 'SELECT k, v FROM kv ORDER BY k'), [
    ['1', 'a'],
    ['2', 'bb'],
    ['3', 'c'],
  ]);
  assert.deepEqual(await query(h, stale, 'SELECT v FROM kv WHERE k = 3'), [['c']]);
  await assert.rejects(query(h, stale, "INSERT INTO kv VALUES (4, 'd')"), (e: { code?: string }) => e.code === '25006');
  // DDL on the leader reaches the follower's catalog (its cache is keyed by the replicated catalog version).
  await h.drive(open.simpleQuery('ROLLBACK'), 2000);
  await query(h, sql, 'CREATE TABLE t2 (x int PRIMARY KEY)');
  await query(h, sql, 'INSERT INTO t2 VALUES (7)');
  await h.converge();
  assert.deepEqual(await query(h, stale, 'SELECT x FROM t2'), [['7']]);
  await open.close();
  await stale.close();
  await sql.close();
  assert.deepEqual(h.fatal, []);
});
