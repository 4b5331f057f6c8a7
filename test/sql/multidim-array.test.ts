// Multidimensional arrays in the binary wire format (text forms, functions and errors are in
// test/sql/golden/arrays-multidim.sql, from PostgreSQL 15): a 2-D int4[] result is sent with ndim 2 and
// both dimensions (lower bounds 1), a binary 3-D parameter arrives with its shape, and a value stored in a
// table keeps its shape across a restart of the row codec (it is stored in text form).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';

/** PostgreSQL's array_send of an int4 array with dimensions `dims` (no NULLs). */
function int4ArrayBinary(dims: readonly number[], elems: readonly number[]): Buffer {
  const head = Buffer.alloc(12 + 8 * dims.length);
  head.writeInt32BE(dims.length, 0);
  head.writeInt32BE(0, 4);
  head.writeUInt32BE(23, 8);
  dims.forEach((n, d) => {
    head.writeInt32BE(n, 12 + 8 * d);
    head.writeInt32BE(1, 16 + 8 * d);
  });
  const body = elems.map((e) => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(4, 0);
    b.writeInt32BE(e, 4);
    return b;
  });
  return Buffer.concat([head, ...body]);
}

test('multidimensional arrays in the binary format, both ways', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.prepare('m', 'SELECT ARRAY[[1,2,3],[4,5,6]] AS m', []);
    s.bind('', 'm', [], [], [1]);
    const r = await s.execute('', 0);
    await s.sync();
    assert.deepEqual(r.rows?.[0]?.[0], int4ArrayBinary([2, 3], [1, 2, 3, 4, 5, 6]));

    await s.prepare('p', 'SELECT array_dims($1::int[]) AS d, $1::int[] AS a, ($1::int[])[2][1][2] AS e', [1007]);
    s.bind('', 'p', [1], [int4ArrayBinary([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])], [0]);
    const p = await s.execute('', 0);
    await s.sync();
    assert.deepEqual(
      p.rows?.[0]?.map((v) => v?.toString('utf8')),
      ['[1:2][1:2][1:2]', '{{{1,2},{3,4}},{{5,6},{7,8}}}', '6'],
    );

    // An empty array is ndim 0; a one-dimensional one keeps ndim 1.
    await s.prepare('e', "SELECT '{}'::int[] AS e, ARRAY[7] AS one", []);
    s.bind('', 'e', [], [], [1]);
    const e = await s.execute('', 0);
    await s.sync();
    assert.deepEqual(e.rows?.[0]?.[0], Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]));
    assert.deepEqual(e.rows?.[0]?.[1], int4ArrayBinary([1], [7]));

    // Stored and read back through the row codec with its shape.
    await s.simpleQuery('CREATE TABLE md (id int PRIMARY KEY, a int[])');
    await s.prepare('ins', 'INSERT INTO md VALUES (1, $1)', [1007]);
    s.bind('', 'ins', [1], [int4ArrayBinary([3, 1], [7, 8, 9])], []);
    await s.execute('', 0);
    await s.sync();
    const back = await s.simpleQuery('SELECT a, array_dims(a), a[3][1] FROM md');
    assert.deepEqual(
      back[0]!.rows![0]!.map((v) => v?.toString('utf8')),
      ['{{7},{8},{9}}', '[1:3][1:1]', '9'],
    );
  } finally {
    await s.close();
    await engine.close();
  }
});
