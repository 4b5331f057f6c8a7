// Prepared statements reuse their plan (and, for a primary-key point
// SELECT, a compiled lookup: src/sql/exec/point-lookup.ts) until something
// the plan depends on changes: any DDL (catalog version) or a setting the
// binder reads (search_path). These tests change those things between
// executions of one prepared statement and check that the answers follow,
// and that the compiled lookup answers exactly as the executor does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

test('point lookup: hits, misses, NULL key, residual filter, expressions', async () => {
  const db = await open();
  await db.query('CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL, n int)');
  await db.query("INSERT INTO kv VALUES (1, 'one', 10), (2, 'two', NULL), (3, 'three', 30)");
  const sel = await db.prepare('SELECT v, n * 2 AS d FROM kv WHERE k = $1');
  assert.deepEqual((await sel.query([1])).rows, [{ v: 'one', d: 20 }]);
  assert.deepEqual((await sel.query([2])).rows, [{ v: 'two', d: null }]);
  assert.deepEqual((await sel.query([4])).rows, []);
  assert.deepEqual((await sel.query([null])).rows, []);
  const filtered = await db.prepare('SELECT k FROM kv WHERE k = $1 AND n > $2');
  assert.deepEqual((await filtered.query([3, 5])).rows, [{ k: 3 }]);
  assert.deepEqual((await filtered.query([3, 50])).rows, []);
  assert.deepEqual((await filtered.query([2, 0])).rows, []); // n IS NULL: the filter is not true
  const star = await db.prepare('SELECT * FROM kv WHERE k = $1');
  assert.deepEqual((await star.query([3])).rows, [{ k: 3, v: 'three', n: 30 }]);
  const limited = await db.prepare('SELECT v FROM kv WHERE k = $1 LIMIT 0');
  assert.deepEqual((await limited.query([1])).rows, []);
  await db.close();
});

test('point lookup on a composite, descending primary key', async () => {
  const db = await open();
  await db.query('CREATE TABLE c (a int, b text, v int, PRIMARY KEY (a, b))');
  await db.query("INSERT INTO c VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)");
  const sel = await db.prepare('SELECT v FROM c WHERE b = $2 AND a = $1');
  assert.deepEqual((await sel.query([1, 'y'])).rows, [{ v: 2 }]);
  assert.deepEqual((await sel.query([2, 'x'])).rows, [{ v: 3 }]);
  assert.deepEqual((await sel.query([2, 'y'])).rows, []);
  await db.close();
});

test('a cached plan is replaced after DDL on its table', async () => {
  const db = await open();
  await db.query('CREATE TABLE t (k int PRIMARY KEY, v text)');
  await db.query("INSERT INTO t VALUES (1, 'a')");
  const sel = await db.prepare('SELECT * FROM t WHERE k = $1');
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a' }]);
  // The three failed inserts used ids 4-6 (nextval is not rolled back, as in PostgreSQL).
  await db.query('ALTER TABLE t ADD COLUMN w int DEFAULT 7');
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a', w: 7 }]);
  await db.query('DROP TABLE t');
  await assert.rejects(sel.query([1]), (e: unknown) => e instanceof NextDbError && e.code === '42P01');
  await db.query('CREATE TABLE t (k int PRIMARY KEY, v text)');
  await db.query("INSERT INTO t VALUES (1, 'again')");
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'again' }]);
  await db.close();
});

test('DDL rolled back does not invalidate, DDL in an open transaction is seen only by that transaction', async () => {
  const db = await open();
  await db.query('CREATE TABLE t (k int PRIMARY KEY, v text)');
  await db.query("INSERT INTO t VALUES (1, 'a')");
  const sel = await db.prepare('SELECT * FROM t WHERE k = $1');
  await db
    .transaction(async (tx) => {
      await tx.query('ALTER TABLE t ADD COLUMN w int DEFAULT 1');
      assert.deepEqual((await tx.query('SELECT * FROM t WHERE k = $1', [1])).rows, [{ k: 1, v: 'a', w: 1 }]);
      // Outside the transaction the old table shape is still the committed one.
      assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a' }]);
      throw new Error('roll back');
    })
    .catch((e: unknown) => assert.equal((e as Error).message, 'roll back'));
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a' }]);
  await db.close();
});

test('search_path is part of the cache key', async () => {
  const db = await open();
  await db.query('CREATE SCHEMA other');
  await db.query('CREATE TABLE public.t (k int PRIMARY KEY, v text)');
  await db.query('CREATE TABLE other.t (k int PRIMARY KEY, v text)');
  await db.query("INSERT INTO public.t VALUES (1, 'public')");
  await db.query("INSERT INTO other.t VALUES (1, 'other')");
  await db.transaction(async (tx) => {
    assert.deepEqual((await tx.query('SELECT v FROM t WHERE k = $1', [1])).rows, [{ v: 'public' }]);
    await tx.query('SET LOCAL search_path = other');
    assert.deepEqual((await tx.query('SELECT v FROM t WHERE k = $1', [1])).rows, [{ v: 'other' }]);
  });
  const sel = await db.prepare('SELECT v FROM t WHERE k = $1');
  assert.deepEqual((await sel.query([1])).rows, [{ v: 'public' }]);
  await db.query('SET search_path = other, public');
  assert.deepEqual((await sel.query([1])).rows, [{ v: 'other' }]);
  await db.query('RESET search_path');
  assert.deepEqual((await sel.query([1])).rows, [{ v: 'public' }]);
  await db.close();
});

