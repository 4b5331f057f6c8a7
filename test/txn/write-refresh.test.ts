// SERIALIZABLE write refresh: a write that meets a version committed after
// the snapshot moves the transaction's snapshot forward when nothing it read
// before the statement changed (then the statement runs again), and fails
// with 40001 when something did. Over the transaction layer directly and
// through SQL (two sessions of one embedded engine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import {
  isStatementRetry,
  openTxnManager,
  txnCounters,
  type MvccTxn,
  type MvccTxnManager,
} from '../../src/txn/index.ts';

const b = (s: string): Buffer => Buffer.from(s);
const num = (v: Buffer | undefined): number => Number(v?.toString() ?? 'NaN');

async function open(kv: Record<string, string>): Promise<MvccTxnManager> {
  const m = await openTxnManager(new MemoryEngine(), { clock: new ManualClock(1_000) });
  const t = m.begin();
  for (const [k, v] of Object.entries(kv)) await t.put(b(k), b(v));
  await t.commit();
  return m;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

/** UPDATE key SET v = v + n as the SQL layer runs it: read, lock (latest under refresh), write. */
async function addTo(t: MvccTxn, key: string, n: number): Promise<void> {
  await t.get(b(key));
  const cur = await t.getForUpdate(b(key));
  await t.put(b(key), b(String(num(cur) + n)));
}

/** c = 0; t2 reads `readKey` in a first statement, t1 adds 1 to c and commits, t2 begins its next statement. */
async function afterConcurrentIncrement(
  isolation: 'serializable' | 'repeatable read',
  readKey: string,
): Promise<{ m: MvccTxnManager; t2: MvccTxn }> {
  const m = await open({ c: '0' });
  const t1 = m.begin({ isolation }) as MvccTxn;
  const t2 = m.begin({ isolation }) as MvccTxn;
  t2.beginStatement();
  await t2.get(b(readKey));
  t1.beginStatement();
  await addTo(t1, 'c', 1);
  await t1.commit();
  t2.beginStatement();
  return { m, t2 };
}

async function committed(m: MvccTxnManager, key: string): Promise<number> {
  const t = m.begin({ readOnly: true });
  const v = num(await t.get(b(key)));
  await t.commit();
  return v;
}

test('TPC-B shape: two transactions add to one counter row; the later one refreshes and both commit', async () => {
  const m = await open({ branch: '100', teller: '0', account: '0' });
  const before = { ...txnCounters };
  const t1 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  const t2 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  // t2 works on its own rows first (its snapshot predates t1's commit).
  t2.beginStatement();
  await addTo(t2, 'account', 5);
  t2.beginStatement();
  assert.equal(num(await t2.get(b('account'))), 5);
  t1.beginStatement();
  await addTo(t1, 'branch', 1);
  await t1.commit();
  // t2's UPDATE of the branch row meets t1's newer version: the statement is undone and retried.
  t2.beginStatement();
  await t2.put(b('teller'), b('7')); // a write of this statement before the conflict
  const e = await caught(addTo(t2, 'branch', 10));
  assert.ok(isStatementRetry(e), String(e));
  assert.equal((e as NextDbError).code, '40001');
  assert.match((e as NextDbError).message, /retry/);
  assert.equal(t2.state, 'active'); // a failed block until retryStatement
  assert.equal(t2.failed, true);
  await assert.rejects(t2.get(b('branch')), /aborted/); // nothing but retry or rollback meanwhile
  // The statement's write to teller is undone (another writer does not wait for it)...
  const t3 = m.begin({ isolation: 'serializable' });
  await t3.put(b('other'), b('x'));
  await t3.commit();
  assert.equal(t2.retryStatement(), true);
  assert.equal(t2.retryStatement(), false); // once per refresh
  assert.equal(num(await t2.get(b('teller'))), 0);
  // ...and the rerun sees t1's change.
  await t2.put(b('teller'), b('7'));
  await addTo(t2, 'branch', 10);
  assert.equal(num(await t2.get(b('account'))), 5); // earlier statements' writes kept
  await t2.commit();
  assert.equal(await committed(m, 'branch'), 111);
  assert.equal(await committed(m, 'account'), 5);
  assert.equal(await committed(m, 'teller'), 7);
  assert.equal(txnCounters.writeRefreshes - before.writeRefreshes, 1);
  await m.close();
});

test('the refresh locks the conflicting key: a third writer waits instead of winning it again', async () => {
  const { m, t2 } = await afterConcurrentIncrement('serializable', 'unrelated');
  assert.ok(isStatementRetry(await caught(addTo(t2, 'c', 1))));
  assert.equal(t2.retryStatement(), true);
  const t4 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  t4.beginStatement();
  let t4done = false;
  const p4 = addTo(t4, 'c', 100).then(() => (t4done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(t4done, false, 't4 waits for the lock the refresh took');
  await addTo(t2, 'c', 1);
  await t2.commit();
  // t4's snapshot predates t2's commit: it refreshes in turn (it read nothing before).
  assert.ok(isStatementRetry(await caught(p4)));
  assert.equal(t4.retryStatement(), true);
  await addTo(t4, 'c', 100);
  await t4.commit();
  assert.equal(await committed(m, 'c'), 102);
  await m.close();
});

test('lost update shape: the counter was read in an earlier statement, so the refresh fails with 40001', async () => {
  const m = await open({ x: '1' });
  const before = { ...txnCounters };
  const t1 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  const t2 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  t2.beginStatement();
  const seen = num(await t2.get(b('x')));
  t1.beginStatement();
  await addTo(t1, 'x', 1);
  await t1.commit();
  t2.beginStatement();
  const e = await caught(t2.put(b('x'), b(String(seen + 1))));
  assert.ok(e instanceof NextDbError && e.code === '40001', String(e));
  assert.ok(!isStatementRetry(e));
  assert.match(e.message, /retry the transaction/);
  assert.equal(t2.state, 'aborted');
  assert.equal(t2.retryStatement(), false);
  assert.equal(await committed(m, 'x'), 2);
  assert.equal(txnCounters.writeRefreshFailed - before.writeRefreshFailed, 1);
  await m.close();
});

test('write skew shape: a key read before changed, so the write to another key fails the refresh', async () => {
  // Doctors a and b on call; each transaction checks both are on call, then takes itself off.
  // t1 also touches the row t2 writes later, which forces the conflict at t2's write.
  const m = await open({ a: 'on', b: 'on', log: '0' });
  const t1 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  const t2 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  t2.beginStatement();
  assert.equal((await t2.scan({ start: b('a'), end: b('c') })).length, 2);
  t1.beginStatement();
  assert.equal((await t1.scan({ start: b('a'), end: b('c') })).length, 2);
  t1.beginStatement();
  await t1.put(b('a'), b('off'));
  await addTo(t1, 'log', 1);
  await t1.commit();
  t2.beginStatement();
  const e = await caught(addTo(t2, 'log', 1));
  assert.ok(e instanceof NextDbError && e.code === '40001' && !isStatementRetry(e), String(e));
  assert.match(e.message, /changed too/);
  await t2.rollback();
  assert.equal((await committed(m, 'log')) + 0, 1);
  await m.close();
});

test('a scan in the same statement does not block the refresh; one in an earlier statement that changed does', async () => {
  const m = await open({ k1: '1', k2: '2' });
  // Same statement: scanned at the old snapshot, then redone after the retry.
  const t1 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  const t2 = m.begin({ isolation: 'serializable' }) as MvccTxn;
  t2.beginStatement();
  await t2.get(b('zz'));
  await (async () => {
    t1.beginStatement();
    await addTo(t1, 'k1', 10);
    await t1.commit();
  })();
  t2.beginStatement();
  const rows = await t2.scan({ start: b('k'), end: b('l') });
  assert.equal(num(rows[0]?.value), 1);
  assert.ok(isStatementRetry(await caught(t2.put(b('k1'), b('x')))));
  assert.equal(t2.retryStatement(), true);
  assert.equal(num((await t2.scan({ start: b('k'), end: b('l') }))[0]?.value), 11);
  await t2.put(b('k1'), b('12'));
  await t2.commit();
  assert.equal(await committed(m, 'k1'), 12);
  await m.close();
});

test('no refresh when the statement took a savepoint (an exception handler could catch it midway)', async () => {
  const { m, t2 } = await afterConcurrentIncrement('serializable', 'other');
  t2.savepoint('plpgsql_block');
  const e = await caught(addTo(t2, 'c', 1));
  assert.ok(e instanceof NextDbError && e.code === '40001' && !isStatementRetry(e), String(e));
  assert.equal(t2.retryStatement(), false);
  // As before: the failed block may roll back to its savepoint (still at the old snapshot).
  await t2.rollbackToSavepoint('plpgsql_block');
  await t2.rollback();
  await m.close();
});

test('repeatable read never refreshes (first updater wins, as PostgreSQL)', async () => {
  const { m, t2 } = await afterConcurrentIncrement('repeatable read', 'other');
  const e = await caught(addTo(t2, 'c', 1));
  assert.ok(e instanceof NextDbError && e.code === '40001' && !isStatementRetry(e), String(e));
  assert.equal(t2.state, 'aborted');
  await m.close();
});

async function sqlSetup() {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const mk = () => engine.createSession({ user: 'postgres', database: 'postgres' });
  const admin = mk();
  const one = async (sql: string): Promise<string> => {
    const r = await admin.simpleQuery(sql);
    return (r[r.length - 1]!.rows ?? [])
      .map((row) => row.map((v) => v?.toString('utf8') ?? 'null').join('|'))
      .join(',');
  };
  return { engine, mk, admin, one };
}

test('SQL: concurrent SERIALIZABLE TPC-B-like transactions on one branch row all commit with the right sums', async () => {
  const { engine, mk, admin, one } = await sqlSetup();
  await admin.simpleQuery('CREATE TABLE branches (bid int PRIMARY KEY, bbalance int)');
  await admin.simpleQuery('CREATE TABLE accounts (aid int PRIMARY KEY, abalance int)');
  await admin.simpleQuery('INSERT INTO branches VALUES (1, 0)');
  await admin.simpleQuery('INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 8) g');
  const clients = Array.from({ length: 8 }, () => mk());
  let failures = 0;
  await Promise.all(
    clients.map(async (s, i) => {
      for (let n = 0; n < 10; n++) {
        try {
          await s.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
          await s.simpleQuery(`UPDATE accounts SET abalance = abalance + 1 WHERE aid = ${i + 1}`);
          await s.simpleQuery(`SELECT abalance FROM accounts WHERE aid = ${i + 1}`);
          await new Promise((r) => setImmediate(r)); // let the others interleave
          await s.simpleQuery('UPDATE branches SET bbalance = bbalance + 1 WHERE bid = 1');
          await s.simpleQuery('COMMIT');
        } catch (e) {
          assert.ok(e instanceof NextDbError && (e.code === '40001' || e.code === '40P01'), String(e));
          failures++;
          await s.simpleQuery('ROLLBACK');
          n--; // retry the transaction
        }
      }
    }),
  );
  assert.equal(await one('SELECT bbalance FROM branches'), '80');
  assert.equal(await one('SELECT sum(abalance) FROM accounts'), '80');
  // Every conflict on the branch row is refreshed: nothing the transactions read before it changed.
  assert.equal(failures, 0);
  await engine.close();
});

test('SQL: SERIALIZABLE write skew still fails (the refresh sees the changed read)', async () => {
  const { engine, mk, admin, one } = await sqlSetup();
  await admin.simpleQuery('CREATE TABLE doctors (name text PRIMARY KEY, on_call bool)');
  await admin.simpleQuery("INSERT INTO doctors VALUES ('alice', true), ('bob', true)");
  await admin.simpleQuery('CREATE TABLE shifts (id int PRIMARY KEY, changes int)');
  await admin.simpleQuery('INSERT INTO shifts VALUES (1, 0)');
  const a = mk();
  const c = mk();
  await a.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
  await c.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
  assert.equal((await a.simpleQuery('SELECT count(*) FROM doctors WHERE on_call'))[0]!.rows![0]![0]!.toString(), '2');
  assert.equal((await c.simpleQuery('SELECT count(*) FROM doctors WHERE on_call'))[0]!.rows![0]![0]!.toString(), '2');
  await a.simpleQuery("UPDATE doctors SET on_call = false WHERE name = 'alice'");
  await a.simpleQuery('UPDATE shifts SET changes = changes + 1 WHERE id = 1');
  await a.simpleQuery('COMMIT');
  await assert.rejects(
    c
      .simpleQuery("UPDATE doctors SET on_call = false WHERE name = 'bob'")
      .then(() => c.simpleQuery('UPDATE shifts SET changes = changes + 1 WHERE id = 1')),
    (e: unknown) => e instanceof NextDbError && e.code === '40001',
  );
  await c.simpleQuery('ROLLBACK');
  assert.equal(await one('SELECT count(*) FROM doctors WHERE on_call'), '1');
  assert.equal(await one('SELECT changes FROM shifts'), '1');
  await engine.close();
});

test('SQL: a refreshed statement runs again without repeating its notices', async () => {
  const { engine, mk, admin, one } = await sqlSetup();
  await admin.simpleQuery('CREATE TABLE c (id int PRIMARY KEY, n int)');
  await admin.simpleQuery('INSERT INTO c VALUES (1, 0)');
  await admin.simpleQuery(
    "CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'bumping'; UPDATE c SET n = n + 1 WHERE id = 1; RETURN 1; END $$",
  );
  const a = mk();
  const s = mk();
  await s.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
  await s.simpleQuery('SELECT 1'); // snapshot taken
  await a.simpleQuery('UPDATE c SET n = n + 10 WHERE id = 1');
  const r = await s.simpleQuery('SELECT bump()');
  assert.deepEqual(
    (r[0]!.notices ?? []).map((n) => n.message),
    ['bumping'],
  );
  await s.simpleQuery('COMMIT');
  assert.equal(await one('SELECT n FROM c'), '11');
  await engine.close();
});

test('SQL: an UPDATE by primary key refreshes in place (no rerun); a read of the row before still fails it', async () => {
  const { engine, mk, admin, one } = await sqlSetup();
  await admin.simpleQuery('CREATE TABLE counters (k int PRIMARY KEY, n int, s bigint)');
  await admin.simpleQuery('INSERT INTO counters VALUES (1, 0, 0)');
  await admin.simpleQuery('CREATE TABLE mine (k int PRIMARY KEY, v int)');
  await admin.simpleQuery('INSERT INTO mine VALUES (1, 0)');
  await admin.simpleQuery('CREATE SEQUENCE q');
  const a = mk();
  const c = mk();
  const before = { ...txnCounters };
  await a.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
  await a.simpleQuery('UPDATE mine SET v = v + 1 WHERE k = 1'); // snapshot taken, a row of its own written
  await c.simpleQuery('UPDATE counters SET n = n + 1 WHERE k = 1');
  // Newer than a's snapshot: refreshed, and the statement goes on at the new snapshot.
  await a.simpleQuery("UPDATE counters SET n = n + 10, s = nextval('q') WHERE k = 1");
  await a.simpleQuery('COMMIT');
  assert.equal(await one('SELECT n, s FROM counters'), '11|1');
  assert.equal(await one("SELECT nextval('q')"), '2');
  assert.equal(txnCounters.writeRefreshes - before.writeRefreshes, 1);
  assert.equal(txnCounters.writeRefreshesInPlace - before.writeRefreshesInPlace, 1, 'refreshed in place, not rerun');
  // Lost-update shape: the row itself was read before, so nothing is refreshed: 40001.
  await a.simpleQuery('BEGIN ISOLATION LEVEL SERIALIZABLE');
  assert.equal((await a.simpleQuery('SELECT n FROM counters WHERE k = 1'))[0]!.rows![0]![0]!.toString(), '11');
  await c.simpleQuery('UPDATE counters SET n = n + 1 WHERE k = 1');
  await assert.rejects(
    a.simpleQuery('UPDATE counters SET n = n + 10 WHERE k = 1'),
    (e: unknown) => e instanceof NextDbError && e.code === '40001',
  );
  await a.simpleQuery('ROLLBACK');
  assert.equal(await one('SELECT n FROM counters'), '12');
  await engine.close();
});
