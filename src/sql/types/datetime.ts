/**
 * Dates, times, timestamps and intervals: parsing and PostgreSQL's text
 * output (DateStyle ISO, MDY; IntervalStyle postgres).
 *
 * Representation (see sql-type.ts): date = days since 1970-01-01 (number);
 * time = microseconds since midnight (bigint); timestamp and timestamptz =
 * microseconds since 1970-01-01 00:00 UTC (bigint; a timestamp without time
 * zone is stored as if its wall-clock reading were UTC).
 *
 * Time zones: 'UTC'/'GMT', fixed offsets ('+05:30', '-8'), and IANA names
 * through Intl (Node ships full ICU). Offsets of named zones come from
 * Intl.DateTimeFormat, cached per zone.
 *
 * Limits: input accepts ISO-8601 style ('2024-01-31', '2024-01-31 10:00:00.5+02',
 * 'T' separator), 'epoch', 'now', 'today', 'infinity', '-infinity';
 * BC dates are accepted; other DateStyles for input are not.
 */

import { NextDbError } from '../../util/errors.ts';
import type { Interval } from './sql-type.ts';

export const MICROS_PER_SECOND = 1_000_000n;

/**
 * 'infinity' and '-infinity': PostgreSQL's sentinels, the largest and
 * smallest value of the representation (int32 days for date, int64
 * microseconds for timestamps), so they sort after and before every finite
 * value, in keys too. The binary wire format carries them unchanged.
 */
export const DATE_INFINITY = 2147483647;
export const DATE_NEG_INFINITY = -2147483648;
export const TS_INFINITY = 9223372036854775807n;
export const TS_NEG_INFINITY = -9223372036854775808n;

export function isInfiniteDate(days: number): boolean {
  return days === DATE_INFINITY || days === DATE_NEG_INFINITY;
}

export function isInfiniteTs(ts: bigint): boolean {
  return ts === TS_INFINITY || ts === TS_NEG_INFINITY;
}

/** 1 for 'infinity', -1 for '-infinity', 0 otherwise (PostgreSQL 15 takes no '+infinity' here). */
function infinityIn(text: string): 1 | -1 | 0 {
  const t = text.trim().toLowerCase();
  return t === 'infinity' ? 1 : t === '-infinity' ? -1 : 0;
}

/** date → timestamp (midnight); the infinities map to each other. */
export function dateToTimestamp(days: number): bigint {
  if (days === DATE_INFINITY) return TS_INFINITY;
  if (days === DATE_NEG_INFINITY) return TS_NEG_INFINITY;
  return BigInt(days) * MICROS_PER_DAY;
}

function infinityError(what: string): NextDbError {
  return new NextDbError('22008', `cannot subtract infinite ${what}`);
}
export const MICROS_PER_DAY = 86_400_000_000n;
const MICROS_PER_DAY_N = 86_400_000_000;

function invalid(type: string, text: string): NextDbError {
  return new NextDbError('22007', `invalid input syntax for type ${type}: "${text}"`);
}

/** Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [m <= 2 ? y + 1 : y, m, d];
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 31;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function formatYear(y: number): [string, string] {
  // PostgreSQL prints year 0 as 1 BC, -1 as 2 BC.
  if (y <= 0) return [pad(1 - y, 4), ' BC'];
  return [pad(y, 4), ''];
}

export function formatDate(days: number): string {
  if (isInfiniteDate(days)) return days > 0 ? 'infinity' : '-infinity';
  const [y, m, d] = civilFromDays(days);
  const [ys, bc] = formatYear(y);
  return `${ys}-${pad(m, 2)}-${pad(d, 2)}${bc}`;
}

function formatFraction(micros: number): string {
  if (micros === 0) return '';
  return `.${pad(micros, 6).replace(/0+$/, '')}`;
}

/** date - date in days (PostgreSQL refuses infinite dates). */
export function dateDiff(a: number, b: number): number {
  if (isInfiniteDate(a) || isInfiniteDate(b)) throw infinityError('dates');
  return a - b;
}

