// The read-only fast path of a prepared point SELECT outside a transaction
// block (SqlSession.runHandleNow / pointReadNow over
// MvccTxnManager.readLatestCommitted): it is taken only when the statement
// is proven read-only and the key carries no other transaction's intent,
// and it answers exactly as the transaction path would. Each test checks
// both which path ran (runHandleNow defined or not) and the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { open } from '../../src/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import type { Value } from '../../src/sql/types/sql-type.ts';

async function setup() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  const other = engine.createSession({ user: 'postgres', database: 'postgres' });
  await s.simpleQuery('CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL, n int)');
  await s.simpleQuery("INSERT INTO kv VALUES (1, 'one', 10), (2, 'two', NULL), (3, 'three', 30)");
  /** The fast path's rows, or 'slow' when it declined (then runHandle gives the rows). */
  const now = async (sql: string, params: Value[]): Promise<{ fast: Value[][] | 'slow'; rows: Value[][] }> => {
    const h = await s.prepareHandle(sql);
    const r = s.runHandleNow(h, params);
    const full = await s.runHandle(h, params);
    if (r !== undefined) assert.deepEqual(r.rows, full.rows, 'the fast path answers as the transaction path');
    return { fast: r === undefined ? 'slow' : r.rows, rows: full.rows };
  };
  return { engine, s, other, now };
}

test('fast path: hit, miss, NULL key, residual filter, projection', async () => {
  const { engine, now } = await setup();
  // The first run after prepare may need to learn the committed catalog; run each twice.
  await now('SELECT v FROM kv WHERE k = $1', [1]);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [1])).fast, [['one']]);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [9])).fast, []);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [null])).fast, []);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1 AND n > $2', [3, 5])).fast, [['three']]);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1 AND n > $2', [2, 5])).fast, []);
  assert.deepEqual((await now('SELECT n * 2, k FROM kv WHERE k = $1', [3])).fast, [[60, 3]]);
  assert.deepEqual((await now('SELECT * FROM kv WHERE k = $1', [2])).fast, [[2, 'two', null]]);
  await engine.close();
});

test('not taken for FOR UPDATE, volatile functions, or inside a block', async () => {
  const { engine, s, now } = await setup();
  await now('SELECT v FROM kv WHERE k = $1', [1]);
  assert.equal((await now('SELECT v FROM kv WHERE k = $1 FOR UPDATE', [1])).fast, 'slow');
  assert.equal((await now('SELECT v, txid_current() > 0 AS t FROM kv WHERE k = $1', [1])).fast, 'slow');
  assert.deepEqual((await now('SELECT v, txid_current() > 0 AS t FROM kv WHERE k = $1', [1])).rows, [['one', true]]);
  assert.equal((await now('SELECT v, random() < 2 FROM kv WHERE k = $1', [1])).fast, 'slow');
  assert.equal(
    (await now("SELECT v, set_config('application_name', 'x', false) FROM kv WHERE k = $1", [1])).fast,
    'slow',
  );
  await s.simpleQuery('BEGIN');
  assert.equal((await now('SELECT v FROM kv WHERE k = $1', [1])).fast, 'slow');
  await s.simpleQuery('COMMIT');
  await engine.close();
});

test('a key another transaction wrote or locked goes through a transaction, which reads the committed row', async () => {
  const { engine, other, now } = await setup();
  await now('SELECT v FROM kv WHERE k = $1', [1]);
  await other.simpleQuery('BEGIN');
  await other.simpleQuery("UPDATE kv SET v = 'uncommitted' WHERE k = 1");
  await other.simpleQuery('SELECT * FROM kv WHERE k = 2 FOR UPDATE');
  const r1 = await now('SELECT v FROM kv WHERE k = $1', [1]);
  assert.equal(r1.fast, 'slow');
  assert.deepEqual(r1.rows, [['one']]);
  const r2 = await now('SELECT v FROM kv WHERE k = $1', [2]);
  assert.equal(r2.fast, 'slow');
  assert.deepEqual(r2.rows, [['two']]);
  // A key the block did not touch still takes the fast path.
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [3])).fast, [['three']]);
  await other.simpleQuery('COMMIT');
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [1])).fast, [['uncommitted']]);
  assert.deepEqual((await now('SELECT v FROM kv WHERE k = $1', [2])).fast, [['two']]);
  await engine.close();
});

test('not taken while DDL is uncommitted; follows it after commit', async () => {
  const { engine, other, now } = await setup();
  await now('SELECT * FROM kv WHERE k = $1', [1]);
  assert.deepEqual((await now('SELECT * FROM kv WHERE k = $1', [1])).fast, [[1, 'one', 10]]);
  await other.simpleQuery('BEGIN');
  await other.simpleQuery('ALTER TABLE kv ADD COLUMN w int DEFAULT 4');
  const during = await now('SELECT * FROM kv WHERE k = $1', [1]);
  assert.equal(during.fast, 'slow');
  assert.deepEqual(during.rows, [[1, 'one', 10]]);
  await other.simpleQuery('COMMIT');
  await now('SELECT * FROM kv WHERE k = $1', [1]);
  assert.deepEqual((await now('SELECT * FROM kv WHERE k = $1', [1])).rows, [[1, 'one', 10, 4]]);
  await engine.close();
});

