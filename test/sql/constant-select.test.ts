// The no-transaction path of a prepared statement without FROM whose output is
// immutable over its parameters (SqlSession.constantNow, CachedPlan.constant):
// it answers exactly as the transaction path would, and it is never taken for
// session-dependent functions (now(), current_setting()), inside a block, or
// with a plan made for another catalog or other settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { SqlSession } from '../../src/sql/session.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import type { Value } from '../../src/sql/types/sql-type.ts';

/** Counts the executions constantNow answered (it is private: reached through the prototype). */
function spy(): { hits: number; restore: () => void } {
  const proto = SqlSession.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = proto['constantNow']!;
  const counter = {
    hits: 0,
    restore: () => {
      proto['constantNow'] = orig;
    },
  };
  proto['constantNow'] = function (this: unknown, ...a: unknown[]) {
    const r = orig.apply(this, a);
    if (r !== undefined) counter.hits++;
    return r;
  };
  return counter;
}

async function setup() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const other = engine.createSession({ user: 'postgres', database: 'postgres' });
  const run = async (h: Awaited<ReturnType<typeof s.prepareHandle>>, params: Value[]): Promise<Value[][]> =>
    (await s.runHandle(h, params)).rows;
  return { engine, s, other, run };
}

test('constant SELECTs answer as the transaction path, without a transaction after the first runs', async () => {
  const { engine, s, other, run } = await setup();
  const c = spy();
  try {
    const one = await s.prepareHandle('SELECT 1 AS a');
    const expr = await s.prepareHandle(
      "SELECT $1::int + 1 AS x, 'v' || $1::int::text AS y, CASE WHEN $1::int > 2 THEN 'big' ELSE 'small' END AS z, coalesce($2::text, 'none') AS w",
    );
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await run(one, []), [[1]]);
      assert.deepEqual(await run(expr, [i, i % 2 === 0 ? null : 'p']), [
        [i + 1, `v${i}`, i > 2 ? 'big' : 'small', i % 2 === 0 ? 'none' : 'p'],
      ]);
    }
    assert.ok(c.hits >= 6, `constantNow answered ${c.hits} times`);
    // An error while computing the row is the statement's error; the next execution works.
    const div = await s.prepareHandle('SELECT 10 / $1::int AS q');
    assert.deepEqual(await run(div, [2]), [[5]]);
    assert.deepEqual(await run(div, [5]), [[2]]);
    await assert.rejects(run(div, [0]), (e: unknown) => e instanceof NextDbError && e.code === '22012');
    assert.deepEqual(await run(div, [1]), [[10]]);
    // Inside a block the statement runs in the block's transaction (a failed block refuses it).
    const hits = c.hits;
    await s.simpleQuery('BEGIN');
    assert.deepEqual(await run(one, []), [[1]]);
    await assert.rejects(s.simpleQuery('SELECT 1 / 0'));
    await assert.rejects(run(one, []), (e: unknown) => e instanceof NextDbError && e.code === '25P02');
    await s.simpleQuery('ROLLBACK');
    assert.equal(c.hits, hits, 'no constant fast path inside a block');
    assert.deepEqual(await run(one, []), [[1]]);
    void other;
  } finally {
    c.restore();
    await s.close();
    await other.close();
    await engine.close();
  }
});

test('constant SELECTs follow the catalog and the settings; session-dependent functions run as before', async () => {
  const { engine, s, other, run } = await setup();
  const c = spy();
  try {
    // A user SQL function is inlined into the plan: a new definition (by another session) replans.
    await s.simpleQuery("CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2'");
    const f = await s.prepareHandle('SELECT twice($1::int) AS t');
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(f, [7]), [[14]]);
    await other.simpleQuery(
      "CREATE OR REPLACE FUNCTION twice(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 3'",
    );
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(f, [7]), [[21]]);
    // Name resolution follows search_path (a setting of the plan cache's key).
    await s.simpleQuery(
      "CREATE SCHEMA a; CREATE SCHEMA b; CREATE FUNCTION a.pick(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 100'; CREATE FUNCTION b.pick(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 200'",
    );
    await s.simpleQuery('SET search_path = a');
    const pick = await s.prepareHandle('SELECT pick($1::int) AS p');
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(pick, [1]), [[101]]);
    await s.simpleQuery('SET search_path = b');
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(pick, [1]), [[201]]);
    await s.simpleQuery('RESET search_path');
    // Output that depends on a setting at run time (TimeZone, through the I/O settings) follows it.
    const ts = await s.prepareHandle("SELECT '2024-01-01 00:00:00+00'::timestamptz::text AS t");
    await s.simpleQuery("SET TIME ZONE 'UTC'");
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(ts, []), [['2024-01-01 00:00:00+00']]);
    await s.simpleQuery("SET TIME ZONE 'Asia/Tokyo'");
    for (let i = 0; i < 3; i++) assert.deepEqual(await run(ts, []), [['2024-01-01 09:00:00+09']]);
    // current_setting() and now() are session-dependent: never answered without a transaction.
    const hits = c.hits;
    const cs = await s.prepareHandle("SELECT current_setting('application_name') AS a");
    await s.simpleQuery("SET application_name = 'first'");
    assert.deepEqual(await run(cs, []), [['first']]);
    assert.deepEqual(await run(cs, []), [['first']]);
    await s.simpleQuery("SET application_name = 'second'");
    assert.deepEqual(await run(cs, []), [['second']]);
    const now = await s.prepareHandle('SELECT now() AS n');
    const t1 = (await run(now, []))[0]![0] as bigint;
    await new Promise((r) => setTimeout(r, 5));
    const t2 = (await run(now, []))[0]![0] as bigint;
    assert.ok(t2 > t1, 'each implicit transaction has its own now()');
    assert.equal(c.hits, hits, 'no constant fast path for current_setting() or now()');
  } finally {
    c.restore();
    await s.close();
    await other.close();
    await engine.close();
  }
});
