// Temporary tables beyond one session's golden script (test/sql/golden/temp-tables.sql): another session never
// sees them, their rows and DDL never reach the shared keyspace (so no replica can get them and other sessions
// keep their cached catalog), two sessions create same-named ones in open blocks without conflicting, a prepared
// statement planned before a temporary table shadows its permanent namesake is planned again, and neither the
// session's end nor a restart leaves anything behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlEngine } from '../../src/sql/index.ts';
import { open } from '../../src/sql/embedded.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import type { Session } from '../../src/sql/api.ts';

async function rows(s: Session, sql: string): Promise<(string | null)[][]> {
  const r = await s.simpleQuery(sql);
  return (r[r.length - 1]!.rows ?? []).map((row) => row.map((v) => (v === null ? null : v.toString('utf8'))));
}

async function fails(s: Session, sql: string, code: string): Promise<void> {
  await assert.rejects(s.simpleQuery(sql), (e: unknown) => e instanceof NextDbError && e.code === code, sql);
}

test('temporary tables are private to their session and leave nothing in the shared keyspace', async () => {
  const storage = new MemoryEngine();
  const engine = await SqlEngine.open({ engine: storage });
  const a = engine.createSession({ user: 'postgres', database: 'postgres' });
  const b = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await a.simpleQuery('CREATE TABLE shared (id int PRIMARY KEY)');
    await a.simpleQuery('INSERT INTO shared VALUES (1)');
    const keysBefore = storage.stats().keys;
    await a.simpleQuery('CREATE TEMP TABLE tmp (id serial PRIMARY KEY, v text UNIQUE)');
    await a.simpleQuery('CREATE INDEX tmp_v ON tmp (v)');
    await a.simpleQuery("INSERT INTO tmp (v) SELECT 'v' || g FROM generate_series(1, 500) g");
    await a.simpleQuery('CREATE TEMP TABLE shared AS SELECT 42 AS id');
    assert.deepEqual(await rows(a, 'SELECT count(*) FROM tmp'), [['500']]);
    assert.deepEqual(await rows(a, 'SELECT id FROM shared'), [['42']]);
    // Not one key more in the shared store: no catalog descriptor, row, index entry, sequence or OID counter.
    assert.equal(storage.stats().keys, keysBefore);

    await fails(b, 'SELECT * FROM tmp', '42P01');
    assert.deepEqual(await rows(b, 'SELECT id FROM shared'), [['1']]);
    assert.deepEqual(await rows(b, "SELECT count(*) FROM pg_class WHERE relname IN ('tmp', 'tmp_v', 'tmp_id_seq')"), [
      ['0'],
    ]);
    assert.deepEqual(await rows(b, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pg_temp%'"), [['0']]);
    // b's own temporary table of the same name is another table.
    await b.simpleQuery('CREATE TEMP TABLE tmp (x int)');
    await b.simpleQuery('INSERT INTO tmp VALUES (7)');
    assert.deepEqual(await rows(b, 'SELECT * FROM tmp'), [['7']]);
    assert.deepEqual(await rows(a, 'SELECT count(*) FROM tmp'), [['500']]);

    // Same-named temporary tables made in two open blocks commit without a conflict.
    await a.simpleQuery('BEGIN');
    await b.simpleQuery('BEGIN');
    await a.simpleQuery('CREATE TEMP TABLE both_make (x int)');
    await b.simpleQuery('CREATE TEMP TABLE both_make (y int)');
    await a.simpleQuery('INSERT INTO both_make VALUES (1)');
    await b.simpleQuery('INSERT INTO both_make VALUES (2)');
    await a.simpleQuery('COMMIT');
    await b.simpleQuery('COMMIT');
    assert.deepEqual(await rows(a, 'SELECT x FROM both_make'), [['1']]);
    assert.deepEqual(await rows(b, 'SELECT y FROM both_make'), [['2']]);

    // A session's end drops its temporary tables.
    await a.close();
    const c = engine.createSession({ user: 'postgres', database: 'postgres' });
    await fails(c, 'SELECT * FROM both_make', '42P01');
    assert.deepEqual(await rows(c, 'SELECT id FROM shared'), [['1']]);
    await c.close();
  } finally {
    await b.close();
    await engine.close();
  }
});

test('a prepared statement made before a temporary table shadows its permanent namesake reads the temporary one', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.simpleQuery("CREATE TABLE p (id int PRIMARY KEY, v text); INSERT INTO p VALUES (1, 'permanent')");
    await s.prepare('q', 'SELECT v FROM p WHERE id = $1', [23]);
    const run = async (): Promise<string | undefined> => {
      s.bind('', 'q', [], [Buffer.from('1')], []);
      const r = await s.execute('', 0);
      await s.sync();
      return r.rows?.[0]?.[0]?.toString('utf8');
    };
    assert.equal(await run(), 'permanent');
    assert.equal(await run(), 'permanent');
    await s.simpleQuery("CREATE TEMP TABLE p (id int PRIMARY KEY, v text); INSERT INTO p VALUES (1, 'temporary')");
    assert.equal(await run(), 'temporary');
    await s.simpleQuery('DROP TABLE p');
    assert.equal(await run(), 'permanent');
  } finally {
    await s.close();
    await engine.close();
  }
});