test('only the columns read are decoded, across every column type', async () => {
  const db = await open();
  await db.query(`CREATE TABLE w (
    k int PRIMARY KEY, b bool, s int2, i8 int8, f float8, num numeric, iv interval, by bytea,
    j jsonb, d date, ts timestamp, a int[], u uuid, t text, last text)`);
  await db.query(`INSERT INTO w VALUES
    (1, true, 2, 3, 4.5, 6.75, '1 day 2 hours', '\\x0102', '{"x": [1]}', '2024-02-29', '2024-01-01 10:00', '{1,2}',
     'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'text', 'end'),
    (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'end2')`);
  const last = await db.prepare('SELECT last FROM w WHERE k = $1');
  const mid = await db.prepare('SELECT num, t FROM w WHERE k = $1 AND s = 2');
  for (let i = 0; i < 2; i++) {
    assert.deepEqual((await last.query([1])).rows, [{ last: 'end' }]);
    assert.deepEqual((await last.query([2])).rows, [{ last: 'end2' }]);
    assert.deepEqual((await mid.query([1])).rows, [{ num: '6.75', t: 'text' }]);
    assert.deepEqual((await mid.query([2])).rows, []);
  }
  const all = await db.prepare('SELECT * FROM w WHERE k = $1');
  assert.deepEqual(Object.keys((await all.query([1])).rows[0]!).length, 15);
  await db.close();
});

test('errors on the fast path are the statement errors', async () => {
  const db = await open();
  await db.query('CREATE TABLE kv (k int PRIMARY KEY, n int)');
  await db.query('INSERT INTO kv VALUES (1, 0)');
  const div = await db.prepare('SELECT 10 / n AS q FROM kv WHERE k = $1');
  for (let i = 0; i < 2; i++)
    await assert.rejects(div.query([1]), (e: unknown) => e instanceof NextDbError && e.code === '22012');
  assert.deepEqual((await div.query([2])).rows, []);
  const sel = await db.prepare('SELECT n FROM kv WHERE k = $1');
  await assert.rejects(sel.query(['x']), (e: unknown) => e instanceof NextDbError && e.code === '22P02');
  await assert.rejects(sel.query([]), (e: unknown) => e instanceof NextDbError && e.code === '08P01');
  assert.deepEqual((await sel.query([1])).rows, [{ n: 0 }]);
  await db.close();
});

test('plain lookups (parameters and constants as the key, the row columns as output) answer as the general path', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  await s.simpleQuery('CREATE TABLE c (a int, b text, v text, n int8, PRIMARY KEY (a, b))');
  await s.simpleQuery("INSERT INTO c VALUES (1, 'x', 'one-x', 10), (1, 'y', 'one-y', NULL), (2, 'x', 'two-x', 20)");
  const cases: [string, Value[], Value[][], boolean][] = [
    ['SELECT v FROM c WHERE a = $1 AND b = $2', [1, 'y'], [['one-y']], true],
    ['SELECT n, v, a, n AS again FROM c WHERE b = $2 AND a = $1', [2, 'x'], [[20n, 'two-x', 2, 20n]], true],
    ["SELECT v FROM c WHERE a = $1 AND b = 'x'", [1], [['one-x']], true],
    ['SELECT * FROM c WHERE a = 1 AND b = $1', ['y'], [[1, 'y', 'one-y', null]], true],
    ['SELECT v FROM c WHERE a = $1 AND b = $2', [null, 'x'], [], true],
    ['SELECT v FROM c WHERE a = $1 AND b = $2', [3, 'x'], [], true],
    // Not plain: a computed output column, a residual filter.
    ['SELECT v || $2 FROM c WHERE a = $1 AND b = $2', [1, 'x'], [['one-xx']], false],
    ['SELECT v FROM c WHERE a = $1 AND b = $2 AND n > 15', [1, 'x'], [], false],
    // A second equality on a key column is not the one the key was built from: it stays a filter.
    ['SELECT v FROM c WHERE a = $1 AND a = $3 AND b = $2', [1, 'x', 2], [], false],
    ['SELECT v FROM c WHERE a = $1 AND a = $3 AND b = $2', [1, 'x', 1], [['one-x']], false],
  ];
  for (const [sql, params, rows, plain] of cases) {
    const h = await s.prepareHandle(sql);
    await s.runHandle(h, params); // plans the statement (and learns the committed catalog)
    assert.equal(h.prepared.cache?.point?.plain !== undefined, plain, `plain: ${sql}`);
    const fast = s.runHandleNow(h, params);
    assert.ok(fast !== undefined, `fast path taken: ${sql}`);
    assert.deepEqual(fast.rows, rows, sql);
    assert.deepEqual((await s.runHandle(h, params)).rows, rows, sql);
    assert.deepEqual(fast.cols, h.prepared.cache?.query.cols);
  }
  await engine.close();
});

