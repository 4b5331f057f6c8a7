// The embedded API under concurrent callers: each db.query / stmt.query call
// runs on a session of its own (an implicit transaction each), so callers
// that overlap neither join nor break each other's transactions; BEGIN
// through db.query still pins one session until the block ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

test('concurrent db.query calls are separate implicit transactions', async () => {
  const db = await open();
  await db.query('CREATE TABLE c (k int PRIMARY KEY, v int)');
  await db.query('INSERT INTO c VALUES (1, 0)');
  // 40 concurrent increments: each is its own autocommit statement (retried on 40001).
  const results = await Promise.allSettled(
    Array.from({ length: 40 }, () => db.query('UPDATE c SET v = v + 1 WHERE k = 1')),
  );
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  for (const r of results)
    if (r.status === 'rejected')
      assert.ok(r.reason instanceof NextDbError && r.reason.code === '40001', String(r.reason));
  const { rows } = await db.query<{ v: number }>('SELECT v FROM c WHERE k = 1');
  assert.equal(rows[0]!.v, ok);
  await db.close();
});

test('concurrent inserts through one prepared statement and through db.query with params', async () => {
  const db = await open();
  await db.query('CREATE TABLE p (k int PRIMARY KEY, s text)');
  const ins = await db.prepare('INSERT INTO p VALUES ($1, $2)');
  await Promise.all(
    Array.from({ length: 50 }, (_x, i) =>
      i % 2 === 0 ? ins.query([i, `v${i}`]) : db.query('INSERT INTO p VALUES ($1, $2)', [i, `v${i}`]),
    ),
  );
  const sel = await db.prepare('SELECT s FROM p WHERE k = $1');
  const got = await Promise.all(Array.from({ length: 50 }, (_x, i) => sel.query<{ s: string }>([i])));
  got.forEach((r, i) => assert.equal(r.rows[0]?.s, `v${i}`));
  const { rows } = await db.query<{ n: bigint }>('SELECT count(*) AS n FROM p');
  assert.equal(rows[0]!.n, 50n);
  await db.close();
});

test('a failing concurrent call does not abort the others', async () => {
  const db = await open();
  await db.query('CREATE TABLE u (k int PRIMARY KEY)');
  const rs = await Promise.allSettled([
    db.query('INSERT INTO u VALUES (1)'),
    db.query('SELECT 1/0'),
    db.query('INSERT INTO u VALUES (2)'),
    db.query('INSERT INTO u VALUES (3)'),
  ]);
  assert.deepEqual(
    rs.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const { rows } = await db.query<{ n: bigint }>('SELECT count(*) AS n FROM u');
  assert.equal(rows[0]!.n, 3n);
  await db.close();
});

test('BEGIN through db.query pins one session until COMMIT; transaction() runs beside it', async () => {
  const db = await open();
  await db.query('CREATE TABLE b (k int PRIMARY KEY)');
  await db.query('BEGIN');
  await db.query('INSERT INTO b VALUES (1)');
  // Another session does not see the uncommitted row.
  const seen = await db.transaction(
    async (tx) => (await tx.query<{ n: bigint }>('SELECT count(*) AS n FROM b')).rows[0]!.n,
  );
  assert.equal(seen, 0n);
  assert.equal((await db.query<{ n: bigint }>('SELECT count(*) AS n FROM b')).rows[0]!.n, 1n);
  await db.query('ROLLBACK');
  assert.equal((await db.query<{ n: bigint }>('SELECT count(*) AS n FROM b')).rows[0]!.n, 0n);
  await db.close();
});

test('a long statement keeps its own transaction state while other callers run (now() stays fixed)', async () => {
  const db = await open();
  await db.query('CREATE TABLE s (id int PRIMARY KEY, t timestamptz)');
  // The INSERT yields to the event loop while it runs; the other caller's statements start meanwhile.
  const long = db.query(`INSERT INTO s SELECT g, now() + (g * 0) * interval '1 s' FROM generate_series(1, 30000) g`);
  const others = (async () => {
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 5));
      await db.query('SELECT 1');
    }
  })();
  await Promise.all([long, others]);
  const { rows } = await db.query<{ d: bigint }>('SELECT count(DISTINCT t) AS d FROM s');
  assert.equal(rows[0]!.d, 1n);
  await db.close();
});
