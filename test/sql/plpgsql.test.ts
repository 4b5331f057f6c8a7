// PL/pgSQL beyond what golden output shows (test/sql/golden/plpgsql.sql):
// RAISE NOTICE/WARNING/INFO reach the statement's result as notices (the
// server sends them as NoticeResponse), also from a function called per
// row and through the extended protocol; what NextDB does not run is 0A000
// at CREATE time; runaway recursion is 54001; an exception block inside an
// explicit transaction rolls back only its own writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

async function withSession(fn: (s: ReturnType<SqlEngine['createSession']>) => Promise<void>): Promise<void> {
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1 });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await fn(s);
  } finally {
    await s.close();
    await engine.close();
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof NextDbError, String(e));
    return `${e.code}: ${e.message}`;
  }
  return 'no error';
}

test('RAISE NOTICE, WARNING and INFO arrive as notices of the statement', async () => {
  await withSession(async (s) => {
    const [r] = await s.simpleQuery(
      "DO $$ BEGIN RAISE NOTICE 'n %', 1; RAISE WARNING 'w' USING HINT = 'h'; RAISE INFO 'i'; RAISE DEBUG 'hidden'; END $$",
    );
    assert.deepEqual(
      r!.notices?.map((n) => [n.severity, n.code, n.message, n.hint]),
      [
        ['NOTICE', '00000', 'n 1', undefined],
        ['WARNING', '01000', 'w', 'h'],
        ['INFO', '00000', 'i', undefined],
      ],
    );
    await s.simpleQuery(
      "CREATE FUNCTION shout(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'row %', x; RETURN x * 2; END $$",
    );
    const [q] = await s.simpleQuery('SELECT shout(g) FROM generate_series(1, 3) g');
    assert.deepEqual(
      q!.rows?.map((row) => row[0]?.toString()),
      ['2', '4', '6'],
    );
    assert.deepEqual(
      q!.notices?.map((n) => n.message),
      ['row 1', 'row 2', 'row 3'],
    );
    // The next statement starts without the earlier notices.
    const [plain] = await s.simpleQuery('SELECT 1');
    assert.equal(plain!.notices, undefined);
    // Extended protocol: the portal's result carries them.
    await s.prepare('p', 'SELECT shout($1::int)', []);
    s.bind('', 'p', [], [Buffer.from('5')], []);
    const pr = await s.execute('', 0);
    assert.deepEqual(
      pr.notices?.map((n) => n.message),
      ['row 5'],
    );
  });
});

test('what PL/pgSQL in NextDB does not run is 0A000 when the function is created', async () => {
  await withSession(async (s) => {
    assert.match(
      await code(
        s.simpleQuery(
          'CREATE FUNCTION c() RETURNS int LANGUAGE plpgsql AS $$ DECLARE k refcursor; BEGIN OPEN k FOR SELECT 1; RETURN 1; END $$',
        ),
      ),
      /^0A000: PL\/pgSQL statement cursors \(OPEN\)/,
    );
    assert.match(
      await code(
        s.simpleQuery('CREATE FUNCTION c() RETURNS int LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN 1; END $$'),
      ),
      /^0A000: SECURITY DEFINER functions/,
    );
    assert.match(
      await code(s.simpleQuery('CREATE FUNCTION c() RETURNS int LANGUAGE plperl AS $$ return 1 $$')),
      /^0A000: LANGUAGE plperl/,
    );
    assert.match(
      await code(s.simpleQuery('DO $$ BEGIN CREATE DATABASE inside; END $$')),
      /^0A000: Createdb statements inside PL\/pgSQL/,
    );
  });
});

test('a function calling itself without end fails with 54001', async () => {
  await withSession(async (s) => {
    await s.simpleQuery(
      'CREATE FUNCTION forever(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN forever(n + 1); END $$',
    );
    assert.match(await code(s.simpleQuery('SELECT forever(1)')), /^54001: stack depth limit exceeded/);
  });
});

test('an exception block in a transaction block undoes its own writes only', async () => {
  await withSession(async (s) => {
    await s.simpleQuery('CREATE TABLE t (id int PRIMARY KEY)');
    await s.simpleQuery('BEGIN');
    await s.simpleQuery('INSERT INTO t VALUES (1)');
    await s.simpleQuery(
      'DO $$ BEGIN INSERT INTO t VALUES (2); BEGIN INSERT INTO t VALUES (3); INSERT INTO t VALUES (1); EXCEPTION WHEN unique_violation THEN INSERT INTO t VALUES (4); END; END $$',
    );
    await s.simpleQuery('COMMIT');
    const [r] = await s.simpleQuery('SELECT id FROM t ORDER BY id');
    assert.deepEqual(
      r!.rows?.map((row) => row[0]?.toString()),
      ['1', '2', '4'],
    );
  });
});

test('statement_timeout ends an endless PL/pgSQL loop', async () => {
  await withSession(async (s) => {
    await s.simpleQuery('SET statement_timeout = 200');
    assert.match(
      await code(s.simpleQuery('DO $$ DECLARE i int := 0; BEGIN LOOP i := i + 1; END LOOP; END $$')),
      /^57014: canceling statement due to statement timeout/,
    );
    assert.match(await code(s.simpleQuery('DO $$ BEGIN LOOP END LOOP; END $$')), /^57014:/);
  });
});
