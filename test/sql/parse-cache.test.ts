// The parse cache of src/sql/parser.ts: parseSql with its exact-text and
// literal-normalizing caches must give exactly what a fresh libpg_query parse
// gives (same AST including every location, same statement text and offset),
// for texts that hit, miss, or are refused by the normalizing lexer.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSync } from 'pgsql-parser';
import { clearParseCache, loadParser, parseCacheStats, parseSql } from '../../src/sql/parser.ts';
import { NextDbError } from '../../src/util/errors.ts';

before(async () => {
  await loadParser();
});

/** What parseSql must return: a fresh parse, with texts and character offsets cut from the statement ranges. */
function reference(sql: string): { stmt: unknown; text: string; offset: number }[] {
  const bytes = Buffer.from(sql, 'utf8');
  return (parseSync(sql).stmts ?? []).map((raw) => {
    const start = raw.stmt_location ?? 0;
    const len = raw.stmt_len ?? 0;
    return {
      stmt: raw.stmt,
      text: (len === 0 ? bytes.subarray(start) : bytes.subarray(start, start + len)).toString('utf8'),
      offset: bytes.subarray(0, start).toString('utf8').length,
    };
  });
}

function check(sql: string): void {
  const got = parseSql(sql).map((s) => ({ stmt: s.stmt, text: s.text, offset: s.offset }));
  assert.deepStrictEqual(got, reference(sql), sql);
}

// ---- generators: each produces the same statement shape three times with independent literal values,
// so the second and third texts usually hit the template the first one made.

type Three = [string, string, string];
const three = (a: fc.Arbitrary<string>): fc.Arbitrary<Three> => fc.tuple(a, a, a);
const map3 = (t: Three, f: (s: string) => string): Three => [f(t[0]), f(t[1]), f(t[2])];
const join3 = (parts: Three[], sep: string): Three => [0, 1, 2].map((i) => parts.map((p) => p[i]!).join(sep)) as Three;

const smallInt = fc.integer({ min: 0, max: 2147483647 }).map(String);
const bigInt = fc.bigInt({ min: 2147483648n, max: 10n ** 25n }).map(String);
const anyInt = fc.oneof(smallInt, bigInt, fc.constantFrom('0', '2147483647', '2147483648', '007'));
const floatText = fc.oneof(
  fc.tuple(smallInt, smallInt).map(([a, b]) => `${a}.${b}`),
  smallInt.map((a) => `.${a}`),
  smallInt.map((a) => `${a}.`),
  fc
    .tuple(smallInt, fc.constantFrom('e', 'E', 'e+', 'e-'), fc.integer({ min: 0, max: 300 }))
    .map(([a, e, x]) => `${a}${e}${x}`),
  fc.tuple(smallInt, smallInt, fc.integer({ min: 0, max: 30 })).map(([a, b, x]) => `${a}.${b}e-${x}`),
);
const strChar = fc.constantFrom('a', 'b', ' ', "'", '\\', '"', '-', '/', '*', '$', ';', '\n', 'é', '€', '𝄞', '0');
const stringText = fc.array(strChar, { maxLength: 12 }).map((cs) => `'${cs.join('').replaceAll("'", "''")}'`);
const escapeString = fc
  .array(fc.constantFrom('a', "\\'", '\\\\', '\\n', "''", ' '), { maxLength: 6 })
  .map((cs) => `E'${cs.join('')}'`);
const sign = fc.constantFrom('', '-', '- ', '+', '-  ');

/** One literal slot: same kind in all three texts, values drawn independently. */
const literal: fc.Arbitrary<Three> = fc.oneof(
  three(anyInt),
  fc.tuple(sign, three(anyInt)).map(([s, t]) => map3(t, (v) => s + v)),
  fc.tuple(sign, three(floatText)).map(([s, t]) => map3(t, (v) => s + v)),
  three(stringText),
  three(escapeString),
  three(fc.constantFrom('NULL', 'TRUE', 'FALSE')),
  three(stringText).map((t) => map3(t, (v) => `${v}::int`)),
  three(smallInt).map((t) => map3(t, (v) => `'${v}'::int4`)),
  three(smallInt).map((t) => map3(t, (v) => `CAST(${v} AS text)`)),
  three(stringText).map((t) => map3(t, (v) => `date ${v}`)),
  three(
    fc.constantFrom(
      "B'101'",
      "X'1F'",
      '0x1F',
      '0X_ff',
      '0o17',
      '0b1_01',
      '1_000',
      '1_000.000_1',
      '.5_5',
      '1e1_0',
      '0x',
      '1__0',
      '12abc',
      '0b12',
      '$$d$$',
      '$t$x$t$',
    ),
  ),
);

const comment = fc.constantFrom('', ' /* c */ ', ' /* a /* nested */ b */ ', ' -- line\n', '\n');

