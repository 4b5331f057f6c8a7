/**
 * Aggregate functions: type resolution and accumulators.
 *
 * Result types follow PostgreSQL: count → bigint; sum(int2/int4) → bigint,
 * sum(int8/numeric) → numeric; avg of integers/numeric → numeric (PostgreSQL's
 * division scale); avg/stddev of floats → double precision. An accumulator
 * sees only non-NULL argument rows (strict transition functions), except
 * count(*), and returns NULL over no rows (0 for count).
 */

import { accumulateArrays } from '../types/array-dims.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { Decimal } from '../types/decimal.ts';
import {
  Types,
  arrayOf,
  type ArrayValue,
  type Interval,
  type JsonBox,
  type SqlType,
  type Value,
} from '../types/sql-type.ts';
import { comparatorFor, hashKey } from '../types/compare.ts';
import { checkInt8 } from '../types/cast.ts';
import { toJson } from '../plan/functions.ts';
import type { EvalContext } from './eval-context.ts';
import { formatText } from '../types/text-io.ts';

export interface Accumulator {
  add(args: readonly Value[], ctx: EvalContext): void;
  result(ctx: EvalContext): Value;
}

export interface ResolvedAggregate {
  readonly argTypes: readonly SqlType[];
  readonly ret: SqlType;
  readonly make: () => Accumulator;
}

/** Aggregates that are not strict: rows whose argument is NULL still reach them (PostgreSQL). */
export const AGGS_KEEPING_NULLS: ReadonlySet<string> = new Set(['array_agg', 'json_agg', 'jsonb_agg']);

const AGG_NAMES = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'bool_and',
  'bool_or',
  'every',
  'string_agg',
  'array_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'stddev',
  'stddev_samp',
  'stddev_pop',
  'variance',
  'var_samp',
  'var_pop',
  'bit_and',
  'bit_or',
  'percentile_cont',
  'percentile_disc',
  'mode',
]);

export function isAggregateName(name: string): boolean {
  return AGG_NAMES.has(name);
}

function isInt(t: SqlType): boolean {
  return t.id === 'int2' || t.id === 'int4' || t.id === 'int8';
}
function isNum(t: SqlType): boolean {
  return isInt(t) || t.id === 'numeric' || t.id === 'float4' || t.id === 'float8';
}

function toDecimal(v: Value): Decimal {
  if (typeof v === 'number') return Decimal.fromInt(v);
  if (typeof v === 'bigint') return Decimal.fromBigInt(v);
  return v as Decimal;
}

class CountAcc implements Accumulator {
  n = 0n;
  add(): void {
    this.n++;
  }
  result(): Value {
    return this.n;
  }
}

class SumIntAcc implements Accumulator {
  sum = 0n;
  seen = false;
  add(a: readonly Value[]): void {
    const v = a[0]!;
    this.sum += typeof v === 'bigint' ? v : BigInt(v as number);
    this.seen = true;
  }
  result(): Value {
    return this.seen ? checkInt8(this.sum) : null;
  }
}

class SumDecimalAcc implements Accumulator {
  sum = 0n;
  dec: Decimal | undefined;
  n = 0n;
  constructor(private readonly avg: boolean) {}
  add(a: readonly Value[]): void {
    const v = a[0]!;
    if (typeof v === 'number' || typeof v === 'bigint') this.sum += BigInt(v);
    else this.dec = this.dec === undefined ? (v as Decimal) : this.dec.add(v as Decimal);
    this.n++;
  }
  result(): Value {
    if (this.n === 0n) return null;
    let total = Decimal.fromBigInt(this.sum);
    if (this.dec !== undefined) total = total.add(this.dec);
    return this.avg ? total.div(Decimal.fromBigInt(this.n)) : total;
  }
}