/** date ± days: an infinite date stays infinite. */
export function addDays(days: number, n: number): number {
  return isInfiniteDate(days) ? days : days + n;
}

export function formatTime(micros: bigint): string {
  const total = Number(micros);
  const us = total % 1_000_000;
  const secs = Math.floor(total / 1_000_000);
  return `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}${formatFraction(us)}`;
}

function splitMicros(ts: bigint): [number, bigint] {
  let days = ts / MICROS_PER_DAY;
  let rem = ts % MICROS_PER_DAY;
  if (rem < 0n) {
    rem += MICROS_PER_DAY;
    days -= 1n;
  }
  return [Number(days), rem];
}

export function formatTimestamp(ts: bigint): string {
  if (isInfiniteTs(ts)) return ts > 0n ? 'infinity' : '-infinity';
  const [days, rem] = splitMicros(ts);
  const [y, m, d] = civilFromDays(days);
  const [ys, bc] = formatYear(y);
  return `${ys}-${pad(m, 2)}-${pad(d, 2)} ${formatTime(rem)}${bc}`;
}

function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const a = Math.abs(offsetSeconds);
  const h = Math.floor(a / 3600);
  const mi = Math.floor(a / 60) % 60;
  const s = a % 60;
  let out = `${sign}${pad(h, 2)}`;
  if (mi !== 0 || s !== 0) out += `:${pad(mi, 2)}`;
  if (s !== 0) out += `:${pad(s, 2)}`;
  return out;
}

export function formatTimestamptz(ts: bigint, zone: string): string {
  if (isInfiniteTs(ts)) return ts > 0n ? 'infinity' : '-infinity';
  const off = zoneOffsetSeconds(zone, ts);
  const local = ts + BigInt(off) * MICROS_PER_SECOND;
  const [days, rem] = splitMicros(local);
  const [y, m, d] = civilFromDays(days);
  const [ys, bc] = formatYear(y);
  return `${ys}-${pad(m, 2)}-${pad(d, 2)} ${formatTime(rem)}${formatOffset(off)}${bc}`;
}

// ---- time zones ----

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Canonical zone name, or undefined when unknown. */
export function normalizeZone(zone: string): string | undefined {
  const z = zone.trim();
  if (/^(utc|gmt|z|zulu|etc\/utc)$/i.test(z)) return 'UTC';
  if (fixedOffsetSeconds(z) !== undefined) return z;
  try {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: z });
    return f.resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** POSIX-style fixed offsets as PostgreSQL reads them in SET TIME ZONE: '+5' means 5 hours east. */
function fixedOffsetSeconds(z: string): number | undefined {
  const m = /^([+-])?(\d{1,2})(?::?(\d{2}))?(?::(\d{2}))?$/.exec(z);
  if (m === null) return undefined;
  const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -secs : secs;
}

/** Offset east of UTC, in seconds, of `zone` at UTC instant `ts` (microseconds). */
export function zoneOffsetSeconds(zone: string, ts: bigint): number {
  if (zone === 'UTC') return 0;
  const fixed = fixedOffsetSeconds(zone);
  if (fixed !== undefined) return fixed;
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(zone, f);
  }
  const ms = Number(ts / 1000n);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return 0;
  const parts = f.formatToParts(new Date(Math.floor(ms / 1000) * 1000));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  let year = get('year');
  if (parts.find((p) => p.type === 'era')?.value === 'BC') year = 1 - year;
  const localDays = daysFromCivil(year, get('month'), get('day'));
  const localSecs = localDays * 86400 + get('hour') * 3600 + get('minute') * 60 + get('second');
  return localSecs - Math.floor(ms / 1000);
}

