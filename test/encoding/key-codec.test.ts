// Property and edge-case tests of the order-preserving key codec.
//
// The model: SQL order written out independently of the codec (bigint
// comparison for ints, PostgreSQL float order with NaN last and -0 == 0,
// exact rational comparison for decimals, code point order for text,
// unsigned byte order for bytea, NULL first ascending), lifted to tuples with
// a per-column ASC/DESC flag. Properties checked against it:
//  1. byte order of encoded keys == model order (single values of each kind
//     and mixed composite keys with random directions);
//  2. decode(encode(x)) == x under SQL equality, reading every column back;
//  3. prefix: a key extending a tuple sorts between the tuple's key and
//     prefixSuccessor of it, and a key not extending it sorts outside;
//  4. strictness: decoding random or mutated bytes either throws a
//     NextDbError with SQLSTATE XX001 or yields a value that re-encodes to
//     exactly the bytes consumed (no two encodings of one value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyReader, KeyWriter, prefixSuccessor, type KeyValueKind } from '../../src/encoding/index.ts';
import { NextDbError, SqlState } from '../../src/util/errors.ts';

const RUNS = 1000;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

type Value =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly v: boolean }
  | { readonly kind: 'int'; readonly v: bigint; readonly asNumber: boolean }
  | { readonly kind: 'float'; readonly v: number }
  | { readonly kind: 'decimal'; readonly v: string }
  | { readonly kind: 'string'; readonly v: string }
  | { readonly kind: 'bytes'; readonly v: Uint8Array };

type ColumnKind = Exclude<KeyValueKind, 'null'>;

interface Column {
  readonly kind: ColumnKind;
  readonly desc: boolean;
}

// ---- the model ----------------------------------------------------------

const sign = (x: number): number => (x < 0 ? -1 : x > 0 ? 1 : 0);

/** A finite decimal as m x 10^-scale, parsed independently of the codec. */
function modelDecimal(text: string): { m: bigint; scale: number } | 'nan' | 'inf' | '-inf' {
  if (text === 'NaN') return 'nan';
  if (text === 'Infinity') return 'inf';
  if (text === '-Infinity') return '-inf';
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:e(-?\d+))?$/.exec(text);
  assert.ok(match, `model cannot parse ${text}`);
  const frac = match[3] ?? '';
  const digits = (match[2] ?? '') + frac;
  const m = BigInt(digits === '' ? '0' : digits) * (match[1] === '-' ? -1n : 1n);
  return { m, scale: frac.length - Number(match[4] ?? '0') };
}

function compareDecimal(a: string, b: string): number {
  const rank = (x: ReturnType<typeof modelDecimal>): number =>
    x === '-inf' ? 0 : x === 'inf' ? 2 : x === 'nan' ? 3 : 1;
  const x = modelDecimal(a);
  const y = modelDecimal(b);
  if (rank(x) !== rank(y) || typeof x === 'string' || typeof y === 'string') return sign(rank(x) - rank(y));
  const s = Math.max(x.scale, y.scale);
  const l = x.m * 10n ** BigInt(s - x.scale);
  const r = y.m * 10n ** BigInt(s - y.scale);
  return l < r ? -1 : l > r ? 1 : 0;
}

function compareFloat(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return sign(x[i]! - y[i]!);
  return sign(x.length - y.length);
}

function compareByteArrays(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return sign(a[i]! - b[i]!);
  return sign(a.length - b.length);
}

function compareValue(a: Value, b: Value): number {
  // NULL sorts first (ascending), and equals NULL for ordering purposes.
  if (a.kind === 'null' || b.kind === 'null') return Number(b.kind === 'null') - Number(a.kind === 'null');
  if (a.kind === 'bool' && b.kind === 'bool') return Number(a.v) - Number(b.v);
  if (a.kind === 'int' && b.kind === 'int') return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  if (a.kind === 'float' && b.kind === 'float') return compareFloat(a.v, b.v);
  if (a.kind === 'decimal' && b.kind === 'decimal') return compareDecimal(a.v, b.v);
  if (a.kind === 'string' && b.kind === 'string') return compareCodePoints(a.v, b.v);
  if (a.kind === 'bytes' && b.kind === 'bytes') return compareByteArrays(a.v, b.v);
  throw new Error(`model compares ${a.kind} with ${b.kind}`);
}

