// The protocol over the real SQL engine (in process), at the message level,
// for the cases where the reply sequence depends on when the engine fails:
// - a statement that fails while running (after planning) has had its
//   RowDescription sent, as in PostgreSQL: 'T' before 'E' (simple protocol);
// - statements before the failing one in a multi-statement Query keep
//   their replies ('T D C' ... then 'E');
// - an empty query string (or only ';' / comments) answers
//   EmptyQueryResponse ('I'), simple and extended, never an error;
// - a COPY FROM STDIN that fails mid-stream: ErrorResponse at once, the
//   client's remaining CopyData/CopyDone are dropped, ReadyForQuery
//   (simple protocol; what PostgreSQL 15 sends, checked against it in
//   pg-parity.test.ts's COPY scenario).
// Expected sequences are PostgreSQL 15's for the same messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSqlTestServer, RawClient, types, type TestServer } from './harness.ts';
import type { BackendMessage } from '../../src/wire/backend-parser.ts';

let ts: TestServer | undefined;

before(async () => {
  ts = await startSqlTestServer();
});

after(async () => {
  await ts?.stop();
});

test('a run-time error after planning: RowDescription, then ErrorResponse (simple protocol)', async () => {
  const { client } = await RawClient.startup(ts!.port);
  try {
    client.send({ kind: 'query', sql: 'SELECT 1 / (k - 3) AS x FROM generate_series(1, 5) k' });
    const ms = await client.until('Z');
    assert.equal(types(ms).replace(/D/g, ''), 'TEZ');
    const e = ms.find((m) => m.type === 'E');
    assert.ok(e?.type === 'E' && e.fields.C === '22012');
    // A planning error (unknown column) has no RowDescription.
    client.send({ kind: 'query', sql: 'SELECT nosuch FROM generate_series(1, 2) k' });
    assert.equal(types(await client.until('Z')), 'EZ');
    // Earlier statements of the same Query keep their replies.
    client.send({ kind: 'query', sql: 'SELECT 1 AS a; SELECT 1 / (k - 1) FROM generate_series(1, 2) k; SELECT 2' });
    assert.equal(types(await client.until('Z')).replace(/(?<=T)D+(?=E)/, ''), 'TDCTEZ');
  } finally {
    client.end();
  }
});

test('empty query strings answer EmptyQueryResponse, simple and extended', async () => {
  const { client } = await RawClient.startup(ts!.port);
  try {
    for (const sql of ['', ' ', ';', '-- only a comment']) {
      client.send({ kind: 'query', sql });
      assert.equal(types(await client.until('Z')), 'IZ', `simple ${JSON.stringify(sql)}`);
    }
    for (const sql of ['', ';']) {
      client.send(
        { kind: 'parse', name: '', sql, paramTypes: [] },
        { kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
        { kind: 'describe', target: 'P', name: '' },
        { kind: 'execute', portal: '', maxRows: 0 },
        { kind: 'sync' },
      );
      assert.equal(types(await client.until('Z')), '12nIZ', `extended ${JSON.stringify(sql)}`);
    }
    client.send(
      { kind: 'parse', name: 'e', sql: '', paramTypes: [] },
      { kind: 'describe', target: 'S', name: 'e' },
      { kind: 'sync' },
    );
    assert.equal(types(await client.until('Z')), '1tnZ');
  } finally {
    client.end();
  }
});

test('COPY FROM STDIN failing mid-stream: ErrorResponse and ReadyForQuery at once, trailing CopyData and CopyDone dropped', async () => {
  const { client } = await RawClient.startup(ts!.port);
  try {
    client.send({ kind: 'query', sql: 'CREATE TABLE cp (id int PRIMARY KEY, note text)' });
    await client.until('Z');
    client.send({ kind: 'query', sql: 'COPY cp FROM STDIN' });
    assert.equal(types(await client.until('G')), 'G');
    client.send({ kind: 'copyData', data: Buffer.from('1\ta\nbad\tb\n') });
    const ms = await client.until('Z');
    assert.equal(types(ms), 'EZ');
    assert.ok(ms[0]?.type === 'E' && ms[0].fields.C === '22P02');
    client.send(
      { kind: 'copyData', data: Buffer.from('2\tc\n') },
      { kind: 'copyDone' },
      { kind: 'query', sql: 'SELECT count(*) FROM cp' },
    );
    const after = await client.until('Z');
    assert.equal(types(after), 'TDCZ');
    assert.ok(after[1]?.type === 'D' && after[1].values[0]?.toString() === '0');
  } finally {
    client.end();
  }
});

test('ParameterStatus: SET LOCAL reports the value and COMMIT / ROLLBACK the one restored; blocks without a SET report none', async () => {
  const { client } = await RawClient.startup(ts!.port);
  const statuses = (ms: readonly BackendMessage[]): string[] =>
    ms.flatMap((m) => (m.type === 'S' ? [`${m.name}=${m.value}`] : []));
  try {
    for (const end of ['COMMIT', 'ROLLBACK']) {
      client.send({ kind: 'query', sql: 'BEGIN' });
      assert.deepEqual(statuses(await client.until('Z')), []);
      client.send({ kind: 'query', sql: "SET LOCAL application_name = 'inside'" });
      assert.deepEqual(statuses(await client.until('Z')), ['application_name=inside']);
      client.send({ kind: 'query', sql: end });
      assert.deepEqual(statuses(await client.until('Z')), ['application_name='], end);
    }
    // Extended protocol, a block with no SET: nothing reported at COMMIT.
    for (const sql of ['BEGIN', 'SELECT 1', 'COMMIT']) {
      client.send(
        { kind: 'parse', name: '', sql, paramTypes: [] },
        { kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
        { kind: 'execute', portal: '', maxRows: 0 },
        { kind: 'sync' },
      );
      assert.deepEqual(statuses(await client.until('Z')), [], sql);
    }
    // A session-level SET inside a block stays after COMMIT: reported once, when set.
    client.send({ kind: 'query', sql: "BEGIN; SET application_name = 'kept'; COMMIT" });
    assert.deepEqual(statuses(await client.until('Z')), ['application_name=kept']);
  } finally {
    client.end();
  }
});
