// Bind reads a text int4/int2 parameter of plain digits from its bytes (SqlSession.bind, smallIntBytes) and
// hands everything else to parseText. Each case here binds the same text as int4 and as int2 and checks the
// result (value or SQLSTATE) is what parseText gives for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/index.ts';
import { NextDbError } from '../../src/util/errors.ts';
import { parseText, defaultIoSettings } from '../../src/sql/types/text-io.ts';
import { Types } from '../../src/sql/types/sql-type.ts';

const cases = [
  '0',
  '42',
  '-0',
  '+7',
  '-17',
  '32767',
  '32768',
  '-32768',
  '-32769',
  '123456789',
  '-999999999',
  '1234567890',
  '2147483648',
  ' 5',
  '5 ',
  '',
  '-',
  '+',
  '1e3',
  'x',
  '٣',
  '00000000012',
];

function expected(ty: typeof Types.int4, text: string): string {
  try {
    return String(parseText(ty, text, defaultIoSettings));
  } catch (e) {
    return e instanceof NextDbError ? `error ${e.code}` : `bug ${String(e)}`;
  }
}

test('text int4 / int2 parameters bind to what parseText gives', async () => {
  const engine = await SqlEngine.open({ engine: new MemoryEngine() });
  const s = engine.createSession({ user: 'postgres', database: 'postgres' });
  try {
    await s.prepare('p', 'SELECT $1::int4 AS a, $2::int2 AS b', [Types.int4.oid, Types.int2.oid]);
    for (const text of cases) {
      for (const [pos, ty] of [
        [0, Types.int4],
        [1, Types.int2],
      ] as const) {
        const params = pos === 0 ? [Buffer.from(text), Buffer.from('1')] : [Buffer.from('1'), Buffer.from(text)];
        let got: string;
        try {
          s.bind('', 'p', [], params, []);
          const r = await s.execute('', 0);
          got = r.rows![0]![pos]!.toString('utf8');
        } catch (e) {
          got = e instanceof NextDbError ? `error ${e.code}` : `bug ${String(e)}`;
        }
        assert.equal(got, expected(ty, text), `${ty.name} ${JSON.stringify(text)}`);
        s.sync();
      }
    }
  } finally {
    await s.close();
    await engine.close();
  }
});