class SumFloatAcc implements Accumulator {
  sum = 0;
  n = 0;
  constructor(
    private readonly avg: boolean,
    private readonly single: boolean,
  ) {}
  add(a: readonly Value[]): void {
    this.sum += a[0] as number;
    this.n++;
  }
  result(): Value {
    if (this.n === 0) return null;
    const r = this.avg ? this.sum / this.n : this.sum;
    return this.single ? Math.fround(r) : r;
  }
}

class SumIntervalAcc implements Accumulator {
  months = 0;
  days = 0;
  micros = 0n;
  n = 0;
  constructor(private readonly avg: boolean) {}
  add(a: readonly Value[]): void {
    const iv = a[0] as Interval;
    this.months += iv.months;
    this.days += iv.days;
    this.micros += iv.micros;
    this.n++;
  }
  result(): Value {
    if (this.n === 0) return null;
    if (!this.avg) return { months: this.months, days: this.days, micros: this.micros } satisfies Interval;
    const m = this.months / this.n;
    const wm = Math.trunc(m);
    const d = this.days / this.n + (m - wm) * 30;
    const wd = Math.trunc(d);
    return {
      months: wm,
      days: wd,
      micros: this.micros / BigInt(this.n) + BigInt(Math.round((d - wd) * 86400e6)),
    } satisfies Interval;
  }
}

class MinMaxAcc implements Accumulator {
  best: Value = null;
  constructor(
    private readonly cmp: (a: Value, b: Value) => number,
    private readonly sign: number,
  ) {}
  add(a: readonly Value[]): void {
    const v = a[0]!;
    if (this.best === null || this.cmp(v, this.best) * this.sign > 0) this.best = v;
  }
  result(): Value {
    return this.best;
  }
}

class BoolAcc implements Accumulator {
  acc: boolean | null = null;
  constructor(private readonly and: boolean) {}
  add(a: readonly Value[]): void {
    const v = a[0] as boolean;
    this.acc = this.acc === null ? v : this.and ? this.acc && v : this.acc || v;
  }
  result(): Value {
    return this.acc;
  }
}

class CollectAcc implements Accumulator {
  items: Value[][] = [];
  constructor(private readonly finish: (items: Value[][], ctx: EvalContext) => Value) {}
  add(a: readonly Value[]): void {
    this.items.push(a.slice());
  }
  result(ctx: EvalContext): Value {
    return this.items.length === 0 ? null : this.finish(this.items, ctx);
  }
}

class VarianceAcc implements Accumulator {
  // Exact for integers and numerics (sums of values and squares as decimals).
  n = 0n;
  sum = Decimal.ZERO;
  sumSq = Decimal.ZERO;
  fn = 0;
  fsum = 0;
  fsumSq = 0;
  constructor(
    private readonly float: boolean,
    private readonly sample: boolean,
    private readonly sqrt: boolean,
  ) {}
  add(a: readonly Value[]): void {
    if (this.float) {
      const v = a[0] as number;
      this.fn++;
      this.fsum += v;
      this.fsumSq += v * v;
      return;
    }
    const d = toDecimal(a[0]!);
    this.n++;
    this.sum = this.sum.add(d);
    this.sumSq = this.sumSq.add(d.mul(d));
  }
  result(): Value {
    if (this.float) {
      const n = this.fn;
      if (n === 0 || (this.sample && n === 1)) return null;
      const num = n * this.fsumSq - this.fsum * this.fsum;
      const v = Math.max(0, num) / (n * (this.sample ? n - 1 : n));
      return this.sqrt ? Math.sqrt(v) : v;
    }
    const n = this.n;
    if (n === 0n || (this.sample && n === 1n)) return null;
    const N = Decimal.fromBigInt(n);
    const num = N.mul(this.sumSq).sub(this.sum.mul(this.sum));
    const den = N.mul(Decimal.fromBigInt(this.sample ? n - 1n : n));
    const v = num.div(den);
    if (!this.sqrt) return v;
    const s = Math.sqrt(v.toNumber());
    return Decimal.fromFloat(s, 16).round(Math.max(v.scale, 16)).trimTrailingZeros().round(Math.max(v.scale, 0));
  }
}

