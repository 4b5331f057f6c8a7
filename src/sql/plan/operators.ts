/**
 * Operator resolution and implementations: arithmetic, concatenation,
 * pattern matching, date/time and jsonb operators.
 *
 * Resolution follows PostgreSQL's outcome for the built-in operators
 * without reproducing its general algorithm: numeric operands meet at the
 * higher of int2 < int4 < int8 < numeric < float8 (float4 op float4 stays
 * float4), an untyped literal takes the other side's type, string types
 * meet at text. Comparison operators are built as 'compare' nodes by the
 * binder using `commonType`.
 */

import { addDays, dateDiff } from '../types/datetime.ts';
import { concatArrays, oneDimensional } from '../types/array-dims.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { Decimal } from '../types/decimal.ts';
import { addInterval, timestampDiff, MICROS_PER_DAY } from '../types/datetime.ts';
import {
  Types,
  arrayOf,
  type ArrayValue,
  type Interval,
  type JsonBox,
  type JsonValue,
  type SqlType,
  type Value,
} from '../types/sql-type.ts';
import { checkInt2, checkInt4, checkInt8, isOidLike } from '../types/cast.ts';
import { formatText } from '../types/text-io.ts';
import type { ScalarImpl } from './plan.ts';
import type { EvalContext } from '../exec/eval-context.ts';

export interface ResolvedOp {
  readonly left: SqlType;
  readonly right: SqlType;
  readonly ret: SqlType;
  readonly impl: ScalarImpl;
}

const NUM_ORDER = ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'] as const;

function numRank(t: SqlType): number {
  return NUM_ORDER.indexOf(t.id as (typeof NUM_ORDER)[number]);
}

function isNum(t: SqlType): boolean {
  return numRank(t) >= 0;
}

function isStr(t: SqlType): boolean {
  return t.id === 'text' || t.id === 'varchar' || t.id === 'bpchar' || t.id === 'name' || t.id === 'char';
}

function baseOf(t: SqlType): SqlType {
  return t.typmod === -1 ? t : { ...t, typmod: -1 };
}

/** The type two numeric operands meet at. */
export function numericCommon(a: SqlType, b: SqlType): SqlType {
  if (a.id === 'float4' && b.id === 'float4') return Types.float4;
  const r = Math.max(numRank(a), numRank(b));
  if (r >= 4) return Types.float8;
  return Types[NUM_ORDER[r]!];
}

/**
 * The common type of two values compared or unioned (select_common_type for
 * two inputs). Undefined when PostgreSQL would report "cannot be matched".
 */
export function commonType(a: SqlType, b: SqlType): SqlType | undefined {
  if (a.id === 'unknown') return b.id === 'unknown' ? Types.text : baseOf(b);
  if (b.id === 'unknown') return baseOf(a);
  if (a.oid === b.oid) return a.typmod === b.typmod ? a : baseOf(a);
  if (isNum(a) && isNum(b)) return numericCommon(a, b);
  if (isStr(a) && isStr(b)) return Types.text;
  const dt = ['date', 'timestamp', 'timestamptz'];
  if (dt.includes(a.id) && dt.includes(b.id)) return dt.indexOf(a.id) > dt.indexOf(b.id) ? a : b;
  if (isOidLike(a) && (isNum(b) || b.id === 'oid')) return Types.oid;
  if (isOidLike(b) && (isNum(a) || a.id === 'oid')) return Types.oid;
  if (a.id === 'json' && b.id === 'jsonb') return Types.jsonb;
  if (a.id === 'jsonb' && b.id === 'json') return Types.jsonb;
  return undefined;
}

function divZero(): NextDbError {
  return new NextDbError(SqlState.divisionByZero, 'division by zero');
}

function checkFloat(r: number, a: number, b: number, single: boolean): number {
  if (!Number.isFinite(r) && Number.isFinite(a) && Number.isFinite(b) && !Number.isNaN(r)) {
    throw new NextDbError(SqlState.numericValueOutOfRange, 'value out of range: overflow');
  }
  return single ? Math.fround(r) : r;
}

