/**
 * Exact decimal arithmetic for SQL `numeric`, on bigint.
 *
 * A Decimal is `coef × 10^-scale` with `scale >= 0`; the scale is the
 * PostgreSQL "display scale" (dscale) and is kept exactly as PostgreSQL
 * keeps it (1.50 + 1 = 2.50), so text output matches. NaN is a separate
 * singleton; PostgreSQL 15 numeric also has ±Infinity, which we do not
 * model (casting an infinite float raises 0A000).
 *
 * Division and square roots follow PostgreSQL's result-scale rule
 * (select_div_scale): at least 16 significant digits, at least the scale of
 * either input, at most 1000, rounded half away from zero.
 */

import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';

const TEN = 10n;
const POW10: bigint[] = [];
function pow10(n: number): bigint {
  if (n < 64) {
    let p = POW10[n];
    if (p === undefined) {
      p = TEN ** BigInt(n);
      POW10[n] = p;
    }
    return p;
  }
  return TEN ** BigInt(n);
}

const MIN_SIG_DIGITS = 16;
const MAX_DISPLAY_SCALE = 1000;

export class Decimal {
  static readonly NaN = new Decimal(0n, 0, true);
  static readonly ZERO = new Decimal(0n, 0);
  static readonly ONE = new Decimal(1n, 0);

  private constructor(
    readonly coef: bigint,
    readonly scale: number,
    readonly isNaN = false,
  ) {}

  static of(coef: bigint, scale = 0): Decimal {
    return new Decimal(coef, scale);
  }

  static fromBigInt(v: bigint): Decimal {
    return new Decimal(v, 0);
  }

  static fromInt(v: number): Decimal {
    return new Decimal(BigInt(v), 0);
  }

  /** Parses PostgreSQL numeric input: [+-]digits[.digits][e[+-]digits], NaN; surrounding spaces allowed. */
  static parse(text: string): Decimal | undefined {
    const s = text.trim();
    if (/^nan$/i.test(s)) return Decimal.NaN;
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (m === null) return undefined;
    const intPart = m[2] ?? '';
    const fracPart = m[3] ?? '';
    if (intPart === '' && fracPart === '') return undefined;
    let coef = BigInt((intPart + fracPart).replace(/^0+(?=\d)/, '') || '0');
    let scale = fracPart.length;
    if (m[4] !== undefined) {
      const exp = Number(m[4]);
      if (Math.abs(exp) > 100000) return undefined;
      scale -= exp;
      if (scale < 0) {
        coef *= pow10(-scale);
        scale = 0;
      }
    }
    if (m[1] === '-') coef = -coef;
    return new Decimal(coef, scale);
  }

  /** Exact conversion of a finite double (as PostgreSQL's float8→numeric: 15 significant digits). */
  static fromFloat(v: number, digits = 15): Decimal {
    if (Number.isNaN(v)) return Decimal.NaN;
    if (!Number.isFinite(v)) throw notSupported('infinite numeric values');
    const d = Decimal.parse(v.toPrecision(digits));
    if (d === undefined) throw new NextDbError(SqlState.internalError, `cannot convert ${v} to numeric`);
    return d.trimTrailingZeros();
  }

  /** Removes trailing fractional zeros (used after float conversion, as PostgreSQL does). */
  trimTrailingZeros(): Decimal {
    if (this.isNaN) return this;
    let c = this.coef;
    let s = this.scale;
    while (s > 0 && c % TEN === 0n) {
      c /= TEN;
      s--;
    }
    return new Decimal(c, s);
  }

  sign(): number {
    return this.coef > 0n ? 1 : this.coef < 0n ? -1 : 0;
  }

  private static align(a: Decimal, b: Decimal): [bigint, bigint, number] {
    if (a.scale === b.scale) return [a.coef, b.coef, a.scale];
    if (a.scale > b.scale) return [a.coef, b.coef * pow10(a.scale - b.scale), a.scale];
    return [a.coef * pow10(b.scale - a.scale), b.coef, b.scale];
  }

  add(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    const [x, y, s] = Decimal.align(this, o);
    return new Decimal(x + y, s);
  }

  sub(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    const [x, y, s] = Decimal.align(this, o);
    return new Decimal(x - y, s);
  }

  mul(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    return new Decimal(this.coef * o.coef, this.scale + o.scale);
  }

  neg(): Decimal {
    if (this.isNaN) return this;
    return new Decimal(-this.coef, this.scale);
  }

  abs(): Decimal {
    return this.coef < 0n ? this.neg() : this;
  }

