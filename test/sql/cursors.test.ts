// SQL cursors through the server: psql's FETCH_COUNT mode (BEGIN; DECLARE _psql_cursor NO SCROLL CURSOR FOR ...;
// FETCH FORWARD n; CLOSE; COMMIT) prints what the plain query prints, also when the count does not divide the rows;
// node-postgres drives DECLARE/FETCH/MOVE through the extended protocol. The directions and errors are in
// test/sql/golden/cursors.sql (from PostgreSQL 15).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import pg from 'pg';
import { startSqlTestServer, type TestServer } from '../server/harness.ts';

let ts: TestServer | undefined;

before(async () => {
  ts = await startSqlTestServer();
});

after(async () => {
  await ts?.stop();
});

function psql(args: readonly string[]): Promise<{ out: string; err: string; code: number }> {
  const full = ['-h', '127.0.0.1', '-p', String(ts!.port), '-U', 'postgres', '-X', '-q', ...args, 'postgres'];
  return new Promise((resolve) => {
    execFile('psql', full, { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } }, (err, stdout, stderr) => {
      resolve({ out: stdout, err: stderr, code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1 });
    });
  });
}

test("psql's FETCH_COUNT reads through a cursor and prints the same rows", async () => {
  const setup = await psql([
    '-c',
    "CREATE TABLE fc (id int PRIMARY KEY, v text); INSERT INTO fc SELECT g, 'row ' || g FROM generate_series(1, 250) g",
  ]);
  assert.equal(setup.code, 0, setup.err);
  const query = 'SELECT id, v FROM fc ORDER BY id';
  const plain = await psql(['-A', '-t', '-c', query]);
  assert.equal(plain.code, 0, plain.err);
  assert.equal(plain.out.split('\n').filter((l) => l !== '').length, 250);
  for (const count of ['1', '7', '100', '1000']) {
    const viaCursor = await psql(['-A', '-t', '-v', `FETCH_COUNT=${count}`, '-c', query]);
    assert.equal(viaCursor.code, 0, viaCursor.err);
    assert.equal(viaCursor.out, plain.out, `FETCH_COUNT=${count}`);
  }
  // An error inside the cursor's query reaches psql as PostgreSQL's.
  const bad = await psql(['-A', '-t', '-v', 'FETCH_COUNT=10', '-c', 'SELECT 1 / (id - 5) FROM fc ORDER BY id']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /division by zero/);
  // Nothing stays open afterwards.
  const left = await psql(['-A', '-t', '-c', 'SELECT count(*) FROM pg_cursors']);
  assert.equal(left.out, '0\n');
});

test('node-postgres: DECLARE, FETCH, MOVE and CLOSE through the extended protocol', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: ts!.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    await c.query('CREATE TABLE np (id int PRIMARY KEY)');
    await c.query('INSERT INTO np SELECT g FROM generate_series(1, 20) g');
    await c.query('BEGIN');
    await c.query('DECLARE k SCROLL CURSOR FOR SELECT id FROM np WHERE id > $1 ORDER BY id', [10]);
    const first = await c.query('FETCH 3 FROM k');
    assert.deepEqual(
      first.rows.map((r: { id: number }) => r.id),
      [11, 12, 13],
    );
    assert.equal(first.command, 'FETCH');
    const moved = await c.query('MOVE FORWARD 5 IN k');
    assert.equal(moved.rowCount, 5);
    const last = await c.query('FETCH LAST FROM k');
    assert.deepEqual(last.rows, [{ id: 20 }]);
    const back = await c.query('FETCH BACKWARD 2 FROM k');
    assert.deepEqual(
      back.rows.map((r: { id: number }) => r.id),
      [19, 18],
    );
    await c.query('CLOSE k');
    await assert.rejects(c.query('FETCH k'), (e: { code?: string }) => e.code === '34000');
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
});