const expr: fc.Arbitrary<Three> = fc.oneof(
  literal,
  fc.tuple(literal, fc.constantFrom('+', '-', '*', '=', '<>', '||')).map(([l, op]) => map3(l, (v) => `a ${op} ${v}`)),
  fc.tuple(literal, literal).map(([l, r]) => [0, 1, 2].map((i) => `${l[i]} - ${r[i]}`) as Three),
  fc.array(literal, { minLength: 1, maxLength: 4 }).map((ls) => map3(join3(ls, ', '), (v) => `a IN (${v})`)),
  fc.array(literal, { minLength: 1, maxLength: 3 }).map((ls) => map3(join3(ls, ','), (v) => `ARRAY[${v}]`)),
  fc.tuple(literal, comment).map(([l, c]) => map3(l, (v) => `${c}${v}${c}`)),
);

const statement: fc.Arbitrary<Three> = fc.oneof(
  fc.array(expr, { minLength: 1, maxLength: 4 }).map((es) => map3(join3(es, ', '), (v) => `SELECT ${v}`)),
  fc
    .tuple(expr, literal)
    .map(([e, l]) => [0, 1, 2].map((i) => `SELECT abalance FROM t WHERE ${e[i]} AND b = ${l[i]}`) as Three),
  fc
    .array(literal, { minLength: 1, maxLength: 4 })
    .map((ls) => map3(join3(ls, ', '), (v) => `INSERT INTO t VALUES (${v})`)),
  fc
    .tuple(literal, literal)
    .map(([a, b]) => [0, 1, 2].map((i) => `UPDATE t SET x = x + ${a[i]} WHERE k = ${b[i]}`) as Three),
  fc
    .tuple(literal, literal)
    .map(([a, b]) => [0, 1, 2].map((i) => `SELECT a FROM t LIMIT ${a[i]} OFFSET ${b[i]}`) as Three),
);

/** Constructs where the grammar consumes a literal in other ways (typmods, folded signs, options, FETCH counts). */
const special: fc.Arbitrary<Three> = fc.oneof(
  three(fc.integer({ min: 1, max: 60 }).map(String)).map((t) =>
    map3(t, (v) => `SELECT a::varchar(${v}), 1.5::numeric(${v}, 2)`),
  ),
  three(fc.integer({ min: 1, max: 60 }).map(String)).map((t) => map3(t, (v) => `SELECT CAST(a AS float(${v}))`)),
  three(fc.integer({ min: 0, max: 12 }).map(String)).map((t) =>
    map3(t, (v) => `SELECT interval(${v}) '1 day', timestamp(${v}) '2020-01-01'`),
  ),
  three(stringText).map((t) => map3(t, (v) => `SET TIME ZONE ${v}`)),
  fc.tuple(sign, three(floatText)).map(([sg, t]) => map3(t, (v) => `SET TIME ZONE ${sg}${v}`)),
  three(stringText).map((t) => map3(t, (v) => `SET search_path = ${v}, public`)),
  three(smallInt).map((t) => map3(t, (v) => `SET statement_timeout = ${v}`)),
  three(smallInt).map((t) => map3(t, (v) => `FETCH ${v} FROM c`)),
  three(smallInt).map((t) => map3(t, (v) => `SELECT a FROM t FETCH FIRST ${v} ROWS ONLY`)),
  three(smallInt).map((t) => map3(t, (v) => `SELECT a FROM t ORDER BY ${v}`)),
  three(smallInt).map((t) => map3(t, (v) => `CREATE TABLE t (a int DEFAULT ${v}, b int[${v}])`)),
  three(smallInt).map((t) => map3(t, (v) => `CREATE SEQUENCE s START ${v} INCREMENT -${v}`)),
  three(stringText).map((t) => map3(t, (v) => `COMMENT ON TABLE t IS ${v}`)),
  three(stringText).map((t) => map3(t, (v) => `SELECT extract(${v} FROM now()), a LIKE ${v} ESCAPE '!'`)),
  three(stringText).map((t) => map3(t, (v) => `NOTIFY ch, ${v}`)),
  fc
    .tuple(literal, literal)
    .map(
      ([a, b]) =>
        [0, 1, 2].map((i) => `SELECT CASE WHEN a BETWEEN ${a[i]} AND ${b[i]} THEN f(${a[i]}, -${b[i]}) END`) as Three,
    ),
  fc
    .tuple(literal, literal)
    .map(
      ([a, b]) =>
        [0, 1, 2].map((i) => `WITH w AS (SELECT ${a[i]} AS x) SELECT * FROM w WHERE x = (SELECT ${b[i]})`) as Three,
    ),
  fc
    .tuple(literal, literal)
    .map(([a, b]) => [0, 1, 2].map((i) => `VALUES (${a[i]}, ${b[i]}), (${b[i]}, ${a[i]})`) as Three),
  three(smallInt).map((t) => map3(t, (v) => `SELECT $1 + ${v}, a[${v}:${v}] FROM t`)),
  fc
    .tuple(literal, literal)
    .map(
      ([a, b]) =>
        [0, 1, 2].map((i) => `SELECT café1 + ${a[i]}, "𝄞€" || ${b[i]} FROM "tÿ" /* ü */ WHERE ä = ${a[i]}`) as Three,
    ),
);

