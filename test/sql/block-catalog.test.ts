// Inside a block, a statement reuses the catalog the block's earlier statements read while the transaction's
// snapshot is the same and it holds no intent on the catalog version key (SqlSession.catalogFor). These tests
// change the catalog in every way a block can see and check each next statement sees it: the block's own DDL,
// a rollback to a savepoint taken before that DDL, DDL inside a PL/pgSQL function, another session's DDL under
// READ COMMITTED (a new snapshot per statement) and under REPEATABLE READ (the block keeps its snapshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import type { Session } from '../../src/sql/api.ts';

async function rows(s: Session, sql: string): Promise<(string | null)[][]> {
  const r = await s.simpleQuery(sql);
  return (r[r.length - 1]!.rows ?? []).map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
}

async function fails(s: Session, sql: string, code: string): Promise<void> {
  await assert.rejects(s.simpleQuery(sql), (e: unknown) => e instanceof NextDbError && e.code === code, sql);
}

test('a block sees its own DDL, and no longer after a rollback to a savepoint before it', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.simpleQuery('CREATE TABLE t (k int PRIMARY KEY, v int)');
    await s.simpleQuery('INSERT INTO t VALUES (1, 10)');
    await s.simpleQuery('BEGIN');
    assert.deepEqual(await rows(s, 'SELECT v FROM t WHERE k = 1'), [['10']]);
    await s.simpleQuery('UPDATE t SET v = v + 1 WHERE k = 1');
    await s.simpleQuery('SAVEPOINT a');
    await s.simpleQuery('ALTER TABLE t ADD COLUMN w int DEFAULT 5');
    assert.deepEqual(await rows(s, 'SELECT v, w FROM t WHERE k = 1'), [['11', '5']]);
    await s.simpleQuery('CREATE TABLE u (x int)');
    await s.simpleQuery('INSERT INTO u VALUES (1)');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM u'), [['1']]);
    await s.simpleQuery('ROLLBACK TO SAVEPOINT a');
    await fails(s, 'SELECT w FROM t WHERE k = 1', '42703');
    await s.simpleQuery('ROLLBACK TO SAVEPOINT a');
    await fails(s, 'SELECT count(*) FROM u', '42P01');
    await s.simpleQuery('ROLLBACK TO SAVEPOINT a');
    assert.deepEqual(await rows(s, 'SELECT v FROM t WHERE k = 1'), [['11']]);
    // DDL run by a function called from a query: the next statement sees the table.
    await s.simpleQuery(
      "CREATE FUNCTION mk() RETURNS int LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'CREATE TABLE made (z int)'; RETURN 1; END $$",
    );
    assert.deepEqual(await rows(s, 'SELECT mk()'), [['1']]);
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM made'), [['0']]);
    await s.simpleQuery('COMMIT');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM made'), [['0']]);
    await fails(s, 'SELECT w FROM t', '42703');
  } finally {
    await s.close();
    await engine.close();
  }
});

test("another session's DDL: seen by the next statement under READ COMMITTED, not under REPEATABLE READ", async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const other = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.simpleQuery('CREATE TABLE t (k int PRIMARY KEY)');
    await s.simpleQuery('BEGIN ISOLATION LEVEL READ COMMITTED');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM t'), [['0']]);
    await other.simpleQuery('CREATE TABLE rc (x int)');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM rc'), [['0']]);
    await s.simpleQuery('COMMIT');
    await s.simpleQuery('BEGIN ISOLATION LEVEL REPEATABLE READ');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM t'), [['0']]);
    await other.simpleQuery('CREATE TABLE rr (x int)');
    await fails(s, 'SELECT count(*) FROM rr', '42P01');
    await s.simpleQuery('ROLLBACK');
    assert.deepEqual(await rows(s, 'SELECT count(*) FROM rr'), [['0']]);
  } finally {
    await s.close();
    await other.close();
    await engine.close();
  }
});
