// Concurrent writers through SQL: two sessions on one SqlEngine, the second
// blocked behind the first's uncommitted change. Under READ COMMITTED the
// waiter re-reads the row's latest version and re-checks its WHERE clause
// (PostgreSQL's EvalPlanQual): no lost update, no change to a row that no
// longer matches, 23505 for a concurrent duplicate key. Under REPEATABLE
// READ / SERIALIZABLE the waiter fails with 40001.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

type Level = 'read committed' | 'repeatable read' | 'serializable';

async function setup(ddl: string[]) {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const mk = () => engine.createSession({ user: 'postgres', database: 'postgres' });
  const admin = mk();
  for (const q of ddl) await admin.simpleQuery(q);
  const a = mk();
  const b = mk();
  const rows = async (sql: string): Promise<string[]> => {
    const r = await admin.simpleQuery(sql);
    return (r[r.length - 1]!.rows ?? []).map((row) =>
      row.map((v) => (v === null ? 'null' : v.toString('utf8'))).join('|'),
    );
  };
  return { engine, a, b, rows };
}

/** Lets a blocked statement reach its wait before the other session commits. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

async function outcome(p: Promise<readonly { commandTag: string }[]>): Promise<string> {
  try {
    const r = await p;
    return r[r.length - 1]!.commandTag;
  } catch (e) {
    assert.ok(e instanceof NextDbError, String(e));
    return e.code;
  }
}

/** A runs `first` in an open transaction at `level`; B runs `second` (blocked), then A commits. */
async function race(level: Level, ddl: string[], first: string, second: string) {
  const env = await setup(ddl);
  await env.a.simpleQuery(`BEGIN ISOLATION LEVEL ${level.toUpperCase()}`);
  await env.b.simpleQuery(`BEGIN ISOLATION LEVEL ${level.toUpperCase()}`);
  // B's snapshot is taken before A's change commits (matters for REPEATABLE READ).
  await env.b.simpleQuery('SELECT 1 FROM t LIMIT 1');
  await env.a.simpleQuery(first);
  let done = false;
  const pending = outcome(env.b.simpleQuery(second)).finally(() => (done = true));
  await settle();
  const waited = !done;
  await env.a.simpleQuery('COMMIT');
  const result = await pending;
  await env.b.simpleQuery(result.length === 5 ? 'ROLLBACK' : 'COMMIT');
  return { ...env, waited, result };
}

const counter = ['CREATE TABLE t (k int PRIMARY KEY, v int)', 'INSERT INTO t VALUES (1, 10), (2, 20)'];

test('READ COMMITTED: concurrent v = v + 1 does not lose an increment', async () => {
  const r = await race(
    'read committed',
    counter,
    'UPDATE t SET v = v + 1 WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE k = 1',
  );
  assert.equal(r.waited, true);
  assert.equal(r.result, 'UPDATE 1');
  assert.deepEqual(await r.rows('SELECT k, v FROM t ORDER BY k'), ['1|12', '2|20']);
  await r.engine.close();
});

test('READ COMMITTED: increment through a non-key predicate and a full scan', async () => {
  const r = await race('read committed', counter, 'UPDATE t SET v = v + 5', 'UPDATE t SET v = v * 2 WHERE v >= 10');
  assert.equal(r.result, 'UPDATE 2');
  assert.deepEqual(await r.rows('SELECT k, v FROM t ORDER BY k'), ['1|30', '2|50']);
  await r.engine.close();
});

test('READ COMMITTED: UPDATE re-checks WHERE on the latest version and skips a row that no longer matches', async () => {
  const r = await race(
    'read committed',
    counter,
    'UPDATE t SET v = 99 WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE v = 10',
  );
  assert.equal(r.result, 'UPDATE 0');
  assert.deepEqual(await r.rows('SELECT k, v FROM t ORDER BY k'), ['1|99', '2|20']);
  await r.engine.close();
});

test('READ COMMITTED: DELETE re-checks WHERE (PMP-write: the changed row is not deleted)', async () => {
  const r = await race('read committed', counter, 'UPDATE t SET v = v + 10', 'DELETE FROM t WHERE v = 20');
  assert.equal(r.result, 'DELETE 0');
  assert.deepEqual(await r.rows('SELECT k, v FROM t ORDER BY k'), ['1|20', '2|30']);
  await r.engine.close();
});

