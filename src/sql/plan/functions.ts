/**
 * Built-in scalar and set-returning functions.
 *
 * Each function name maps to a resolver: given the argument types it
 * returns the parameter types to cast the arguments to, the result type and
 * the implementation, or undefined when no overload fits (the binder then
 * raises 42883 "function ... does not exist", as PostgreSQL does).
 * Implementations of strict functions are never called with NULL.
 */

import { isInfiniteDate, isInfiniteTs } from '../types/datetime.ts';
import { arrayDims, arrayDimsText, oneDimensional } from '../types/array-dims.ts';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { Decimal } from '../types/decimal.ts';
import {
  MICROS_PER_DAY,
  addInterval,
  addMonthsToTimestamp,
  extractField,
  truncTimestamp,
  zoneOffsetSeconds,
  MICROS_PER_SECOND,
  timestampDiff,
  civilFromDays,
} from '../types/datetime.ts';
import {
  Types,
  arrayOf,
  formatType,
  typeByOid,
  withTypmod,
  type ArrayValue,
  type Interval,
  type JsonBox,
  type JsonValue,
  type SqlType,
  type Value,
} from '../types/sql-type.ts';
import { canCast } from '../types/cast.ts';
import { formatText, parseJsonb, sortJsonKeys } from '../types/text-io.ts';
import type { AsyncScalarImpl, ScalarImpl, SetReturningImpl } from './plan.ts';
import { numericCommon } from './operators.ts';
import { createHash, randomUUID } from 'node:crypto';
import { deparseSync } from 'pgsql-parser';
import { parseSql } from '../parser.ts';
import { interruptibleSleep } from '../exec/sleep.ts';
import type { EvalContext } from '../exec/eval-context.ts';

export interface ResolvedFunction {
  readonly argTypes: readonly SqlType[];
  readonly ret: SqlType;
  readonly impl?: ScalarImpl;
  readonly asyncImpl?: AsyncScalarImpl;
  readonly strict: boolean;
  readonly volatile: boolean;
}

export interface ResolvedSrf {
  readonly argTypes: readonly SqlType[];
  /** Output columns (name, type). */
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
  readonly impl: SetReturningImpl;
}

type Resolver = (args: readonly SqlType[]) => ResolvedFunction | undefined;

const fns = new Map<string, Resolver[]>();

function def(names: string | string[], r: Resolver): void {
  for (const n of Array.isArray(names) ? names : [names]) {
    const list = fns.get(n) ?? [];
    list.push(r);
    fns.set(n, list);
  }
}

function fits(args: readonly SqlType[], params: readonly SqlType[]): boolean {
  if (args.length !== params.length) return false;
  return args.every((a, i) => canCast(a, params[i]!, 'implicit'));
}

/** A fixed signature. */
function sig(
  params: readonly SqlType[],
  ret: SqlType,
  impl: ScalarImpl,
  opts: { strict?: boolean; volatile?: boolean } = {},
): Resolver {
  return (args) =>
    fits(args, params)
      ? { argTypes: params, ret, impl, strict: opts.strict ?? true, volatile: opts.volatile ?? false }
      : undefined;
}

const num = (v: Value): number => v as number;
const str = (v: Value): string => v as string;
const T = Types;

function isNumT(t: SqlType): boolean {
  return ['int2', 'int4', 'int8', 'numeric', 'float4', 'float8'].includes(t.id);
}

/** One numeric argument, result of the same type (abs, sign ...). */
function numeric1(
  impls: {
    int?: (v: number) => number;
    big?: (v: bigint) => bigint;
    dec: (v: Decimal) => Decimal;
    float: (v: number) => number;
  },
  keepInt = true,
): Resolver {
  return (args) => {
    if (args.length !== 1) return undefined;
    let t = args[0]!.id === 'unknown' ? T.float8 : args[0]!;
    if (!isNumT(t)) return undefined;
    t = { ...t, typmod: -1 };
    if (!keepInt && (t.id === 'int2' || t.id === 'int4' || t.id === 'int8')) t = T.float8;
    if (t.id === 'float4') t = T.float8;
    const impl: ScalarImpl =
      t.id === 'numeric'
        ? (a) => impls.dec(a[0] as Decimal)
        : t.id === 'int8'
          ? (a) => (impls.big ?? ((x: bigint) => x))(a[0] as bigint)
          : t.id === 'int2' || t.id === 'int4'
            ? (a) => (impls.int ?? ((x: number) => x))(num(a[0]!))
            : (a) => impls.float(num(a[0]!));
    return { argTypes: [t], ret: t, impl, strict: true, volatile: false };
  };
}

def('abs', numeric1({ int: Math.abs, big: (v) => (v < 0n ? -v : v), dec: (d) => d.abs(), float: Math.abs }));
def(
  'sign',
  numeric1({
    int: Math.sign,
    big: (v) => (v > 0n ? 1n : v < 0n ? -1n : 0n),
    dec: (d) => Decimal.fromInt(d.sign()),
    float: Math.sign,
  }),
);
def(['ceil', 'ceiling'], numeric1({ dec: (d) => d.ceil(), float: Math.ceil }, false));
def('floor', numeric1({ dec: (d) => d.floor(), float: Math.floor }, false));

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

def('round', (args) => {
  if (args.length === 1) {
    const t = args[0]!;
    if (t.id === 'numeric' || isIntT(t))
      return {
        argTypes: [T.numeric],
        ret: T.numeric,
        impl: (a) => (a[0] as Decimal).round(0),
        strict: true,
        volatile: false,
      };
    if (isNumT(t) || t.id === 'unknown')
      return {
        argTypes: [T.float8],
        ret: T.float8,
        impl: (a) => roundHalfEven(num(a[0]!)),
        strict: true,
        volatile: false,
      };
  }
  if (args.length === 2 && (isNumT(args[0]!) || args[0]!.id === 'unknown') && canCast(args[1]!, T.int4, 'implicit')) {
    return {
      argTypes: [T.numeric, T.int4],
      ret: T.numeric,
      impl: (a) => (a[0] as Decimal).round(num(a[1]!)),
      strict: true,
      volatile: false,
    };
  }
  return undefined;
});
def('trunc', (args) => {
  if (args.length === 1) {
    const t = args[0]!;
    if (t.id === 'numeric' || isIntT(t))
      return {
        argTypes: [T.numeric],
        ret: T.numeric,
        impl: (a) => (a[0] as Decimal).trunc(0),
        strict: true,
        volatile: false,
      };
    if (isNumT(t))
      return {
        argTypes: [T.float8],
        ret: T.float8,
        impl: (a) => Math.trunc(num(a[0]!)),
        strict: true,
        volatile: false,
      };
  }
  if (args.length === 2 && isNumT(args[0]!)) {
    return {
      argTypes: [T.numeric, T.int4],
      ret: T.numeric,
      impl: (a) => (a[0] as Decimal).trunc(num(a[1]!)),
      strict: true,
      volatile: false,
    };
  }
  return undefined;
});

function isIntT(t: SqlType): boolean {
  return t.id === 'int2' || t.id === 'int4' || t.id === 'int8';
}

