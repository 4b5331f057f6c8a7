// The protocol v3 codec (src/wire): frontend messages captured from real
// clients (pg, postgres.js, psql, pgbench; ../shared/corpus/client-wire) are
// encoded, split into arbitrary chunks and parsed back; a fast-check property
// does the same for arbitrary messages; malformed input must raise a
// ProtocolError (never another exception); backend replies round-trip
// through BackendWriter -> BackendParser, including every error field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { FrontendParser } from '../../src/wire/frontend-parser.ts';
import { FrontendWriter } from '../../src/wire/frontend-writer.ts';
import { BackendWriter } from '../../src/wire/backend-writer.ts';
import { BackendParser, type BackendMessage } from '../../src/wire/backend-parser.ts';
import { ProtocolError } from '../../src/wire/protocol-error.ts';
import { RequestCode, type FrontendMessage } from '../../src/wire/frontend-messages.ts';
import { Prng } from '../../src/util/prng.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { corpusPath } from '../support/corpus.ts';

const corpusDir = corpusPath('client-wire') + '/';

type CorpusLine = Record<string, unknown> & { type?: string };

/** Maps one captured frontend line to the message it describes (Bind values are not captured; we supply some). */
function fromCorpus(line: CorpusLine): FrontendMessage {
  switch (line.type) {
    case 'StartupMessage':
      return {
        kind: 'startup',
        protocolVersion: RequestCode.protocol30,
        params: line.params as Record<string, string>,
      };
    case 'SSLRequest':
      return { kind: 'sslRequest' };
    case 'Q':
      return { kind: 'query', sql: line.Query as string };
    case 'P': {
      const p = line.Parse as { name: string; sql: string; nParamTypes: number };
      return { kind: 'parse', name: p.name, sql: p.sql, paramTypes: Array.from({ length: p.nParamTypes }, () => 23) };
    }
    case 'B': {
      const b = line.Bind as { portal: string; statement: string; paramFormatCodes: (0 | 1)[]; nParams: number };
      const params = Array.from({ length: b.nParams }, (_, i) => (i % 3 === 2 ? null : Buffer.from(String(i + 41))));
      return {
        kind: 'bind',
        portal: b.portal,
        statement: b.statement,
        paramFormats: b.paramFormatCodes,
        params,
        resultFormats: [],
      };
    }
    case 'D': {
      const d = line.Describe as { kind: 'S' | 'P'; name: string };
      return { kind: 'describe', target: d.kind, name: d.name };
    }
    case 'E': {
      const e = line.Execute as { portal: string; maxRows: number };
      return { kind: 'execute', portal: e.portal, maxRows: e.maxRows };
    }
    case 'S':
      return { kind: 'sync' };
    case 'H':
      return { kind: 'flush' };
    case 'X':
      return { kind: 'terminate' };
    default:
      throw new Error(`corpus line type ${String(line.type)} not mapped`);
  }
}

/** Feeds `bytes` to a parser in chunks cut by `prng`; returns every message. */
function parseChunked(bytes: Buffer, prng: Prng, parser = new FrontendParser()): FrontendMessage[] {
  const out: FrontendMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = Math.min(bytes.length - at, prng.chance(0.3) ? 1 : prng.range(1, 64));
    parser.push(bytes.subarray(at, at + n));
    at += n;
    for (let m = parser.next(); m !== undefined; m = parser.next()) out.push(m);
  }
  assert.equal(parser.bufferedBytes, 0);
  return out;
}

const normalize = (m: FrontendMessage): unknown =>
  JSON.parse(JSON.stringify(m, (_k, v: unknown) => (v instanceof Buffer ? v.toString('hex') : v)));