function arith(op: string, t: SqlType): ScalarImpl | undefined {
  switch (t.id) {
    case 'int2':
    case 'int4': {
      const check = t.id === 'int2' ? checkInt2 : checkInt4;
      switch (op) {
        case '+':
          return (a) => check((a[0] as number) + (a[1] as number));
        case '-':
          return (a) => check((a[0] as number) - (a[1] as number));
        case '*':
          return (a) => {
            const r = (a[0] as number) * (a[1] as number);
            if (!Number.isSafeInteger(r))
              throw new NextDbError(
                SqlState.numericValueOutOfRange,
                `${t.id === 'int2' ? 'smallint' : 'integer'} out of range`,
              );
            return check(r);
          };
        case '/':
          return (a) => {
            if (a[1] === 0) throw divZero();
            return check(Math.trunc((a[0] as number) / (a[1] as number)));
          };
        case '%':
          return (a) => {
            if (a[1] === 0) throw divZero();
            const r = (a[0] as number) % (a[1] as number);
            return r === 0 ? 0 : r;
          };
        default:
          return undefined;
      }
    }
    case 'int8':
      switch (op) {
        case '+':
          return (a) => checkInt8((a[0] as bigint) + (a[1] as bigint));
        case '-':
          return (a) => checkInt8((a[0] as bigint) - (a[1] as bigint));
        case '*':
          return (a) => checkInt8((a[0] as bigint) * (a[1] as bigint));
        case '/':
          return (a) => {
            if (a[1] === 0n) throw divZero();
            return checkInt8((a[0] as bigint) / (a[1] as bigint));
          };
        case '%':
          return (a) => {
            if (a[1] === 0n) throw divZero();
            return (a[0] as bigint) % (a[1] as bigint);
          };
        default:
          return undefined;
      }
    case 'float4':
    case 'float8': {
      const single = t.id === 'float4';
      switch (op) {
        case '+':
          return (a) => checkFloat((a[0] as number) + (a[1] as number), a[0] as number, a[1] as number, single);
        case '-':
          return (a) => checkFloat((a[0] as number) - (a[1] as number), a[0] as number, a[1] as number, single);
        case '*':
          return (a) => checkFloat((a[0] as number) * (a[1] as number), a[0] as number, a[1] as number, single);
        case '/':
          return (a) => {
            if (a[1] === 0) throw divZero();
            return checkFloat((a[0] as number) / (a[1] as number), a[0] as number, a[1] as number, single);
          };
        case '^':
          return (a) => Math.pow(a[0] as number, a[1] as number);
        case '%':
          return undefined;
        default:
          return undefined;
      }
    }
    case 'numeric':
      switch (op) {
        case '+':
          return (a) => (a[0] as Decimal).add(a[1] as Decimal);
        case '-':
          return (a) => (a[0] as Decimal).sub(a[1] as Decimal);
        case '*':
          return (a) => (a[0] as Decimal).mul(a[1] as Decimal);
        case '/':
          return (a) => (a[0] as Decimal).div(a[1] as Decimal);
        case '%':
          return (a) => (a[0] as Decimal).mod(a[1] as Decimal);
        case '^':
          return (a) => Decimal.fromFloat(Math.pow((a[0] as Decimal).toNumber(), (a[1] as Decimal).toNumber()));
        default:
          return undefined;
      }
    default:
      return undefined;
  }
}

