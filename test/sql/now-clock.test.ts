// now() is the transaction's start and follows the clock from one implicit
// transaction to the next, also through text output ('now'::timestamptz,
// which reads the session's cached I/O settings) and prepared statements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { ManualClock } from '../../src/util/clock.ts';

test('now() and the text literal now follow the clock across statements, and stay fixed inside a block', async () => {
  const clock = new ManualClock(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  const engine = await SqlEngine.open({ engine: new MemoryEngine(), clock, seed: 1 });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const one = async (sql: string): Promise<string> => {
    const r = await s.simpleQuery(sql);
    return r[r.length - 1]!.rows![0]![0]!.toString('utf8');
  };
  try {
    await s.simpleQuery("SET TimeZone = 'UTC'");
    assert.equal(
      await one("SELECT now()::text || ' ' || 'now'::timestamptz::text"),
      '2024-01-02 03:04:05.678+00 2024-01-02 03:04:05.678+00',
    );
    clock.advance(1000);
    assert.equal(
      await one("SELECT now()::text || ' ' || 'now'::timestamptz::text"),
      '2024-01-02 03:04:06.678+00 2024-01-02 03:04:06.678+00',
    );
    await s.simpleQuery('BEGIN');
    clock.advance(1000);
    const inBlock = await one("SELECT 'now'::timestamptz::text");
    clock.advance(1000);
    assert.equal(await one("SELECT 'now'::timestamptz::text"), inBlock);
    assert.equal(inBlock, '2024-01-02 03:04:06.678+00'); // the BEGIN's time
    await s.simpleQuery('COMMIT');
    clock.advance(500);
    assert.equal(await one("SELECT 'now'::timestamptz::text"), '2024-01-02 03:04:09.178+00');
  } finally {
    await s.close();
    await engine.close();
  }
});
