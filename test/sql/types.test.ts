// Property tests of the SQL value layer against simple models:
// - Decimal arithmetic vs exact rational arithmetic on bigints;
// - the row codec round-trips every type;
// - index key encoding (table-store) orders like the SQL comparator;
// - binary send/receive round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Decimal } from '../../src/sql/types/decimal.ts';
import { Types, arrayOf, type SqlType, type Value } from '../../src/sql/types/sql-type.ts';
import { encodeRow, decodeRow } from '../../src/sql/row-codec.ts';
import { comparatorFor, hashKey } from '../../src/sql/types/compare.ts';
import { writeKeyValue } from '../../src/sql/exec/table-store.ts';
import { KeyWriter } from '../../src/encoding/key-codec.ts';
import {
  formatBinary,
  parseBinary,
  formatFloat,
  formatText,
  parseText,
  defaultIoSettings,
} from '../../src/sql/types/text-io.ts';

const decimalArb = fc
  .tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), fc.integer({ min: 0, max: 12 }))
  .map(([c, s]) => Decimal.of(c, s));

/** Exact value of a decimal as a fraction num/den. */
function frac(d: Decimal): [bigint, bigint] {
  return [d.coef, 10n ** BigInt(d.scale)];
}

test('Decimal add/sub/mul are exact; cmp agrees with fractions', () => {
  fc.assert(
    fc.property(decimalArb, decimalArb, (a, b) => {
      const [an, ad] = frac(a);
      const [bn, bd] = frac(b);
      const same = (d: Decimal, n: bigint, den: bigint): boolean => {
        const [x, y] = frac(d);
        return x * den === n * y;
      };
      assert.ok(same(a.add(b), an * bd + bn * ad, ad * bd));
      assert.ok(same(a.sub(b), an * bd - bn * ad, ad * bd));
      assert.ok(same(a.mul(b), an * bn, ad * bd));
      const c = an * bd - bn * ad;
      assert.equal(a.cmp(b), c < 0n ? -1 : c > 0n ? 1 : 0);
      assert.equal(Decimal.parse(a.toString())!.cmp(a), 0);
    }),
  );
});

test('Decimal division is within half a unit of the result scale', () => {
  fc.assert(
    fc.property(decimalArb, decimalArb, (a, b) => {
      fc.pre(b.sign() !== 0);
      const q = a.div(b);
      // |a/b - q| <= 0.5 * 10^-scale  ⇔  |a*10^s*2 - q.coef*b*2| <= b (in common units)
      const [an, ad] = frac(a);
      const [bn, bd] = frac(b);
      const s = 10n ** BigInt(q.scale);
      const lhs = an * bd * s * 2n - q.coef * ad * bn * 2n;
      const bound = ad * (bn < 0n ? -bn : bn);
      assert.ok((lhs < 0n ? -lhs : lhs) <= bound, `${a} / ${b} = ${q}`);
    }),
  );
});

const TYPES: [SqlType, fc.Arbitrary<Value>][] = [
  [Types.bool, fc.boolean()],
  [Types.int4, fc.integer()],
  [Types.int8, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })],
  [Types.float8, fc.double({ noNaN: true })],
  [Types.numeric, decimalArb],
  [Types.text, fc.string()],
  [Types.bytea, fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u))],
  [Types.timestamptz, fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n })],
  [Types.date, fc.integer({ min: -100000, max: 100000 })],
  [
    arrayOf(Types.int4),
    fc.array(fc.option(fc.integer(), { nil: null })).map((elems) => ({ kind: 'array', elems }) as Value),
  ],
];

test('row codec round-trips rows of every type, NULLs included', () => {
  const types = TYPES.map(([t]) => t);
  fc.assert(
    fc.property(fc.tuple(...TYPES.map(([, arb]) => fc.option(arb, { nil: null }))), (row) => {
      const back = decodeRow(types, encodeRow(types, row as Value[]));
      row.forEach((v, i) => {
        if (v === null) assert.equal(back[i], null);
        else assert.equal(hashKey(back[i]!), hashKey(v as Value), `column ${types[i]!.name}`);
      });
    }),
  );
});

test('index key bytes order like the SQL comparator', () => {
  for (const [ty, arb] of TYPES.filter(([t]) => t.id !== 'array' && t.id !== 'bool')) {
    const cmp = comparatorFor(ty);
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const ka = new KeyWriter();
        writeKeyValue(ka, ty, a);
        const kb = new KeyWriter();
        writeKeyValue(kb, ty, b);
        const byKey = Math.sign(Buffer.compare(ka.finish(), kb.finish()));
        assert.equal(byKey, Math.sign(cmp(a, b)), `${ty.name}: ${String(a)} vs ${String(b)}`);
      }),
    );
  }
});

test('binary format round-trips', () => {
  for (const [ty, arb] of TYPES.filter(([t]) => t.id !== 'array')) {
    fc.assert(
      fc.property(arb, (v) => {
        const back = parseBinary(ty, formatBinary(ty, v, defaultIoSettings), defaultIoSettings);
        assert.equal(hashKey(back), hashKey(ty.id === 'numeric' ? (v as Decimal) : v), ty.name);
      }),
    );
  }
});

test('float text output is shortest-exact and reads back', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const s = formatFloat(v, false);
      assert.equal(Object.is(Number(s), v) || (v === 0 && Number(s) === 0), true, s);
      // -0 reads back as -0 (PostgreSQL prints and parses '-0'); either zero is fine for a zero.
      const back = parseText(Types.float8, s, defaultIoSettings);
      assert.ok(Object.is(back, v) || (v === 0 && back === 0), s);
    }),
  );
  assert.equal(formatFloat(1e15, false), '1e+15');
  assert.equal(formatFloat(123456789012345, false), '123456789012345');
  assert.equal(formatFloat(1e-5, false), '1e-05');
  assert.equal(formatFloat(Math.fround(3.14), true), '3.14');
  assert.equal(
    formatText(Types.interval, { months: 14, days: -1, micros: 3_723_000_000n }, defaultIoSettings),
    '1 year 2 mons -1 days +01:02:03',
  );
});
