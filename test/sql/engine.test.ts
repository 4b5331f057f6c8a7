// End-to-end checks of the SQL engine through the Session API and the
// embedded API: DDL/DML, transactions (incl. transactional DDL), errors with
// SQLSTATEs, the extended protocol with portal suspension.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { open } from '../../src/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

async function session() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const rows = async (sql: string): Promise<(string | null)[][]> => {
    const r = await s.simpleQuery(sql);
    const last = r[r.length - 1]!;
    return (last.rows ?? []).map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
  };
  const code = async (sql: string): Promise<string> => {
    try {
      await s.simpleQuery(sql);
    } catch (e) {
      assert.ok(e instanceof NextDbError);
      return e.code;
    }
    return 'ok';
  };
  return { engine, s, rows, code };
}

test('create, insert, select with filters, order and aggregates', async () => {
  const { engine, rows } = await session();
  await rows('CREATE TABLE t (a int PRIMARY KEY, b text, c numeric(6,2))');
  await rows("INSERT INTO t VALUES (1, 'x', 1.5), (2, 'y', 2.25), (3, NULL, NULL)");
  assert.deepEqual(await rows('SELECT a, b, c FROM t WHERE a >= 2 ORDER BY a DESC'), [
    ['3', null, null],
    ['2', 'y', '2.25'],
  ]);
  assert.deepEqual(await rows('SELECT count(*), sum(a), avg(c), max(b) FROM t'), [
    ['3', '6', '1.8750000000000000', 'y'],
  ]);
  assert.deepEqual(await rows('SELECT b IS NULL, count(*) FROM t GROUP BY 1 ORDER BY 1'), [
    ['f', '2'],
    ['t', '1'],
  ]);
  await engine.close();
});

test('transactional DDL: CREATE TABLE inside ROLLBACK leaves nothing', async () => {
  const { engine, s, code } = await session();
  await s.simpleQuery('BEGIN');
  await s.simpleQuery('CREATE TABLE gone (x int)');
  await s.simpleQuery('INSERT INTO gone VALUES (1)');
  assert.equal(s.txnStatus, 'T');
  await s.simpleQuery('ROLLBACK');
  assert.equal(s.txnStatus, 'I');
  assert.equal(await code('SELECT * FROM gone'), '42P01');
  await engine.close();
});

test('failed transaction block accepts only ROLLBACK', async () => {
  const { engine, s, code } = await session();
  await s.simpleQuery('BEGIN');
  assert.equal(await code('SELECT 1/0'), '22012');
  assert.equal(s.txnStatus, 'E');
  assert.equal(await code('SELECT 1'), '25P02');
  const r = await s.simpleQuery('COMMIT');
  assert.equal(r[0]!.commandTag, 'ROLLBACK');
  assert.equal(s.txnStatus, 'I');
  await engine.close();
});

test('constraint violations carry their SQLSTATE', async () => {
  const { engine, rows, code } = await session();
  await rows('CREATE TABLE p (id int PRIMARY KEY, v int NOT NULL CHECK (v > 0), u text UNIQUE)');
  await rows("INSERT INTO p VALUES (1, 1, 'a')");
  assert.equal(await code("INSERT INTO p VALUES (1, 2, 'b')"), '23505');
  assert.equal(await code("INSERT INTO p VALUES (2, 2, 'a')"), '23505');
  assert.equal(await code("INSERT INTO p VALUES (3, NULL, 'c')"), '23502');
  assert.equal(await code("INSERT INTO p VALUES (4, -1, 'd')"), '23514');
  await rows('CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p(id))');
  assert.equal(await code('INSERT INTO c VALUES (1, 99)'), '23503');
  await rows('INSERT INTO c VALUES (1, 1)');
  assert.equal(await code('DELETE FROM p WHERE id = 1'), '23503');
  assert.equal(await code('SELECT nope FROM p'), '42703');
  assert.equal(await code('SELEC 1'), '42601');
  assert.equal(await code('SELECT 2147483647 + 1'), '22003');
  await engine.close();
});

test('extended protocol: parameters, describe and portal suspension', async () => {
  const { engine, s, rows } = await session();
  await rows('CREATE TABLE n (i int PRIMARY KEY)');
  await rows('INSERT INTO n SELECT * FROM generate_series(1, 10)');
  const info = await s.prepare('q', 'SELECT i FROM n WHERE i > $1 ORDER BY i', [0]);
  assert.deepEqual(info.paramTypes, [23]);
  assert.equal(info.columns?.[0]?.typeOid, 23);
  s.bind('p', 'q', [0], [Buffer.from('4')], [0]);
  const first = await s.execute('p', 4);
  assert.equal(first.suspended, true);
  assert.deepEqual(
    first.rows?.map((r) => r[0]!.toString()),
    ['5', '6', '7', '8'],
  );
  const rest = await s.execute('p', 0);
  assert.equal(rest.suspended, false);
  assert.deepEqual(
    rest.rows?.map((r) => r[0]!.toString()),
    ['9', '10'],
  );
  await engine.close();
});

