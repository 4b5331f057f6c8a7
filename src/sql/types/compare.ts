/**
 * Ordering, equality and hashing of SQL values of one type (the caller has
 * already cast both sides to a common type). NULL handling is the caller's:
 * these functions never see null.
 *
 * Orders follow PostgreSQL: floats put NaN above everything and -0 = 0;
 * numeric NaN likewise; text compares by code point (the "C" collation,
 * which is also the key codec's byte order); bpchar ignores trailing spaces.
 */

import { Decimal } from './decimal.ts';
import { compareIntervals } from './datetime.ts';
import type { ArrayValue, Interval, JsonBox, JsonValue, SqlType, Value } from './sql-type.ts';
import { formatJsonb } from './text-io.ts';

export type Comparator = (a: Value, b: Value) => number;

function cmpPrimitive(a: Value, b: Value): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function cmpFloat(a: Value, b: Value): number {
  const x = a as number;
  const y = b as number;
  if (x < y) return -1;
  if (x > y) return 1;
  if (x === y) return 0;
  const xn = Number.isNaN(x);
  const yn = Number.isNaN(y);
  return xn === yn ? 0 : xn ? 1 : -1;
}

/** Code-point order (UTF-16 order differs only for astral characters). */
export function cmpText(a: Value, b: Value): number {
  const x = a as string;
  const y = b as string;
  if (x === y) return 0;
  return x < y ? -1 : 1;
}

function cmpBpchar(a: Value, b: Value): number {
  return cmpText((a as string).replace(/ +$/, ''), (b as string).replace(/ +$/, ''));
}

function cmpBytes(a: Value, b: Value): number {
  return Buffer.compare(a as Buffer, b as Buffer);
}

function cmpBool(a: Value, b: Value): number {
  return a === b ? 0 : a ? 1 : -1;
}

function cmpDecimal(a: Value, b: Value): number {
  return (a as Decimal).cmp(b as Decimal);
}

function cmpInterval(a: Value, b: Value): number {
  return compareIntervals(a as Interval, b as Interval);
}

function cmpJsonb(a: Value, b: Value): number {
  return cmpText(formatJsonb((a as JsonBox).json), formatJsonb((b as JsonBox).json));
}

export function comparatorFor(ty: SqlType): Comparator {
  switch (ty.id) {
    case 'float4':
    case 'float8':
      return cmpFloat;
    case 'numeric':
      return cmpDecimal;
    case 'bool':
      return cmpBool;
    case 'bpchar':
      return cmpBpchar;
    case 'text':
    case 'varchar':
    case 'name':
    case 'char':
    case 'unknown':
    case 'uuid':
    case 'json':
      return cmpText;
    case 'bytea':
      return cmpBytes;
    case 'interval':
      return cmpInterval;
    case 'jsonb':
      return cmpJsonb;
    case 'array': {
      const elem = ty.elem === undefined ? undefined : comparatorFor(ty.elem);
      return (a, b) => {
        const x = (a as ArrayValue).elems;
        const y = (b as ArrayValue).elems;
        for (let i = 0; i < Math.min(x.length, y.length); i++) {
          const p = x[i] ?? null;
          const q = y[i] ?? null;
          if (p === null || q === null) {
            if (p !== q) return p === null ? 1 : -1;
            continue;
          }
          const c = elem === undefined ? cmpText(String(p), String(q)) : elem(p, q);
          if (c !== 0) return c;
        }
        if (x.length !== y.length) return x.length - y.length;
        // Same elements: then fewer dimensions first, then shorter dimensions (PostgreSQL's array_cmp).
        const dx = (a as ArrayValue).dims;
        const dy = (b as ArrayValue).dims;
        if (dx === dy) return 0;
        const nx = dx?.length ?? 1;
        const ny = dy?.length ?? 1;
        if (nx !== ny) return nx - ny;
        for (let d = 0; d < nx; d++) if (dx![d] !== dy![d]) return dx![d]! - dy![d]!;
        return 0;
      };
    }
    default:
      return cmpPrimitive;
  }
}

/**
 * A string that is equal for values SQL considers equal (hash joins,
 * GROUP BY, DISTINCT). Type-specific so that 1.0 and 1.00 collide.
 */
export function hashKey(v: Value): string {
  if (v === null) return '\u0000N';
  switch (typeof v) {
    case 'number':
      return v === 0 ? '0' : Number.isNaN(v) ? 'NaN' : String(v);
    case 'bigint':
      return String(v);
    case 'string':
      return `s${v}`;
    case 'boolean':
      return v ? 'T' : 'F';
    default:
      break;
  }
  if (v instanceof Decimal) return v.isNaN ? 'NaN' : v.trimTrailingZeros().toString();
  if (Buffer.isBuffer(v)) return `x${v.toString('hex')}`;
  if ('kind' in v) {
    if (v.kind === 'jsonb') return `j${formatJsonb(v.json as JsonValue)}`;
    return `a[${v.elems.map(hashKey).join('\u0001')}]`;
  }
  return `i${v.months}/${v.days}/${v.micros}`;
}