function compareTuple(cols: readonly Column[], a: readonly Value[], b: readonly Value[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValue(a[i]!, b[i]!);
    if (c !== 0) return cols[i]!.desc ? -c : c;
  }
  return sign(a.length - b.length);
}

// ---- codec glue ------------------------------------------------------------

function put(w: KeyWriter, x: Value, desc: boolean): void {
  switch (x.kind) {
    case 'null':
      w.null(desc);
      return;
    case 'bool':
      w.bool(x.v, desc);
      return;
    case 'int':
      w.int(x.asNumber ? Number(x.v) : x.v, desc);
      return;
    case 'float':
      w.float(x.v, desc);
      return;
    case 'decimal':
      w.decimal(x.v, desc);
      return;
    case 'string':
      w.string(x.v, desc);
      return;
    case 'bytes':
      w.bytes(x.v, desc);
      return;
  }
}

function encode(cols: readonly Column[], row: readonly Value[], w = new KeyWriter(8)): Buffer {
  w.reset();
  row.forEach((x, i) => put(w, x, cols[i]!.desc));
  return w.finish();
}

function get(r: KeyReader, kind: ColumnKind, desc: boolean): Value {
  if (r.peekKind() === 'null') {
    r.null(desc);
    return { kind: 'null' };
  }
  assert.equal(r.peekKind(), kind);
  switch (kind) {
    case 'bool':
      return { kind, v: r.bool(desc) };
    case 'int':
      return { kind, v: r.int(desc), asNumber: false };
    case 'float':
      return { kind, v: r.float(desc) };
    case 'decimal':
      return { kind, v: r.decimal(desc) };
    case 'string':
      return { kind, v: r.string(desc) };
    case 'bytes':
      return { kind, v: r.bytes(desc) };
  }
}

// ---- generators --------------------------------------------------------------

const intArb = fc
  .oneof(
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    fc.bigInt({ min: -70000n, max: 70000n }),
    fc.constantFrom(
      INT64_MIN,
      INT64_MAX,
      0n,
      -1n,
      1n,
      255n,
      256n,
      -256n,
      -257n,
      2n ** 53n,
      -(2n ** 53n),
      2n ** 53n - 1n,
      2n ** 56n,
    ),
  )
  .chain((v) =>
    fc.record({
      kind: fc.constant('int' as const),
      v: fc.constant(v),
      asNumber: Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? fc.boolean() : fc.constant(false),
    }),
  );

const floatArb = fc
  .oneof(
    fc.double(),
    fc.constantFrom(0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, 1, -1),
    fc.integer({ min: -3, max: 3 }),
  )
  .map((v) => ({ kind: 'float' as const, v }));

/** Decimal text in the forms PostgreSQL accepts: plain, with trailing zeros, with an exponent. */
const decimalArb = fc
  .oneof(
    { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity', '0', '-0.000', '1e-1000', '-1e-1000') },
    {
      weight: 8,
      arbitrary: fc
        .record({
          m: fc.oneof(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.bigInt({ min: -120n, max: 120n })),
          scale: fc.oneof(fc.integer({ min: -30, max: 30 }), fc.integer({ min: -2000, max: 2000 })),
          form: fc.constantFrom('plain', 'padded', 'exp'),
        })
        .map(({ m, scale, form }) => {
          const neg = m < 0n;
          const digits = (neg ? -m : m).toString();
          let text: string;
          if (form === 'exp') text = `${digits}e${-scale}`;
          else if (scale <= 0) text = digits + '0'.repeat(-scale) + (form === 'padded' ? '.00' : '');
          else {
            const p = digits.padStart(scale + 1, '0');
            text = `${p.slice(0, p.length - scale)}.${p.slice(p.length - scale)}${form === 'padded' ? '000' : ''}`;
          }
          return (neg ? '-' : '') + text;
        }),
    },
  )
  .map((v) => ({ kind: 'decimal' as const, v }));

const stringArb = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc
      .array(fc.constantFrom('\0', '\u0001', 'a', 'ab', '\u00ff', '\uffff', '\u{10000}', '\ue000'), { maxLength: 6 })
      .map((p) => p.join('')),
  )
  .map((v) => ({ kind: 'string' as const, v }));