test('READ COMMITTED: UPDATE/DELETE of a row deleted concurrently changes nothing', async () => {
  const u = await race('read committed', counter, 'DELETE FROM t WHERE k = 1', 'UPDATE t SET v = 0 WHERE k = 1');
  assert.equal(u.result, 'UPDATE 0');
  assert.deepEqual(await u.rows('SELECT k, v FROM t ORDER BY k'), ['2|20']);
  await u.engine.close();
  const d = await race('read committed', counter, 'DELETE FROM t WHERE k = 1', 'DELETE FROM t WHERE k = 1 RETURNING v');
  assert.equal(d.result, 'DELETE 0');
  await d.engine.close();
});

test('READ COMMITTED: a secondary index follows the latest version on UPDATE and DELETE', async () => {
  const ddl = [...counter, 'CREATE INDEX t_v ON t (v)'];
  const r = await race(
    'read committed',
    ddl,
    'UPDATE t SET v = v + 1 WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE k = 1',
  );
  assert.equal(r.result, 'UPDATE 1');
  assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 12'), ['1']);
  assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 11'), []);
  await r.engine.close();
  const d = await race('read committed', ddl, 'UPDATE t SET v = 11 WHERE k = 1', 'DELETE FROM t WHERE k = 1');
  assert.equal(d.result, 'DELETE 1');
  assert.deepEqual(await d.rows('SELECT k FROM t WHERE v = 11'), []);
  assert.deepEqual(await d.rows('SELECT count(*) FROM t'), ['1']);
  await d.engine.close();
});

test('READ COMMITTED: a concurrent INSERT of the same primary key gives 23505, not an overwrite', async () => {
  const r = await race('read committed', counter, 'INSERT INTO t VALUES (3, 30)', 'INSERT INTO t VALUES (3, 31)');
  assert.equal(r.waited, true);
  assert.equal(r.result, '23505');
  assert.deepEqual(await r.rows('SELECT v FROM t WHERE k = 3'), ['30']);
  await r.engine.close();
});

test('READ COMMITTED: INSERT ... ON CONFLICT waits for the concurrent insert and updates it', async () => {
  const r = await race(
    'read committed',
    counter,
    'INSERT INTO t VALUES (3, 30)',
    'INSERT INTO t VALUES (3, 1) ON CONFLICT (k) DO UPDATE SET v = t.v + excluded.v',
  );
  assert.equal(r.result, 'INSERT 0 1');
  assert.deepEqual(await r.rows('SELECT v FROM t WHERE k = 3'), ['31']);
  await r.engine.close();
  const n = await race(
    'read committed',
    counter,
    'INSERT INTO t VALUES (3, 30)',
    'INSERT INTO t VALUES (3, 1) ON CONFLICT DO NOTHING',
  );
  assert.equal(n.result, 'INSERT 0 0');
  assert.deepEqual(await n.rows('SELECT v FROM t WHERE k = 3'), ['30']);
  await n.engine.close();
});

for (const level of ['repeatable read', 'serializable'] as const) {
  test(`${level}: concurrent update of the same row fails with 40001`, async () => {
    const r = await race(level, counter, 'UPDATE t SET v = v + 1 WHERE k = 1', 'UPDATE t SET v = v + 1 WHERE k = 1');
    assert.equal(r.result, '40001');
    assert.deepEqual(await r.rows('SELECT k, v FROM t ORDER BY k'), ['1|11', '2|20']);
    await r.engine.close();
  });
  test(`${level}: DELETE of a concurrently updated row fails with 40001`, async () => {
    const r = await race(level, counter, 'UPDATE t SET v = v + 10', 'DELETE FROM t WHERE v = 20');
    assert.equal(r.result, '40001');
    await r.engine.close();
  });
  test(`${level}: concurrent INSERT of the same key does not overwrite`, async () => {
    const r = await race(level, counter, 'INSERT INTO t VALUES (3, 30)', 'INSERT INTO t VALUES (3, 31)');
    assert.ok(r.result === '40001' || r.result === '23505', r.result);
    assert.deepEqual(await r.rows('SELECT v FROM t WHERE k = 3'), ['30']);
    await r.engine.close();
  });
}