function floatOrNumeric(name: string, f: (x: number) => number, check?: (x: number) => void): Resolver {
  return (args) => {
    if (args.length !== 1) return undefined;
    const t = args[0]!;
    if (!isNumT(t) && t.id !== 'unknown') return undefined;
    if (t.id === 'numeric') {
      return {
        argTypes: [T.numeric],
        ret: T.numeric,
        impl: (a) => {
          const x = (a[0] as Decimal).toNumber();
          check?.(x);
          return Decimal.fromFloat(f(x), 16).round(16).trimTrailingZeros();
        },
        strict: true,
        volatile: false,
      };
    }
    void name;
    return {
      argTypes: [T.float8],
      ret: T.float8,
      impl: (a) => {
        check?.(num(a[0]!));
        return f(num(a[0]!));
      },
      strict: true,
      volatile: false,
    };
  };
}

def(
  'sqrt',
  floatOrNumeric('sqrt', Math.sqrt, (x) => {
    if (x < 0) throw new NextDbError('2201F', 'cannot take square root of a negative number');
  }),
);
def('exp', floatOrNumeric('exp', Math.exp));
def(
  'ln',
  floatOrNumeric('ln', Math.log, (x) => {
    if (x === 0) throw new NextDbError('2201E', 'cannot take logarithm of zero');
    if (x < 0) throw new NextDbError('2201E', 'cannot take logarithm of a negative number');
  }),
);
def('log', floatOrNumeric('log', Math.log10));
def(
  'cbrt',
  sig([T.float8], T.float8, (a) => Math.cbrt(num(a[0]!))),
);
def(['power', 'pow'], (args) => {
  if (args.length !== 2) return undefined;
  if (args.some((t) => t.id === 'numeric')) {
    return {
      argTypes: [T.numeric, T.numeric],
      ret: T.numeric,
      impl: (a) => {
        const b = a[0] as Decimal;
        const e = a[1] as Decimal;
        if (e.isInteger() && e.abs().cmp(Decimal.fromInt(1000)) < 0) {
          let n = Number(e.toBigIntRounded());
          let r = Decimal.ONE;
          const neg = n < 0;
          n = Math.abs(n);
          for (let i = 0; i < n; i++) r = r.mul(b);
          return neg ? Decimal.ONE.div(r) : r.round(Math.max(b.scale * n, 0));
        }
        return Decimal.fromFloat(Math.pow(b.toNumber(), e.toNumber()));
      },
      strict: true,
      volatile: false,
    };
  }
  return sig([T.float8, T.float8], T.float8, (a) => Math.pow(num(a[0]!), num(a[1]!)))(args);
});
def('mod', (args) => {
  if (args.length !== 2 || !args.every((t) => isNumT(t) || t.id === 'unknown')) return undefined;
  const t = numericCommon(
    args[0]!.id === 'unknown' ? args[1]! : args[0]!,
    args[1]!.id === 'unknown' ? args[0]! : args[1]!,
  );
  const impl: ScalarImpl =
    t.id === 'numeric'
      ? (a) => (a[0] as Decimal).mod(a[1] as Decimal)
      : t.id === 'int8'
        ? (a) => {
            if (a[1] === 0n) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
            return (a[0] as bigint) % (a[1] as bigint);
          }
        : (a) => {
            if (a[1] === 0) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
            return num(a[0]!) % num(a[1]!);
          };
  return { argTypes: [t, t], ret: t, impl, strict: true, volatile: false };
});
def(
  'div',
  sig([T.numeric, T.numeric], T.numeric, (a) => (a[0] as Decimal).intDiv(a[1] as Decimal)),
);
def(
  'pi',
  sig([], T.float8, () => Math.PI),
);
def(
  'random',
  sig([], T.float8, (_a, ctx) => ctx.services.random(), { volatile: true }),
);
for (const [n, f] of [
  ['sin', Math.sin],
  ['cos', Math.cos],
  ['tan', Math.tan],
  ['asin', Math.asin],
  ['acos', Math.acos],
  ['atan', Math.atan],
  ['degrees', (x: number) => (x * 180) / Math.PI],
  ['radians', (x: number) => (x * Math.PI) / 180],
] as const) {
  def(
    n,
    sig([T.float8], T.float8, (a) => f(num(a[0]!))),
  );
}
def(
  'atan2',
  sig([T.float8, T.float8], T.float8, (a) => Math.atan2(num(a[0]!), num(a[1]!))),
);

// ---- strings ----

function textFn(name: string | string[], params: SqlType[], ret: SqlType, impl: ScalarImpl): void {
  def(name, sig(params, ret, impl));
}