const bytesArb = fc
  .oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.array(fc.constantFrom(0x00, 0x01, 0xfe, 0xff), { maxLength: 6 }).map((a) => Uint8Array.from(a)),
  )
  .map((v) => ({ kind: 'bytes' as const, v }));

const boolArb = fc.boolean().map((v) => ({ kind: 'bool' as const, v }));

const valueArbs: Record<ColumnKind, fc.Arbitrary<Value>> = {
  bool: boolArb,
  int: intArb,
  float: floatArb,
  decimal: decimalArb,
  string: stringArb,
  bytes: bytesArb,
};

const kindArb = fc.constantFrom<ColumnKind>('bool', 'int', 'float', 'decimal', 'string', 'bytes');
const columnArb = fc.record({ kind: kindArb, desc: fc.boolean() });

function valueOf(col: Column): fc.Arbitrary<Value> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<Value>({ kind: 'null' }) },
    { weight: 6, arbitrary: valueArbs[col.kind] },
  );
}

const rowOf = (cols: readonly Column[]): fc.Arbitrary<Value[]> => fc.tuple(...cols.map(valueOf));

/** A schema and two rows; the second often shares a prefix of the first so ties get exercised. */
const schemaAndRows = fc.array(columnArb, { minLength: 1, maxLength: 4 }).chain((cols) =>
  fc.record({
    cols: fc.constant(cols),
    a: rowOf(cols),
    b: rowOf(cols),
    shared: fc.integer({ min: 0, max: cols.length }),
  }),
);

const show = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) =>
    typeof v === 'bigint'
      ? `${v}n`
      : v instanceof Uint8Array
        ? Buffer.from(v).toString('hex')
        : Number.isNaN(v)
          ? 'NaN'
          : Object.is(v, -0)
            ? '-0'
            : v,
  );

// ---- properties ---------------------------------------------------------------

for (const kind of ['bool', 'int', 'float', 'decimal', 'string', 'bytes'] as const) {
  test(`key codec: byte order equals SQL order for ${kind} (asc and desc, with NULL)`, () => {
    const col = (desc: boolean): Column => ({ kind, desc });
    fc.assert(
      fc.property(valueOf(col(false)), valueOf(col(false)), fc.boolean(), (a, b, desc) => {
        const cols = [col(desc)];
        const got = sign(Buffer.compare(encode(cols, [a]), encode(cols, [b])));
        assert.equal(got, compareTuple(cols, [a], [b]), `${show(a)} vs ${show(b)} desc=${desc}`);
      }),
      { numRuns: RUNS },
    );
  });
}

test('key codec: composite keys with random directions order like tuples', () => {
  const w = new KeyWriter(4);
  fc.assert(
    fc.property(schemaAndRows, ({ cols, a, b, shared }) => {
      const b2 = [...a.slice(0, shared), ...b.slice(shared)];
      const got = sign(Buffer.compare(encode(cols, a, w), encode(cols, b2, w)));
      assert.equal(got, compareTuple(cols, a, b2), `${show(cols)} ${show(a)} vs ${show(b2)}`);
    }),
    { numRuns: RUNS * 2 },
  );
});

test('key codec: decode(encode(x)) equals x under SQL equality', () => {
  fc.assert(
    fc.property(
      fc
        .array(columnArb, { minLength: 1, maxLength: 5 })
        .chain((cols) => fc.tuple(fc.constant(cols), rowOf(cols), fc.uint8Array({ maxLength: 3 }))),
      ([cols, row, prefix]) => {
        const w = new KeyWriter().raw(prefix);
        row.forEach((x, i) => put(w, x, cols[i]!.desc));
        const key = w.finish();
        const r = new KeyReader(key, prefix.length);
        const back = cols.map((c) => get(r, c.kind, c.desc));
        assert.ok(r.done());
        assert.equal(r.offset, key.length);
        back.forEach((x, i) => {
          assert.equal(compareValue(x, row[i]!), 0, `${show(row[i])} came back as ${show(x)}`);
          // Ints, strings and bytes come back exactly; decimals in canonical form.
          if (x.kind === 'string') assert.equal(x.v, (row[i] as typeof x).v);
          if (x.kind === 'float') assert.ok(!Object.is(x.v, -0));
        });
        // skip() walks the same boundaries.
        const s = new KeyReader(key, prefix.length);
        for (const c of cols) s.skip(c.desc);
        assert.ok(s.done());
      },
    ),
    { numRuns: RUNS },
  );
});