/** UTC instant of a local wall-clock reading in `zone` (microseconds). */
export function localToUtc(local: bigint, zone: string): bigint {
  // Two passes settle the offset except inside a DST gap, where PostgreSQL
  // also picks the offset in force just before.
  let off = zoneOffsetSeconds(zone, local);
  off = zoneOffsetSeconds(zone, local - BigInt(off) * MICROS_PER_SECOND);
  return local - BigInt(off) * MICROS_PER_SECOND;
}

// ---- parsing ----

interface ParsedDateTime {
  days: number;
  timeMicros: bigint;
  /** Offset east of UTC in seconds when the text named one. */
  offset: number | undefined;
  hasTime: boolean;
}

const DT_RE =
  /^\s*(\d{1,7})-(\d{1,2})-(\d{1,2})(?:(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?(?::\d{2})?)?\s*(BC|AD)?\s*$/i;

function parseDateTime(text: string, type: string, nowMicros: bigint | undefined): ParsedDateTime {
  const lower = text.trim().toLowerCase();
  if (lower === 'epoch') return { days: 0, timeMicros: 0n, offset: 0, hasTime: true };
  if (
    nowMicros !== undefined &&
    (lower === 'now' || lower === 'today' || lower === 'tomorrow' || lower === 'yesterday')
  ) {
    const [days, rem] = splitMicros(nowMicros);
    if (lower === 'now') return { days, timeMicros: rem, offset: 0, hasTime: true };
    const shift = lower === 'tomorrow' ? 1 : lower === 'yesterday' ? -1 : 0;
    return { days: days + shift, timeMicros: 0n, offset: undefined, hasTime: false };
  }
  const m = DT_RE.exec(text);
  if (m === null) throw invalid(type, text);
  let y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (m[9] !== undefined && m[9].toUpperCase() === 'BC') y = 1 - y;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) {
    throw new NextDbError('22008', `date/time field value out of range: "${text}"`);
  }
  const days = daysFromCivil(y, mo, d);
  let timeMicros = 0n;
  const hasTime = m[4] !== undefined;
  if (hasTime) {
    const h = Number(m[4]);
    const mi = Number(m[5]);
    const s = Number(m[6] ?? 0);
    if (h > 24 || mi > 59 || s > 60 || (h === 24 && (mi > 0 || s > 0))) {
      throw new NextDbError('22008', `date/time field value out of range: "${text}"`);
    }
    timeMicros = BigInt(h * 3600 + mi * 60 + s) * MICROS_PER_SECOND + fractionMicros(m[7]);
  }
  let offset: number | undefined;
  const z = m[8];
  if (z !== undefined) {
    if (/^(z|utc|gmt)$/i.test(z)) offset = 0;
    else offset = fixedOffsetSeconds(z);
  }
  return { days, timeMicros, offset, hasTime };
}

function fractionMicros(frac: string | undefined): bigint {
  if (frac === undefined || frac === '') return 0n;
  // Round to microseconds as PostgreSQL does (half away from zero).
  const digits = frac.padEnd(7, '0');
  let us = Number(digits.slice(0, 6));
  if (Number(digits[6]) >= 5) us += 1;
  return BigInt(us);
}

export function parseDate(text: string, nowMicros?: bigint): number {
  const inf = infinityIn(text);
  if (inf !== 0) return inf > 0 ? DATE_INFINITY : DATE_NEG_INFINITY;
  const p = parseDateTime(text, 'date', nowMicros);
  return p.days;
}

export function parseTimestamp(text: string, nowMicros?: bigint): bigint {
  const inf = infinityIn(text);
  if (inf !== 0) return inf > 0 ? TS_INFINITY : TS_NEG_INFINITY;
  const p = parseDateTime(text, 'timestamp', nowMicros);
  // A zone in the text is ignored for timestamp without time zone (PostgreSQL does the same).
  return BigInt(p.days) * MICROS_PER_DAY + p.timeMicros;
}