function likeToRegex(pattern: string, escape: string | undefined, flags: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (escape !== undefined && escape !== '' && c === escape) {
      i++;
      const n = pattern[i];
      if (n === undefined) throw new NextDbError('22025', 'LIKE pattern must not end with escape character');
      re += n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`, flags);
}

const likeCache = new Map<string, RegExp>();
export function likeMatch(
  s: string,
  pattern: string,
  caseInsensitive: boolean,
  escape: string | undefined = '\\',
): boolean {
  const key = `${caseInsensitive ? 'i' : 'c'}${escape ?? ''}\u0000${pattern}`;
  let re = likeCache.get(key);
  if (re === undefined) {
    re = likeToRegex(pattern, escape, caseInsensitive ? 'iu' : 'u');
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(key, re);
  }
  return re.test(s);
}

const regexCache = new Map<string, RegExp>();
export function regexMatch(s: string, pattern: string, flags: string): boolean {
  const key = `${flags}\u0000${pattern}`;
  let re = regexCache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(pattern, flags);
    } catch (e) {
      throw new NextDbError('2201B', `invalid regular expression: ${(e as Error).message}`);
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(key, re);
  }
  return re.test(s);
}

function jsonGet(j: JsonValue, key: Value): JsonValue | undefined {
  if (typeof key === 'number') {
    if (!Array.isArray(j)) return undefined;
    const arr = j as readonly JsonValue[];
    const i = key < 0 ? arr.length + key : key;
    return arr[i];
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j) || j instanceof Decimal) return undefined;
  return (j as { readonly [k: string]: JsonValue })[key as string];
}

function jsonText(j: JsonValue): string | null {
  if (j === null) return null;
  if (typeof j === 'string') return j;
  return formatText(Types.jsonb, { kind: 'jsonb', json: j }, { timeZone: 'UTC', extraFloatDigits: 1 });
}

export function jsonContains(a: JsonValue, b: JsonValue): boolean {
  if (Array.isArray(a)) {
    const arr = a as readonly JsonValue[];
    if (Array.isArray(b)) return (b as readonly JsonValue[]).every((x) => arr.some((y) => jsonContains(y, x)));
    return arr.some((y) => jsonEquals(y, b));
  }
  if (a !== null && typeof a === 'object' && !(a instanceof Decimal)) {
    if (b === null || typeof b !== 'object' || Array.isArray(b) || b instanceof Decimal) return false;
    const ao = a as { readonly [k: string]: JsonValue };
    const bo = b as { readonly [k: string]: JsonValue };
    return Object.keys(bo).every((k) => k in ao && jsonContains(ao[k]!, bo[k]!));
  }
  return jsonEquals(a, b);
}

function jsonEquals(a: JsonValue, b: JsonValue): boolean {
  if (a instanceof Decimal && b instanceof Decimal) return a.cmp(b) === 0;
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  return jsonText(a) === jsonText(b);
}

function jsonHasKey(j: JsonValue, k: string): boolean {
  if (Array.isArray(j)) return (j as readonly JsonValue[]).some((x) => x === k);
  if (j !== null && typeof j === 'object' && !(j instanceof Decimal)) return k in (j as object);
  return j === k;
}

/** Resolves a binary operator; undefined when no such operator exists (42883). */
export function resolveBinaryOp(op: string, l: SqlType, r: SqlType): ResolvedOp | undefined {
  // jsonb key/path operators take text (or text[]) on the right.
  if ((l.id === 'jsonb' || l.id === 'json') && r.id === 'unknown') {
    if (op === '?' || op === '->>' || op === '->') r = Types.text;
    else if (op === '?|' || op === '?&') r = arrayOf(Types.text);
  }
  // text || anything: an untyped literal next to a non-array, non-jsonb value is text.
  if (op === '||') {
    if (l.id === 'unknown' && r.id !== 'array' && r.id !== 'jsonb') l = Types.text;
    if (r.id === 'unknown' && l.id !== 'array' && l.id !== 'jsonb') r = Types.text;
  }
  // Untyped literals take the other operand's type; when no operator takes that type twice, a
  // timestamp/time plus an untyped literal is the one candidate PostgreSQL finds: plus an interval.
  if (op === '+' && (l.id === 'unknown') !== (r.id === 'unknown')) {
    const known = l.id === 'unknown' ? r : l;
    if (known.id === 'timestamp' || known.id === 'timestamptz' || known.id === 'time') {
      return l.id === 'unknown' ? dateArith(op, Types.interval, r) : dateArith(op, l, Types.interval);
    }
  }
  if (l.id === 'unknown' && r.id !== 'unknown')
    l = op === '||' && r.id === 'array' ? (r.elem ?? Types.text) : baseOf(r);
  if (r.id === 'unknown' && l.id !== 'unknown')
    r = op === '||' && l.id === 'array' ? (l.elem ?? Types.text) : baseOf(l);
  if (l.id === 'unknown' && r.id === 'unknown') {
    if (
      op === '||' ||
      op === '~~' ||
      op === '!~~' ||
      op === '~~*' ||
      op === '!~~*' ||
      op === '~' ||
      op === '~*' ||
      op === '!~' ||
      op === '!~*'
    ) {
      l = Types.text;
      r = Types.text;
    } else return undefined;
  }
  if (['+', '-', '*', '/', '%', '^'].includes(op) && isNum(l) && isNum(r)) {
    let t = numericCommon(l, r);
    if (op === '^' && t.id !== 'numeric') t = Types.float8;
    const impl = arith(op, t);
    if (impl === undefined) return undefined;
    return { left: t, right: t, ret: t, impl };
  }
  switch (op) {
    case '||': {
      if (l.id === 'array' || r.id === 'array') {
        const at = l.id === 'array' ? l : r;
        const elemT = at.elem ?? Types.text;
        if (l.id === 'array' && r.id === 'array') {
          return {
            left: at,
            right: at,
            ret: at,
            impl: (a) => concatArrays(a[0] as ArrayValue, a[1] as ArrayValue),
          };
        }
        if (l.id === 'array')
          return {
            left: at,
            right: elemT,
            ret: at,
            impl: (a) => ({ kind: 'array', elems: [...oneDimensional(a[0] as ArrayValue).elems, a[1] ?? null] }),
          };
        return {
          left: elemT,
          right: at,
          ret: at,
          impl: (a) => ({ kind: 'array', elems: [a[0] ?? null, ...oneDimensional(a[1] as ArrayValue).elems] }),
        };
      }
      if (l.id === 'jsonb' && r.id === 'jsonb') {
        return {
          left: l,
          right: r,
          ret: Types.jsonb,
          impl: (a) => {
            const x = (a[0] as JsonBox).json;
            const y = (a[1] as JsonBox).json;
            if (Array.isArray(x) || Array.isArray(y)) {
              const xs = Array.isArray(x) ? (x as readonly JsonValue[]) : [x];
              const ys = Array.isArray(y) ? (y as readonly JsonValue[]) : [y];
              return { kind: 'jsonb', json: [...xs, ...ys] };
            }
            return { kind: 'jsonb', json: { ...(x as object), ...(y as object) } as JsonValue };
          },
        };
      }
      // text || anything: the non-text side goes through its output function.
      const lt = isStr(l) ? Types.text : l;
      const rt = isStr(r) ? Types.text : r;
      if (!isStr(l) && !isStr(r)) return undefined;
      return {
        left: lt,
        right: rt,
        ret: Types.text,
        impl: (a, ctx) => toText(a[0]!, lt, ctx) + toText(a[1]!, rt, ctx),
      };
    }
    case '~~':
    case '!~~':
    case '~~*':
    case '!~~*': {
      if (!isStr(l) || !isStr(r)) return undefined;
      const ci = op.includes('*');
      const neg = op.startsWith('!');
      return {
        left: Types.text,
        right: Types.text,
        ret: Types.bool,
        impl: (a) => likeMatch(a[0] as string, a[1] as string, ci) !== neg,
      };
    }
    case '~':
    case '~*':
    case '!~':
    case '!~*': {
      if (!isStr(l) || !isStr(r)) return undefined;
      const flags = op.includes('*') ? 'iu' : 'u';
      const neg = op.startsWith('!');
      return {
        left: Types.text,
        right: Types.text,
        ret: Types.bool,
        impl: (a) => regexMatch(a[0] as string, a[1] as string, flags) !== neg,
      };
    }
    case '+':
    case '-':
      return dateArith(op, l, r);
    case '*':
    case '/':
      if (l.id === 'interval' && isNum(r)) {
        const mul = op === '*';
        return {
          left: l,
          right: Types.float8,
          ret: Types.interval,
          impl: (a) => scaleInterval(a[0] as Interval, mul ? (a[1] as number) : 1 / (a[1] as number)),
        };
      }
      if (op === '*' && isNum(l) && r.id === 'interval') {
        return {
          left: Types.float8,
          right: r,
          ret: Types.interval,
          impl: (a) => scaleInterval(a[1] as Interval, a[0] as number),
        };
      }
      return undefined;
    case '->':
    case '->>': {
      if (l.id !== 'jsonb' && l.id !== 'json') return undefined;
      const rt = isNum(r) ? Types.int4 : Types.text;
      const asText = op === '->>';
      const toJ = l.id === 'json';
      return {
        left: Types.jsonb,
        right: rt,
        ret: asText ? Types.text : toJ ? Types.json : Types.jsonb,
        impl: (a) => {
          const v = jsonGet((a[0] as JsonBox).json, a[1]!);
          if (v === undefined) return null;
          if (asText) return jsonText(v);
          return toJ ? (jsonText(v) ?? 'null') : { kind: 'jsonb', json: v };
        },
      };
    }
    case '@>':
    case '<@':
      if (l.id === 'jsonb' && r.id === 'jsonb') {
        const flip = op === '<@';
        return {
          left: l,
          right: r,
          ret: Types.bool,
          impl: (a) =>
            flip
              ? jsonContains((a[1] as JsonBox).json, (a[0] as JsonBox).json)
              : jsonContains((a[0] as JsonBox).json, (a[1] as JsonBox).json),
        };
      }
      return undefined;
    case '?':
      if (l.id === 'jsonb' && isStr(r))
        return {
          left: l,
          right: Types.text,
          ret: Types.bool,
          impl: (a) => jsonHasKey((a[0] as JsonBox).json, a[1] as string),
        };
      return undefined;
    case '?|':
    case '?&':
      if (l.id === 'jsonb' && r.id === 'array') {
        const any = op === '?|';
        return {
          left: l,
          right: arrayOf(Types.text),
          ret: Types.bool,
          impl: (a) => {
            const keys = (a[1] as ArrayValue).elems.filter((k): k is string => typeof k === 'string');
            const j = (a[0] as JsonBox).json;
            return any ? keys.some((k) => jsonHasKey(j, k)) : keys.every((k) => jsonHasKey(j, k));
          },
        };
      }
      return undefined;
    default:
      return undefined;
  }
}

function toText(v: Value, t: SqlType, ctx: EvalContext): string {
  return typeof v === 'string' ? v : formatText(t, v, ctx.io);
}

function scaleInterval(iv: Interval, f: number): Interval {
  const months = iv.months * f;
  const wholeMonths = Math.trunc(months);
  const days = iv.days * f + (months - wholeMonths) * 30;
  const wholeDays = Math.trunc(days);
  const micros = Number(iv.micros) * f + (days - wholeDays) * Number(MICROS_PER_DAY);
  return { months: wholeMonths, days: wholeDays, micros: BigInt(Math.round(micros)) };
}

function dateArith(op: '+' | '-', l: SqlType, r: SqlType): ResolvedOp | undefined {
  const sign = op === '+' ? 1 : -1;
  if (l.id === 'date' && (r.id === 'int4' || r.id === 'int2' || r.id === 'int8')) {
    return {
      left: l,
      right: Types.int4,
      ret: Types.date,
      impl: (a) => addDays(a[0] as number, sign * (a[1] as number)),
    };
  }
  if (op === '+' && r.id === 'date' && (l.id === 'int4' || l.id === 'int2')) {
    return { left: Types.int4, right: r, ret: Types.date, impl: (a) => addDays(a[1] as number, a[0] as number) };
  }
  if (op === '-' && l.id === 'date' && r.id === 'date')
    return { left: l, right: r, ret: Types.int4, impl: (a) => dateDiff(a[0] as number, a[1] as number) };
  if ((l.id === 'timestamp' || l.id === 'timestamptz' || l.id === 'date') && r.id === 'interval') {
    const lt = l.id === 'date' ? Types.timestamp : l;
    return { left: lt, right: r, ret: lt, impl: (a) => addInterval(a[0] as bigint, a[1] as Interval, sign) };
  }
  if (op === '+' && l.id === 'interval' && (r.id === 'timestamp' || r.id === 'timestamptz' || r.id === 'date')) {
    const rt = r.id === 'date' ? Types.timestamp : r;
    return { left: l, right: rt, ret: rt, impl: (a) => addInterval(a[1] as bigint, a[0] as Interval, 1) };
  }
  if (
    op === '-' &&
    (l.id === 'timestamp' || l.id === 'timestamptz') &&
    (r.id === 'timestamp' || r.id === 'timestamptz' || r.id === 'date')
  ) {
    const t = l.id === 'timestamptz' || r.id === 'timestamptz' ? Types.timestamptz : Types.timestamp;
    return { left: t, right: t, ret: Types.interval, impl: (a) => timestampDiff(a[0] as bigint, a[1] as bigint) };
  }
  if (l.id === 'interval' && r.id === 'interval') {
    return {
      left: l,
      right: r,
      ret: Types.interval,
      impl: (a) => {
        const x = a[0] as Interval;
        const y = a[1] as Interval;
        return {
          months: x.months + sign * y.months,
          days: x.days + sign * y.days,
          micros: sign === 1 ? x.micros + y.micros : x.micros - y.micros,
        };
      },
    };
  }
  if (op === '-' && l.id === 'time' && r.id === 'time') {
    return {
      left: l,
      right: r,
      ret: Types.interval,
      impl: (a) => ({ months: 0, days: 0, micros: (a[0] as bigint) - (a[1] as bigint) }),
    };
  }
  if (op === '+' && l.id === 'interval' && r.id === 'time') {
    return {
      left: l,
      right: r,
      ret: Types.time,
      impl: (a) => {
        const v = ((a[1] as bigint) + (a[0] as Interval).micros) % MICROS_PER_DAY;
        return v < 0n ? v + MICROS_PER_DAY : v;
      },
    };
  }
  if (l.id === 'time' && r.id === 'interval') {
    return {
      left: l,
      right: r,
      ret: Types.time,
      impl: (a) => {
        const v = ((a[0] as bigint) + BigInt(sign) * (a[1] as Interval).micros) % MICROS_PER_DAY;
        return v < 0n ? v + MICROS_PER_DAY : v;
      },
    };
  }
  return undefined;
}

/** Unary minus/plus/bitwise-not. */
export function resolveUnaryOp(op: string, t: SqlType): ResolvedOp | undefined {
  if (t.id === 'unknown') t = Types.numeric;
  if (op === '+' && (isNum(t) || t.id === 'interval')) return { left: t, right: t, ret: baseOf(t), impl: (a) => a[0]! };
  if (op === '-') {
    switch (t.id) {
      case 'int2':
        return { left: t, right: t, ret: t, impl: (a) => checkInt2(-(a[0] as number)) };
      case 'int4':
        return { left: t, right: t, ret: t, impl: (a) => checkInt4(-(a[0] as number)) };
      case 'int8':
        return { left: t, right: t, ret: t, impl: (a) => checkInt8(-(a[0] as bigint)) };
      case 'float4':
      case 'float8':
        return { left: t, right: t, ret: baseOf(t), impl: (a) => -(a[0] as number) };
      case 'numeric':
        return { left: t, right: t, ret: baseOf(t), impl: (a) => (a[0] as Decimal).neg() };
      case 'interval':
        return {
          left: t,
          right: t,
          ret: t,
          impl: (a) => {
            const iv = a[0] as Interval;
            return { months: -iv.months, days: -iv.days, micros: -iv.micros };
          },
        };
      default:
        return undefined;
    }
  }
  if (op === '@' && isNum(t)) {
    return {
      left: t,
      right: t,
      ret: t,
      impl: (a) => {
        const v = a[0]!;
        if (typeof v === 'number') return Math.abs(v);
        if (typeof v === 'bigint') return v < 0n ? -v : v;
        return (v as Decimal).abs();
      },
    };
  }
  return undefined;
}
