// Set-returning functions in the select list (plan/binder.ts ProjectSet,
// exec/executor.ts projectSetOp), beyond the golden script
// (golden/srf-select-list.sql, which compares with PostgreSQL 15): the plan
// shape EXPLAIN shows, streaming of a huge series under LIMIT, PostgreSQL's
// exact messages and hints (the golden format compares SQLSTATEs only), and
// a prepared statement re-run with other parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

async function open() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const rows = async (sql: string): Promise<(string | null)[][]> => {
    const r = await s.simpleQuery(sql);
    return (r[r.length - 1]!.rows ?? []).map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
  };
  return { engine, s, rows };
}

test('EXPLAIN shows a ProjectSet per nesting level, above the aggregate and window unless GROUP BY or the window reads the function', async () => {
  const { engine, rows } = await open();
  try {
    await rows('CREATE TABLE t (id int PRIMARY KEY, x int)');
    const plan = async (q: string): Promise<string[]> => (await rows(`EXPLAIN ${q}`)).map((r) => r[0]!);
    assert.deepEqual(await plan('SELECT generate_series(1, 3)'), ['ProjectSet', '  ->  Result']);
    assert.deepEqual(await plan('SELECT x, generate_series(1, x) FROM t'), ['ProjectSet', '  ->  Seq Scan on t']);
    assert.deepEqual(await plan('SELECT generate_series(1, generate_series(1, 3))'), [
      'ProjectSet',
      '  ->  ProjectSet',
      '        ->  Result',
    ]);
    assert.deepEqual(await plan('SELECT count(*), generate_series(1, 2) FROM t'), [
      'ProjectSet',
      '  ->  Aggregate',
      '        ->  Seq Scan on t',
    ]);
    const grouped = await plan('SELECT generate_series(1, 2) AS g, count(*) FROM t GROUP BY g');
    assert.equal(grouped[0], 'HashAggregate');
    assert.ok(
      grouped.some((l) => l.endsWith('->  ProjectSet')),
      grouped.join('\n'),
    );
    // A window's PARTITION BY / ORDER BY reads it: below the window, above the aggregate.
    assert.deepEqual(await plan('SELECT count(*), row_number() OVER (ORDER BY generate_series(1, 3)) FROM t'), [
      'WindowAgg',
      '  ->  ProjectSet',
      '        ->  Aggregate',
      '              ->  Seq Scan on t',
    ]);
    // LIMIT stays above the ProjectSet: it must not be pushed into the scan below it.
    assert.deepEqual(await plan('SELECT x, generate_series(1, 2) FROM t LIMIT 1'), [
      'Limit',
      '  ->  ProjectSet',
      '        ->  Seq Scan on t',
    ]);
  } finally {
    await engine.close();
  }
});

test('a ProjectSet streams: LIMIT over a billion-row series reads only what it needs', async () => {
  const { engine, rows } = await open();
  try {
    assert.deepEqual(await rows('SELECT generate_series(1, 1000000000) AS g LIMIT 3'), [['1'], ['2'], ['3']]);
    await rows('CREATE TABLE t (id int PRIMARY KEY, x int)');
    await rows('INSERT INTO t VALUES (1, 1), (2, 2)');
    // Each input row's series is finished before the next row starts, across output batches.
    const out = await rows('SELECT x, generate_series(1, 1000) AS g FROM t');
    assert.equal(out.length, 2000);
    assert.deepEqual(out[999], ['1', '1000']);
    assert.deepEqual(out[1000], ['2', '1']);
  } finally {
    await engine.close();
  }
});

test('PostgreSQL messages and hints where set-returning functions are refused', async () => {
  const { engine, rows } = await open();
  try {
    const refused = async (sql: string, code: string, message: string, hint?: string): Promise<void> => {
      await assert.rejects(rows(sql), (e: unknown) => {
        assert.ok(e instanceof NextDbError, String(e));
        assert.equal(e.code, code, sql);
        assert.equal(e.message, message, sql);
        assert.equal(e.hint, hint, sql);
        return true;
      });
    };
    const lateral = 'You might be able to move the set-returning function into a LATERAL FROM item.';
    await refused(
      'SELECT 1 WHERE generate_series(1, 2) > 1',
      '0A000',
      'set-returning functions are not allowed in WHERE',
    );
    await refused(
      'SELECT count(generate_series(1, 2))',
      '0A000',
      'aggregate function calls cannot contain set-returning function calls',
      lateral,
    );
    await refused(
      'SELECT CASE WHEN true THEN generate_series(1, 2) END',
      '0A000',
      'set-returning functions are not allowed in CASE',
      lateral,
    );
    await refused(
      'SELECT coalesce(generate_series(1, 2), 0)',
      '0A000',
      'set-returning functions are not allowed in COALESCE',
      lateral,
    );
    await refused(
      'SELECT * FROM generate_series(generate_series(1, 2), 3)',
      '0A000',
      'set-returning functions must appear at top level of FROM',
    );
    await refused('SELECT NOT generate_series(1, 2) > 1', '42804', 'argument of NOT must not return a set');
  } finally {
    await engine.close();
  }
});

test('a prepared statement with a set-returning function runs again with other parameters', async () => {
  const { engine, s } = await open();
  try {
    const h = await s.prepareHandle('SELECT generate_series(1, $1::int) AS g, $2::text AS t');
    for (const n of [3, 0, 2, 5]) {
      const r = await s.runHandle(h, [n, `n${n}`]);
      assert.deepEqual(
        r.rows,
        Array.from({ length: n }, (_, i) => [i + 1, `n${n}`]),
      );
    }
    const r = await s.runHandle(h, [null, 'x']);
    assert.deepEqual(r.rows, []);
  } finally {
    await engine.close();
  }
});