const chars = (s: string): string[] => [...s];
textFn(['length', 'char_length', 'character_length'], [T.text], T.int4, (a) => chars(str(a[0]!)).length);
textFn('octet_length', [T.text], T.int4, (a) => Buffer.byteLength(str(a[0]!)));
def(
  'length',
  sig([T.bytea], T.int4, (a) => (a[0] as Buffer).length),
);
def(
  'octet_length',
  sig([T.bytea], T.int4, (a) => (a[0] as Buffer).length),
);
textFn('bit_length', [T.text], T.int4, (a) => Buffer.byteLength(str(a[0]!)) * 8);
textFn('upper', [T.text], T.text, (a) => str(a[0]!).toUpperCase());
textFn('lower', [T.text], T.text, (a) => str(a[0]!).toLowerCase());
textFn('initcap', [T.text], T.text, (a) =>
  str(a[0]!)
    .toLowerCase()
    .replace(/(^|[^a-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase()),
);
function substr(s: string, start: number, len?: number): string {
  const cs = chars(s);
  if (len !== undefined && len < 0) throw new NextDbError('22011', 'negative substring length not allowed');
  const from = start - 1;
  const to = len === undefined ? cs.length : from + len;
  return cs.slice(Math.max(0, from), Math.max(0, to)).join('');
}
textFn(['substr', 'substring'], [T.text, T.int4], T.text, (a) => substr(str(a[0]!), num(a[1]!)));
textFn(['substr', 'substring'], [T.text, T.int4, T.int4], T.text, (a) => substr(str(a[0]!), num(a[1]!), num(a[2]!)));
textFn('left', [T.text, T.int4], T.text, (a) => {
  const cs = chars(str(a[0]!));
  const n = num(a[1]!);
  return (n >= 0 ? cs.slice(0, n) : cs.slice(0, Math.max(0, cs.length + n))).join('');
});
textFn('right', [T.text, T.int4], T.text, (a) => {
  const cs = chars(str(a[0]!));
  const n = num(a[1]!);
  return (n >= 0 ? cs.slice(Math.max(0, cs.length - n)) : cs.slice(-n)).join('');
});
function trimChars(s: string, set: string, lead: boolean, trail: boolean): string {
  const cs = chars(s);
  const st = new Set(chars(set));
  let i = 0;
  let j = cs.length;
  if (lead) while (i < j && st.has(cs[i]!)) i++;
  if (trail) while (j > i && st.has(cs[j - 1]!)) j--;
  return cs.slice(i, j).join('');
}
textFn('btrim', [T.text], T.text, (a) => trimChars(str(a[0]!), ' ', true, true));
textFn('btrim', [T.text, T.text], T.text, (a) => trimChars(str(a[0]!), str(a[1]!), true, true));
textFn('ltrim', [T.text], T.text, (a) => trimChars(str(a[0]!), ' ', true, false));
textFn('ltrim', [T.text, T.text], T.text, (a) => trimChars(str(a[0]!), str(a[1]!), true, false));
textFn('rtrim', [T.text], T.text, (a) => trimChars(str(a[0]!), ' ', false, true));
textFn('rtrim', [T.text, T.text], T.text, (a) => trimChars(str(a[0]!), str(a[1]!), false, true));
textFn('replace', [T.text, T.text, T.text], T.text, (a) =>
  str(a[1]!) === '' ? str(a[0]!) : str(a[0]!).split(str(a[1]!)).join(str(a[2]!)),
);
textFn(['strpos', 'position'], [T.text, T.text], T.int4, (a) => {
  const i = str(a[0]!).indexOf(str(a[1]!));
  return i < 0 ? 0 : chars(str(a[0]!).slice(0, i)).length + 1;
});
textFn('repeat', [T.text, T.int4], T.text, (a) => str(a[0]!).repeat(Math.max(0, num(a[1]!))));
textFn('reverse', [T.text], T.text, (a) => chars(str(a[0]!)).reverse().join(''));
function pad(s: string, n: number, fill: string, left: boolean): string {
  const cs = chars(s);
  if (cs.length >= n) return cs.slice(0, Math.max(0, n)).join('');
  if (fill === '') return s;
  const f = chars(fill);
  const need = n - cs.length;
  const padding: string[] = [];
  for (let i = 0; i < need; i++) padding.push(f[i % f.length]!);
  return left ? padding.join('') + s : s + padding.join('');
}
textFn('lpad', [T.text, T.int4], T.text, (a) => pad(str(a[0]!), num(a[1]!), ' ', true));
textFn('lpad', [T.text, T.int4, T.text], T.text, (a) => pad(str(a[0]!), num(a[1]!), str(a[2]!), true));
textFn('rpad', [T.text, T.int4], T.text, (a) => pad(str(a[0]!), num(a[1]!), ' ', false));
textFn('rpad', [T.text, T.int4, T.text], T.text, (a) => pad(str(a[0]!), num(a[1]!), str(a[2]!), false));
textFn('split_part', [T.text, T.text, T.int4], T.text, (a) => {
  const parts = str(a[1]!) === '' ? [str(a[0]!)] : str(a[0]!).split(str(a[1]!));
  const n = num(a[2]!);
  if (n === 0) throw new NextDbError(SqlState.invalidParameterValue, 'field position must not be zero');
  return (n > 0 ? parts[n - 1] : parts[parts.length + n]) ?? '';
});
textFn('md5', [T.text], T.text, (a) => createHash('md5').update(str(a[0]!)).digest('hex'));
textFn('ascii', [T.text], T.int4, (a) => str(a[0]!).codePointAt(0) ?? 0);
textFn('chr', [T.int4], T.text, (a) => String.fromCodePoint(num(a[0]!)));
textFn('quote_ident', [T.text], T.text, (a) =>
  /^[a-z_][a-z0-9_]*$/.test(str(a[0]!)) ? str(a[0]!) : `"${str(a[0]!).replace(/"/g, '""')}"`,
);
textFn('quote_literal', [T.text], T.text, (a) => `'${str(a[0]!).replace(/'/g, "''")}'`);
textFn('to_hex', [T.int8], T.text, (a) => {
  const v = a[0] as bigint;
  return (v < 0n ? v + (1n << 64n) : v).toString(16);
});
textFn('translate', [T.text, T.text, T.text], T.text, (a) => {
  const from = chars(str(a[1]!));
  const to = chars(str(a[2]!));
  return chars(str(a[0]!))
    .map((c) => {
      const i = from.indexOf(c);
      return i < 0 ? c : (to[i] ?? '');
    })
    .join('');
});
textFn('starts_with', [T.text, T.text], T.bool, (a) => str(a[0]!).startsWith(str(a[1]!)));
textFn('regexp_replace', [T.text, T.text, T.text], T.text, (a) =>
  str(a[0]!).replace(new RegExp(str(a[1]!), 'u'), pgReplacement(str(a[2]!))),
);
textFn('regexp_replace', [T.text, T.text, T.text, T.text], T.text, (a) => {
  const flags = str(a[3]!);
  return str(a[0]!).replace(
    new RegExp(str(a[1]!), `u${flags.includes('g') ? 'g' : ''}${flags.includes('i') ? 'i' : ''}`),
    pgReplacement(str(a[2]!)),
  );
});
function pgReplacement(r: string): string {
  return r
    .replace(/\$/g, '$$$$')
    .replace(/\\(\d)/g, '$$$1')
    .replace(/\\&/g, '$$&');
}

/** Variadic "any" functions: concat, concat_ws, format. */
function anyVariadic(
  name: string,
  min: number,
  ret: SqlType,
  impl: (a: Value[], types: readonly SqlType[], ctx: Parameters<ScalarImpl>[1]) => Value,
): void {
  def(name, (args) => {
    if (args.length < min) return undefined;
    const types = args.map((t) => (t.id === 'unknown' ? T.text : t));
    return { argTypes: types, ret, impl: (a, ctx) => impl(a, types, ctx), strict: false, volatile: false };
  });
}
anyVariadic('concat', 1, T.text, (a, types, ctx) =>
  a.map((v, i) => (v === null ? '' : typeof v === 'string' ? v : formatText(types[i]!, v, ctx.io))).join(''),
);
anyVariadic('concat_ws', 2, T.text, (a, types, ctx) => {
  if (a[0] === null) return null;
  return a
    .slice(1)
    .map((v, i) => (v === null ? null : typeof v === 'string' ? v : formatText(types[i + 1]!, v, ctx.io)))
    .filter((v) => v !== null)
    .join(str(a[0]!));
});
anyVariadic('format', 1, T.text, (a, types, ctx) => {
  if (a[0] === null) return null;
  let argi = 1;
  return str(a[0]!).replace(/%([%sIL])/g, (_m, c: string) => {
    if (c === '%') return '%';
    const v = a[argi];
    const t = types[argi]!;
    argi++;
    const s = v === null || v === undefined ? null : typeof v === 'string' ? v : formatText(t, v, ctx.io);
    if (c === 's') return s ?? '';
    if (c === 'I') return s === null ? '' : /^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
    return s === null ? 'NULL' : `'${s.replace(/'/g, "''")}'`;
  });
});

// ---- date/time ----

def(
  ['now', 'transaction_timestamp'],
  sig([], T.timestamptz, (_a, ctx) => ctx.services.txnStartMicros, { volatile: true }),
);
def(
  'statement_timestamp',
  sig([], T.timestamptz, (_a, ctx) => ctx.services.statementStartMicros, { volatile: true }),
);
def(
  'clock_timestamp',
  sig([], T.timestamptz, (_a, ctx) => ctx.services.clockMicros(), { volatile: true }),
);
def(['date_part', 'extract'], (args) => {
  if (args.length !== 2 || !canCast(args[0]!, T.text, 'implicit')) return undefined;
  const t = args[1]!;
  const asNumeric = false;
  void asNumeric;
  if (t.id === 'interval') {
    return {
      argTypes: [T.text, T.interval],
      ret: T.float8,
      impl: (a) => {
        const iv = a[1] as Interval;
        const f = str(a[0]!).toLowerCase();
        switch (f) {
          case 'epoch':
            return (iv.months * 30 + iv.days) * 86400 + Number(iv.micros) / 1e6;
          case 'year':
            return Math.trunc(iv.months / 12);
          case 'month':
            return iv.months % 12;
          case 'day':
            return iv.days;
          case 'hour':
            return Math.trunc(Number(iv.micros / 3_600_000_000n));
          case 'minute':
            return Math.trunc(Number((iv.micros / 60_000_000n) % 60n));
          case 'second':
            return Number(iv.micros % 60_000_000n) / 1e6;
          default:
            throw new NextDbError(SqlState.invalidParameterValue, `unit "${f}" not supported for type interval`);
        }
      },
      strict: true,
      volatile: false,
    };
  }
  if (t.id !== 'timestamp' && t.id !== 'timestamptz' && t.id !== 'date' && t.id !== 'unknown' && t.id !== 'time')
    return undefined;
  const at = t.id === 'unknown' ? T.timestamptz : t.id === 'date' ? T.timestamp : t;
  return {
    argTypes: [T.text, at],
    ret: T.float8,
    impl: (a, ctx) => {
      const f = str(a[0]!).toLowerCase();
      let ts = a[1] as bigint;
      if (at.id === 'timestamptz' && f !== 'epoch' && !isInfiniteTs(ts))
        ts += BigInt(zoneOffsetSeconds(ctx.io.timeZone, ts)) * MICROS_PER_SECOND;
      if (f === 'timezone' && at.id === 'timestamptz') return zoneOffsetSeconds(ctx.io.timeZone, a[1] as bigint);
      const v = extractField(f, ts);
      if (v === undefined)
        throw new NextDbError(SqlState.invalidParameterValue, `unit "${f}" not recognized for type ${at.name}`);
      return Number.isNaN(v) ? null : v; // NaN: a bounded field of an infinite value
    },
    strict: true,
    volatile: false,
  };
});
def('date_trunc', (args) => {
  if (args.length !== 2) return undefined;
  const t = args[1]!.id === 'unknown' ? T.timestamptz : args[1]!.id === 'date' ? T.timestamptz : args[1]!;
  if (t.id !== 'timestamp' && t.id !== 'timestamptz') return undefined;
  return {
    argTypes: [T.text, t],
    ret: t,
    impl: (a, ctx) => {
      const f = str(a[0]!).toLowerCase();
      if (t.id === 'timestamp') {
        const r = truncTimestamp(f, a[1] as bigint);
        if (r === undefined)
          throw new NextDbError(
            SqlState.invalidParameterValue,
            `unit "${f}" not recognized for type timestamp without time zone`,
          );
        return r;
      }
      if (isInfiniteTs(a[1] as bigint)) {
        if (truncTimestamp(f, 0n) === undefined)
          throw new NextDbError(
            SqlState.invalidParameterValue,
            `unit "${f}" not recognized for type timestamp with time zone`,
          );
        return a[1]!;
      }
      const off = BigInt(zoneOffsetSeconds(ctx.io.timeZone, a[1] as bigint)) * MICROS_PER_SECOND;
      const r = truncTimestamp(f, (a[1] as bigint) + off);
      if (r === undefined)
        throw new NextDbError(
          SqlState.invalidParameterValue,
          `unit "${f}" not recognized for type timestamp with time zone`,
        );
      return r - BigInt(zoneOffsetSeconds(ctx.io.timeZone, r - off)) * MICROS_PER_SECOND;
    },
    strict: true,
    volatile: false,
  };
});
def(
  'age',
  sig([T.timestamp, T.timestamp], T.interval, (a) => timestampDiff(a[0] as bigint, a[1] as bigint)),
);
def(
  'make_date',
  sig([T.int4, T.int4, T.int4], T.date, (a) => {
    const y = num(a[0]!);
    const m = num(a[1]!);
    const d = num(a[2]!);
    const days = Date.UTC(y, m - 1, d) / 86400000;
    const [cy, cm, cd] = civilFromDays(days);
    if (cy !== y || cm !== m || cd !== d)
      throw new NextDbError('22008', `date field value out of range: ${y}-${m}-${d}`);
    return days;
  }),
);
def(
  'to_timestamp',
  sig([T.float8], T.timestamptz, (a) => BigInt(Math.round(num(a[0]!) * 1e6))),
);
def('isfinite', (args) => {
  if (args.length !== 1) return undefined;
  const t = args[0]!;
  if (t.id === 'date')
    return { argTypes: [t], ret: T.bool, impl: (a) => !isInfiniteDate(a[0] as number), strict: true, volatile: false };
  if (t.id === 'interval') return { argTypes: [t], ret: T.bool, impl: () => true, strict: true, volatile: false };
  const at = t.id === 'timestamp' ? t : T.timestamptz;
  return { argTypes: [at], ret: T.bool, impl: (a) => !isInfiniteTs(a[0] as bigint), strict: true, volatile: false };
});
def(
  'justify_days',
  sig([T.interval], T.interval, (a) => {
    const iv = a[0] as Interval;
    return { months: iv.months + Math.trunc(iv.days / 30), days: iv.days % 30, micros: iv.micros };
  }),
);
def(
  'justify_hours',
  sig([T.interval], T.interval, (a) => {
    const iv = a[0] as Interval;
    const d = iv.micros / MICROS_PER_DAY;
    return { months: iv.months, days: iv.days + Number(d), micros: iv.micros - d * MICROS_PER_DAY };
  }),
);

// ---- session / system information ----

def(
  'version',
  sig([], T.text, () => 'PostgreSQL 15.18 (NextDB 0.1.0) on x86_64-pc-linux-gnu, compiled by TypeScript, 64-bit'),
);
// Session-dependent functions are marked volatile so the binder never folds them with its service-less context.
def(
  'current_database',
  sig([], T.name, (_a, ctx) => ctx.services.database, { volatile: true }),
);
def(
  ['current_schema'],
  sig([], T.name, (_a, ctx) => firstSchema(ctx.services.getSetting('search_path') ?? 'public', ctx.services.user), {
    volatile: true,
  }),
);
def(
  'current_schemas',
  sig(
    [T.bool],
    arrayOf(T.name),
    (a, ctx) => {
      const path = (ctx.services.getSetting('search_path') ?? 'public')
        .split(',')
        .map((s) => s.trim().replace(/^"|"$/g, ''))
        .map((s) => (s === '$user' ? ctx.services.user : s));
      const list = (a[0] ? ['pg_catalog', ...path] : path).filter((s) => s === 'public' || s === 'pg_catalog');
      return { kind: 'array', elems: list } satisfies ArrayValue;
    },
    { volatile: true },
  ),
);
def(
  ['current_user', 'user', 'current_role'],
  sig([], T.name, (_a, ctx) => ctx.services.user, { volatile: true }),
);
def(
  'session_user',
  sig([], T.name, (_a, ctx) => ctx.services.sessionUser ?? ctx.services.user, { volatile: true }),
);
def(
  'pg_backend_pid',
  sig([], T.int4, (_a, ctx) => ctx.services.backendPid, { volatile: true }),
);
const signalBackend = (ctx: EvalContext, pid: Value, signal: 'cancel' | 'terminate'): boolean => {
  if (ctx.services.signalBackend === undefined) throw notSupported(`pg_${signal}_backend here`);
  return ctx.services.signalBackend(num(pid), signal);
};
def(
  'pg_cancel_backend',
  sig([T.int4], T.bool, (a, ctx) => signalBackend(ctx, a[0]!, 'cancel'), { volatile: true }),
);
def('pg_terminate_backend', (args) =>
  fits(args, [T.int4]) || fits(args, [T.int4, T.int8])
    ? {
        argTypes: args.length === 1 ? [T.int4] : [T.int4, T.int8],
        ret: T.bool,
        // The FATAL is sent before this returns, so the optional timeout (ms to wait for the exit) has nothing to wait for.
        impl: (a, ctx) => {
          if (a.length > 1 && (a[1] as bigint) < 0n)
            throw new NextDbError(SqlState.numericValueOutOfRange, '"timeout" must not be negative');
          return signalBackend(ctx, a[0]!, 'terminate');
        },
        strict: true,
        volatile: true,
      }
    : undefined,
);
// nextdb_backup('/abs/dir'): an online, consistent copy of the whole database into a new or empty directory
// on the server (Engine.checkpoint), which `nextdb server --data dir` serves as is. Superusers only.
def('nextdb_backup', (args) =>
  fits(args, [T.text])
    ? {
        argTypes: [T.text],
        ret: T.jsonb,
        asyncImpl: async (a, ctx) => {
          const backup = ctx.services.backup;
          if (backup === undefined)
            throw notSupported(
              'nextdb_backup() in this session',
              'call it in a session that is not a stale-read session',
            );
          const dir = str(a[0]!);
          if (!dir.startsWith('/'))
            throw new NextDbError(SqlState.invalidParameterValue, 'backup directory must be an absolute path');
          const info = await backup(dir);
          return {
            kind: 'jsonb',
            json: {
              dir: info.dir,
              files: Decimal.fromInt(info.files),
              bytes: Decimal.fromInt(info.bytes),
              linked: Decimal.fromInt(info.linked),
            },
          } satisfies JsonBox;
        },
        strict: true,
        volatile: true,
      }
    : undefined,
);
def(
  'current_setting',
  sig(
    [T.text],
    T.text,
    (a, ctx) => {
      const v = ctx.services.getSetting(str(a[0]!));
      if (v === undefined) throw new NextDbError('42704', `unrecognized configuration parameter "${str(a[0]!)}"`);
      return v;
    },
    { volatile: true },
  ),
);
def(
  'current_setting',
  sig(
    [T.text, T.bool],
    T.text,
    (a, ctx) => {
      const v = ctx.services.getSetting(str(a[0]!));
      if (v === undefined) {
        if (a[1]) return null;
        throw new NextDbError('42704', `unrecognized configuration parameter "${str(a[0]!)}"`);
      }
      return v;
    },
    { volatile: true },
  ),
);
def(
  'set_config',
  sig(
    [T.text, T.text, T.bool],
    T.text,
    (a, ctx) => {
      ctx.services.setSetting(str(a[0]!), str(a[1]!), a[2] === true);
      return ctx.services.getSetting(str(a[0]!)) ?? str(a[1]!);
    },
    { volatile: true, strict: false },
  ),
);
def(
  'unique_rowid',
  sig([], T.int8, (_a, ctx) => ctx.services.uniqueRowId(), { volatile: true }),
);
def(
  'gen_random_uuid',
  sig([], T.uuid, () => randomUUID(), { volatile: true }),
);
def('pg_typeof', (args) =>
  args.length === 1
    ? { argTypes: args, ret: T.regtype, impl: () => args[0]!.oid, strict: false, volatile: false }
    : undefined,
);
def(
  'format_type',
  sig(
    [T.oid, T.int4],
    T.text,
    (a) => {
      const t = typeByOid(num(a[0]!));
      if (t === undefined) return '???';
      return formatType(a[1] === null ? t : withTypmod(t, num(a[1]!)));
    },
    { strict: false },
  ),
);
def(
  ['pg_table_is_visible', 'pg_type_is_visible', 'pg_function_is_visible'],
  sig([T.oid], T.bool, () => true),
);
def(
  'pg_get_userbyid',
  sig([T.oid], T.name, (_a, ctx) => ctx.services.user, { volatile: true }),
);
def(['obj_description', 'col_description', 'shobj_description'], (args) =>
  args.length === 2
    ? {
        argTypes: [T.oid, args[1]!.id === 'unknown' ? T.name : args[1]!],
        ret: T.text,
        impl: () => null,
        strict: false,
        volatile: false,
      }
    : undefined,
);
def(
  'pg_encoding_to_char',
  sig([T.int4], T.name, () => 'UTF8'),
);
// has_*_privilege([user,] object, privileges): answered from the catalog's ACLs (exec/privileges.ts).
for (const [name, kind] of [
  ['has_table_privilege', 'table'],
  ['has_schema_privilege', 'schema'],
  ['has_sequence_privilege', 'sequence'],
  ['has_function_privilege', 'function'],
  ['has_database_privilege', 'database'],
] as const) {
  def(name, (args) =>
    args.length === 2 || args.length === 3
      ? {
          argTypes: args.map((t) => (t.id === 'unknown' ? T.text : t)),
          ret: T.bool,
          impl: (a, ctx) => {
            const [user, object, privs] = a.length === 3 ? a : [undefined, a[0], a[1]];
            const answer = ctx.services.privilege;
            if (answer === undefined) return true;
            const u = user === undefined || typeof user === 'number' ? user : String(user);
            return answer(kind, u, typeof object === 'number' ? object : String(object), String(privs));
          },
          strict: true,
          volatile: true,
        }
      : undefined,
  );
}
def(
  'pg_is_in_recovery',
  sig([], T.bool, () => false),
);
def(
  'txid_current',
  sig([], T.int8, (_a, ctx) => BigInt(parseInt(ctx.services.txn().id.replace(/\D/g, '').slice(-12) || '1', 10)), {
    volatile: true,
  }),
);
// Sleeps wait on timers and end with 57014 on CancelRequest or statement_timeout (see exec/sleep.ts).
def('pg_sleep', (args) =>
  fits(args, [T.float8])
    ? {
        argTypes: [T.float8],
        ret: T.void,
        asyncImpl: async (a, ctx) => interruptibleSleep(num(a[0]!) * 1000, ctx),
        strict: true,
        volatile: true,
      }
    : undefined,
);
def('pg_sleep_for', (args) =>
  fits(args, [T.interval])
    ? {
        argTypes: [T.interval],
        ret: T.void,
        // As PostgreSQL: the time from now until now + interval (so months count by the calendar).
        asyncImpl: async (a, ctx) => {
          const now = ctx.services.clockMicros();
          return interruptibleSleep(Number(addInterval(now, a[0] as Interval, 1) - now) / 1000, ctx);
        },
        strict: true,
        volatile: true,
      }
    : undefined,
);
def('pg_sleep_until', (args) =>
  fits(args, [T.timestamptz])
    ? {
        argTypes: [T.timestamptz],
        ret: T.void,
        asyncImpl: async (a, ctx) =>
          interruptibleSleep(Number((a[0] as bigint) - ctx.services.clockMicros()) / 1000, ctx),
        strict: true,
        volatile: true,
      }
    : undefined,
);

// ---- catalog information functions (psql, drivers) ----

def('pg_get_expr', (args) =>
  args.length >= 2
    ? {
        argTypes: [T.text, T.oid, ...(args.length > 2 ? [T.bool] : [])],
        ret: T.text,
        impl: (a) => a[0] ?? null,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def('pg_get_indexdef', (args) =>
  args.length >= 1
    ? {
        argTypes: [T.oid, ...args.slice(1).map((_t, i) => (i === 0 ? T.int4 : T.bool))],
        ret: T.text,
        impl: (a, ctx) => {
          const def = ctx.services.catalogText('indexdef', a[0] as number);
          const col = a.length > 1 ? Number(a[1]) : 0;
          return def === null || col === 0 ? def : indexDefColumn(def, col);
        },
        strict: true,
        // Reads the session's catalog: never constant-folded (folding runs without session services).
        volatile: true,
      }
    : undefined,
);

/** pg_get_indexdef(index, column > 0): that key column's definition (a column name or expression), '' past the last. */
function indexDefColumn(def: string, col: number): string {
  const stmt = parseSql(def)[0]!.stmt;
  if (!('IndexStmt' in stmt)) return '';
  const el = stmt.IndexStmt.indexParams?.[col - 1];
  if (el === undefined || !('IndexElem' in el)) return '';
  const e = el.IndexElem;
  if (e.expr === undefined) return e.name ?? '';
  // A function call prints bare, an operator expression in parentheses (PostgreSQL's deparser).
  const text = deparseSync(e.expr as never);
  return /^[\w.]+(\(.*\))?$/s.test(text) ? text : `(${text})`;
}
def(
  'pg_get_function_result',
  sig([T.oid], T.text, (a, ctx) => ctx.services.catalogText('functionresult', a[0] as number), { volatile: true }),
);
def(
  'pg_get_function_arguments',
  sig([T.oid], T.text, (a, ctx) => ctx.services.catalogText('functionargs', a[0] as number), { volatile: true }),
);
def(
  'pg_get_function_identity_arguments',
  sig([T.oid], T.text, (a, ctx) => ctx.services.catalogText('functionargs', a[0] as number), { volatile: true }),
);
def('pg_get_constraintdef', (args) =>
  args.length >= 1
    ? {
        argTypes: [T.oid, ...(args.length > 1 ? [T.bool] : [])],
        ret: T.text,
        impl: (a, ctx) => ctx.services.catalogText('constraintdef', a[0] as number),
        strict: true,
        volatile: true,
      }
    : undefined,
);
def('pg_get_viewdef', (args) =>
  args.length >= 1
    ? {
        argTypes: [T.oid, ...(args.length > 1 ? [T.bool] : [])],
        ret: T.text,
        impl: (a, ctx) => ctx.services.catalogText('viewdef', a[0] as number),
        strict: true,
        volatile: true,
      }
    : undefined,
);
def('pg_get_triggerdef', (args) =>
  args.length >= 1
    ? {
        argTypes: args.map((t, i) => (i === 0 ? T.oid : T.bool)),
        ret: T.text,
        impl: (a, ctx) => ctx.services.catalogText('triggerdef', a[0] as number),
        strict: true,
        volatile: true,
      }
    : undefined,
);
def(
  'pg_get_statisticsobjdef_columns',
  sig([T.oid], T.text, () => null),
);
def(
  'pg_relation_is_publishable',
  sig([T.regclass], T.bool, () => false),
);
// No partitioning: a relation's only "ancestor" is itself (the SRF form is in srfs below).
def(
  'pg_partition_ancestors',
  sig([T.regclass], T.regclass, (a) => a[0]!),
);
def('array_upper', (args) =>
  args.length === 2 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!, T.int4],
        ret: T.int4,
        impl: (a) => arrayDims(a[0] as ArrayValue)[(a[1] as number) - 1] ?? null,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def('array_lower', (args) =>
  args.length === 2 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!, T.int4],
        ret: T.int4,
        impl: (a) => (arrayDims(a[0] as ArrayValue)[(a[1] as number) - 1] === undefined ? null : 1),
        strict: true,
        volatile: false,
      }
    : undefined,
);
def('pg_size_pretty', (args) => {
  if (args.length !== 1) return undefined;
  const isNumeric = args[0]!.id === 'numeric';
  return {
    argTypes: [isNumeric ? T.numeric : T.int8],
    ret: T.text,
    impl: (a) => {
      let v = Number(isNumeric ? (a[0] as Decimal).toNumber() : (a[0] as bigint));
      const units = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'];
      let u = 0;
      // PostgreSQL switches unit when the value reaches 10240 of the current one, rounding half up.
      while (Math.abs(v) >= 10 * 1024 - 0.5 && u < units.length - 1) {
        v = v / 1024;
        u++;
      }
      return `${u === 0 ? v : Math.round(v)} ${units[u]}`;
    },
    strict: true,
    volatile: false,
  };
});
for (const fname of ['pg_table_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_indexes_size']) {
  def(fname, (args) =>
    args.length >= 1
      ? {
          argTypes: [T.regclass, ...args.slice(1).map(() => T.text)],
          ret: T.int8,
          asyncImpl: async (a, ctx) => ctx.services.relationSize(a[0] as number),
          strict: true,
          volatile: true,
        }
      : undefined,
  );
}
def('pg_database_size', (args) =>
  args.length === 1
    ? {
        argTypes: [args[0]!.id === 'oid' ? T.oid : T.name],
        ret: T.int8,
        asyncImpl: async (_a, ctx) => ctx.services.relationSize(0),
        strict: true,
        volatile: true,
      }
    : undefined,
);

function firstSchema(path: string, user: string): string | null {
  for (const raw of path.split(',')) {
    const s = raw.trim().replace(/^"|"$/g, '');
    if (s === '$user') {
      if (user === 'public') return user;
      continue;
    }
    if (s !== '') return s;
  }
  return null;
}

// ---- sequences (storage access: async) ----

function seqFn(name: string, params: SqlType[], impl: AsyncScalarImpl): void {
  def(name, (args) =>
    fits(args, params) ? { argTypes: params, ret: T.int8, asyncImpl: impl, strict: true, volatile: true } : undefined,
  );
}
const seqRef = (v: Value): string | number => (typeof v === 'number' ? v : str(v));
seqFn('nextval', [T.regclass], async (a, ctx) => ctx.services.nextval(seqRef(a[0]!)));
seqFn('nextval', [T.text], async (a, ctx) => ctx.services.nextval(seqRef(a[0]!)));
def(
  'currval',
  sig([T.regclass], T.int8, (a, ctx) => ctx.services.currval(seqRef(a[0]!)), { volatile: true }),
);
def(
  'currval',
  sig([T.text], T.int8, (a, ctx) => ctx.services.currval(seqRef(a[0]!)), { volatile: true }),
);
seqFn('setval', [T.regclass, T.int8], async (a, ctx) => ctx.services.setval(seqRef(a[0]!), a[1] as bigint, true));
seqFn('setval', [T.regclass, T.int8, T.bool], async (a, ctx) =>
  ctx.services.setval(seqRef(a[0]!), a[1] as bigint, a[2] === true),
);

// ---- arrays ----

def('array_ndims', (args) =>
  args.length === 1 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!],
        ret: T.int4,
        impl: (a) => arrayDims(a[0] as ArrayValue).length || null,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def('array_dims', (args) =>
  args.length === 1 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!],
        ret: T.text,
        impl: (a) => arrayDimsText(a[0] as ArrayValue),
        strict: true,
        volatile: false,
      }
    : undefined,
);
def(['array_length'], (args) =>
  args.length === 2 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!, T.int4],
        ret: T.int4,
        impl: (a) => arrayDims(a[0] as ArrayValue)[(a[1] as number) - 1] ?? null,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def(['cardinality'], (args) =>
  args.length === 1 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!],
        ret: T.int4,
        impl: (a) => (a[0] as ArrayValue).elems.length,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def('array_to_string', (args) =>
  (args.length === 2 || args.length === 3) && args[0]!.id === 'array'
    ? {
        argTypes: args.length === 2 ? [args[0]!, T.text] : [args[0]!, T.text, T.text],
        ret: T.text,
        impl: (a, ctx) =>
          a[0] === null || a[1] === null
            ? null
            : (a[0] as ArrayValue).elems
                .map((e) =>
                  e === null
                    ? a[2] === undefined || a[2] === null
                      ? null
                      : str(a[2])
                    : typeof e === 'string'
                      ? e
                      : formatText(args[0]!.elem ?? T.text, e, ctx.io),
                )
                .filter((e) => e !== null)
                .join(str(a[1]!)),
        strict: false,
        volatile: false,
      }
    : undefined,
);
def(
  'string_to_array',
  sig(
    [T.text, T.text],
    arrayOf(T.text),
    (a) => ({ kind: 'array', elems: str(a[0]!) === '' ? [] : str(a[0]!).split(str(a[1]!)) }) satisfies ArrayValue,
  ),
);
def('array_append', (args) =>
  args.length === 2 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!, args[0]!.elem ?? T.text],
        ret: args[0]!,
        impl: (a) => ({ kind: 'array', elems: [...oneDimensional(a[0] as ArrayValue).elems, a[1] ?? null] }),
        strict: false,
        volatile: false,
      }
    : undefined,
);
def('array_position', (args) =>
  args.length === 2 && args[0]!.id === 'array'
    ? {
        argTypes: [args[0]!, args[0]!.elem ?? T.text],
        ret: T.int4,
        impl: (a) => {
          if ((a[0] as ArrayValue).dims !== undefined)
            throw notSupported('searching for elements in multidimensional arrays');
          const i = (a[0] as ArrayValue).elems.findIndex(
            (e) => e === a[1] || (e !== null && a[1] !== null && String(e) === String(a[1])),
          );
          return i < 0 ? null : i + 1;
        },
        strict: true,
        volatile: false,
      }
    : undefined,
);

