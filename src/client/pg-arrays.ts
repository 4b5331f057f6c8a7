/**
 * Array types for the client's postgres.js pools, installed without asking
 * the server.
 *
 * Why: by default postgres.js asks every new connection for the array
 * types (a pg_type query, `fetch_types`) from an async function whose
 * promise it drops. When that query fails (a cluster node that knows no
 * leader during an election, a connection closed during startup, a
 * statement timeout) the rejection is unhandled and Node ends the process
 * (upstream porsager/postgres issues 1192, 1205, 1223; open in 3.4.9). The
 * client therefore turns `fetch_types` off and installs the built-in array
 * types itself: PostgreSQL's array OIDs are fixed, and NextDB uses the same.
 *
 * For each element type E with array type A this sets what postgres.js's
 * own type fetch would: a parser for A (PostgreSQL's array text format into
 * nested JS arrays, elements through E's parser), a serializer for A (JS
 * arrays into that format, elements through E's serializer), and
 * typeArrayMap[E] = A (used by `sql.array`). A parser or serializer the
 * caller configured for A is kept.
 *
 * Limits: arrays of user-defined types (enums, composites) come back as
 * their text; NULL elements are null (postgres.js's own parser returns the
 * string 'NULL'); the box type's ';' delimiter is not handled (box[] is
 * not listed).
 */

import type postgres from 'postgres';

/** [element OID, array OID] of PostgreSQL's built-in types (pg_type.typarray). */
export const BUILTIN_ARRAY_TYPES: readonly (readonly [number, number])[] = [
  [16, 1000], // bool
  [17, 1001], // bytea
  [18, 1002], // char
  [19, 1003], // name
  [20, 1016], // int8
  [21, 1005], // int2
  [23, 1007], // int4
  [25, 1009], // text
  [26, 1028], // oid
  [114, 199], // json
  [142, 143], // xml
  [650, 651], // cidr
  [700, 1021], // float4
  [701, 1022], // float8
  [790, 791], // money
  [829, 1040], // macaddr
  [869, 1041], // inet
  [1042, 1014], // bpchar
  [1043, 1015], // varchar
  [1082, 1182], // date
  [1083, 1183], // time
  [1114, 1115], // timestamp
  [1184, 1185], // timestamptz
  [1186, 1187], // interval
  [1266, 1270], // timetz
  [1560, 1561], // bit
  [1562, 1563], // varbit
  [1700, 1231], // numeric
  [2205, 2210], // regclass
  [2950, 2951], // uuid
  [3614, 3643], // tsvector
  [3802, 3807], // jsonb
];

type Convert = (value: never) => unknown;

interface PoolTypeState {
  parsers: Record<number, Convert | undefined>;
  serializers: Record<number, Convert | undefined>;
  shared?: { typeArrayMap?: Record<number, number> };
}

/** Installs the built-in array types on a pool created with `fetch_types: false`. */
export function installArrayTypes(sql: postgres.Sql): void {
  const o = sql.options as unknown as PoolTypeState;
  const typeArrayMap = o.shared?.typeArrayMap;
  for (const [element, array] of BUILTIN_ARRAY_TYPES) {
    if (o.parsers[array] !== undefined && o.serializers[array] !== undefined) continue;
    const parseElement = o.parsers[element] as ((text: string) => unknown) | undefined;
    const serializeElement = o.serializers[element] as ((value: unknown) => unknown) | undefined;
    o.parsers[array] = ((text: string) => parseArrayText(text, parseElement)) as Convert;
    o.serializers[array] = ((value: unknown) => serializeArray(value, serializeElement)) as Convert;
    if (typeArrayMap !== undefined) typeArrayMap[element] = array;
  }
}

/**
 * Parses PostgreSQL's array text output: `{1,2}`, `{{1,2},{3,4}}`,
 * `{"a b","say \"hi\"",NULL}`, `{}`, with an optional `[lo:hi]=` prefix.
 * Unquoted NULL is null; elements go through `element` (else stay text).
 */
export function parseArrayText(text: string, element?: (text: string) => unknown): unknown[] {
  let i = 0;
  if (text.startsWith('[')) i = text.indexOf('=') + 1;
  const fail = (): never => {
    throw new SyntaxError(`malformed array literal: ${text}`);
  };
  const level = (): unknown[] => {
    if (text[i] !== '{') fail();
    i++;
    const out: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const c = text[i];
      if (c === '{') {
        out.push(level());
      } else if (c === '"') {
        let s = '';
        for (i++; i < text.length && text[i] !== '"'; i++) {
          if (text[i] === '\\') i++;
          s += text[i] ?? '';
        }
        if (text[i] !== '"') fail();
        i++;
        out.push(element === undefined ? s : element(s));
      } else {
        const start = i;
        while (i < text.length && text[i] !== ',' && text[i] !== '}') i++;
        const raw = text.slice(start, i);
        out.push(raw.toUpperCase() === 'NULL' ? null : element === undefined ? raw : element(raw));
      }
      if (text[i] === ',') {
        i++;
      } else if (text[i] === '}') {
        i++;
        return out;
      } else {
        return fail();
      }
    }
  };
  const value = level();
  if (i !== text.length) fail();
  return value;
}

/**
 * Writes a JS array in PostgreSQL's array input format: every element
 * quoted and escaped, null as NULL, nested arrays as nested braces. A value
 * that is not an array (already a literal) passes through.
 */
export function serializeArray(value: unknown, element?: (value: unknown) => unknown): unknown {
  if (!Array.isArray(value)) return value;
  const parts = value.map((v: unknown): string => {
    if (v === null) return 'NULL';
    if (v === undefined) throw new TypeError('undefined is not allowed in an array parameter; use null');
    if (Array.isArray(v)) return serializeArray(v, element) as string;
    const s = String(element === undefined ? v : element(v));
    return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${parts.join(',')}}`;
}