test('temporary tables do not survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-h5-temp-'));
  try {
    let db = await open({ path: dir });
    await db.query('CREATE TABLE kept (id int PRIMARY KEY)');
    await db.query('INSERT INTO kept VALUES (1)');
    await db.query('CREATE TEMP TABLE lost (id int PRIMARY KEY)');
    await db.query('INSERT INTO lost VALUES (1)');
    assert.equal((await db.query('SELECT count(*)::int AS n FROM lost')).rows[0]!.n, 1);
    await db.close();
    db = await open({ path: dir });
    try {
      assert.equal((await db.query('SELECT count(*)::int AS n FROM kept')).rows[0]!.n, 1);
      await assert.rejects(
        db.query('SELECT * FROM lost'),
        (e: unknown) => e instanceof NextDbError && e.code === '42P01',
      );
      assert.equal((await db.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'lost'")).rows[0]!.n, 0);
      // The name is free for a new temporary (or permanent) table.
      await db.query('CREATE TABLE lost (id int)');
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("psql's \\d lists the session's temporary tables, and only in that session", async () => {
  const { execFile } = await import('node:child_process');
  const { startTestServer } = await import('../server/harness.ts');
  const storage = new MemoryEngine();
  const engine = await SqlEngine.open({ engine: storage });
  const ts = await startTestServer({ provider: { createSession: (st) => engine.createSession(st) }, engine: storage });
  const psql = (cmds: readonly string[]): Promise<string> =>
    new Promise((resolve) => {
      const args = ['-h', '127.0.0.1', '-p', String(ts.port), '-U', 'postgres', '-X', '-q'];
      for (const c of cmds) args.push('-c', c);
      execFile('psql', [...args, 'postgres'], (_e, out, err) => resolve(out + err));
    });
  try {
    const mine = await psql([
      'CREATE TABLE perm (a int)',
      'CREATE TEMP TABLE tt (id serial PRIMARY KEY, v text)',
      '\\d',
      '\\d tt',
    ]);
    assert.match(mine, /pg_temp_\d+ \| tt +\| table/);
    assert.match(mine, /pg_temp_\d+ \| tt_id_seq +\| sequence/);
    assert.match(mine, /public +\| perm +\| table/);
    assert.match(mine, /Table "pg_temp_\d+\.tt"/);
    assert.match(mine, /nextval\('tt_id_seq'::regclass\)/);
    assert.match(mine, /"tt_pkey" PRIMARY KEY, btree \(id\)/);
    const other = await psql(['\\d']);
    assert.match(other, /public \| perm/);
    assert.doesNotMatch(other, /tt/);
  } finally {
    await ts.stop();
    await engine.close();
  }
});