export function parseTimestamptz(text: string, zone: string, nowMicros?: bigint): bigint {
  const inf = infinityIn(text);
  if (inf !== 0) return inf > 0 ? TS_INFINITY : TS_NEG_INFINITY;
  const p = parseDateTime(text, 'timestamp with time zone', nowMicros);
  const local = BigInt(p.days) * MICROS_PER_DAY + p.timeMicros;
  if (p.offset !== undefined) return local - BigInt(p.offset) * MICROS_PER_SECOND;
  return localToUtc(local, zone);
}

export function parseTime(text: string): bigint {
  const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*$/.exec(text);
  if (m === null) {
    // A full timestamp is accepted too; its time part is kept.
    try {
      const p = parseDateTime(text, 'time without time zone', undefined);
      if (p.hasTime) return p.timeMicros;
    } catch {
      // fall through to the time-specific error
    }
    throw invalid('time without time zone', text);
  }
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const s = Number(m[3] ?? 0);
  if (h > 24 || mi > 59 || s > 60) throw new NextDbError('22008', `date/time field value out of range: "${text}"`);
  return BigInt(h * 3600 + mi * 60 + s) * MICROS_PER_SECOND + fractionMicros(m[4]);
}

// ---- intervals ----

const UNIT_RE =
  /^(microseconds?|us|usecs?|milliseconds?|ms|msecs?|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?|mons?|mon|years?|yrs?|y|decades?|centur(?:y|ies)|millenni(?:um|a))$/i;