// A unique secondary index: two transactions inserting different primary keys
// with the same unique value must not both commit. The index entry keyed by
// the unique value alone is what the second writer collides with.
const uniq = ['CREATE TABLE t (k int PRIMARY KEY, v int UNIQUE)', 'INSERT INTO t VALUES (1, 10), (2, 20)'];
for (const level of ['read committed', 'repeatable read', 'serializable'] as const) {
  test(`${level}: concurrent INSERTs of one unique secondary value: only one commits`, async () => {
    const r = await race(level, uniq, 'INSERT INTO t VALUES (3, 30)', 'INSERT INTO t VALUES (4, 30)');
    assert.equal(r.waited, true);
    if (level === 'read committed') assert.equal(r.result, '23505');
    else assert.ok(r.result === '40001' || r.result === '23505', r.result);
    assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 30'), ['3']);
    assert.deepEqual(await r.rows('SELECT count(*) FROM t'), ['3']);
    await r.engine.close();
  });
  test(`${level}: UPDATE to a unique value another transaction just inserted: only one commits`, async () => {
    const r = await race(level, uniq, 'INSERT INTO t VALUES (3, 30)', 'UPDATE t SET v = 30 WHERE k = 2');
    assert.equal(r.waited, true);
    if (level === 'read committed') assert.equal(r.result, '23505');
    else assert.ok(r.result === '40001' || r.result === '23505', r.result);
    assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 30'), ['3']);
    await r.engine.close();
  });
}

test('READ COMMITTED: a unique value freed by a concurrent DELETE can be inserted once it commits', async () => {
  const r = await race('read committed', uniq, 'DELETE FROM t WHERE k = 1', 'INSERT INTO t VALUES (5, 10)');
  assert.equal(r.result, 'INSERT 0 1');
  assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 10'), ['5']);
  await r.engine.close();
});

test('READ COMMITTED: ON CONFLICT DO NOTHING waits for a concurrent insert of the unique secondary value', async () => {
  const r = await race(
    'read committed',
    uniq,
    'INSERT INTO t VALUES (3, 30)',
    'INSERT INTO t VALUES (4, 30) ON CONFLICT DO NOTHING',
  );
  assert.equal(r.result, 'INSERT 0 0');
  assert.deepEqual(await r.rows('SELECT k FROM t WHERE v = 30'), ['3']);
  await r.engine.close();
});

test('READ COMMITTED: UPDATE/DELETE follow a row whose primary key changed concurrently (PostgreSQL follows the update chain)', async () => {
  const u = await race(
    'read committed',
    counter,
    'UPDATE t SET k = 11 WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE v = 10',
  );
  assert.equal(u.result, 'UPDATE 1');
  assert.deepEqual(await u.rows('SELECT k, v FROM t ORDER BY k'), ['2|20', '11|11']);
  await u.engine.close();
  // The WHERE clause is re-checked on the moved row: by the old key it no longer matches.
  const k = await race(
    'read committed',
    counter,
    'UPDATE t SET k = 11 WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE k = 1',
  );
  assert.equal(k.result, 'UPDATE 0');
  await k.engine.close();
  const d = await race('read committed', counter, 'UPDATE t SET k = k + 100', 'DELETE FROM t WHERE v >= 10');
  assert.equal(d.result, 'DELETE 2');
  assert.deepEqual(await d.rows('SELECT count(*) FROM t'), ['0']);
  await d.engine.close();
  // A row deleted now is not followed through an older primary-key change of the same key.
  const s = await race(
    'read committed',
    [...counter, 'UPDATE t SET k = 11 WHERE k = 1', 'INSERT INTO t VALUES (1, 10)'],
    'DELETE FROM t WHERE k = 1',
    'UPDATE t SET v = v + 1 WHERE v = 10',
  );
  assert.equal(s.result, 'UPDATE 1');
  assert.deepEqual(await s.rows('SELECT k, v FROM t ORDER BY k'), ['2|20', '11|11']);
  await s.engine.close();
});