test('prepared point reads inside a transaction see its own writes', async () => {
  const db = await open();
  await db.query('CREATE TABLE t (k int PRIMARY KEY, v int)');
  await db.query('INSERT INTO t VALUES (1, 1)');
  await db.transaction(async (tx) => {
    await tx.query('UPDATE t SET v = 2 WHERE k = 1');
    assert.deepEqual((await tx.query('SELECT v FROM t WHERE k = $1', [1])).rows, [{ v: 2 }]);
    assert.deepEqual((await tx.query('SELECT v FROM t WHERE k = $1 FOR UPDATE', [1])).rows, [{ v: 2 }]);
  });
  const sel = await db.prepare('SELECT v FROM t WHERE k = $1');
  assert.deepEqual((await sel.query([1])).rows, [{ v: 2 }]);
  await db.close();
});

test('prepared UPDATE and INSERT reuse their compiled parts: constraints, defaults, subqueries, DDL in between', async () => {
  const db = await open();
  await db.query('CREATE SEQUENCE s');
  await db.query("CREATE TABLE t (k int PRIMARY KEY, v int NOT NULL CHECK (v < 100), id int DEFAULT nextval('s'))");
  const ins = await db.prepare('INSERT INTO t (k, v) VALUES ($1, $2)');
  const upd = await db.prepare('UPDATE t SET v = v + $2 WHERE k = $1');
  const updSub = await db.prepare('UPDATE t SET v = (SELECT max(v) FROM t) + 1 WHERE k = $1');
  for (let k = 1; k <= 3; k++) await ins.query([k, k * 10]);
  await assert.rejects(ins.query([1, 5]), (e: unknown) => e instanceof NextDbError && e.code === '23505');
  await assert.rejects(ins.query([9, 500]), (e: unknown) => e instanceof NextDbError && e.code === '23514');
  await assert.rejects(ins.query([9, null]), (e: unknown) => e instanceof NextDbError && e.code === '23502');
  assert.equal((await upd.query([1, 5])).rowCount, 1);
  assert.equal((await upd.query([1, 5])).rowCount, 1);
  assert.equal((await upd.query([42, 5])).rowCount, 0);
  assert.equal((await upd.query([null, 5])).rowCount, 0);
  await assert.rejects(upd.query([2, 1000]), (e: unknown) => e instanceof NextDbError && e.code === '23514');
  assert.equal((await updSub.query([2])).rowCount, 1);
  assert.equal((await updSub.query([3])).rowCount, 1);
  assert.deepEqual((await db.query('SELECT k, v, id FROM t ORDER BY k')).rows, [
    { k: 1, v: 20, id: 1 },
    { k: 2, v: 31, id: 2 },
    { k: 3, v: 32, id: 3 },
  ]);
  // The three failed inserts used ids 4-6 (nextval is not rolled back, as in PostgreSQL).
  await db.query('ALTER TABLE t ADD COLUMN w int DEFAULT 7');
  await ins.query([4, 40]);
  await upd.query([4, 1]);
  assert.deepEqual((await db.query('SELECT * FROM t WHERE k = 4')).rows, [{ k: 4, v: 41, id: 7, w: 7 }]);
  await db.close();
});

test('the committed catalog known without a read follows DDL committed by another session at once', async () => {
  const db = await open();
  await db.query('CREATE TABLE t (k int PRIMARY KEY, v text)');
  await db.query("INSERT INTO t VALUES (1, 'a')");
  const sel = await db.prepare('SELECT * FROM t WHERE k = $1');
  for (let i = 0; i < 3; i++) assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a' }]);
  await db.transaction(async (tx) => {
    await tx.query('ALTER TABLE t ADD COLUMN w int DEFAULT 5');
    // Not committed yet: other sessions still read the old shape.
    assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a' }]);
  });
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a', w: 5 }]);
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a', w: 5 }]);
  // DDL in a multi-statement implicit transaction, and a DROP + CREATE through simple queries.
  await db.query('ALTER TABLE t DROP COLUMN w; ALTER TABLE t ADD COLUMN z text');
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1, v: 'a', z: null }]);
  await db.query('DROP TABLE t');
  await assert.rejects(sel.query([1]), (e: unknown) => e instanceof NextDbError && e.code === '42P01');
  await db.query('CREATE TABLE t (k int PRIMARY KEY)');
  await db.query('INSERT INTO t VALUES (1)');
  assert.deepEqual((await sel.query([1])).rows, [{ k: 1 }]);
  await db.close();
});