test('captured client traffic round-trips through the frontend codec, in any chunking', () => {
  const files = readdirSync(corpusDir).filter((f) => f.endsWith('.frontend.jsonl'));
  assert.ok(files.length >= 5, 'corpus present');
  let messages = 0;
  for (const file of files) {
    const lines = readFileSync(corpusDir + file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as CorpusLine);
    const byConn = new Map<number, FrontendMessage[]>();
    for (const l of lines) {
      const list = byConn.get(l.conn as number) ?? [];
      list.push(fromCorpus(l));
      byConn.set(l.conn as number, list);
    }
    for (const [conn, msgs] of byConn) {
      const w = new FrontendWriter();
      for (const m of msgs) w.add(m);
      const bytes = w.take();
      for (let seed = 1; seed <= 5; seed++) {
        const parsed = parseChunked(bytes, new Prng(seed * 7919 + conn));
        assert.deepEqual(parsed.map(normalize), msgs.map(normalize), `${file} conn ${conn} seed ${seed}`);
      }
      messages += msgs.length;
    }
  }
  assert.ok(messages >= 50, `parsed ${messages} captured messages`);
});

const formatArb = fc.constantFrom(0 as const, 1 as const);
const nameArb = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0'));
const bytesArb = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
const typedMessageArb: fc.Arbitrary<FrontendMessage> = fc.oneof(
  nameArb.map((sql) => ({ kind: 'query' as const, sql })),
  fc.record({
    kind: fc.constant('parse' as const),
    name: nameArb,
    sql: nameArb,
    paramTypes: fc.array(fc.nat({ max: 0x7fffffff }), { maxLength: 5 }),
  }),
  fc.record({
    kind: fc.constant('bind' as const),
    portal: nameArb,
    statement: nameArb,
    paramFormats: fc.array(formatArb, { maxLength: 4 }),
    params: fc.array(fc.option(bytesArb, { nil: null }), { maxLength: 4 }),
    resultFormats: fc.array(formatArb, { maxLength: 4 }),
  }),
  fc.record({
    kind: fc.constant('describe' as const),
    target: fc.constantFrom('S' as const, 'P' as const),
    name: nameArb,
  }),
  fc.record({
    kind: fc.constant('close' as const),
    target: fc.constantFrom('S' as const, 'P' as const),
    name: nameArb,
  }),
  fc.record({ kind: fc.constant('execute' as const), portal: nameArb, maxRows: fc.nat({ max: 1000 }) }),
  fc.constantFrom<FrontendMessage>({ kind: 'sync' }, { kind: 'flush' }, { kind: 'copyDone' }, { kind: 'terminate' }),
  bytesArb.map((data) => ({ kind: 'copyData' as const, data })),
  bytesArb.map((data) => ({ kind: 'password' as const, data })),
  nameArb.map((message) => ({ kind: 'copyFail' as const, message })),
);

test('property: any message sequence round-trips (encode, chunk at random, parse)', () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        nameArb.filter((s) => s !== ''),
        nameArb,
        { maxKeys: 4 },
      ),
      fc.array(typedMessageArb, { maxLength: 20 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      (params, typed, seed) => {
        const msgs: FrontendMessage[] = [
          { kind: 'sslRequest' },
          { kind: 'startup', protocolVersion: RequestCode.protocol30, params },
          ...typed,
        ];
        const w = new FrontendWriter();
        for (const m of msgs) w.add(m);
        const parsed = parseChunked(w.take(), new Prng(seed));
        assert.deepEqual(parsed.map(normalize), msgs.map(normalize));
      },
    ),
    { numRuns: 300 },
  );
});

function expectProtocolError(bytes: Buffer, pattern: RegExp, startup = false): void {
  const p = new FrontendParser({ maxMessageBytes: 1024 });
  if (!startup)
    p.push(
      new FrontendWriter()
        .add({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: { user: 'u' } })
        .take(),
    );
  if (!startup) assert.equal(p.next()?.kind, 'startup');
  p.push(bytes);
  assert.throws(
    () => p.next(),
    (e: unknown) => e instanceof ProtocolError && e.code.length === 5 && pattern.test(e.message),
  );
  // Poisoned: the same error again, never a different exception.
  assert.throws(() => p.next(), ProtocolError);
}

