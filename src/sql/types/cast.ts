/**
 * Casts between SQL types, with PostgreSQL's three contexts:
 *
 *   implicit    used silently in expressions (int4 → int8, varchar → text, date → timestamp)
 *   assignment  also allowed when storing into a column (int8 → int4, numeric → int, any → text)
 *   explicit    CAST(x AS t) / x::t: anything with an I/O conversion
 *
 * `castFunction` returns a function, or undefined when the cast is not
 * allowed in the context; the binder turns undefined into 42846/42804.
 * Casts check ranges (22003), round numerics half away from zero and floats
 * to even (as PostgreSQL does), and apply typmods (varchar(n) raises 22001
 * on overflow except in explicit casts, which truncate).
 */

import { DATE_INFINITY, DATE_NEG_INFINITY, dateToTimestamp, isInfiniteDate, isInfiniteTs } from './datetime.ts';
import { withElems } from './array-dims.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { Decimal } from './decimal.ts';
import { MICROS_PER_DAY, localToUtc, zoneOffsetSeconds, MICROS_PER_SECOND } from './datetime.ts';
import type { ArrayValue, JsonBox, SqlType, Value } from './sql-type.ts';
import { isNumericType } from './sql-type.ts';
import { formatText, parseText, outOfRange, type IoSettings } from './text-io.ts';

export type CastContext = 'implicit' | 'assignment' | 'explicit';
export type CastFn = (v: Value, io: IoSettings) => Value;

const NUM_RANK: Record<string, number> = { int2: 1, int4: 2, int8: 3, numeric: 4, float4: 5, float8: 6 };

export function checkInt4(v: number): number {
  if (v > 2147483647 || v < -2147483648) throw outOfRange('integer');
  return v;
}
export function checkInt2(v: number): number {
  if (v > 32767 || v < -32768) throw outOfRange('smallint');
  return v;
}
export function checkInt8(v: bigint): bigint {
  if (v > 9223372036854775807n || v < -9223372036854775808n) throw outOfRange('bigint');
  return v;
}

