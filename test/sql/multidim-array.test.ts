// Multidimensional arrays are not built: every way of making one must raise
// 0A000 instead of nesting arrays as elements of a one-dimensional array
// (ARRAY[[1,2],[3,4]] used to come back as the text[] {"{1,2}","{3,4}"},
// where PostgreSQL gives the int[] {{1,2},{3,4}}).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

test('multidimensional array constructions raise 0A000, one-dimensional ones still work', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.simpleQuery('CREATE TABLE md (id int PRIMARY KEY, a int[])');
    await s.simpleQuery("INSERT INTO md VALUES (1, '{1,2}'), (2, '{3,4}')");
    const refused = [
      'SELECT ARRAY[[1,2],[3,4]]',
      'SELECT ARRAY[ARRAY[1,2],ARRAY[3,4]]',
      "SELECT ARRAY['{1,2}'::int[]]",
      'SELECT ARRAY[a, a] FROM md',
      'SELECT ARRAY(SELECT a FROM md ORDER BY id)',
      'SELECT array_agg(a ORDER BY id) FROM md',
      "SELECT '{{1,2},{3,4}}'::int[]",
    ];
    for (const sql of refused) {
      await assert.rejects(
        s.simpleQuery(sql),
        (e: unknown) => e instanceof NextDbError && e.code === '0A000' && /multidimensional array/.test(e.message),
        sql,
      );
    }
    const text = async (sql: string): Promise<string | undefined> =>
      (await s.simpleQuery(sql))[0]!.rows![0]![0]?.toString('utf8');
    assert.equal(await text('SELECT ARRAY[1,2]'), '{1,2}');
    assert.equal(await text('SELECT ARRAY(SELECT id FROM md ORDER BY id)'), '{1,2}');
    assert.equal(await text("SELECT '{1,2}'::int[][]"), '{1,2}');
    assert.equal(await text('SELECT 1 = ANY(ARRAY[1,2])'), 't');
  } finally {
    await engine.close();
  }
});