test('executeNow (the wire path): answers as execute, declines what needs a transaction', async () => {
  const { engine, s, other } = await setup();
  const text = (rows: readonly (readonly (Buffer | null)[])[] | undefined): (string | null)[][] | undefined =>
    rows?.map((r) => r.map((b) => (b === null ? null : b.toString())));
  const bind = (stmt: string, params: (string | null)[]): void =>
    s.bind(
      '',
      stmt,
      [],
      params.map((p) => (p === null ? null : Buffer.from(p))),
      [],
    );
  /** Bind, executeNow, then execute (the fast answer must equal the slow one of the same statement), Sync. */
  const cycle = async (stmt: string, params: (string | null)[]) => {
    bind(stmt, params);
    const fast = s.executeNow('', 0);
    if (fast !== undefined) assert.equal(s.executeNow('', 0), undefined, 'a portal that has run is not run again');
    bind(stmt, params);
    s.sync();
    bind(stmt, params);
    const slow = await s.execute('', 0);
    assert.equal(s.sync(), undefined);
    if (fast !== undefined) {
      assert.equal(fast.commandTag, slow.commandTag);
      assert.deepEqual(text(fast.rows), text(slow.rows));
    }
    return { fast: fast === undefined ? 'slow' : text(fast.rows), tag: slow.commandTag, rows: text(slow.rows) };
  };
  await s.prepare('p', 'SELECT v, n FROM kv WHERE k = $1', []);
  await s.prepare('c', 'SELECT $1::int + 1', []);
  await s.prepare('u', 'UPDATE kv SET n = n + 1 WHERE k = $1', []);
  await cycle('p', ['1']); // learns the committed catalog
  await cycle('c', ['1']);
  assert.deepEqual((await cycle('p', ['1'])).fast, [['one', '10']]);
  assert.deepEqual((await cycle('p', ['2'])).fast, [['two', null]]);
  assert.deepEqual((await cycle('p', ['9'])).fast, []);
  assert.deepEqual((await cycle('c', ['41'])).fast, [['42']]);
  const u = await cycle('u', ['3']);
  assert.equal(u.fast, 'slow');
  assert.equal(u.tag, 'UPDATE 1');
  // Another transaction's intent on the key: declined; execute reads the committed row.
  await other.simpleQuery('BEGIN');
  await other.simpleQuery("UPDATE kv SET v = 'uncommitted' WHERE k = 1");
  const held = await cycle('p', ['1']);
  assert.equal(held.fast, 'slow');
  assert.deepEqual(held.rows, [['one', '10']]);
  await other.simpleQuery('ROLLBACK');
  // Inside a block: declined.
  await s.simpleQuery('BEGIN');
  const inBlock = await cycle('p', ['3']);
  assert.equal(inBlock.fast, 'slow');
  assert.deepEqual(inBlock.rows, [['three', '31']]); // the UPDATE above ran once (executeNow declined it)
  await s.simpleQuery('COMMIT');
  // maxRows: the fast path keeps the portal's row limit (one row, limit 1: complete, not suspended).
  bind('p', ['3']);
  const limited = s.executeNow('', 1);
  assert.equal(limited?.suspended, false);
  assert.equal(limited?.commandTag, 'SELECT 1');
  s.sync();
  await engine.close();
});

test('executeNow runs BEGIN outside a block at once; BEGIN inside one, COMMIT and ROLLBACK go through execute()', async () => {
  const { engine, s } = await setup();
  for (const sql of ['BEGIN', 'START TRANSACTION ISOLATION LEVEL READ COMMITTED', 'BEGIN READ ONLY']) {
    await s.prepare('b', sql, []);
    s.bind('', 'b', [], [], []);
    const r = s.executeNow('', 0);
    assert.equal(r?.commandTag, 'BEGIN', sql);
    assert.equal(s.txnStatus, 'T');
    s.sync();
    assert.equal(s.getSetting('transaction_isolation'), sql.includes('COMMITTED') ? 'read committed' : 'serializable');
    assert.equal(s.getSetting('transaction_read_only'), sql.includes('ONLY') ? 'on' : 'off');
    // Inside the block: declined; execute() answers with the warning, the block unchanged.
    s.bind('', 'b', [], [], []);
    assert.equal(s.executeNow('', 0), undefined);
    const again = await s.execute('', 0);
    assert.equal(again.commandTag, 'BEGIN');
    assert.equal(again.notices?.[0]?.code, '25001');
    s.sync();
    await s.prepare('c', 'COMMIT', []);
    s.bind('', 'c', [], [], []);
    assert.equal(s.executeNow('', 0), undefined);
    assert.equal((await s.execute('', 0)).commandTag, 'COMMIT');
    assert.equal(s.txnStatus, 'I');
    s.sync();
    s.closeStatement('b');
    s.closeStatement('c');
  }
  await s.close();
  await engine.close();
});