/** rint(): round half to even, as PostgreSQL's float → int casts do. */
function rint(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

function toBig(v: Value, from: SqlType): bigint {
  switch (from.id) {
    case 'int2':
    case 'int4':
      return BigInt(v as number);
    case 'int8':
      return v as bigint;
    case 'numeric':
      return (v as Decimal).toBigIntRounded();
    default: {
      const f = v as number;
      if (!Number.isFinite(f)) throw outOfRange('bigint');
      return BigInt(rint(f));
    }
  }
}

function toNumericValue(v: Value, from: SqlType): Decimal {
  switch (from.id) {
    case 'int2':
    case 'int4':
      return Decimal.fromInt(v as number);
    case 'int8':
      return Decimal.fromBigInt(v as bigint);
    case 'numeric':
      return v as Decimal;
    case 'float4':
      return Decimal.fromFloat(v as number, 6);
    default:
      return Decimal.fromFloat(v as number, 15);
  }
}

function toFloatValue(v: Value, from: SqlType): number {
  switch (from.id) {
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      return v as number;
    case 'int8':
      return Number(v as bigint);
    default:
      return (v as Decimal).toNumber();
  }
}

/** Applies a numeric(p,s) typmod: rounds to s and checks the precision. */
export function applyNumericTypmod(d: Decimal, typmod: number): Decimal {
  if (typmod < 0 || d.isNaN) return d;
  const m = typmod - 4;
  const p = m >> 16;
  const s = m & 0xffff;
  const r = d.round(s);
  if (r.integerDigits() > p - s) {
    throw new NextDbError(SqlState.numericValueOutOfRange, 'numeric field overflow', {
      detail: `A field with precision ${p}, scale ${s} must round to an absolute value less than ${s === p ? '1' : `10^${p - s}`}.`,
    });
  }
  return r;
}

function applyStringTypmod(s: string, to: SqlType, ctx: CastContext): string {
  if (to.typmod < 0) return s;
  const n = to.typmod - 4;
  const len = [...s].length;
  if (len > n) {
    const cut = [...s].slice(0, n).join('');
    if (ctx === 'explicit' || /^ *$/.test([...s].slice(n).join(''))) return to.id === 'bpchar' ? cut : cut;
    throw new NextDbError(
      '22001',
      `value too long for type ${to.id === 'bpchar' ? 'character' : 'character varying'}(${n})`,
    );
  }
  if (to.id === 'bpchar' && len < n) return s + ' '.repeat(n - len);
  return s;
}

/** oid and its reg* aliases (regclass, regtype, regproc, regnamespace): an OID number as the value. */
export function isOidLike(ty: SqlType): boolean {
  return (
    ty.id === 'oid' || ty.id === 'regclass' || ty.id === 'regtype' || ty.id === 'regproc' || ty.id === 'regnamespace'
  );
}

function isString(ty: SqlType): boolean {
  return (
    ty.id === 'text' ||
    ty.id === 'varchar' ||
    ty.id === 'bpchar' ||
    ty.id === 'name' ||
    ty.id === 'unknown' ||
    ty.id === 'char'
  );
}

/** The cast context in which PostgreSQL allows from → to (undefined: only explicit via I/O, or never). */
function castKind(from: SqlType, to: SqlType): CastContext | undefined {
  if (from.oid === to.oid) return 'implicit';
  if (from.id === 'unknown') return 'implicit';
  if (isNumericType(from) && isNumericType(to)) {
    return (NUM_RANK[from.id] ?? 0) < (NUM_RANK[to.id] ?? 0) ? 'implicit' : 'assignment';
  }
  if ((from.id === 'int2' || from.id === 'int4' || from.id === 'int8') && isOidLike(to)) return 'implicit';
  if (isOidLike(from) && (isOidLike(to) || to.id === 'int8' || to.id === 'int4')) return 'implicit';
  if (isString(from) && isString(to)) {
    if (to.id === 'text' || to.id === 'varchar' || to.id === 'bpchar' || to.id === 'name') return 'implicit';
    return 'assignment';
  }
  if (isString(from) && isOidLike(to) && to.id !== 'oid') return 'implicit';
  if (from.id === 'date' && (to.id === 'timestamp' || to.id === 'timestamptz')) return 'implicit';
  if (from.id === 'timestamp' && to.id === 'timestamptz') return 'implicit';
  if (from.id === 'timestamptz' && (to.id === 'timestamp' || to.id === 'date' || to.id === 'time')) return 'assignment';
  if (from.id === 'timestamp' && (to.id === 'date' || to.id === 'time')) return 'assignment';
  if (from.id === 'time' && to.id === 'interval') return 'implicit';
  if (from.id === 'json' && to.id === 'jsonb') return 'assignment';
  if (from.id === 'jsonb' && to.id === 'json') return 'assignment';
  if (from.id === 'bool' && to.id === 'int4') return 'explicit';
  if (from.id === 'int4' && to.id === 'bool') return 'explicit';
  // Anything → string is an assignment cast via the output function.
  if (to.id === 'text' || to.id === 'varchar' || to.id === 'bpchar' || to.id === 'name') return 'assignment';
  if (isString(from)) return 'explicit';
  if (from.id === 'array' && to.id === 'array') return 'explicit';
  return undefined;
}

const RANK_ORDER: Record<CastContext, number> = { implicit: 0, assignment: 1, explicit: 2 };

export function canCast(from: SqlType, to: SqlType, ctx: CastContext): boolean {
  const k = castKind(from, to);
  return k !== undefined && RANK_ORDER[k] <= RANK_ORDER[ctx];
}

/** The conversion function, or undefined when PostgreSQL has no such cast in `ctx`. */
export function castFunction(from: SqlType, to: SqlType, ctx: CastContext): CastFn | undefined {
  if (!canCast(from, to, ctx)) return undefined;
  const base = baseCast(from, to, ctx);
  if (to.typmod >= 0 && to.id === 'numeric') {
    return (v, io) => applyNumericTypmod(base(v, io) as Decimal, to.typmod);
  }
  if (to.typmod >= 0 && (to.id === 'varchar' || to.id === 'bpchar')) {
    return (v, io) => applyStringTypmod(base(v, io) as string, to, ctx);
  }
  return base;
}

function baseCast(from: SqlType, to: SqlType, ctx: CastContext): CastFn {
  if (from.oid === to.oid && from.id !== 'bpchar') return (v) => v;
  if (isNumericType(from) && isNumericType(to)) {
    switch (to.id) {
      case 'int2':
        return (v) => {
          const b = toBig(v, from);
          if (b > 32767n || b < -32768n) throw outOfRange('smallint');
          return Number(b);
        };
      case 'int4':
        if (from.id === 'int2') return (v) => v;
        return (v) => {
          const b = toBig(v, from);
          if (b > 2147483647n || b < -2147483648n) throw outOfRange('integer');
          return Number(b);
        };
      case 'int8':
        return (v) => checkInt8(toBig(v, from));
      case 'numeric':
        return (v) => toNumericValue(v, from);
      case 'float4':
        return (v) => {
          const f = Math.fround(toFloatValue(v, from));
          if (!Number.isFinite(f) && Number.isFinite(toFloatValue(v, from))) throw outOfRange('real');
          return f;
        };
      default:
        return (v) => toFloatValue(v, from);
    }
  }
  if (isOidLike(to)) {
    if (from.id === 'int8') return (v) => Number(v as bigint);
    if (from.id === 'int2' || from.id === 'int4' || isOidLike(from)) return (v) => v;
  }
  if (isOidLike(from) && to.id === 'int8') return (v) => BigInt(v as number);
  if (isOidLike(from) && to.id === 'int4') return (v) => v;
  if (from.id === 'bool' && to.id === 'int4') return (v) => (v ? 1 : 0);
  if (from.id === 'int4' && to.id === 'bool') return (v) => v !== 0;
  if (from.id === 'date' && to.id === 'timestamp') return (v) => dateToTimestamp(v as number);
  if (from.id === 'date' && to.id === 'timestamptz')
    return (v, io) =>
      isInfiniteDate(v as number)
        ? dateToTimestamp(v as number)
        : localToUtc(dateToTimestamp(v as number), io.timeZone);
  if (from.id === 'timestamp' && to.id === 'timestamptz')
    return (v, io) => (isInfiniteTs(v as bigint) ? v : localToUtc(v as bigint, io.timeZone));
  if (from.id === 'timestamptz' && to.id === 'timestamp') {
    return (v, io) =>
      isInfiniteTs(v as bigint)
        ? v
        : (v as bigint) + BigInt(zoneOffsetSeconds(io.timeZone, v as bigint)) * MICROS_PER_SECOND;
  }
  if ((from.id === 'timestamp' || from.id === 'timestamptz') && (to.id === 'date' || to.id === 'time')) {
    return (v, io) => {
      let ts = v as bigint;
      if (isInfiniteTs(ts)) {
        if (to.id === 'time') return null; // PostgreSQL 15: an infinite timestamp has no time of day
        return ts > 0n ? DATE_INFINITY : DATE_NEG_INFINITY;
      }
      if (from.id === 'timestamptz') ts += BigInt(zoneOffsetSeconds(io.timeZone, ts)) * MICROS_PER_SECOND;
      let days = ts / MICROS_PER_DAY;
      let rem = ts % MICROS_PER_DAY;
      if (rem < 0n) {
        rem += MICROS_PER_DAY;
        days -= 1n;
      }
      return to.id === 'date' ? Number(days) : rem;
    };
  }
  if (from.id === 'time' && to.id === 'interval') return (v) => ({ months: 0, days: 0, micros: v as bigint });
  if (from.id === 'array' && to.id === 'array' && from.elem !== undefined && to.elem !== undefined) {
    const inner = castFunction(from.elem, to.elem, 'explicit');
    if (inner !== undefined) {
      return (v, io) =>
        withElems(
          v as ArrayValue,
          (v as ArrayValue).elems.map((e) => (e === null ? null : inner(e, io))),
        );
    }
  }
  if (to.id === 'text' || to.id === 'varchar' || to.id === 'bpchar' || to.id === 'name' || to.id === 'char') {
    if (isString(from)) {
      // bpchar → other strings drops trailing blanks (PostgreSQL's rtrim on cast).
      if (from.id === 'bpchar' && to.id !== 'bpchar') return (v) => (v as string).replace(/ +$/, '');
      return (v) => v;
    }
    return (v, io) => formatText(from, v, io);
  }
  if (from.id === 'json' && to.id === 'jsonb') return (v, io) => parseText(to, v as string, io) as JsonBox;
  if (from.id === 'jsonb' && to.id === 'json') return (v, io) => formatText(from, v, io);
  if (isString(from)) {
    return (v, io) => {
      const s = v as string;
      return parseText(to, to.id === 'bool' || isNumericType(to) ? s : s, io);
    };
  }
  void ctx;
  return (v, io) => parseText(to, formatText(from, v, io), io);
}
