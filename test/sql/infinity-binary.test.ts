// 'infinity' / '-infinity' dates and timestamps in the binary wire format: PostgreSQL sends its sentinels
// unchanged (int64 max / min microseconds, int32 max / min days), not shifted to the 2000-01-01 epoch like
// finite values; both directions. Numeric 'Infinity' is 0A000. Text forms, arithmetic and errors: test/sql/golden/infinity.sql.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

test('infinite dates and timestamps in the binary format', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.prepare(
      'o',
      "SELECT 'infinity'::timestamp, '-infinity'::timestamptz, 'infinity'::date, '-infinity'::date, '2000-01-02'::date",
      [],
    );
    s.bind('', 'o', [], [], [1]);
    const r = await s.execute('', 0);
    await s.sync();
    const row = r.rows![0]!;
    assert.equal(row[0]!.readBigInt64BE(0), 9223372036854775807n);
    assert.equal(row[1]!.readBigInt64BE(0), -9223372036854775808n);
    assert.equal(row[2]!.readInt32BE(0), 2147483647);
    assert.equal(row[3]!.readInt32BE(0), -2147483648);
    assert.equal(row[4]!.readInt32BE(0), 1);

    await s.prepare('i', 'SELECT $1::timestamptz::text, $2::date::text, isfinite($1::timestamptz)', [1184, 1082]);
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(-9223372036854775808n);
    const d = Buffer.alloc(4);
    d.writeInt32BE(2147483647);
    s.bind('', 'i', [1], [ts, d], [0]);
    const p = await s.execute('', 0);
    await s.sync();
    assert.deepEqual(
      p.rows![0]!.map((v) => v?.toString('utf8')),
      ['-infinity', 'infinity', 'f'],
    );
    // numeric has no Infinity here: refused with 0A000 rather than called a syntax error.
    for (const v of ['Infinity', '-Infinity', 'inf'])
      await assert.rejects(
        s.simpleQuery(`SELECT '${v}'::numeric`),
        (e: unknown) => e instanceof NextDbError && e.code === '0A000',
      );
  } finally {
    await s.close();
    await engine.close();
  }
});