test('key codec: prefixSuccessor bounds exactly the keys extending a tuple', () => {
  fc.assert(
    fc.property(schemaAndRows, fc.boolean(), ({ cols, a, b, shared }, copy) => {
      const prefixCols = cols.slice(0, Math.max(1, shared));
      const p = encode(prefixCols, a.slice(0, prefixCols.length));
      const other = copy ? [...a.slice(0, prefixCols.length), ...b.slice(prefixCols.length)] : b;
      const k = encode(cols, other);
      const succ = prefixSuccessor(p);
      const extends_ = compareTuple(prefixCols, a.slice(0, prefixCols.length), other.slice(0, prefixCols.length)) === 0;
      const inside = Buffer.compare(k, p) >= 0 && (succ === undefined || Buffer.compare(k, succ) < 0);
      assert.equal(inside, extends_, `${show(a)} / ${show(other)}`);
    }),
    { numRuns: RUNS },
  );
});

test('key codec: decoding random and mutated bytes is strict', () => {
  const kinds: KeyValueKind[] = ['null', 'bool', 'int', 'float', 'decimal', 'string', 'bytes'];
  const mutated = fc
    .tuple(
      columnArb.chain((c) => fc.tuple(fc.constant(c), valueOf(c))),
      fc.nat(),
      fc.nat({ max: 255 }),
    )
    .map(([[c, x], i, byte]) => {
      const k = encode([c], [x]);
      k[i % k.length] = byte;
      return k;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 24 }), mutated), fc.boolean(), (bytes, desc) => {
      const r = new KeyReader(bytes);
      let kind: KeyValueKind;
      try {
        kind = r.peekKind();
      } catch (e) {
        assert.ok(e instanceof NextDbError && e.code === SqlState.dataCorrupted, String(e));
        return;
      }
      assert.ok(kinds.includes(kind));
      let value: Value;
      try {
        value = kind === 'null' ? (r.null(desc), { kind: 'null' }) : get(r, kind, desc);
      } catch (e) {
        assert.ok(e instanceof NextDbError && e.code === SqlState.dataCorrupted, String(e));
        return;
      }
      // Whatever decoded must be the one encoding of that value.
      const again = new KeyWriter();
      put(again, value, desc);
      assert.deepEqual(again.finish(), Buffer.from(bytes.subarray(0, r.offset)), show(value));
    }),
    { numRuns: RUNS * 3 },
  );
});

// ---- explicit edge cases -----------------------------------------------------------

const hex = (f: (w: KeyWriter) => void): string => {
  const w = new KeyWriter();
  f(w);
  return w.finish().toString('hex');
};