// ---- jsonb ----

function toJson(v: Value, t: SqlType, ctx: Parameters<ScalarImpl>[1]): JsonValue {
  if (v === null) return null;
  switch (t.id) {
    case 'bool':
      return v as boolean;
    case 'int2':
    case 'int4':
      return Decimal.fromInt(v as number);
    case 'int8':
      return Decimal.fromBigInt(v as bigint);
    case 'numeric':
      return v as Decimal;
    case 'float4':
    case 'float8':
      return Number.isFinite(v as number)
        ? (Decimal.parse(formatText(t, v, ctx.io)) ?? null)
        : formatText(t, v, ctx.io);
    case 'jsonb':
      return (v as JsonBox).json;
    case 'json':
      return parseJsonb(v as string).json;
    case 'array':
      return (v as ArrayValue).elems.map((e) => toJson(e, t.elem ?? T.text, ctx));
    default:
      return typeof v === 'string' ? v : formatText(t, v, ctx.io);
  }
}
export { toJson };

def(['to_jsonb', 'to_json'], (args) =>
  args.length === 1
    ? {
        argTypes: [args[0]!.id === 'unknown' ? T.text : args[0]!],
        ret: T.jsonb,
        impl: (a, ctx) =>
          ({
            kind: 'jsonb',
            json: toJson(a[0]!, args[0]!.id === 'unknown' ? T.text : args[0]!, ctx),
          }) satisfies JsonBox,
        strict: true,
        volatile: false,
      }
    : undefined,
);
def(['jsonb_build_object', 'json_build_object'], (args) => {
  if (args.length % 2 !== 0) return undefined;
  const types = args.map((t) => (t.id === 'unknown' ? T.text : t));
  return {
    argTypes: types,
    ret: T.jsonb,
    impl: (a, ctx) => {
      const obj: Record<string, JsonValue> = {};
      for (let i = 0; i < a.length; i += 2) {
        if (a[i] === null) throw new NextDbError(SqlState.invalidParameterValue, 'argument 1: key must not be null');
        obj[typeof a[i] === 'string' ? (a[i] as string) : formatText(types[i]!, a[i]!, ctx.io)] = toJson(
          a[i + 1]!,
          types[i + 1]!,
          ctx,
        );
      }
      const sorted: Record<string, JsonValue> = {};
      for (const k of sortJsonKeys(Object.keys(obj))) sorted[k] = obj[k]!;
      return { kind: 'jsonb', json: sorted } satisfies JsonBox;
    },
    strict: false,
    volatile: false,
  };
});
def(['jsonb_build_array', 'json_build_array'], (args) => {
  const types = args.map((t) => (t.id === 'unknown' ? T.text : t));
  return {
    argTypes: types,
    ret: T.jsonb,
    impl: (a, ctx) => ({ kind: 'jsonb', json: a.map((v, i) => toJson(v, types[i]!, ctx)) }) satisfies JsonBox,
    strict: false,
    volatile: false,
  };
});
def(
  'jsonb_typeof',
  sig([T.jsonb], T.text, (a) => {
    const j = (a[0] as JsonBox).json;
    if (j === null) return 'null';
    if (typeof j === 'boolean') return 'boolean';
    if (typeof j === 'string') return 'string';
    if (j instanceof Decimal) return 'number';
    return Array.isArray(j) ? 'array' : 'object';
  }),
);
def(
  'jsonb_array_length',
  sig([T.jsonb], T.int4, (a) => {
    const j = (a[0] as JsonBox).json;
    if (!Array.isArray(j))
      throw new NextDbError(SqlState.invalidParameterValue, 'cannot get array length of a non-array');
    return (j as readonly JsonValue[]).length;
  }),
);
def(
  'jsonb_pretty',
  sig([T.jsonb], T.text, (a, ctx) => formatText(T.jsonb, a[0]!, ctx.io)),
);

