// The connection state machine and listener (src/server), in-process over a
// scripted FakeSession (test/server/fake-session.ts) so the protocol is
// tested independently of the SQL engine: real drivers (pg simple +
// extended, postgres.js pipelined) and a byte-level client for row limits,
// skip-to-Sync, cancel, SSL/GSSENC negotiation, limits and HTTP on the same
// port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import postgres from 'postgres';
import { startTestServer, RawClient, types } from './harness.ts';
import { FakeProvider } from './fake-session.ts';
import { RequestCode, type FrontendMessage } from '../../src/wire/frontend-messages.ts';
import { FrontendWriter } from '../../src/wire/frontend-writer.ts';
import { corpusPath } from '../support/corpus.ts';

const corpus = corpusPath('client-wire', 'postgresql-15.18-server.backend.jsonl');

const pgClient = (port: number, extra: pg.ClientConfig = {}): pg.Client =>
  new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', ...extra });

test('startup reports the ParameterStatus set of PostgreSQL 15, BackendKeyData, ReadyForQuery(I)', async () => {
  const ts = await startTestServer();
  try {
    const { client, messages } = await RawClient.startup(ts.port, {
      user: 'postgres',
      database: 'postgres',
      application_name: 'rawtest',
    });
    const expected = readFileSync(corpus, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { backend: string; ParameterStatus?: [string, string] });
    const expectedNames = expected.filter((m) => m.ParameterStatus).map((m) => m.ParameterStatus![0]);
    const got = messages.flatMap((m) => (m.type === 'S' ? [[m.name, m.value] as const] : []));
    assert.deepEqual(
      got.map(([n]) => n),
      expectedNames,
    );
    const params = new Map(got);
    assert.equal(params.get('application_name'), 'rawtest');
    assert.equal(params.get('session_authorization'), 'postgres');
    assert.match(params.get('server_version')!, /^15\.\d+ /);
    assert.equal(types(messages), 'R' + 'S'.repeat(expectedNames.length) + 'KZ');
    const z = messages.at(-1)!;
    assert.ok(z.type === 'Z' && z.status === 'I');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('pg: simple protocol with several statements, extended with parameters, errors with every field', async () => {
  const ts = await startTestServer();
  const c = pgClient(ts.port);
  try {
    await c.connect();
    const one = await c.query('SELECT 3');
    assert.deepEqual(one.rows, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.equal(one.fields[0]?.dataTypeID, 23);
    const multi = (await c.query('SELECT 1; SELECT 2')) as unknown as pg.QueryResult[];
    assert.deepEqual(
      multi.map((r) => r.rowCount),
      [1, 2],
    );
    const echo = await c.query('ECHO $1, $2', ['hello', null]);
    assert.deepEqual(echo.rows, [{ p1: 'hello', p2: null }]);
    const named = { name: 'sel', text: 'SELECT 2', values: [] };
    assert.equal((await c.query(named)).rowCount, 2);
    assert.equal((await c.query(named)).rowCount, 2); // reuses the named statement
    const err = await c.query('FAIL').catch((e: unknown) => e as pg.DatabaseError);
    assert.ok(err instanceof Error);
    assert.deepEqual(
      [err.code, err.severity, err.message, err.detail, err.hint, err.position],
      ['22012', 'ERROR', 'division by zero', 'the detail', 'the hint', '3'],
    );
    const err2 = await c.query('FAIL', []).catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((err2 as pg.DatabaseError).code, '22012');
    const syntax = await c.query('bogus $1', [1]).catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((syntax as pg.DatabaseError).code, '42601');
    // The connection is still usable after errors in both protocols.
    assert.equal((await c.query('SELECT 1', [])).rowCount, 1);
    const empty = await c.query('');
    assert.equal(empty.command, null);
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    await c.query('NOTICE');
    assert.deepEqual(notices, ['hello notice']);
    await c.query('SET application_name = renamed');
    assert.equal(
      (c as unknown as { connection: { parameters?: Record<string, string> } }).connection.parameters
        ?.application_name ?? 'renamed',
      'renamed',
    );
  } finally {
    await c.end();
    await ts.stop();
  }
});

test('transaction status in ReadyForQuery: idle, in transaction, failed', async () => {
  const ts = await startTestServer();
  try {
    const { client } = await RawClient.startup(ts.port);
    const status = async (sql: string): Promise<string> => {
      client.send({ kind: 'query', sql });
      const z = (await client.until('Z')).at(-1)!;
      return z.type === 'Z' ? z.status : '?';
    };
    assert.equal(await status('BEGIN'), 'T');
    assert.equal(await status('SELECT 1'), 'T');
    assert.equal(await status('FAIL'), 'E');
    client.send({ kind: 'query', sql: 'SELECT 1' });
    const rejected = await client.until('Z');
    const e = rejected.find((m) => m.type === 'E');
    assert.ok(e?.type === 'E' && e.fields.C === '25P02');
    assert.equal(await status('ROLLBACK'), 'I');
    // Statements before an error in one Query message still send their results first.
    client.send({ kind: 'query', sql: 'SELECT 2; FAIL; SELECT 3' });
    assert.equal(types(await client.until('Z')), 'TDDCEZ');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('extended protocol: row limits with PortalSuspended, Describe, Close, error skips to Sync', async () => {
  const ts = await startTestServer();
  try {
    const { client } = await RawClient.startup(ts.port);
    client.send(
      { kind: 'parse', name: 's1', sql: 'SELECT 5', paramTypes: [] },
      { kind: 'describe', target: 'S', name: 's1' },
      { kind: 'bind', portal: 'p1', statement: 's1', paramFormats: [], params: [], resultFormats: [1] },
      { kind: 'describe', target: 'P', name: 'p1' },
      { kind: 'execute', portal: 'p1', maxRows: 2 },
      { kind: 'execute', portal: 'p1', maxRows: 2 },
      { kind: 'execute', portal: 'p1', maxRows: 2 },
      { kind: 'close', target: 'P', name: 'p1' },
      { kind: 'close', target: 'S', name: 's1' },
      { kind: 'sync' },
    );
    const ms = await client.until('Z');
    assert.equal(types(ms), '1tT2TDDsDDsDC33Z');
    const portalDesc = ms[4];
    assert.ok(
      portalDesc?.type === 'T' && portalDesc.fields[0]?.format === 1,
      'binary format in the portal RowDescription',
    );
    const rows = ms.filter((m) => m.type === 'D').map((m) => (m.type === 'D' ? m.values[0]!.readInt32BE() : -1));
    assert.deepEqual(rows, [1, 2, 3, 4, 5]);
    const done = ms.find((m) => m.type === 'C');
    assert.ok(done?.type === 'C' && done.tag === 'SELECT 1');
    // An error discards everything up to Sync, then the connection works again.
    client.send(
      { kind: 'parse', name: '', sql: 'bogus', paramTypes: [] },
      { kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
      { kind: 'execute', portal: '', maxRows: 0 },
      { kind: 'sync' },
      { kind: 'parse', name: '', sql: 'SELECT 1', paramTypes: [] },
      { kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
      { kind: 'execute', portal: '', maxRows: 0 },
      { kind: 'sync' },
    );
    assert.equal(types(await client.until('Z')), 'EZ');
    assert.equal(types(await client.until('Z')), '12DCZ');
    // Flush sends pending replies without a Sync.
    client.send({ kind: 'parse', name: 'f', sql: 'SELECT 1', paramTypes: [] }, { kind: 'flush' });
    assert.equal(types(await client.until('1')), '1');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('postgres.js: pipelined queries on one connection come back in order', async () => {
  const ts = await startTestServer();
  const sql = postgres({
    host: '127.0.0.1',
    port: ts.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    fetch_types: false,
    onnotice: () => undefined,
  });
  try {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sql.unsafe(`SELECT ${(i % 7) + 1}`)));
    assert.deepEqual(
      results.map((r) => r.length),
      Array.from({ length: 50 }, (_, i) => (i % 7) + 1),
    );
    const echo = await sql.unsafe('ECHO $1', ['x']);
    assert.deepEqual([...echo], [{ p1: 'x' }]);
    const err = await sql.unsafe('FAIL').catch((e: unknown) => e as { code: string });
    assert.equal((err as { code: string }).code, '22012');
    assert.equal((await sql.unsafe('SELECT 2')).length, 2);
  } finally {
    await sql.end({ timeout: 1 });
    await ts.stop();
  }
});

test('CancelRequest cancels the running statement of the matching session only', async () => {
  const ts = await startTestServer();
  try {
    const { client, messages } = await RawClient.startup(ts.port);
    const k = messages.find((m) => m.type === 'K');
    assert.ok(k?.type === 'K');
    client.send({ kind: 'query', sql: 'SLEEP 10000' });
    await new Promise((r) => setTimeout(r, 50));
    // A wrong secret does nothing.
    const wrong = await RawClient.connect(ts.port);
    wrong.send({ kind: 'cancelRequest', processId: k.processId, secretKey: k.secretKey ^ 1 });
    assert.deepEqual(await wrong.untilClosed(), []);
    const started = Date.now();
    const cancel = await RawClient.connect(ts.port);
    cancel.send({ kind: 'cancelRequest', processId: k.processId, secretKey: k.secretKey });
    assert.deepEqual(await cancel.untilClosed(), []);
    const reply = await client.until('Z');
    const e = reply.find((m) => m.type === 'E');
    assert.ok(e?.type === 'E' && e.fields.C === '57014', types(reply));
    assert.ok(Date.now() - started < 3000);
    client.end();
  } finally {
    await ts.stop();
  }
});

test('SSLRequest without TLS is answered N; GSSENCRequest N; then startup proceeds', async () => {
  const ts = await startTestServer();
  try {
    const c = await RawClient.connect(ts.port);
    const byte1 = c.singleByte();
    c.send({ kind: 'gssEncRequest' });
    assert.equal(await byte1, 'N');
    const byte2 = c.singleByte();
    c.send({ kind: 'sslRequest' });
    assert.equal(await byte2, 'N');
    c.send({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: { user: 'postgres' } });
    assert.equal(types(await c.until('Z')).at(-1), 'Z');
    c.end();
  } finally {
    await ts.stop();
  }
});

test('limits: max connections, max message size, idle-in-transaction timeout; bad input closes only that connection', async () => {
  const ts = await startTestServer({
    limits: { maxConnections: 2, maxMessageBytes: 4096, idleInTransactionTimeoutMs: 150 },
  });
  try {
    const a = await RawClient.startup(ts.port);
    const b = await RawClient.startup(ts.port);
    const c = await RawClient.connect(ts.port);
    c.send({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: { user: 'postgres' } });
    const refused = await c.untilClosed();
    assert.ok(refused[0]?.type === 'E' && refused[0].fields.C === '53300' && refused[0].fields.S === 'FATAL');
    b.client.send({ kind: 'query', sql: 'x'.repeat(5000) });
    const big = await b.client.untilClosed();
    assert.ok(big[0]?.type === 'E' && big[0].fields.C === '54000', JSON.stringify(big));
    // Garbage after startup: FATAL 08P01 and close.
    const d = await RawClient.startup(ts.port);
    d.client.sendRaw(Buffer.from([0x5a, 0, 0, 0, 4]));
    const bad = await d.client.untilClosed();
    assert.ok(bad[0]?.type === 'E' && bad[0].fields.C === '08P01');
    // Idle in transaction.
    a.client.send({ kind: 'query', sql: 'BEGIN' });
    await a.client.until('Z');
    const timedOut = await a.client.untilClosed(3000);
    assert.ok(timedOut[0]?.type === 'E' && timedOut[0].fields.C === '25P03', JSON.stringify(timedOut));
    // The server still serves a well-behaved client.
    const e = await RawClient.startup(ts.port);
    e.client.send({ kind: 'query', sql: 'SELECT 2' });
    assert.equal(types(await e.client.until('Z')), 'TDDCZ');
    e.client.end();
  } finally {
    await ts.stop();
  }
});

test('unknown database and missing user are FATAL at startup', async () => {
  const ts = await startTestServer();
  try {
    const c = pgClient(ts.port, { database: 'nosuchdb' });
    const err = await c.connect().catch((e: unknown) => e as pg.DatabaseError);
    assert.equal((err as pg.DatabaseError).code, '3D000');
    const raw = await RawClient.connect(ts.port);
    raw.send({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: { database: 'x' } });
    const ms = await raw.untilClosed();
    assert.ok(ms[0]?.type === 'E' && ms[0].fields.C === '28000');
  } finally {
    await ts.stop();
  }
});

test('HTTP on the same port: /health, /metrics, admin page, 404; stop() ends sessions with 57P01', async () => {
  const ts = await startTestServer();
  const c = pgClient(ts.port, { application_name: 'admin-page-test' });
  try {
    await c.connect();
    await c.query('SELECT 2');
    const base = `http://127.0.0.1:${ts.port}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /nextdb_queries_total\{kind="select"\} [1-9]/);
    assert.match(metrics, /nextdb_connections 1/);
    assert.match(metrics, /nextdb_query_duration_seconds_bucket/);
    assert.match(metrics, /nextdb_engine_stat\{name="/);
    const page = await (await fetch(`${base}/`)).text();
    assert.match(page, /<html/);
    assert.match(page, /admin-page-test/);
    assert.match(page, /SELECT 2/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    // pg emits the server's FATAL, then "Connection terminated unexpectedly".
    const errors: Error[] = [];
    const ended = new Promise<void>((resolve) => c.on('error', (e) => errors.push(e) === 1 && resolve()));
    await ts.server.stop();
    await ended;
    assert.equal((errors[0] as pg.DatabaseError).code, '57P01');
  } finally {
    await c.end().catch(() => undefined);
    await ts.stop();
  }
});

test('a startup split into single bytes and a pipelined burst in one write both work', async () => {
  const ts = await startTestServer();
  try {
    const c = await RawClient.connect(ts.port);
    const w = new FrontendWriter().add({
      kind: 'startup',
      protocolVersion: RequestCode.protocol30,
      params: { user: 'postgres' },
    });
    for (let i = 0; i < 10; i++) w.add({ kind: 'query', sql: `SELECT ${i % 3}` });
    const bytes = w.take();
    for (const byte of bytes.subarray(0, 20)) {
      c.sendRaw(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    c.sendRaw(bytes.subarray(20));
    await c.until('Z');
    for (let i = 0; i < 10; i++) {
      const ms = await c.until('Z');
      assert.equal(ms.filter((m) => m.type === 'D').length, i % 3);
    }
    c.end();
  } finally {
    await ts.stop();
  }
});

void FakeProvider;

test('authentication timeout closes silent and half-started connections', async () => {
  const ts = await startTestServer({ limits: { authenticationTimeoutMs: 150 } });
  try {
    const silent = await RawClient.connect(ts.port);
    assert.deepEqual(await silent.untilClosed(3000), []);
    const half = await RawClient.connect(ts.port);
    half.sendRaw(Buffer.from([0, 0, 0, 40, 0, 3, 0, 0]));
    const ms = await half.untilClosed(3000);
    assert.ok(ms[0]?.type === 'E' && ms[0].fields.S === 'FATAL', JSON.stringify(ms));
    // A completed startup is not affected by the timer.
    const { client } = await RawClient.startup(ts.port);
    await new Promise((r) => setTimeout(r, 300));
    client.send({ kind: 'query', sql: 'SELECT 1' });
    assert.equal(types(await client.until('Z')), 'TDCZ');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('a large result reaches a slow reader completely (write backpressure)', async () => {
  const ts = await startTestServer();
  try {
    const { client } = await RawClient.startup(ts.port);
    client.socket.pause();
    client.send({ kind: 'query', sql: 'SELECT 100000' }, { kind: 'query', sql: 'SELECT 2' });
    await new Promise((r) => setTimeout(r, 300));
    client.socket.resume();
    const first = await client.until('Z', 20_000);
    assert.equal(first.filter((m) => m.type === 'D').length, 100000);
    assert.equal(types(await client.until('Z')), 'TDDCZ');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('Unix-domain socket: psql -h DIR reaches the server; counts as local; socket removed at stop', async () => {
  const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const dir = mkdtempSync(join(tmpdir(), 'nextdb-wire-sock-'));
  const ts = await startTestServer({ unixSocketDir: dir, auth: { local: 'trust', remote: 'password' } });
  try {
    const path = ts.server.unixSocketPath!;
    assert.equal(path, join(dir, `.s.PGSQL.${ts.port}`));
    const { stdout } = await promisify(execFile)(
      'psql',
      ['-X', '-A', '-t', '-h', dir, '-p', String(ts.port), '-U', 'postgres', '-c', 'SELECT 2'],
      { encoding: 'utf8' },
    );
    assert.equal(stdout.trim(), '1\n2');
    const c = new pg.Client({ host: dir, port: ts.port, user: 'postgres' });
    await c.connect();
    assert.equal((await c.query('SELECT 3')).rowCount, 3);
    await c.end();
    await ts.stop();
    assert.equal(existsSync(path), false);
  } finally {
    await ts.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slow queries are logged with their text; protocol errors and failed logins are counted', async () => {
  const { default: pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const ts = await startTestServer({ logger: pino({ level: 'info' }, sink), limits: { slowQueryMs: 30 } });
  try {
    const { client } = await RawClient.startup(ts.port);
    client.send({ kind: 'query', sql: 'SLEEP 60' });
    await client.until('Z');
    client.send({ kind: 'query', sql: 'SELECT 1' });
    await client.until('Z');
    const slow = lines
      .map((l) => JSON.parse(l) as { msg: string; query?: string; durationMs?: number })
      .filter((l) => l.msg === 'slow query');
    assert.equal(slow.length, 1);
    assert.equal(slow[0]!.query, 'SLEEP 60');
    assert.ok(slow[0]!.durationMs! >= 30);
    client.sendRaw(Buffer.from([0x5a, 0, 0, 0, 4]));
    await client.untilClosed();
    const metrics = await (await fetch(`http://127.0.0.1:${ts.port}/metrics`)).text();
    assert.match(metrics, /nextdb_protocol_errors_total 1/);
    assert.match(metrics, /nextdb_auth_failures_total 0/);
  } finally {
    await ts.stop();
  }
});

test('protocol 3.2 and _pq_ options get NegotiateProtocolVersion(3.0); FunctionCall is refused with 0A000', async () => {
  const ts = await startTestServer();
  try {
    const c = await RawClient.connect(ts.port);
    c.send({
      kind: 'startup',
      protocolVersion: RequestCode.protocol30 + 2,
      params: { user: 'postgres', '_pq_.compression': 'on' },
    });
    const ms = await c.until('Z');
    assert.deepEqual(ms[0], { type: 'v', minor: 0, unrecognized: ['_pq_.compression'] });
    assert.equal(ms[1]?.type, 'R');
    c.send({ kind: 'functionCall', functionOid: 1598 });
    const reply = await c.until('Z');
    assert.ok(reply[0]?.type === 'E' && reply[0].fields.C === '0A000');
    assert.equal(types(reply), 'EZ');
    c.end();
  } finally {
    await ts.stop();
  }
});

for (const writerThread of [true, false]) {
  test(`pipelined input over the 1 MiB high-water mark while a statement runs: reading pauses, resumes, every reply in order (writer thread ${writerThread ? 'on' : 'off'})`, async () => {
    const ts = await startTestServer({ writerThread });
    try {
      const { client } = await RawClient.startup(ts.port);
      const big = 'x'.repeat(16 * 1024);
      const msgs: FrontendMessage[] = [{ kind: 'query', sql: 'SLEEP 300' }];
      for (let i = 0; i < 100; i++) {
        msgs.push(
          { kind: 'parse', name: '', sql: 'ECHO $1', paramTypes: [] },
          {
            kind: 'bind',
            portal: '',
            statement: '',
            paramFormats: [],
            params: [Buffer.from(`${i}:${big}`)],
            resultFormats: [],
          },
          { kind: 'execute', portal: '', maxRows: 0 },
          { kind: 'sync' },
        );
      }
      client.send(...msgs);
      assert.equal(types(await client.until('Z', 10_000)), 'CZ');
      for (let i = 0; i < 100; i++) {
        const ms = await client.until('Z', 10_000);
        assert.equal(types(ms), '12DCZ');
        const row = ms.find((m) => m.type === 'D');
        assert.ok(row?.type === 'D');
        assert.equal(row.values[0]?.toString(), `${i}:${big}`);
      }
      client.end();
    } finally {
      await ts.stop();
    }
  });
}
