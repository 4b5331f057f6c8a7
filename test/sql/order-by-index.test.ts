// ORDER BY served by index order: the optimizer drops the Sort when the scan
// already yields rows in the requested order (and LIMIT then stops the scan
// early), and keeps it whenever index order and SQL order could differ:
// DESC, nullable columns (keys put NULL first, ORDER BY ASC puts it last),
// text (UTF-8 byte order), computed expressions, non-prefix columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';

test('ORDER BY uses index order only where it equals SQL order', async () => {
  const db = await open();
  try {
    await db.query('CREATE TABLE t (k bigint PRIMARY KEY, s int, n int NOT NULL, v text)');
    await db.query('CREATE INDEX t_s ON t (s)');
    await db.query('CREATE INDEX t_n ON t (n)');
    const rows = Array.from(
      { length: 300 },
      (_, k) => `(${k}, ${k % 7 === 0 ? 'NULL' : 300 - k}, ${(k * 37) % 300}, 'v${k}')`,
    );
    await db.query(`INSERT INTO t VALUES ${rows.join(', ')}`);
    const plan = async (q: string): Promise<string> =>
      (await db.query(`EXPLAIN ${q}`)).rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    const values = async (q: string, params: unknown[] = []): Promise<string[]> =>
      (await db.query(q, params)).rows.map((r) => Object.values(r).map(String).join(','));

    // Served by the index: no Sort, and the results are right.
    for (const q of [
      'SELECT k FROM t WHERE k >= 100 ORDER BY k LIMIT 5',
      'SELECT k, n FROM t WHERE n > 10 ORDER BY n LIMIT 5',
      'SELECT k FROM t ORDER BY k LIMIT 3',
    ]) {
      assert.doesNotMatch(await plan(q), /Sort/, q);
    }
    assert.deepEqual(await values('SELECT k FROM t WHERE k >= $1 ORDER BY k LIMIT $2', [100, 5]), [
      '100',
      '101',
      '102',
      '103',
      '104',
    ]);
    assert.deepEqual(await values('SELECT k FROM t ORDER BY k LIMIT 3'), ['0', '1', '2']);
    const byN = await values('SELECT n FROM t WHERE n > 10 ORDER BY n LIMIT 4');
    assert.deepEqual(byN, ['11', '12', '13', '14']);

    // Not served by the index: the Sort stays and the order is SQL's.
    for (const q of [
      'SELECT k FROM t ORDER BY k DESC LIMIT 3',
      'SELECT s FROM t WHERE s > 0 ORDER BY s LIMIT 3',
      'SELECT v FROM t ORDER BY v LIMIT 3',
      'SELECT k + 1 AS x FROM t ORDER BY x LIMIT 3',
    ]) {
      assert.match(await plan(q), /Sort/, q);
    }
    assert.deepEqual(await values('SELECT k FROM t ORDER BY k DESC LIMIT 2'), ['299', '298']);
    // Nullable s: ORDER BY s puts NULLs last, as PostgreSQL does.
    const s = await values('SELECT s FROM t ORDER BY s');
    assert.equal(s[0], '1');
    assert.equal(s[s.length - 1], 'null');
  } finally {
    await db.close();
  }
});
