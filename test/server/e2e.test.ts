// End-to-end: real clients against a real `nextdb server` child process
// (test/server/server-process.ts): pg simple + extended + pool, postgres.js
// pipelined, psql -c, errors with SQLSTATE and position, cancel, TLS + SCRAM
// login and a wrong password refused, HTTP on the same port, clean shutdown
// (exit 0), a taken port and a locked data directory (clear message,
// non-zero exit), data surviving a restart and a SIGKILL, pgbench.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { startServerProcess, runCli, tempDir, type ServerProcess } from './server-process.ts';
import { tlsCertPath, tlsKeyPath } from './harness.ts';

const run = promisify(execFile);

const connect = async (port: number, extra: pg.ClientConfig = {}): Promise<pg.Client> => {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', ...extra });
  await c.connect();
  return c;
};

let mem: ServerProcess | undefined;
before(async () => {
  mem = await startServerProcess(['0', '--memory']);
});
after(async () => {
  if (mem !== undefined) assert.equal(await mem.stop(), 0, 'clean exit on SIGTERM');
});

test('pg: simple and extended protocol, pool, errors with SQLSTATE and position', async () => {
  const c = await connect(mem!.port);
  try {
    assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
    assert.deepEqual((await c.query('SELECT $1::int + 1 AS two', [1])).rows, [{ two: 2 }]);
    await c.query('CREATE TABLE e2e_t (id int PRIMARY KEY, name text)');
    await c.query('INSERT INTO e2e_t VALUES ($1, $2), ($3, $4)', [1, 'one', 2, 'two']);
    const r = await c.query({ name: 'byid', text: 'SELECT name FROM e2e_t WHERE id = $1', values: [2] });
    assert.deepEqual(r.rows, [{ name: 'two' }]);
    assert.deepEqual(
      (await c.query({ name: 'byid', text: 'SELECT name FROM e2e_t WHERE id = $1', values: [1] })).rows,
      [{ name: 'one' }],
    );
    const div = await c.query('SELECT 1/0').catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((div as pg.DatabaseError).code, '22012');
    const syn = await c.query('SELEC 1').catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((syn as pg.DatabaseError).code, '42601');
    assert.equal((syn as pg.DatabaseError).position, '1');
    const dup = await c.query('INSERT INTO e2e_t VALUES (1, $1)', ['x']).catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((dup as pg.DatabaseError).code, '23505');
    await c.query('BEGIN');
    await c.query('SELECT 1/0').catch(() => undefined);
    const aborted = await c.query('SELECT 1').catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((aborted as pg.DatabaseError).code, '25P02');
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
  const pool = new pg.Pool({ host: '127.0.0.1', port: mem!.port, user: 'postgres', database: 'postgres', max: 4 });
  try {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.query('SELECT $1::int AS v', [i])));
    assert.deepEqual(
      results.map((x) => x.rows[0].v),
      Array.from({ length: 20 }, (_, i) => i),
    );
  } finally {
    await pool.end();
  }
});