export function parseInterval(text: string): Interval {
  const s = text.trim();
  let months = 0;
  let days = 0;
  let micros = 0n;
  const tokens = s.split(/\s+/).filter((x) => x !== '');
  if (tokens.length === 0) throw invalid('interval', text);
  let i = 0;
  let ago = false;
  while (i < tokens.length) {
    const tok = tokens[i]!;
    if (/^ago$/i.test(tok)) {
      ago = true;
      i++;
      continue;
    }
    const hms = /^([+-])?(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?$/.exec(tok);
    if (hms !== null) {
      let v =
        BigInt(Number(hms[2]) * 3600 + Number(hms[3]) * 60 + Number(hms[4] ?? 0)) * MICROS_PER_SECOND +
        fractionMicros(hms[5]);
      if (hms[1] === '-') v = -v;
      micros += v;
      i++;
      continue;
    }
    const numUnit = /^([+-]?\d+(?:\.\d+)?)([a-z]+)?$/i.exec(tok);
    if (numUnit === null) throw invalid('interval', text);
    const num = Number(numUnit[1]);
    let unit = numUnit[2];
    if (unit === undefined) {
      const next = tokens[i + 1];
      if (next !== undefined && UNIT_RE.test(next)) {
        unit = next;
        i++;
      } else {
        unit = 'second';
      }
    }
    if (!UNIT_RE.test(unit)) throw invalid('interval', text);
    const u = unit.toLowerCase();
    const addMonths = (n: number): void => {
      const whole = Math.trunc(n);
      months += whole;
      const fracDays = (n - whole) * 30;
      addDays(fracDays);
    };
    const addDays = (n: number): void => {
      const whole = Math.trunc(n);
      days += whole;
      micros += BigInt(Math.round((n - whole) * MICROS_PER_DAY_N));
    };
    if (/^(microseconds?|us|usecs?)$/.test(u)) micros += BigInt(Math.round(num));
    else if (/^(milliseconds?|ms|msecs?)$/.test(u)) micros += BigInt(Math.round(num * 1000));
    else if (/^(seconds?|secs?|s)$/.test(u)) micros += BigInt(Math.round(num * 1e6));
    else if (/^(minutes?|mins?|m)$/.test(u)) micros += BigInt(Math.round(num * 60e6));
    else if (/^(hours?|hrs?|h)$/.test(u)) micros += BigInt(Math.round(num * 3600e6));
    else if (/^(days?|d)$/.test(u)) addDays(num);
    else if (/^(weeks?|w)$/.test(u)) addDays(num * 7);
    else if (/^(months?|mons?|mon)$/.test(u)) addMonths(num);
    else if (/^(years?|yrs?|y)$/.test(u)) addMonths(num * 12);
    else if (/^decades?$/.test(u)) addMonths(num * 120);
    else if (/^centur/.test(u)) addMonths(num * 1200);
    else addMonths(num * 12000);
    i++;
  }
  if (ago) return { months: -months, days: -days, micros: -micros };
  return { months, days, micros };
}

export function formatInterval(iv: Interval): string {
  const parts: string[] = [];
  const years = Math.trunc(iv.months / 12);
  const mons = iv.months % 12;
  // PostgreSQL uses the singular only for exactly 1 ('-1 days').
  if (years !== 0) parts.push(`${years} year${years === 1 ? '' : 's'}`);
  if (mons !== 0) parts.push(`${mons} mon${mons === 1 ? '' : 's'}`);
  if (iv.days !== 0) parts.push(`${iv.days} day${iv.days === 1 ? '' : 's'}`);
  if (iv.micros !== 0n || parts.length === 0) {
    const neg = iv.micros < 0n;
    const a = neg ? -iv.micros : iv.micros;
    const totalSecs = a / MICROS_PER_SECOND;
    const us = Number(a % MICROS_PER_SECOND);
    const h = totalSecs / 3600n;
    const mi = Number((totalSecs / 60n) % 60n);
    const s = Number(totalSecs % 60n);
    // PostgreSQL prints a '+' on the time part when an earlier field was negative.
    const anyNegBefore = iv.months < 0 || iv.days < 0;
    const sign = neg ? '-' : anyNegBefore && parts.length > 0 ? '+' : '';
    parts.push(`${sign}${h.toString().padStart(2, '0')}:${pad(mi, 2)}:${pad(s, 2)}${formatFraction(us)}`);
  }
  return parts.join(' ');
}

// ---- arithmetic ----

export function addMonthsToTimestamp(ts: bigint, months: number): bigint {
  if (months === 0) return ts;
  const [days, rem] = splitMicros(ts);
  const [y, m, d] = civilFromDays(days);
  const total = y * 12 + (m - 1) + months;
  const ny = Math.floor(total / 12);
  const nm = (((total % 12) + 12) % 12) + 1;
  const nd = Math.min(d, daysInMonth(ny, nm));
  return BigInt(daysFromCivil(ny, nm, nd)) * MICROS_PER_DAY + rem;
}

export function addInterval(ts: bigint, iv: Interval, sign: 1 | -1): bigint {
  if (isInfiniteTs(ts)) return ts;
  let out = addMonthsToTimestamp(ts, sign * iv.months);
  out += BigInt(sign * iv.days) * MICROS_PER_DAY;
  out += sign === 1 ? iv.micros : -iv.micros;
  return out;
}

/** Timestamp difference as PostgreSQL prints it: days and time, no months. */
export function timestampDiff(a: bigint, b: bigint): Interval {
  if (isInfiniteTs(a) || isInfiniteTs(b)) throw infinityError('timestamps');
  const d = a - b;
  const days = d / MICROS_PER_DAY;
  return { months: 0, days: Number(days), micros: d - days * MICROS_PER_DAY };
}

export function intervalToMicros(iv: Interval): bigint {
  return BigInt(iv.months) * 30n * MICROS_PER_DAY + BigInt(iv.days) * MICROS_PER_DAY + iv.micros;
}

export function compareIntervals(a: Interval, b: Interval): number {
  const x = intervalToMicros(a);
  const y = intervalToMicros(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Field extraction for date_part/extract on a (UTC-wall-clock) timestamp. */
export function extractField(field: string, ts: bigint): number | undefined {
  if (isInfiniteTs(ts)) {
    // PostgreSQL: the unbounded fields are ±Infinity, the others NULL (NaN here: the caller makes it NULL).
    if (['epoch', 'year', 'decade', 'century', 'millennium', 'julian', 'isoyear'].includes(field))
      return ts > 0n ? Infinity : -Infinity;
    return extractField(field, 0n) === undefined ? undefined : Number.NaN;
  }
  const [days, rem] = splitMicros(ts);
  const [y, m, d] = civilFromDays(days);
  const secs = Number(rem) / 1e6;
  switch (field) {
    case 'year':
      return y;
    case 'month':
      return m;
    case 'day':
      return d;
    case 'hour':
      return Math.floor(secs / 3600);
    case 'minute':
      return Math.floor(secs / 60) % 60;
    case 'second':
      return secs % 60;
    case 'dow':
      return (((days + 4) % 7) + 7) % 7;
    case 'doy':
      return days - daysFromCivil(y, 1, 1) + 1;
    case 'epoch':
      return Number(ts) / 1e6;
    case 'quarter':
      return Math.floor((m - 1) / 3) + 1;
    case 'decade':
      return Math.floor(y / 10);
    case 'century':
      return y > 0 ? Math.floor((y - 1) / 100) + 1 : -(Math.floor(-y / 100) + 1);
    case 'millennium':
      return y > 0 ? Math.floor((y - 1) / 1000) + 1 : -(Math.floor(-y / 1000) + 1);
    case 'microseconds':
      return Number(rem % 60_000_000n);
    case 'milliseconds':
      return Number(rem % 60_000_000n) / 1000;
    case 'isodow': {
      const dow = (((days + 4) % 7) + 7) % 7;
      return dow === 0 ? 7 : dow;
    }
    case 'week': {
      // ISO week number.
      const dow = (((days + 3) % 7) + 7) % 7; // Monday = 0
      const thursday = days - dow + 3;
      const [ty] = civilFromDays(thursday);
      return Math.floor((thursday - daysFromCivil(ty, 1, 1)) / 7) + 1;
    }
    default:
      return undefined;
  }
}

/** date_trunc on a (UTC-wall-clock) timestamp. */
export function truncTimestamp(field: string, ts: bigint): bigint | undefined {
  if (isInfiniteTs(ts)) return truncTimestamp(field, 0n) === undefined ? undefined : ts;
  const [days, rem] = splitMicros(ts);
  const [y, m] = civilFromDays(days);
  const dayStart = BigInt(days) * MICROS_PER_DAY;
  switch (field) {
    case 'microseconds':
      return ts;
    case 'milliseconds':
      return dayStart + (rem / 1000n) * 1000n;
    case 'second':
      return dayStart + (rem / MICROS_PER_SECOND) * MICROS_PER_SECOND;
    case 'minute':
      return dayStart + (rem / 60_000_000n) * 60_000_000n;
    case 'hour':
      return dayStart + (rem / 3_600_000_000n) * 3_600_000_000n;
    case 'day':
      return dayStart;
    case 'week': {
      const dow = (((days + 3) % 7) + 7) % 7;
      return BigInt(days - dow) * MICROS_PER_DAY;
    }
    case 'month':
      return BigInt(daysFromCivil(y, m, 1)) * MICROS_PER_DAY;
    case 'quarter':
      return BigInt(daysFromCivil(y, Math.floor((m - 1) / 3) * 3 + 1, 1)) * MICROS_PER_DAY;
    case 'year':
      return BigInt(daysFromCivil(y, 1, 1)) * MICROS_PER_DAY;
    case 'decade':
      return BigInt(daysFromCivil(Math.floor(y / 10) * 10, 1, 1)) * MICROS_PER_DAY;
    case 'century':
      return BigInt(daysFromCivil(Math.floor((y - 1) / 100) * 100 + 1, 1, 1)) * MICROS_PER_DAY;
    default:
      return undefined;
  }
}