test('key codec: int edge cases and int64 range', () => {
  const order = [
    INT64_MIN,
    INT64_MIN + 1n,
    -(2n ** 53n),
    -257n,
    -256n,
    -1n,
    0n,
    1n,
    255n,
    256n,
    2n ** 53n,
    INT64_MAX - 1n,
    INT64_MAX,
  ];
  for (let i = 1; i < order.length; i++) {
    const a = new KeyWriter().int(order[i - 1]!).finish();
    const b = new KeyWriter().int(order[i]!).finish();
    assert.ok(Buffer.compare(a, b) < 0, `${order[i - 1]} < ${order[i]}`);
  }
  for (const v of order) assert.equal(new KeyReader(new KeyWriter().int(v, true).finish()).int(true), v);
  assert.equal(
    hex((w) => w.int(0)),
    '28',
  );
  assert.equal(
    hex((w) => w.int(1)),
    '2901',
  );
  assert.equal(
    hex((w) => w.int(-1)),
    '27ff',
  );
  assert.equal(
    hex((w) => w.int(INT64_MAX)),
    '307fffffffffffffff',
  );
  assert.equal(
    hex((w) => w.int(INT64_MIN)),
    '208000000000000000',
  );
  // Number and bigint inputs of the same value encode identically (int2/4/8 share the format).
  assert.equal(
    hex((w) => w.int(-70000)),
    hex((w) => w.int(-70000n)),
  );
  assert.throws(() => new KeyWriter().int(INT64_MAX + 1n), RangeError);
  assert.throws(() => new KeyWriter().int(INT64_MIN - 1n), RangeError);
  assert.throws(() => new KeyWriter().int(1.5), RangeError);
  assert.throws(() => new KeyWriter().int(2 ** 64), RangeError);
  // Non-minimal forms are rejected: 1 written with two bytes, 0 as a one-byte positive.
  for (const bad of ['2a0001', '2900', '26ff80']) {
    assert.throws(
      () => new KeyReader(Buffer.from(bad, 'hex')).int(),
      (e: unknown) => e instanceof NextDbError && e.code === SqlState.dataCorrupted,
    );
  }
});

test('key codec: float edge cases follow PostgreSQL order', () => {
  const order = [
    -Infinity,
    -Number.MAX_VALUE,
    -1,
    -Number.MIN_VALUE,
    0,
    Number.MIN_VALUE,
    1,
    Number.MAX_VALUE,
    Infinity,
    NaN,
  ];
  const keys = order.map((v) => new KeyWriter().float(v).finish());
  for (let i = 1; i < keys.length; i++)
    assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0, `${order[i - 1]} < ${order[i]}`);
  assert.deepEqual(new KeyWriter().float(-0).finish(), new KeyWriter().float(0).finish());
  assert.ok(Object.is(new KeyReader(new KeyWriter().float(-0).finish()).float(), 0));
  // Every NaN payload is the canonical NaN.
  const odd = Buffer.from('7ff0000000000001', 'hex').readDoubleBE(0);
  assert.deepEqual(new KeyWriter().float(odd).finish(), new KeyWriter().float(NaN).finish());
  assert.ok(Number.isNaN(new KeyReader(new KeyWriter().float(NaN, true).finish()).float(true)));
});

test('key codec: decimal edge cases', () => {
  const eq = (a: string, b: string): void =>
    assert.deepEqual(new KeyWriter().decimal(a).finish(), new KeyWriter().decimal(b).finish(), `${a} == ${b}`);
  const lt = (a: string, b: string): void =>
    assert.ok(
      Buffer.compare(new KeyWriter().decimal(a).finish(), new KeyWriter().decimal(b).finish()) < 0,
      `${a} < ${b}`,
    );
  eq('1.0', '1');
  eq('-12.340', '-1.234e1');
  eq('0', '-0.000');
  eq('  5 ', '5');
  eq('inf', 'Infinity');
  lt('0', '1e-1000');
  lt('-1e-1000', '0');
  lt('0.12', '0.121');
  lt('-0.121', '-0.12');
  lt('99', '100');
  lt('-100', '-99');
  lt('-Infinity', '-1e131000');
  lt('1e131000', 'Infinity');
  lt('Infinity', 'NaN');
  const back = (s: string): string => new KeyReader(new KeyWriter().decimal(s, true).finish()).decimal(true);
  assert.equal(back('-12.340'), '-12.34');
  assert.equal(back('1.5e3'), '1500');
  assert.equal(back('0.00100'), '0.001');
  assert.equal(back('1e-1000'), `0.${'0'.repeat(999)}1`);
  assert.equal(back('nan'), 'NaN');
  assert.equal(back('-inf'), '-Infinity');
  for (const bad of ['', '1.2.3', 'abc', '1e', '--1', '0x10']) {
    assert.throws(
      () => new KeyWriter().decimal(bad),
      (e: unknown) => e instanceof NextDbError && e.code === SqlState.invalidTextRepresentation,
      bad,
    );
  }
  for (const big of ['1e131073', '1e-16384', '1e99999999999999999999']) {
    assert.throws(
      () => new KeyWriter().decimal(big),
      (e: unknown) => e instanceof NextDbError && e.code === SqlState.numericValueOutOfRange,
      big,
    );
  }
});