test('postgres.js: pipelined queries on one connection', async () => {
  const sql = postgres({
    host: '127.0.0.1',
    port: mem!.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    onnotice: () => undefined,
  });
  try {
    const rows = await Promise.all(Array.from({ length: 30 }, (_, i) => sql`SELECT ${i}::int AS v`));
    assert.deepEqual(
      rows.map((r) => r[0]?.v),
      Array.from({ length: 30 }, (_, i) => i),
    );
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('psql: -c, the \\dt and \\l catalog queries, a database made by CREATE DATABASE', async () => {
  const psql = async (db: string, ...commands: string[]): Promise<string> => {
    const args = ['-X', '-A', '-t', '-h', '127.0.0.1', '-p', String(mem!.port), '-U', 'postgres', '-d', db];
    for (const c of commands) args.push('-c', c);
    return (await run('psql', args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } })).stdout;
  };
  assert.equal((await psql('postgres', 'SELECT 40 + 2')).trim(), '42');
  await psql('postgres', 'CREATE TABLE psql_t (id int PRIMARY KEY)');
  assert.match(await psql('postgres', '\\dt'), /^public\|psql_t\|table\|postgres$/m);
  await psql('postgres', 'CREATE DATABASE e2e_db');
  assert.match(await psql('postgres', '\\l'), /^e2e_db\|/m);
  // The new database is reachable at once (the server refreshes the catalog on an unknown name).
  assert.equal((await psql('e2e_db', 'SELECT 7')).trim(), '7');
});

test('pgbench: initialize (server-side generation), then each built-in script in simple, extended and prepared mode', async () => {
  const base = ['-h', '127.0.0.1', '-p', String(mem!.port), '-U', 'postgres'];
  // -I dtpG: server-side data generation, keys first (fast). The default COPY-based load is covered by test/server/copy-sql.test.ts.
  await run('pgbench', [...base, '-i', '-I', 'dtpG', '-s', '1', 'postgres'], { maxBuffer: 16 << 20 });
  const c = await connect(mem!.port);
  try {
    assert.deepEqual((await c.query('SELECT count(*)::int AS n FROM pgbench_accounts')).rows, [{ n: 100000 }]);
  } finally {
    await c.end();
  }
  for (const script of ['select-only', 'simple-update', 'tpcb-like']) {
    for (const mode of ['simple', 'extended', 'prepared']) {
      // One client: no serialization failures to retry (pgbench 15 aborts a client on its first one).
      const { stdout } = await run(
        'pgbench',
        [...base, '-n', '-b', script, '-M', mode, '-c', '1', '-t', '20', 'postgres'],
        { maxBuffer: 16 << 20 },
      );
      assert.match(stdout, /number of transactions actually processed: 20\/20/, `${script} ${mode}:\n${stdout}`);
    }
  }
});

test('cancel: a running statement is cancelled with 57014', async () => {
  const c = await connect(mem!.port);
  try {
    const started = Date.now();
    // Tens of seconds of work unless cancelled (the executor checks for cancellation as it goes).
    const running = c
      .query('SELECT count(*) FROM generate_series(1, 100000000)')
      .catch((e: unknown) => e as pg.DatabaseError);
    await new Promise((r) => setTimeout(r, 300));
    const canceller = new pg.Client({ host: '127.0.0.1', port: mem!.port, user: 'postgres' });
    // node-postgres sends a CancelRequest with c's BackendKeyData through a fresh connection.
    (canceller as unknown as { cancel(client: pg.Client, query: unknown): void }).cancel(
      c,
      (c as unknown as { activeQuery: unknown }).activeQuery,
    );
    const err = await running;
    assert.equal((err as pg.DatabaseError).code, '57014', String(err));
    assert.ok(Date.now() - started < 10_000);
    // The session goes on.
    assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  } finally {
    await c.end();
  }
});

test('HTTP on the same port: /health and /metrics from the server process', async () => {
  const health = await fetch(`http://127.0.0.1:${mem!.port}/health`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${mem!.port}/metrics`)).text();
  assert.match(metrics, /nextdb_queries_total/);
  const page = await (await fetch(`http://127.0.0.1:${mem!.port}/`)).text();
  assert.match(page, /NextDB/);
  // The catalog part of the page comes from real SQL: the table made by the first test is listed.
  const status = (await (await fetch(`http://127.0.0.1:${mem!.port}/api/status`)).json()) as {
    databases: string[];
    tables: { name: string }[];
  };
  assert.ok(status.databases.includes('postgres'), JSON.stringify(status.databases));
  assert.ok(
    status.tables.some((t) => t.name === 'e2e_t'),
    JSON.stringify(status.tables),
  );
});

test('TLS + SCRAM-SHA-256: right password logs in over TLS, wrong password refused', async () => {
  const srv = await startServerProcess(
    ['0', '--memory', '--auth', 'scram-sha-256', '--tls-cert', tlsCertPath, '--tls-key', tlsKeyPath],
    {
      env: { NEXTDB_SUPERUSER_PASSWORD: 's3cret' },
    },
  );
  try {
    const ok = await connect(srv.port, { password: 's3cret', ssl: { rejectUnauthorized: false } });
    assert.deepEqual((await ok.query('SELECT 1 AS x')).rows, [{ x: 1 }]);
    await ok.end();
    const bad = await connect(srv.port, { password: 'wrong', ssl: { rejectUnauthorized: false } }).catch(
      (e: unknown) => e as pg.DatabaseError,
    );
    assert.equal((bad as pg.DatabaseError).code, '28P01');
    const { stdout } = await run(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-c',
        'SELECT 7',
        `host=127.0.0.1 port=${srv.port} user=postgres dbname=postgres sslmode=require`,
      ],
      {
        env: { ...process.env, PGPASSWORD: 's3cret', PGCONNECT_TIMEOUT: '10' },
      },
    );
    assert.equal(stdout.trim(), '7');
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

test('data directory: created on first start, survives a restart and a SIGKILL, locked against a second server; taken port', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  try {
    const a = await startServerProcess(['0', '--data', data], { dir });
    const c = await connect(a.port);
    await c.query('CREATE TABLE kept (k int PRIMARY KEY, v text)');
    await c.query("INSERT INTO kept VALUES (1, 'durable')");
    await c.end();
    // A second server on the same directory: clear message, non-zero exit.
    const second = await runCli(['server', '0', '--data', data]);
    assert.notEqual(second.code, 0);
    assert.match(second.output, /locked/);
    // A taken port: clear message, non-zero exit.
    const taken = await runCli(['server', String(a.port), '--memory']);
    assert.notEqual(taken.code, 0);
    assert.match(taken.output, /already in use/);
    assert.equal(await a.stop(true), 0);
    const b = await startServerProcess(['0', '--data', data], { dir });
    const c2 = await connect(b.port);
    assert.deepEqual((await c2.query('SELECT v FROM kept WHERE k = 1')).rows, [{ v: 'durable' }]);
    // A committed write survives SIGKILL (no shutdown at all), and the lock of the dead process does not block a restart.
    await c2.query("INSERT INTO kept VALUES (2, 'after kill')");
    await c2.end().catch(() => undefined);
    const killed = new Promise((resolve) => b.child.once('exit', resolve));
    process.kill(b.child.pid!, 'SIGKILL');
    await killed;
    const d = await startServerProcess(['0', '--data', data], { dir });
    const c3 = await connect(d.port);
    assert.deepEqual((await c3.query('SELECT k, v FROM kept ORDER BY k')).rows, [
      { k: 1, v: 'durable' },
      { k: 2, v: 'after kill' },
    ]);
    await c3.end();
    assert.equal(await d.stop(true), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('online backup: nextdb_backup() while another connection writes; a server on the copy serves it', async () => {
  const dir = tempDir();
  const data = join(dir, 'data');
  const copy = join(dir, 'backup');
  try {
    const a = await startServerProcess(['0', '--data', data], { dir });
    const c = await connect(a.port);
    const w = await connect(a.port);
    await c.query('CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL)');
    await c.query('INSERT INTO ledger SELECT g, g FROM generate_series(1, 5000) g');
    // A writer keeps inserting during the backup; the copy must hold a prefix of its inserts (one moment).
    let next = 5001;
    let writing = true;
    const writer = (async () => {
      while (writing) await w.query('INSERT INTO ledger VALUES ($1, 1)', [next++]);
    })();
    const r = await c.query(`SELECT nextdb_backup('${copy}') AS info`);
    writing = false;
    await writer;
    const info = r.rows[0].info as { files: number; linked: number };
    assert.ok(info.files >= 3 && info.linked > 0, JSON.stringify(info));
    await c.end();
    await w.end();
    assert.equal(await a.stop(true), 0);
    const b = await startServerProcess(['0', '--data', copy], { dir });
    const c2 = await connect(b.port);
    const { rows } = await c2.query('SELECT count(*)::int AS n, max(id) AS top, sum(amount)::int AS total FROM ledger');
    const { n, top, total } = rows[0] as { n: number; top: number; total: number };
    assert.ok(n >= 5000 && n < next, `${n} rows`);
    assert.equal(top, n, 'the inserts in the copy are a prefix (ids without a gap)');
    assert.equal(total, (5000 * 5001) / 2 + (n - 5000));
    await c2.end();
    assert.equal(await b.stop(true), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start-up errors: bad config file, bad flags (clear message, exit 1)', async () => {
  const dir = tempDir();
  try {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ prot: 1 }));
    const a = await runCli(['server', '--config', cfg, '--memory']);
    assert.equal(a.code, 1);
    assert.match(a.output, /unknown key "prot"/);
    const b = await runCli(['server', '--memory', '--tls-cert', 'x.pem']);
    assert.equal(b.code, 1);
    assert.match(b.output, /both a certificate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