/** Finds the overload of `name` for `args`; undefined if none. */
export function resolveFunction(name: string, args: readonly SqlType[]): ResolvedFunction | undefined {
  const list = fns.get(name);
  if (list === undefined) return undefined;
  for (const r of list) {
    const f = r(args);
    if (f !== undefined) return f;
  }
  return undefined;
}

export function functionExists(name: string): boolean {
  return fns.has(name) || srfs.has(name);
}

// ---- set-returning functions (FROM clause) ----

type SrfResolver = (args: readonly SqlType[]) => ResolvedSrf | undefined;
const srfs = new Map<string, SrfResolver>();

srfs.set('generate_series', (args) => {
  if (args.length < 2 || args.length > 3) return undefined;
  const a0 = args[0]!.id === 'unknown' ? args[1]! : args[0]!;
  if (a0.id === 'timestamp' || a0.id === 'timestamptz' || (a0.id === 'unknown' && args[2]?.id === 'interval')) {
    const t = a0.id === 'unknown' ? T.timestamptz : a0;
    if (args.length !== 3) return undefined;
    return {
      argTypes: [t, t, T.interval],
      columns: [{ name: 'generate_series', type: t }],
      impl: function* (a) {
        const step = a[2] as Interval;
        const end = a[1] as bigint;
        if (step.months === 0 && step.days === 0 && step.micros === 0n)
          throw new NextDbError(SqlState.invalidParameterValue, 'step size cannot equal zero');
        const forward = step.months > 0 || step.days > 0 || step.micros > 0n;
        let cur = a[0] as bigint;
        let i = 0;
        while (forward ? cur <= end : cur >= end) {
          yield [cur];
          i++;
          cur = addIntervalN(a[0] as bigint, step, i);
        }
      },
    };
  }
  const t = args.every((x) => x.id === 'int4' || x.id === 'int2' || x.id === 'unknown')
    ? T.int4
    : args.some((x) => x.id === 'numeric')
      ? T.numeric
      : T.int8;
  if (!args.every((x) => canCast(x, t, 'implicit'))) return undefined;
  return {
    argTypes: args.map(() => t),
    columns: [{ name: 'generate_series', type: t }],
    impl: function* (a) {
      if (t.id === 'numeric') {
        const step = args.length === 3 ? (a[2] as Decimal) : Decimal.ONE;
        if (step.sign() === 0) throw new NextDbError(SqlState.invalidParameterValue, 'step size cannot equal zero');
        for (
          let v = a[0] as Decimal;
          step.sign() > 0 ? v.cmp(a[1] as Decimal) <= 0 : v.cmp(a[1] as Decimal) >= 0;
          v = v.add(step)
        )
          yield [v];
        return;
      }
      const big = t.id === 'int8';
      const start = big ? (a[0] as bigint) : BigInt(a[0] as number);
      const stop = big ? (a[1] as bigint) : BigInt(a[1] as number);
      const step = args.length === 3 ? (big ? (a[2] as bigint) : BigInt(a[2] as number)) : 1n;
      if (step === 0n) throw new NextDbError(SqlState.invalidParameterValue, 'step size cannot equal zero');
      for (let v = start; step > 0n ? v <= stop : v >= stop; v += step) yield [big ? v : Number(v)];
    },
  };
});
function addIntervalN(start: bigint, step: Interval, n: number): bigint {
  // Month arithmetic from the start (not cumulative) avoids drifting at month ends.
  return (
    addMonthsToTimestamp(start, step.months * n) + BigInt(step.days * n) * MICROS_PER_DAY + step.micros * BigInt(n)
  );
}
srfs.set('pg_partition_ancestors', (args) =>
  args.length === 1
    ? {
        argTypes: [T.regclass],
        columns: [{ name: 'relid', type: T.regclass }],
        impl: function* (a) {
          yield [a[0]!];
        },
      }
    : undefined,
);
srfs.set('unnest', (args) => {
  if (args.length !== 1 || args[0]!.id !== 'array') return undefined;
  return {
    argTypes: [args[0]!],
    columns: [{ name: 'unnest', type: args[0]!.elem ?? T.text }],
    impl: function* (a) {
      for (const e of (a[0] as ArrayValue).elems) yield [e];
    },
  };
});
srfs.set('generate_subscripts', (args) => {
  if (args.length !== 2 || args[0]!.id !== 'array') return undefined;
  return {
    argTypes: [args[0]!, T.int4],
    columns: [{ name: 'generate_subscripts', type: T.int4 }],
    impl: function* (a) {
      const n = (a[0] as ArrayValue).elems.length;
      for (let i = 1; i <= n; i++) yield [i];
    },
  };
});
srfs.set('jsonb_array_elements', (args) =>
  args.length === 1 && (args[0]!.id === 'jsonb' || args[0]!.id === 'unknown')
    ? {
        argTypes: [T.jsonb],
        columns: [{ name: 'value', type: T.jsonb }],
        impl: function* (a) {
          const j = (a[0] as JsonBox).json;
          if (!Array.isArray(j))
            throw new NextDbError(SqlState.invalidParameterValue, 'cannot extract elements from an object');
          for (const e of j as readonly JsonValue[]) yield [{ kind: 'jsonb', json: e } satisfies JsonBox];
        },
      }
    : undefined,
);
srfs.set('jsonb_each', (args) =>
  args.length === 1 && (args[0]!.id === 'jsonb' || args[0]!.id === 'unknown')
    ? {
        argTypes: [T.jsonb],
        columns: [
          { name: 'key', type: T.text },
          { name: 'value', type: T.jsonb },
        ],
        impl: function* (a) {
          const j = (a[0] as JsonBox).json;
          if (j === null || typeof j !== 'object' || Array.isArray(j) || j instanceof Decimal) {
            throw new NextDbError(SqlState.invalidParameterValue, 'cannot call jsonb_each on a non-object');
          }
          for (const [k, v] of Object.entries(j as Record<string, JsonValue>))
            yield [k, { kind: 'jsonb', json: v } satisfies JsonBox];
        },
      }
    : undefined,
);
srfs.set('jsonb_object_keys', (args) =>
  args.length === 1 && (args[0]!.id === 'jsonb' || args[0]!.id === 'unknown')
    ? {
        argTypes: [T.jsonb],
        columns: [{ name: 'jsonb_object_keys', type: T.text }],
        impl: function* (a) {
          const j = (a[0] as JsonBox).json;
          if (j === null || typeof j !== 'object' || Array.isArray(j) || j instanceof Decimal) return;
          for (const k of Object.keys(j)) yield [k];
        },
      }
    : undefined,
);

export function resolveSrf(name: string, args: readonly SqlType[]): ResolvedSrf | undefined {
  return srfs.get(name)?.(args);
}

export function isSrf(name: string): boolean {
  return srfs.has(name);
}
