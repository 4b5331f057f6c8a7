// SET ROLE and the plan cache: a prepared statement planned (and its privileges checked) as a superuser is
// checked again after SET ROLE to a role without the privilege, also for a primary-key point SELECT (whose
// cached plan may run without reading the catalog), and works again after RESET ROLE. The SQL-level
// behaviour is in test/sql/golden/set-role.sql (from PostgreSQL 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';

test('a cached plan follows current_user after SET ROLE', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.simpleQuery(
      "CREATE ROLE alice; CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'x')",
    );
    await s.prepare('q', 'SELECT v FROM t WHERE id = $1', [23]);
    const run = async (): Promise<string | undefined> => {
      s.bind('', 'q', [], [Buffer.from('1')], []);
      try {
        const r = await s.execute('', 0);
        return r.rows?.[0]?.[0]?.toString('utf8');
      } finally {
        await s.sync();
      }
    };
    assert.equal(await run(), 'x');
    assert.equal(await run(), 'x');
    await s.simpleQuery('SET ROLE alice');
    await assert.rejects(run(), (e: unknown) => e instanceof NextDbError && e.code === '42501');
    await s.simpleQuery('RESET ROLE');
    assert.equal(await run(), 'x');
    await s.simpleQuery('GRANT SELECT ON t TO alice; SET ROLE alice');
    assert.equal(await run(), 'x');
  } finally {
    await s.close();
    await engine.close();
  }
});