/** Resolves an aggregate call; undefined when no overload fits. */
export function resolveAggregate(name: string, args: readonly SqlType[], star: boolean): ResolvedAggregate | undefined {
  if (name === 'count') {
    if (star || args.length === 0) return { argTypes: [], ret: Types.int8, make: () => new CountAcc() };
    if (args.length === 1)
      return {
        argTypes: [args[0]!.id === 'unknown' ? Types.text : args[0]!],
        ret: Types.int8,
        make: () => new CountAcc(),
      };
    return undefined;
  }
  const t0 = args[0]?.id === 'unknown' ? Types.text : args[0];
  if (t0 === undefined) return undefined;
  const base = t0.typmod === -1 ? t0 : { ...t0, typmod: -1 };
  switch (name) {
    case 'sum':
    case 'avg': {
      if (args.length !== 1) return undefined;
      const avg = name === 'avg';
      if (t0.id === 'unknown' || t0.id === 'text') return undefined;
      if (t0.id === 'int2' || t0.id === 'int4') {
        return avg
          ? { argTypes: [t0], ret: Types.numeric, make: () => new SumDecimalAcc(true) }
          : { argTypes: [t0], ret: Types.int8, make: () => new SumIntAcc() };
      }
      if (t0.id === 'int8' || t0.id === 'numeric')
        return { argTypes: [base], ret: Types.numeric, make: () => new SumDecimalAcc(avg) };
      if (t0.id === 'float4')
        return { argTypes: [t0], ret: avg ? Types.float8 : Types.float4, make: () => new SumFloatAcc(avg, !avg) };
      if (t0.id === 'float8') return { argTypes: [t0], ret: Types.float8, make: () => new SumFloatAcc(avg, false) };
      if (t0.id === 'interval') return { argTypes: [t0], ret: Types.interval, make: () => new SumIntervalAcc(avg) };
      return undefined;
    }
    case 'min':
    case 'max': {
      if (args.length !== 1 || t0.id === 'json' || t0.id === 'bool') return undefined;
      const cmp = comparatorFor(base);
      const sign = name === 'max' ? 1 : -1;
      return { argTypes: [base], ret: base, make: () => new MinMaxAcc(cmp, sign) };
    }
    case 'bool_and':
    case 'every':
    case 'bool_or':
      if (args.length !== 1 || (t0.id !== 'bool' && t0.id !== 'text')) return undefined;
      return { argTypes: [Types.bool], ret: Types.bool, make: () => new BoolAcc(name !== 'bool_or') };
    case 'string_agg':
      if (args.length !== 2) return undefined;
      if (t0.id === 'bytea') {
        return {
          argTypes: [Types.bytea, Types.bytea],
          ret: Types.bytea,
          make: () =>
            new CollectAcc((items) =>
              Buffer.concat(
                items.flatMap((it, i) =>
                  i === 0 ? [it[0] as Buffer] : [(it[1] as Buffer | null) ?? Buffer.alloc(0), it[0] as Buffer],
                ),
              ),
            ),
        };
      }
      return {
        argTypes: [Types.text, Types.text],
        ret: Types.text,
        make: () =>
          new CollectAcc((items) =>
            items
              .map((it, i) => (i === 0 ? (it[0] as string) : ((it[1] as string | null) ?? '') + (it[0] as string)))
              .join(''),
          ),
      };
    case 'array_agg':
      if (args.length !== 1) return undefined;
      // array_agg(arr): the arrays stacked into one more dimension, of the same array type (PostgreSQL).
      if (base.id === 'array')
        return {
          argTypes: [base],
          ret: base,
          make: () => new CollectAcc((items) => accumulateArrays(items.map((it) => it[0]!))),
        };
      return {
        argTypes: [base],
        ret: arrayOf(base),
        make: () =>
          new CollectAcc((items) => ({ kind: 'array', elems: items.map((it) => it[0]!) }) satisfies ArrayValue),
      };
    case 'json_agg':
    case 'jsonb_agg':
      if (args.length !== 1) return undefined;
      return {
        argTypes: [base],
        ret: name === 'json_agg' ? Types.json : Types.jsonb,
        make: () =>
          new CollectAcc((items, ctx) => {
            const j: JsonBox = { kind: 'jsonb', json: items.map((it) => toJson(it[0]!, base, ctx)) };
            return name === 'json_agg' ? formatText(Types.jsonb, j, ctx.io) : j;
          }),
      };
    case 'stddev':
    case 'stddev_samp':
    case 'stddev_pop':
    case 'variance':
    case 'var_samp':
    case 'var_pop': {
      if (args.length !== 1 || !isNum(t0)) return undefined;
      const float = t0.id === 'float4' || t0.id === 'float8';
      const sample = !name.endsWith('_pop');
      const sqrt = name.startsWith('stddev');
      return {
        argTypes: [float ? Types.float8 : base],
        ret: float ? Types.float8 : Types.numeric,
        make: () => new VarianceAcc(float, sample, sqrt),
      };
    }
    case 'bit_and':
    case 'bit_or': {
      if (args.length !== 1 || !isInt(t0)) return undefined;
      const and = name === 'bit_and';
      return {
        argTypes: [base],
        ret: base,
        make: () =>
          new CollectAcc((items) => {
            if (base.id === 'int8') return items.map((i) => i[0] as bigint).reduce((a, b) => (and ? a & b : a | b));
            return items.map((i) => i[0] as number).reduce((a, b) => (and ? a & b : a | b));
          }),
      };
    }
    case 'percentile_cont':
    case 'percentile_disc': {
      // Values arrive sorted (the aggregate operator sorts by WITHIN GROUP's ORDER BY); args[1] is the fraction.
      if (args.length !== 2) return undefined;
      const cont = name === 'percentile_cont';
      return {
        argTypes: [base, Types.float8],
        ret: base,
        make: () =>
          new CollectAcc((items) => {
            const f = items[0]![1] as number;
            if (f < 0 || f > 1 || Number.isNaN(f))
              throw new NextDbError('22003', `percentile value ${f} is not between 0 and 1`);
            const n = items.length;
            if (!cont) return items[Math.max(0, Math.ceil(f * n) - 1)]![0]!;
            const pos = f * (n - 1);
            const lo = Math.floor(pos);
            const hi = Math.ceil(pos);
            const a = items[lo]![0]!;
            const b = items[hi]![0]!;
            if (base.id === 'interval') {
              const x = a as Interval;
              const y = b as Interval;
              const t = pos - lo;
              const mix = (p: number, q: number): number => p + (q - p) * t;
              return {
                months: Math.round(mix(x.months, y.months)),
                days: Math.round(mix(x.days, y.days)),
                micros: BigInt(Math.round(mix(Number(x.micros), Number(y.micros)))),
              } satisfies Interval;
            }
            return (a as number) + ((b as number) - (a as number)) * (pos - lo);
          }),
      };
    }
    case 'mode':
      if (args.length !== 1) return undefined;
      return {
        argTypes: [base],
        ret: base,
        make: () =>
          new CollectAcc((items) => {
            let best: Value = null;
            let bestN = 0;
            let cur: Value = null;
            let n = 0;
            let curKey = '';
            for (const it of items) {
              const k = hashKey(it[0]!);
              if (n > 0 && k === curKey) n++;
              else {
                cur = it[0]!;
                curKey = k;
                n = 1;
              }
              if (n > bestN) {
                best = cur;
                bestN = n;
              }
            }
            return best;
          }),
      };
    default:
      return undefined;
  }
}

export function unsupportedAggregate(name: string): NextDbError {
  return new NextDbError(SqlState.featureNotSupported, `aggregate ${name} is not supported yet`);
}