const typed = (type: string, body: Buffer, len = body.length + 4): Buffer => {
  const b = Buffer.alloc(5);
  b.write(type, 0, 'latin1');
  b.writeInt32BE(len, 1);
  return Buffer.concat([b, body]);
};

test('malformed frontend input raises ProtocolError', () => {
  expectProtocolError(typed('Q', Buffer.from('x'), 3), /invalid message length 3/);
  expectProtocolError(typed('Q', Buffer.alloc(0), 2000), /exceeds the limit of 1024/);
  expectProtocolError(typed('Z', Buffer.alloc(0)), /invalid frontend message type/);
  expectProtocolError(typed('Q', Buffer.from('no terminator')), /not terminated/);
  expectProtocolError(typed('Q', Buffer.from('a\0b')), /trailing bytes/);
  expectProtocolError(typed('S', Buffer.from([1])), /Sync.*trailing/);
  expectProtocolError(typed('E', Buffer.from('p\0')), /Execute.*truncated/);
  expectProtocolError(typed('D', Buffer.from('Xname\0')), /Describe message subtype/);
  const bind = Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 0, 0x7f, 0xff])]);
  expectProtocolError(typed('B', bind), /count 32767 exceeds/);
  const negLen = Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe])]);
  expectProtocolError(typed('B', negLen), /negative length/);
  // Startup phase: bad lengths, oversize packets, protocol 2.
  const start = (len: number, code: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(len, 0);
    b.writeInt32BE(code, 4);
    return b;
  };
  expectProtocolError(start(4, 0), /invalid length of startup packet/, true);
  expectProtocolError(start(20000, RequestCode.protocol30), /invalid length of startup packet/, true);
  expectProtocolError(start(8, 2 << 16), /unsupported frontend protocol 2\.0/, true);
  expectProtocolError(
    Buffer.concat([start(12, RequestCode.protocol30), Buffer.from('ab\0\0')]),
    /not terminated|truncated/,
    true,
  );
  expectProtocolError(start(8, RequestCode.cancel), /truncated/, true);
});