test('key codec: string and bytes edge cases', () => {
  const order = ['', '\0', '\0\0', '\0a', 'a', 'a\0', 'a\0b', 'ab', 'b', '\u00e9', '\uffff', '\u{10000}'];
  const keys = order.map((v) => new KeyWriter().string(v).finish());
  for (let i = 1; i < keys.length; i++)
    assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0, `${show(order[i - 1])} < ${show(order[i])}`);
  assert.equal(
    hex((w) => w.string('')),
    '600001',
  );
  assert.equal(
    hex((w) => w.string('a\0')),
    '606100ff0001',
  );
  for (const v of order) assert.equal(new KeyReader(new KeyWriter().string(v, true).finish()).string(true), v);
  const bytes = Uint8Array.from([0, 255, 0, 1]);
  assert.deepEqual(
    new KeyReader(new KeyWriter().bytes(bytes, true).bytes(bytes).finish()).bytes(true),
    Buffer.from(bytes),
  );
  // A long string grows the writer's buffer.
  const long = 'x\0'.repeat(5000);
  assert.equal(new KeyReader(new KeyWriter(1).string(long).finish()).string(), long);
  // Malformed: bad escape, missing terminator, invalid UTF-8.
  for (const bad of ['60610002', '6061', '60ff0001']) {
    assert.throws(
      () => new KeyReader(Buffer.from(bad, 'hex')).string(),
      (e: unknown) => e instanceof NextDbError && e.code === SqlState.dataCorrupted,
      bad,
    );
  }
});

test('key codec: NULL first ascending, last descending; tags identify kind and direction', () => {
  const asc = [
    new KeyWriter().null().finish(),
    new KeyWriter().bool(false).finish(),
    new KeyWriter().int(INT64_MIN).finish(),
  ];
  assert.ok(asc.every((k) => Buffer.compare(asc[0]!, k) <= 0));
  const desc = [
    new KeyWriter().null(true).finish(),
    new KeyWriter().string('\u{10ffff}', true).finish(),
    new KeyWriter().int(INT64_MAX, true).finish(),
  ];
  assert.ok(desc.every((k) => Buffer.compare(desc[0]!, k) >= 0));
  const w = new KeyWriter()
    .null(true)
    .bool(true)
    .int(7, true)
    .float(1.5)
    .decimal('2', true)
    .string('s')
    .bytes(new Uint8Array(1), true);
  const r = new KeyReader(w.finish());
  const seen: string[] = [];
  while (!r.done()) {
    const d = r.peekDesc();
    seen.push(`${r.peekKind()}${d ? '-' : '+'}`);
    r.skip(d);
  }
  assert.deepEqual(seen, ['null-', 'bool+', 'int-', 'float+', 'decimal-', 'string+', 'bytes-']);
  // Reading with the wrong direction or kind is corruption, not garbage.
  assert.throws(() => new KeyReader(new KeyWriter().int(1).finish()).int(true), NextDbError);
  assert.throws(() => new KeyReader(new KeyWriter().int(1).finish()).string(), NextDbError);
  assert.throws(() => new KeyReader(Buffer.from([0x7f])).peekKind(), NextDbError);
  assert.throws(() => new KeyReader(Buffer.alloc(0)).peekKind(), NextDbError);
});

test('key codec: writer reuse and prefixSuccessor', () => {
  const w = new KeyWriter();
  const a = w.raw(Buffer.from('t1/')).int(5).finish();
  const b = w.reset().raw(Buffer.from('t1/')).int(5).finish();
  assert.deepEqual(a, b);
  assert.equal(w.length, a.length);
  assert.deepEqual(prefixSuccessor(Buffer.from([1, 0xff])), Buffer.from([2]));
  assert.equal(prefixSuccessor(Buffer.from([0xff, 0xff])), undefined);
  assert.equal(prefixSuccessor(Buffer.alloc(0)), undefined);
});
