// Arrays in PostgreSQL's binary format (array_send/array_recv): results
// requested in binary and binary array parameters, with node-postgres
// (`binary: true`), against NextDB and a throw-away PostgreSQL 15 when its
// binaries are installed; plus receive of what send produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startSqlTestServer } from './harness.ts';
import { findPostgres, startPostgres } from '../support/pg-server.ts';
import { Types, arrayOf, type ArrayValue } from '../../src/sql/types/sql-type.ts';
import { Decimal } from '../../src/sql/types/decimal.ts';
import { defaultIoSettings, formatBinary, parseBinary } from '../../src/sql/types/text-io.ts';
import { NextDbError } from '../../src/util/errors.ts';

const QUERY =
  "SELECT ARRAY[1, NULL, -3]::int4[] AS i, ARRAY['a', 'b c', NULL]::text[] AS t, '{}'::int8[] AS e, ARRAY[true, false] AS b, ARRAY[1.5, 2.25]::float8[] AS f";
const EXPECTED = { i: [1, null, -3], t: ['a', 'b c', null], e: [], b: [true, false], f: [1.5, 2.25] };

async function check(port: number): Promise<void> {
  // `binary` (results in binary format) is a node-postgres option its typings leave out.
  const config = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres', binary: true };
  const c = new pg.Client(config);
  await c.connect();
  try {
    assert.deepEqual((await c.query(QUERY)).rows, [EXPECTED]);
  } finally {
    await c.end();
  }
}

test('nextdb: array results in binary format', async () => {
  const ts = await startSqlTestServer();
  try {
    await check(ts.port);
  } finally {
    await ts.stop();
  }
});

test(
  'postgres: array results in binary format',
  { skip: findPostgres() === undefined ? 'PostgreSQL 15 binaries not found' : false },
  async () => {
    const server = await startPostgres(16550 + Math.floor(Math.random() * 40));
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await check(server.port);
          break;
        } catch (e) {
          if (attempt >= 40 || !/starting up|ECONNREFUSED/.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } finally {
      await server.stop();
    }
  },
);

test('binary arrays: receive(send(a)) = a, also in two dimensions; a lower bound other than 1 raises 0A000', () => {
  const io = defaultIoSettings;
  const cases: [ReturnType<typeof arrayOf>, ArrayValue][] = [
    [arrayOf(Types.int4), { kind: 'array', elems: [1, null, -3] }],
    [arrayOf(Types.int8), { kind: 'array', elems: [] }],
    [arrayOf(Types.text), { kind: 'array', elems: ['x', '', null, 'é'] }],
    [arrayOf(Types.numeric), { kind: 'array', elems: [Decimal.parse('12.50')!, null] }],
    [arrayOf(Types.int4), { kind: 'array', elems: [1, 2, null, 4, 5, 6], dims: [2, 3] }],
  ];
  for (const [ty, v] of cases) assert.deepEqual(parseBinary(ty, formatBinary(ty, v, io), io), v);
  // Two dimensions of length 0 with lower bounds 0 (NextDB's arrays always start at 1).
  const twoD = Buffer.alloc(12 + 16 + 4 * 8);
  twoD.writeInt32BE(2, 0);
  twoD.writeUInt32BE(23, 8);
  assert.throws(
    () => parseBinary(arrayOf(Types.int4), twoD, io),
    (e: unknown) => e instanceof NextDbError && e.code === '0A000',
  );
});
