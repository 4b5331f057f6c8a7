// COPY over the protocol (src/server/pg-connection.ts): FROM STDIN in the
// simple protocol (data in odd chunks, statements after the COPY, CopyFail,
// a failing write), TO STDOUT, and postgres.js's COPY streams, against the
// scripted FakeSession's COPY IN / COPY OUT statements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import postgres from 'postgres';
import { startTestServer, RawClient, types } from './harness.ts';
import { FakeProvider } from './fake-session.ts';

test('COPY FROM STDIN: CopyInResponse, data in chunks, CopyDone, then the rest of the query string', async () => {
  const provider = new FakeProvider();
  const ts = await startTestServer({ provider });
  try {
    const { client } = await RawClient.startup(ts.port);
    client.send({ kind: 'query', sql: 'COPY IN; SELECT 2' });
    const g = await client.until('G');
    const resp = g.at(-1)!;
    assert.ok(resp.type === 'G' && resp.format === 0 && resp.columnFormats.length === 2);
    client.send(
      { kind: 'copyData', data: Buffer.from('1\ta\n2\t') },
      { kind: 'copyData', data: Buffer.from('b\n3\tc\n') },
      { kind: 'copyDone' },
    );
    const ms = await client.until('Z');
    assert.equal(types(ms), 'CTDDCZ');
    assert.ok(ms[0]?.type === 'C' && ms[0].tag === 'COPY 3');
    assert.deepEqual(provider.sessions[0]!.copied, ['1\ta\n2\tb\n3\tc\n']);
    // CopyFail: the COPY fails with 57014 and the session goes on.
    client.send({ kind: 'query', sql: 'COPY IN' });
    await client.until('G');
    client.send({ kind: 'copyData', data: Buffer.from('x\n') }, { kind: 'copyFail', message: 'client gave up' });
    const failed = await client.until('Z');
    assert.ok(failed[0]?.type === 'E' && failed[0].fields.C === '57014' && /client gave up/.test(failed[0].fields.M!));
    // A failing write reports at once; the client's trailing CopyData/CopyDone are ignored.
    client.send({ kind: 'query', sql: 'COPY IN' });
    await client.until('G');
    client.send(
      { kind: 'copyData', data: Buffer.from('fail\n') },
      { kind: 'copyData', data: Buffer.from('more\n') },
      { kind: 'copyDone' },
    );
    const bad = await client.until('Z');
    assert.ok(bad[0]?.type === 'E' && bad[0].fields.C === '22P04' && bad[0].fields.D === 'line 1');
    client.send({ kind: 'query', sql: 'SELECT 1' });
    assert.equal(types(await client.until('Z')), 'TDCZ');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('COPY TO STDOUT: CopyOutResponse, CopyData per row, CopyDone, CommandComplete', async () => {
  const ts = await startTestServer();
  try {
    const { client } = await RawClient.startup(ts.port);
    client.send({ kind: 'query', sql: 'COPY OUT 3' });
    const ms = await client.until('Z');
    assert.equal(types(ms), 'HdddcCZ');
    const data = ms.flatMap((m) => (m.type === 'd' ? [m.data.toString()] : [])).join('');
    assert.equal(data, '1\trow 1\n2\trow 2\n3\trow 3\n');
    client.end();
  } finally {
    await ts.stop();
  }
});

test('postgres.js COPY streams in and out', async () => {
  const provider = new FakeProvider();
  const ts = await startTestServer({ provider });
  const sql = postgres({
    host: '127.0.0.1',
    port: ts.port,
    user: 'postgres',
    database: 'postgres',
    max: 1,
    fetch_types: false,
  });
  try {
    const writable = await sql.unsafe('COPY IN').writable();
    await pipeline(Readable.from(['10\tx\n', '11\ty\n']), writable);
    assert.deepEqual(provider.sessions.at(-1)!.copied, ['10\tx\n11\ty\n']);
    const readable = await sql.unsafe('COPY OUT 2').readable();
    const chunks: string[] = [];
    for await (const c of readable) chunks.push(String(c));
    assert.equal(chunks.join(''), '1\trow 1\n2\trow 2\n');
  } finally {
    await sql.end({ timeout: 1 });
    await ts.stop();
  }
});