const query: fc.Arbitrary<Three> = fc
  .tuple(
    fc.array(fc.oneof(statement, special), { minLength: 1, maxLength: 3 }),
    fc.constantFrom(';', '; ', ';\n', ' ; '),
    fc.boolean(),
  )
  .map(([ss, sep, trailing]) => map3(join3(ss, sep), (v) => (trailing ? v + ';' : v)));

test('parse cache: cached parses equal fresh parses (property, seeded)', () => {
  clearParseCache();

  fc.assert(
    fc.property(query, (texts) => {
      for (const sql of [...texts, texts[0]]) {
        let fresh = true;
        try {
          reference(sql);
        } catch {
          fresh = false;
        }
        // A syntax error: parseSql must throw 42601 too (never cached).
        if (fresh) check(sql);
        else
          assert.throws(
            () => parseSql(sql),
            (e: unknown) => e instanceof NextDbError && e.code === '42601',
          );
      }
    }),
    {
      seed: Number(process.env['PARSE_CACHE_SEED'] ?? 20261126),
      numRuns: Number(process.env['PARSE_CACHE_RUNS'] ?? 800),
    },
  );
  const stats = parseCacheStats();
  assert.ok(stats.templateHits > 100, `the normalizing cache was used: ${JSON.stringify(stats)}`);
  assert.equal(stats.templateMismatches, 0, 'no template needed its first-hit check');
});

test('parse cache: pgbench -S texts share one template and keep their own values and texts', () => {
  clearParseCache();
  for (const aid of [1, 12345, 99999, 7, 2147483647, 0]) {
    const sql = `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;
    check(sql);
    const [s] = parseSql(sql);
    assert.equal(s?.text, sql.slice(0, -1));
  }
  const st = parseCacheStats();
  assert.deepEqual([st.exact, st.templates, st.templateHits], [0, 1, 11]);
  // Another class (outside int4) is another template; a string literal a third.
  check('SELECT abalance FROM pgbench_accounts WHERE aid = 2147483648;');
  check("SELECT abalance FROM pgbench_accounts WHERE aid = 'x';");
  assert.equal(parseCacheStats().templates, 3);
});

test('parse cache: several statements shift later offsets and texts', () => {
  clearParseCache();
  check("SELECT 1, 'a'; INSERT INTO t VALUES (2, 'bb') ; SELECT 3");
  check("SELECT 100000, 'a''b'; INSERT INTO t VALUES (2222, '') ; SELECT 33333333");
  check("SELECT 9, 'é'; INSERT INTO t VALUES (2, 'bb') ; SELECT 3");
  check("SELECT 1 /* 'x' 5 */, 'a' -- 7\n; SELECT $$ 'a' 1 $$, 2");
});

test('parse cache: folded minus signs and int4 bounds', () => {
  clearParseCache();
  for (const v of ['5', '0', '2147483647', '2147483648', '1.5', '9999999999999']) {
    check(`SELECT a FROM t WHERE a = -${v} AND b = - ${v} AND c = 1 - ${v}`);
    check(`SELECT - - ${v}, -(${v}), +${v}`);
  }
  check('SELECT -2147483648');
  check('SELECT -2147483649');
  assert.equal(parseCacheStats().templateMismatches, 0);
});

test('parse cache: a hit returns a copy (callers may change it)', () => {
  clearParseCache();
  const a = parseSql('SELECT a FROM t WHERE a = 1')[0]!;
  (a.stmt as { SelectStmt: { whereClause?: unknown } }).SelectStmt.whereClause = undefined;
  check('SELECT a FROM t WHERE a = 1'); // exact text
  const b = parseSql('SELECT a FROM t WHERE a = 2')[0]!;
  (b.stmt as { SelectStmt: { whereClause?: unknown } }).SelectStmt.whereClause = undefined;
  check('SELECT a FROM t WHERE a = 3'); // template
});

test('parse cache: syntax errors keep their position whatever is cached', () => {
  clearParseCache();
  parseSql('SELECT a FROM t WHERE a = 1');
  for (const [sql, position] of [
    ['SELECT a FROM t WHERE a = 1 AND', 32],
    ["SELECT a FROM t WHERE a = 'x", 27],
    ['SELECT a FROM t WHERE a = 12abc', 27],
    ['SELECT a FROM t WHERE a = 1 1', 29],
  ] as const) {
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => parseSql(sql),
        (e: unknown) => e instanceof NextDbError && e.code === '42601' && e.position === position,
        sql,
      );
    }
  }
});

test('parse cache: bounded by entry count', () => {
  clearParseCache();
  for (let i = 0; i < 1200; i++) parseSql(`SELECT a${i} FROM t`);
  assert.ok(parseCacheStats().exact <= 1000);
  check('SELECT a5 FROM t');
  check('SELECT a1199 FROM t');
});