  cmp(o: Decimal): number {
    // PostgreSQL sorts NaN above every other value and equal to itself.
    if (this.isNaN || o.isNaN) return this.isNaN === o.isNaN ? 0 : this.isNaN ? 1 : -1;
    const [x, y] = Decimal.align(this, o);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  /**
   * PostgreSQL's "weight" and first digit in base 10000, used by the
   * division scale rule. Zero has weight 0 and first digit 0.
   */
  private base10000Lead(): [number, number] {
    if (this.coef === 0n) return [0, 0];
    const digits = (this.coef < 0n ? -this.coef : this.coef).toString();
    // Position of the most significant digit relative to the decimal point:
    // exponent e such that the digit is worth 10^e.
    const e = digits.length - 1 - this.scale;
    const weight = Math.floor(e / 4);
    // The base-10000 group holding that digit spans exponents 4w..4w+3; its
    // value is the leading digits down to exponent 4w.
    const take = e - 4 * weight + 1;
    return [weight, Number(digits.slice(0, take))];
  }

  /** Division with PostgreSQL's result scale. */
  div(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    if (o.coef === 0n) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
    const [w1, f1] = this.base10000Lead();
    const [w2, f2] = o.base10000Lead();
    let qweight = w1 - w2;
    if (f1 <= f2) qweight--;
    let rscale = MIN_SIG_DIGITS - qweight * 4;
    rscale = Math.max(rscale, this.scale, o.scale, 0);
    rscale = Math.min(rscale, MAX_DISPLAY_SCALE);
    return this.divScale(o, rscale);
  }

  /** Division rounded half away from zero to `rscale` fractional digits. */
  divScale(o: Decimal, rscale: number): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    if (o.coef === 0n) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
    // this/o = (c1/10^s1)/(c2/10^s2) = c1*10^s2 / (c2*10^s1); scale up by 10^rscale.
    let num = this.coef * pow10(o.scale + rscale);
    let den = o.coef * pow10(this.scale);
    if (den < 0n) {
      den = -den;
      num = -num;
    }
    return new Decimal(roundDiv(num, den), rscale);
  }

  /** Truncating integer division (numeric div()). */
  intDiv(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    if (o.coef === 0n) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
    const [x, y] = Decimal.align(this, o);
    return new Decimal(x / y, 0);
  }

  mod(o: Decimal): Decimal {
    if (this.isNaN || o.isNaN) return Decimal.NaN;
    if (o.coef === 0n) throw new NextDbError(SqlState.divisionByZero, 'division by zero');
    const [x, y, s] = Decimal.align(this, o);
    return new Decimal(x % y, s);
  }

  /** Rounds half away from zero to `s` fractional digits (negative s rounds left of the point). */
  round(s: number): Decimal {
    if (this.isNaN) return this;
    if (s >= this.scale) return new Decimal(this.coef * pow10(s - this.scale), s);
    const drop = this.scale - s;
    const q = roundDiv(this.coef, pow10(drop));
    if (s >= 0) return new Decimal(q, s);
    return new Decimal(q * pow10(-s), 0);
  }

  trunc(s: number): Decimal {
    if (this.isNaN) return this;
    if (s >= this.scale) return new Decimal(this.coef * pow10(s - this.scale), s);
    const drop = this.scale - s;
    const q = this.coef / pow10(drop);
    if (s >= 0) return new Decimal(q, s);
    return new Decimal(q * pow10(-s), 0);
  }

  floor(): Decimal {
    if (this.isNaN) return this;
    const p = pow10(this.scale);
    let q = this.coef / p;
    if (this.coef < 0n && q * p !== this.coef) q -= 1n;
    return new Decimal(q, 0);
  }

  ceil(): Decimal {
    if (this.isNaN) return this;
    const p = pow10(this.scale);
    let q = this.coef / p;
    if (this.coef > 0n && q * p !== this.coef) q += 1n;
    return new Decimal(q, 0);
  }

  /** Integer value, rounded half away from zero (numeric → int casts). */
  toBigIntRounded(): bigint {
    if (this.isNaN) throw new NextDbError(SqlState.numericValueOutOfRange, 'cannot convert NaN to integer');
    return roundDiv(this.coef, pow10(this.scale));
  }

  toNumber(): number {
    if (this.isNaN) return Number.NaN;
    return Number(this.toString());
  }

  isInteger(): boolean {
    return this.scale === 0 || this.coef % pow10(this.scale) === 0n;
  }

  /** Number of digits before the decimal point (0 for |x| < 1). */
  integerDigits(): number {
    const p = pow10(this.scale);
    const ip = (this.coef < 0n ? -this.coef : this.coef) / p;
    return ip === 0n ? 0 : ip.toString().length;
  }

  toString(): string {
    if (this.isNaN) return 'NaN';
    const neg = this.coef < 0n;
    let digits = (neg ? -this.coef : this.coef).toString();
    if (this.scale > 0) {
      if (digits.length <= this.scale) digits = '0'.repeat(this.scale - digits.length + 1) + digits;
      digits = `${digits.slice(0, digits.length - this.scale)}.${digits.slice(digits.length - this.scale)}`;
    }
    return neg ? `-${digits}` : digits;
  }
}

/** num/den rounded half away from zero; den > 0. */
function roundDiv(num: bigint, den: bigint): bigint {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den;
  const r = num % den;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= den) return num < 0n ? q - 1n : q + 1n;
  return q;
}