test('embedded API: query with params, prepare, transaction', async () => {
  const db = await open();
  await db.query('CREATE TABLE kv (k int PRIMARY KEY, v text)');
  await db.query('INSERT INTO kv VALUES ($1, $2)', [1, 'one']);
  const stmt = await db.prepare('SELECT v FROM kv WHERE k = $1');
  assert.deepEqual((await stmt.query([1])).rows, [{ v: 'one' }]);
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query("INSERT INTO kv VALUES (2, 'two')");
      throw new Error('abort');
    }),
  );
  assert.equal((await db.query('SELECT count(*) AS n FROM kv')).rows[0]!.n, 1n);
  const two = await db.query<{ two: number }>('SELECT $1::int + 1 AS two', [1]);
  assert.equal(two.rows[0]!.two, 2);
  await db.close();
});

test('statement_timeout cancels a long statement with 57014', async () => {
  const { engine, s, code } = await session();
  await s.simpleQuery("SET statement_timeout = '50ms'");
  assert.equal(s.getSetting('statement_timeout'), '50');
  assert.equal(await code('SELECT count(*) FROM generate_series(1, 3000000) a'), '57014');
  await s.simpleQuery('RESET statement_timeout');
  assert.equal(await code('SELECT count(*) FROM generate_series(1, 1000)'), 'ok');
  await engine.close();
});

test('cancel() stops the running statement with 57014', async () => {
  const { engine, s } = await session();
  const running = s.simpleQuery('SELECT count(*) FROM generate_series(1, 3000000) a, generate_series(1, 3) b');
  setTimeout(() => s.cancel(), 20);
  await assert.rejects(running, (e: unknown) => e instanceof NextDbError && e.code === '57014');
  await engine.close();
});

test('CREATE DATABASE makes a database sessions can connect to', async () => {
  const { engine, s } = await session();
  await s.simpleQuery('CREATE DATABASE other');
  assert.deepEqual((await engine.listDatabases()).sort(), ['other', 'postgres']);
  const o = engine.createSession({ user: 'postgres', database: 'other' });
  await o.simpleQuery('CREATE TABLE only_here (x int)');
  await assert.rejects(
    s.simpleQuery('SELECT * FROM only_here'),
    (e: unknown) => e instanceof NextDbError && e.code === '42P01',
  );
  assert.throws(
    () => engine.createSession({ user: 'postgres', database: 'nope' }),
    (e: unknown) => e instanceof NextDbError && e.code === '3D000',
  );
  await engine.close();
});

test('EXPLAIN shows index use; EXPLAIN ANALYZE counts rows per operator', async () => {
  const { engine, rows } = await session();
  await rows('CREATE TABLE e (id int PRIMARY KEY, v int)');
  await rows('INSERT INTO e SELECT g, g % 10 FROM generate_series(1, 100) g');
  const plan = (await rows('EXPLAIN SELECT v FROM e WHERE id = 5')).map((r) => r[0]);
  assert.match(plan[0]!, /Index Scan \(primary key\) using e_pkey on e/);
  const analyzed = (await rows('EXPLAIN ANALYZE SELECT v, count(*) FROM e WHERE v < 3 GROUP BY v')).map((r) => r[0]!);
  assert.ok(
    analyzed.some((l) => /Seq Scan on e \(actual time=[\d.]+ rows=30 loops=1\)/.test(l)),
    analyzed.join('\n'),
  );
  assert.ok(
    analyzed.some((l) => /HashAggregate \(actual time=[\d.]+ rows=3 loops=1\)/.test(l)),
    analyzed.join('\n'),
  );
  await engine.close();
});

test('a multi-statement query is one implicit transaction', async () => {
  const { engine, s, rows } = await session();
  await rows('CREATE TABLE m (x int PRIMARY KEY)');
  await assert.rejects(
    s.simpleQuery('INSERT INTO m VALUES (1); INSERT INTO m VALUES (1)'),
    (e: unknown) => e instanceof NextDbError && e.code === '23505',
  );
  assert.equal(s.txnStatus, 'I');
  assert.deepEqual(await rows('SELECT count(*) FROM m'), [['0']]);
  const r = await s.simpleQuery('INSERT INTO m VALUES (2); SELECT x FROM m');
  assert.deepEqual(
    r.map((x) => x.commandTag),
    ['INSERT 0 1', 'SELECT 1'],
  );
  await engine.close();
});

test('embedded API on disk: data and catalog survive close and reopen', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'nextdb-sql-'));
  try {
    const db = await open({ path: dir });
    await db.query('CREATE TABLE d (id serial PRIMARY KEY, v text UNIQUE)');
    await db.query("INSERT INTO d (v) VALUES ('a'), ('b')");
    await db.close();
    const again = await open({ path: dir });
    assert.deepEqual((await again.query('SELECT id, v FROM d ORDER BY id')).rows, [
      { id: 1, v: 'a' },
      { id: 2, v: 'b' },
    ]);
    await assert.rejects(
      again.query("INSERT INTO d (v) VALUES ('a')"),
      (e: unknown) => e instanceof NextDbError && e.code === '23505',
    );
    const next = (await again.query("INSERT INTO d (v) VALUES ('c') RETURNING id")).rows[0] as { id: number };
    assert.ok(next.id > 2, 'sequence continues after reopen');
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('session functions are evaluated per session, not folded at plan time', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'alice', database: 'postgres' });
  const [r] = await s.simpleQuery(
    "SELECT current_user, session_user, current_database(), pg_backend_pid() > 0, current_setting('nosuch.x', true) IS NULL, pg_get_userbyid(10)",
  );
  assert.deepEqual(
    r!.rows![0]!.map((v) => v?.toString() ?? null),
    ['alice', 'alice', 'postgres', 't', 't', 'alice'],
  );
  await engine.close();
});