test('property: random bytes never throw anything but ProtocolError', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.uint8Array({ maxLength: 200 }), (startup, bytes) => {
      const p = new FrontendParser({ maxMessageBytes: 4096 });
      if (!startup) {
        p.push(
          new FrontendWriter().add({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: {} }).take(),
        );
        p.next();
      }
      p.push(Buffer.from(bytes));
      try {
        while (p.next() !== undefined);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('backend replies of PostgreSQL 15 (captured startup + SELECT 1) encode and decode identically', () => {
  const lines = readFileSync(corpusDir + 'postgresql-15.18-server.backend.jsonl', 'utf8')
    .split('\n')
    .filter(Boolean);
  const w = new BackendWriter();
  for (const l of lines) {
    const m = JSON.parse(l) as Record<string, unknown>;
    switch (m.backend) {
      case 'R':
        w.authenticationOk();
        break;
      case 'S': {
        const [n, v] = m.ParameterStatus as [string, string];
        w.parameterStatus(n, v);
        break;
      }
      case 'K':
        w.backendKeyData(1234, -5);
        break;
      case 'Z':
        w.readyForQuery(m.ReadyForQuery as 'I');
        break;
      case 'T':
        w.rowDescription([{ name: '?column?', tableOid: 0, columnAttr: 0, typeOid: 23, typeSize: 4, typeMod: -1 }]);
        break;
      case 'D':
        w.dataRow([Buffer.from('1')]);
        break;
      case 'C':
        w.commandComplete(m.CommandComplete as string);
        break;
    }
  }
  const bytes = w.take();
  const p = new BackendParser();
  p.push(bytes);
  const out: BackendMessage[] = [];
  for (let m = p.next(); m !== undefined; m = p.next()) out.push(m);
  assert.deepEqual(
    out.map((m) => m.type),
    lines.map((l) => (JSON.parse(l) as { backend: string }).backend),
  );
  const row = out.find((m) => m.type === 'D');
  assert.ok(row?.type === 'D');
  // The capture records DataRow's length field: 11 for one 1-byte value.
  const dLen = (JSON.parse(lines.find((l) => l.includes('"D"'))!) as { len: number }).len;
  const dAt = bytes.indexOf(Buffer.from([0x44, 0, 0, 0]));
  assert.equal(bytes.readInt32BE(dAt + 1), dLen);
  const k = out.find((m) => m.type === 'K');
  assert.deepEqual(k, { type: 'K', processId: 1234, secretKey: -5 });
});

test('ErrorResponse carries every NextDbError field; RowDescription honours format codes', () => {
  const err = new NextDbError('23505', 'duplicate key value violates unique constraint "t_pkey"', {
    detail: 'Key (id)=(1) already exists.',
    hint: 'try another id',
    position: 17,
    schema: 'public',
    table: 't',
    column: 'id',
    constraint: 't_pkey',
  });
  const w = new BackendWriter()
    .errorResponse(err)
    .noticeResponse({ severity: 'NOTICE', code: '00000', message: 'skipping' });
  const cols = [
    { name: 'a', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeMod: -1 },
    { name: 'b', tableOid: 16384, columnAttr: 2, typeOid: 25, typeSize: -1, typeMod: -1 },
  ];
  w.rowDescription(cols, [1]).rowDescription(cols, [0, 1]).rowDescription(cols);
  w.dataRow([null, Buffer.alloc(0)])
    .parameterDescription([23, 0xffffffff])
    .copyInResponse(0, [0, 0])
    .copyData(Buffer.from('1\tx\n'))
    .copyDone();
  w.authenticationSasl(['SCRAM-SHA-256'])
    .authenticationMd5Password(Buffer.from([1, 2, 3, 4]))
    .portalSuspended()
    .emptyQueryResponse();
  const p = new BackendParser();
  p.push(w.take());
  const out: BackendMessage[] = [];
  for (let m = p.next(); m !== undefined; m = p.next()) out.push(m);
  assert.deepEqual(out[0], {
    type: 'E',
    fields: {
      S: 'ERROR',
      V: 'ERROR',
      C: '23505',
      M: err.message,
      D: err.detail,
      H: 'try another id',
      P: '17',
      s: 'public',
      t: 't',
      c: 'id',
      n: 't_pkey',
    },
  });
  assert.deepEqual(out[1], { type: 'N', fields: { S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'skipping' } });
  const formats = out.slice(2, 5).map((m) => (m.type === 'T' ? m.fields.map((f) => f.format) : []));
  assert.deepEqual(formats, [
    [1, 1],
    [0, 1],
    [0, 0],
  ]);
  assert.deepEqual(out[5], { type: 'D', values: [null, Buffer.alloc(0)] });
  assert.deepEqual(out[6], { type: 't', typeOids: [23, 0xffffffff] });
  assert.deepEqual(
    out.slice(7).map((m) => m.type),
    ['G', 'd', 'c', 'R', 'R', 's', 'I'],
  );
  const sasl = out[10];
  assert.ok(sasl?.type === 'R' && sasl.code === 10);
  assert.equal(sasl.data.toString('latin1'), 'SCRAM-SHA-256\0\0');
});

test('RowDescription of one columns array is encoded once per uniform format and stays right for every format', () => {
  const cols = [
    { name: 'aid', tableOid: 16390, columnAttr: 1, typeOid: 23, typeSize: 4, typeMod: -1 },
    { name: 'filler', tableOid: 16390, columnAttr: 4, typeOid: 1042, typeSize: -1, typeMod: 88 },
  ];
  const w = new BackendWriter();
  const asked: (readonly (0 | 1)[])[] = [[], [0], [1], [0, 0], [1, 1], [0, 1], [1, 0], [], [1]];
  for (const f of asked) w.rowDescription(cols, f);
  // A second array with the same content but another identity (a different statement) is described by its own content.
  const other = cols.map((c) => ({ ...c, name: c.name.toUpperCase() }));
  w.rowDescription(other, []);
  const p = new BackendParser();
  p.push(w.take());
  const out: BackendMessage[] = [];
  for (let m = p.next(); m !== undefined; m = p.next()) out.push(m);
  assert.equal(out.length, asked.length + 1);
  const expected = (f: readonly number[], i: number): number => (f.length === 0 ? 0 : f.length === 1 ? f[0]! : f[i]!);
  asked.forEach((f, k) => {
    const m = out[k];
    assert.ok(m?.type === 'T');
    assert.deepEqual(
      m.fields.map((x) => [x.name, x.tableOid, x.columnAttr, x.typeOid, x.typeSize, x.typeMod, x.format]),
      cols.map((c, i) => [c.name, c.tableOid, c.columnAttr, c.typeOid, c.typeSize, c.typeMod, expected(f, i)]),
      `formats ${JSON.stringify(f)}`,
    );
  });
  const last = out[asked.length];
  assert.ok(last?.type === 'T');
  assert.deepEqual(
    last.fields.map((x) => x.name),
    ['AID', 'FILLER'],
  );
});

test('Bind parameters and CopyData are decoded without a copy and have the right bytes in any chunking', () => {
  const startup = new FrontendWriter()
    .add({ kind: 'startup', protocolVersion: RequestCode.protocol30, params: { user: 'u' } })
    .take();
  const params = [Buffer.from('42'), null, Buffer.alloc(0), Buffer.from([0, 1, 2])];
  const body = new FrontendWriter()
    .add({ kind: 'bind', portal: '', statement: 'P_0', paramFormats: [0], params, resultFormats: [] })
    .add({ kind: 'copyData', data: Buffer.from('1\tx\n') })
    .take();
  const bytes = Buffer.concat([startup, body]);
  for (let seed = 1; seed <= 20; seed++) {
    const msgs = parseChunked(bytes, new Prng(seed));
    assert.equal(msgs[0]?.kind, 'startup');
    const bind = msgs[1];
    assert.ok(bind?.kind === 'bind');
    assert.deepEqual(bind.params, params);
    assert.equal(bind.statement, 'P_0');
    assert.equal(bind.portal, '');
    const copy = msgs[2];
    assert.ok(copy?.kind === 'copyData');
    assert.equal(copy.data.toString(), '1\tx\n');
  }
  // Unsplit input: the values are views of the pushed chunk itself.
  const p = new FrontendParser();
  p.push(bytes);
  p.next();
  const bind = p.next();
  assert.ok(bind?.kind === 'bind');
  assert.equal(bind.params[0]?.buffer, bytes.buffer);
});

test('Bind statement names: a repeated name is reused, prefixes, longer names, non-ASCII and empty names decode right', () => {
  const names = ['P0_1', 'P0_1', 'P0_10', 'P0_1', 'P0_', '', 'P0_1', 'é', 'é', 'ée', 'x'.repeat(300), 'x'.repeat(300)];
  const w = new FrontendWriter();
  w.add({ kind: 'startup', protocolVersion: 196608, params: { user: 'u' } });
  for (const statement of names)
    w.add({ kind: 'bind', portal: '', statement, paramFormats: [], params: [], resultFormats: [] });
  const p = new FrontendParser();
  p.push(w.take());
  assert.equal(p.next()?.kind, 'startup');
  const got: string[] = [];
  for (let m = p.next(); m !== undefined; m = p.next()) if (m.kind === 'bind') got.push(m.statement);
  assert.deepEqual(got, names);
});
