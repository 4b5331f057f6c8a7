// Operators over work_mem spill to disk and give the same answers as in
// memory: seeded random tables are queried (ORDER BY, GROUP BY, DISTINCT,
// set operations, window functions, CTEs, hash and nested-loop joins) once
// with the default work_mem (everything fits) and once with work_mem =
// 64kB (everything spills), and the results must be equal (ORDER BY
// exactly, row for row; the others as multisets). Also: EXPLAIN ANALYZE
// shows the spill ("Sort Method: external merge  Disk: NkB", batches),
// temp_file_limit stops a query with 53400, and no spill file outlives its
// statement, whether it ended, failed, was cancelled or stopped at a LIMIT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlEngine } from '../../src/sql/index.ts';
import type { SqlSession } from '../../src/sql/session.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

interface Fixture {
  engine: SqlEngine;
  s: SqlSession;
  spillDir: string;
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'nextdb-h6-spill-'));
  let engine: SqlEngine;
  try {
    engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1, dataDir });
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  return {
    engine,
    s,
    spillDir: join(dataDir, 'tmp'),
    close: async () => {
      await engine.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function rows(s: SqlSession, sql: string): Promise<string[]> {
  const r = await s.simpleQuery(sql);
  const last = r[r.length - 1]!;
  return (last.rows ?? []).map((row) => row.map((v) => (v === null ? 'NULL' : v.toString('utf8'))).join('|'));
}

function spillFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** A table of `n` random rows: duplicates, NULLs, text, floats, numerics, a jsonb and an array. */
async function randomTable(s: SqlSession, name: string, n: number, seed: number): Promise<void> {
  const rng = new Prng(seed);
  await s.simpleQuery(
    `CREATE TABLE ${name} (id int PRIMARY KEY, a int, b text, c float8, d numeric, e bool, j jsonb, arr int[])`,
  );
  for (let start = 0; start < n; start += 500) {
    const vals: string[] = [];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      const a = rng.next() < 0.1 ? 'NULL' : String(rng.int(50));
      const b = rng.next() < 0.1 ? 'NULL' : `'s${rng.int(200)}${'x'.repeat(rng.int(20))}'`;
      const c = rng.next() < 0.1 ? 'NULL' : String((rng.next() * 1000 - 500).toFixed(3));
      const d = rng.next() < 0.1 ? 'NULL' : `${rng.int(1000)}.${rng.int(100)}`;
      const e = rng.next() < 0.2 ? 'NULL' : rng.next() < 0.5 ? 'true' : 'false';
      const j = `'{"k": ${rng.int(10)}, "s": "v${rng.int(5)}"}'`;
      const arr = `ARRAY[${rng.int(5)}, ${rng.int(5)}]`;
      vals.push(`(${i}, ${a}, ${b}, ${c}, ${d}, ${e}, ${j}, ${arr})`);
    }
    await s.simpleQuery(`INSERT INTO ${name} VALUES ${vals.join(', ')}`);
  }
}

const sorted = (xs: string[]): string[] => [...xs].sort();

/**
 * Runs q at the default work_mem and again at 64kB: the same rows (in the
 * same order when `ordered`, else as a multiset), no spill file left after
 * it, and, when `plan` is given, the default plan matches it.
 */
async function sameUnderTinyWorkMem(
  f: Fixture,
  q: string,
  opts: { ordered?: boolean; plan?: RegExp } = {},
): Promise<void> {
  await f.s.simpleQuery('RESET work_mem');
  if (opts.plan !== undefined) assert.match((await rows(f.s, `EXPLAIN ${q}`)).join('\n'), opts.plan, q);
  const expected = await rows(f.s, q);
  await f.s.simpleQuery("SET work_mem = '64kB'");
  const got = await rows(f.s, q);
  if (opts.ordered === true) {
    assert.equal(got.length, expected.length, q);
    assert.deepEqual(got, expected, q);
  } else {
    assert.deepEqual(sorted(got), sorted(expected), q);
  }
  assert.deepEqual(spillFiles(f.spillDir), [], `no spill file left after ${q}`);
}

test('ORDER BY with a tiny work_mem equals the in-memory sort (random tables, seeded)', async () => {
  const f = await fixture();
  try {
    await randomTable(f.s, 't', 6000, 42);
    const rng = new Prng(7);
    const cols = ['a', 'b', 'c', 'd', 'e', 'j::text', 'a % 7', 'length(b)'];
    const queries = [
      'SELECT * FROM t ORDER BY a, id',
      'SELECT id, b FROM t ORDER BY b DESC NULLS LAST',
      'SELECT a, c FROM t ORDER BY c NULLS FIRST, a DESC',
    ];
    for (let q = 0; q < 8; q++) {
      const k = 1 + rng.int(3);
      const keys: string[] = [];
      for (let i = 0; i < k; i++)
        keys.push(
          `${cols[rng.int(cols.length)]!}${rng.next() < 0.5 ? ' DESC' : ''}${rng.next() < 0.3 ? ' NULLS FIRST' : ''}`,
        );
      queries.push(`SELECT id, a, b, d, arr FROM t ORDER BY ${keys.join(', ')}`);
    }
    for (const q of queries) await sameUnderTinyWorkMem(f, q, { ordered: true });
    const plan = (await rows(f.s, 'EXPLAIN ANALYZE SELECT * FROM t ORDER BY b, id')).join('\n');
    assert.match(plan, /Sort Method: external merge {2}Disk: \d+kB/);
    await f.s.simpleQuery('RESET work_mem');
    const inMem = (await rows(f.s, 'EXPLAIN ANALYZE SELECT * FROM t ORDER BY b, id')).join('\n');
    assert.match(inMem, /Sort Method: quicksort {2}Memory: \d+kB/);
  } finally {
    await f.close();
  }
});

test('GROUP BY, DISTINCT, set operations, windows and CTEs with a tiny work_mem equal the in-memory results (random tables, seeded)', async () => {
  const f = await fixture();
  try {
    await randomTable(f.s, 't', 5000, 43);
    const queries = [
      'SELECT id % 1500 AS g, count(*), sum(a), avg(c), min(b), max(d) FROM t GROUP BY 1',
      'SELECT a, b, count(*), bool_and(e) FROM t GROUP BY a, b',
      "SELECT b, string_agg(id::text, ',' ORDER BY id DESC), count(DISTINCT a) FROM t GROUP BY b",
      "SELECT d, array_agg(id), string_agg(b, ';') FROM t GROUP BY d",
      'SELECT j, arr, count(*) FROM t GROUP BY j, arr',
      'SELECT id % 997, sum(d) FILTER (WHERE e) FROM t GROUP BY id % 997 HAVING count(*) > 1',
      'SELECT DISTINCT a, b FROM t',
      'SELECT DISTINCT d, arr FROM t',
      'SELECT DISTINCT c FROM t',
      'SELECT count(*) FROM (SELECT DISTINCT b, id % 3 FROM t) s',
      'SELECT a, b FROM t UNION SELECT a, b FROM t WHERE id % 3 = 0',
      'SELECT b FROM t INTERSECT ALL SELECT b FROM t WHERE id % 2 = 0',
      'SELECT b, a FROM t INTERSECT SELECT b, a FROM t WHERE id % 7 = 0',
      'SELECT b, a FROM t EXCEPT SELECT b, a FROM t WHERE id % 5 = 0',
      'SELECT a FROM t EXCEPT ALL SELECT a FROM t WHERE id < 1000',
      'SELECT id, d FROM t UNION ALL SELECT id, d FROM t',
      'SELECT id, a, row_number() OVER (PARTITION BY a ORDER BY id), sum(d) OVER (PARTITION BY a) FROM t',
      'SELECT id, b, rank() OVER (PARTITION BY b ORDER BY c), lag(id) OVER (PARTITION BY b ORDER BY id) FROM t',
      'SELECT id, count(*) OVER (PARTITION BY id % 100 ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t',
      'SELECT a, e, count(*), sum(d) FROM t GROUP BY ROLLUP (a, e)',
      'SELECT a % 3, e, count(*), grouping(a % 3, e) FROM t GROUP BY CUBE (a % 3, e)',
      'WITH c AS MATERIALIZED (SELECT id, b, d FROM t) SELECT x.id, y.b, y.d FROM c x JOIN c y ON x.id = y.id',
      'WITH c AS (SELECT * FROM t WHERE a > 10) SELECT count(*), sum(d), max(b) FROM c',
      'WITH c AS (SELECT id FROM t) SELECT id, (SELECT count(*) FROM c WHERE c.id < t2.id) FROM t t2 WHERE t2.id < 20',
    ];
    for (const q of queries) await sameUnderTinyWorkMem(f, q);
    const plan = (await rows(f.s, 'EXPLAIN ANALYZE SELECT id % 1500, count(*) FROM t GROUP BY 1')).join('\n');
    assert.match(
      plan,
      /HashAggregate[^\n]*\n[^\n]*Group Key[^\n]*\n\s+Batches: ([2-9]|\d\d+) {2}Memory Usage: \d+kB {2}Disk Usage: \d+kB/,
    );
    const setop = (await rows(f.s, 'EXPLAIN ANALYZE SELECT b, a FROM t EXCEPT SELECT b, a FROM t WHERE id < 9')).join(
      '\n',
    );
    assert.match(setop, /HashSetOp Except[^\n]*\n\s+Batches: ([2-9]|\d\d+)\n/);
    const win = (await rows(f.s, 'EXPLAIN ANALYZE SELECT id, rank() OVER (PARTITION BY b ORDER BY id) FROM t')).join(
      '\n',
    );
    assert.match(win, /WindowAgg[^\n]*\n\s+Batches: ([2-9]|\d\d+)\n/);
    await f.s.simpleQuery('RESET work_mem');
    const inMem = (await rows(f.s, 'EXPLAIN ANALYZE SELECT id % 1500, count(*) FROM t GROUP BY 1')).join('\n');
    assert.match(inMem, /Batches: 1 {2}Memory Usage: \d+kB\n/);
  } finally {
    await f.close();
  }
});

test('hash joins with a tiny work_mem (grace hash join) equal the in-memory results (random tables, seeded)', async () => {
  const f = await fixture();
  try {
    await randomTable(f.s, 't', 3000, 44);
    await randomTable(f.s, 'u', 2500, 45);
    const queries = [
      'SELECT t.id, u.id, u.b FROM t JOIN u ON t.id = u.id',
      'SELECT t.id, u.id FROM t LEFT JOIN u ON t.a = u.id',
      'SELECT t.id, u.id FROM t JOIN u ON t.b = u.b AND t.a = u.a',
    ];
    for (const q of queries) await sameUnderTinyWorkMem(f, q, { plan: /Hash (Join|Semi|Anti)/ });
    const plan = (await rows(f.s, 'EXPLAIN ANALYZE SELECT * FROM t JOIN u ON t.id = u.id')).join('\n');
    assert.match(plan, /Hash Join[^\n]*\n(\s+[A-Z][^\n]*\n)*\s+Batches: ([2-9]|\d\d+) {2}Memory Usage: \d+kB/);
  } finally {
    await f.close();
  }
});

test('nested-loop joins with a tiny work_mem (inner side read back per batch) equal the in-memory results', async () => {
  const f = await fixture();
  try {
    await randomTable(f.s, 't', 500, 46);
    await randomTable(f.s, 'u', 400, 47);
    const queries = [
      'SELECT t.id, u.id FROM t JOIN u ON t.id BETWEEN u.id - 1 AND u.id + 1',
      'SELECT t.id, u.id FROM t LEFT JOIN u ON t.id < u.id - 350',
      'SELECT t.id, u.id FROM t RIGHT JOIN u ON t.id = u.id + 200',
      'SELECT t.id, u.id, u.b FROM t FULL JOIN u ON t.id = u.id * 2 AND t.a IS DISTINCT FROM u.a',
    ];
    for (const q of queries) await sameUnderTinyWorkMem(f, q, { plan: /Nested Loop/ });
  } finally {
    await f.close();
  }
});

test('a multi-pass merge (more runs than the merge fan-in) sorts right', async () => {
  const f = await fixture();
  try {
    // 64kB work_mem: runs of a few hundred rows, fan-in 6: 30000 rows need several passes.
    await f.s.simpleQuery("SET work_mem = '64kB'");
    const got = await rows(f.s, 'SELECT g % 1000, g FROM generate_series(1, 30000) g ORDER BY g % 1000 DESC, g');
    assert.equal(got.length, 30000);
    const expected: string[] = [];
    for (let m = 999; m >= 0; m--) for (let g = m === 0 ? 1000 : m; g <= 30000; g += 1000) expected.push(`${m}|${g}`);
    assert.deepEqual(got, expected);
    assert.deepEqual(spillFiles(f.spillDir), []);
  } finally {
    await f.close();
  }
});

test('temp_file_limit stops a spilling query with 53400 and leaves no files', async () => {
  const f = await fixture();
  try {
    await f.s.simpleQuery("SET work_mem = '64kB'");
    await f.s.simpleQuery("SET temp_file_limit = '256kB'");
    assert.deepEqual(await rows(f.s, 'SHOW temp_file_limit'), ['256kB']);
    await assert.rejects(
      f.s.simpleQuery("SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g ORDER BY g DESC"),
      (e: unknown) =>
        e instanceof NextDbError &&
        e.code === '53400' &&
        e.message === 'temporary file size exceeds temp_file_limit (256kB)',
    );
    assert.deepEqual(spillFiles(f.spillDir), []);
    // The session goes on; without the limit the same query runs.
    await f.s.simpleQuery('RESET temp_file_limit');
    assert.equal((await rows(f.s, 'SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC LIMIT 1'))[0], '20000');
    assert.deepEqual(spillFiles(f.spillDir), []);
  } finally {
    await f.close();
  }
});

test('an error or a cancel in the middle of a spilling query leaves no files', async () => {
  const f = await fixture();
  try {
    await f.s.simpleQuery("SET work_mem = '64kB'");
    // Division by zero after the sort has spilled runs (rows come out of the merge).
    await assert.rejects(
      f.s.simpleQuery('SELECT 1 / (g - 15000) FROM (SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC) s'),
      (e: unknown) => e instanceof NextDbError && e.code === '22012',
    );
    assert.deepEqual(spillFiles(f.spillDir), []);
    // A cancel while the sort is writing runs.
    const running = f.s.simpleQuery('SELECT g FROM generate_series(1, 400000) g ORDER BY g DESC');
    const timer = setInterval(() => {
      if (spillFiles(f.spillDir).length > 0) f.s.cancel();
    }, 5);
    try {
      await assert.rejects(running, (e: unknown) => e instanceof NextDbError && e.code === '57014');
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(spillFiles(f.spillDir), []);
    // LIMIT stops reading the merge early: its files go too.
    assert.deepEqual(await rows(f.s, 'SELECT g FROM generate_series(1, 20000) g ORDER BY g DESC LIMIT 2'), [
      '20000',
      '19999',
    ]);
    assert.deepEqual(spillFiles(f.spillDir), []);
  } finally {
    await f.close();
  }
});

test('work_mem and temp_file_limit are validated and shown like PostgreSQL', async () => {
  const f = await fixture();
  try {
    assert.deepEqual(await rows(f.s, 'SHOW work_mem'), ['4MB']);
    await f.s.simpleQuery('SET work_mem = 65536');
    assert.deepEqual(await rows(f.s, 'SHOW work_mem'), ['64MB']);
    await f.s.simpleQuery("SET work_mem = '1000kB'");
    assert.deepEqual(await rows(f.s, 'SHOW work_mem'), ['1000kB']);
    await assert.rejects(
      f.s.simpleQuery("SET work_mem = '10kB'"),
      (e: unknown) =>
        e instanceof NextDbError &&
        e.code === '22023' &&
        e.message === '10 kB is outside the valid range for parameter "work_mem" (64 .. 2147483647)',
    );
    await assert.rejects(
      f.s.simpleQuery("SET work_mem = 'lots'"),
      (e: unknown) => e instanceof NextDbError && e.code === '22023',
    );
    assert.deepEqual(await rows(f.s, 'SHOW temp_file_limit'), ['-1']);
  } finally {
    await f.close();
  }
});

test('start-up empties the spill directory (files left by a crash)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nextdb-h6-startup-'));
  try {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(dataDir, 'tmp'));
    writeFileSync(join(dataDir, 'tmp', 'nextdb_tmp.1.0'), 'left over');
    const engine = await SqlEngine.open({ engine: new MemoryEngine(), seed: 1, dataDir });
    assert.deepEqual(spillFiles(join(dataDir, 'tmp')), []);
    await engine.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
