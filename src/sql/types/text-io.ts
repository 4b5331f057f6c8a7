/**
 * Text and binary I/O of SQL values: PostgreSQL's input/output functions
 * (text format) and send/receive functions (binary format) for the types in
 * sql-type.ts.
 *
 * Floats print with PostgreSQL 12+'s shortest-exact rule: the fewest digits
 * that read back to the same value, in exponent form when the decimal
 * exponent is < -4 or >= 15 (float8) / 6 (float4), exponent with a sign and
 * at least two digits ('1e+15', '1.5e-07'). extra_float_digits <= 0 selects
 * the old %.{15+efd}g style.
 */

import { isInfiniteDate, isInfiniteTs } from './datetime.ts';
import { arrayDims, makeArray, nestText } from './array-dims.ts';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { Decimal } from './decimal.ts';
import {
  formatDate,
  formatInterval,
  formatTime,
  formatTimestamp,
  formatTimestamptz,
  parseDate,
  parseInterval,
  parseTime,
  parseTimestamp,
  parseTimestamptz,
  MICROS_PER_DAY,
} from './datetime.ts';
import type { ArrayValue, Interval, JsonBox, JsonValue, SqlType, Value } from './sql-type.ts';
import { Types, formatType, typeByOid } from './sql-type.ts';
import { assert } from '../../util/assert.ts';

/** Session settings that change how values print or parse. */
export interface IoSettings {
  readonly timeZone: string;
  readonly extraFloatDigits: number;
  /** Transaction start time in microseconds since epoch ('now'). */
  readonly nowMicros?: bigint;
  /** regclass output: relation name for an OID (the session's catalog). */
  readonly relationName?: (oid: number) => string | undefined;
  readonly namespaceName?: (oid: number) => string | undefined;
}

export const defaultIoSettings: IoSettings = { timeZone: 'UTC', extraFloatDigits: 1 };

function invalidInput(typeName: string, text: string): NextDbError {
  return new NextDbError(SqlState.invalidTextRepresentation, `invalid input syntax for type ${typeName}: "${text}"`);
}

export function outOfRange(typeName: string): NextDbError {
  return new NextDbError(SqlState.numericValueOutOfRange, `${typeName} out of range`);
}

// ---- floats ----

function expForm(mantissa: string, exp: number): string {
  const sign = exp < 0 ? '-' : '+';
  const a = Math.abs(exp);
  return `${mantissa}e${sign}${a < 10 ? '0' : ''}${a}`;
}

function shortestDigits(v: number, single: boolean): [string, number] {
  // toExponential() without an argument yields the shortest round-trip digits for doubles.
  let s: string;
  if (single) {
    s = v.toExponential(0);
    for (let p = 1; p <= 9; p++) {
      s = v.toExponential(p - 1);
      if (Math.fround(Number(s)) === v) break;
    }
  } else {
    s = v.toExponential();
  }
  const [m, e] = s.split('e');
  return [(m ?? '').replace('.', '').replace('-', ''), Number(e)];
}

export function formatFloat(v: number, single: boolean, extraFloatDigits = 1): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (extraFloatDigits <= 0) {
    const prec = Math.max(1, (single ? 6 : 15) + extraFloatDigits);
    return gFormat(v, prec);
  }
  const neg = v < 0;
  const [digits, exp] = shortestDigits(Math.abs(v), single);
  const limit = single ? 6 : 15;
  let out: string;
  if (exp < -4 || exp >= limit) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    out = expForm(mant, exp);
  } else if (exp < 0) {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = digits + '0'.repeat(exp + 1 - digits.length);
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

/** C's %.{prec}g. */
function gFormat(v: number, prec: number): string {
  const e = Number(v.toExponential(prec - 1).split('e')[1]);
  if (e < -4 || e >= prec) {
    const [m, ex] = v.toExponential(prec - 1).split('e');
    const mant = (m ?? '').includes('.') ? (m ?? '').replace(/0+$/, '').replace(/\.$/, '') : (m ?? '');
    return expForm(mant, Number(ex));
  }
  const f = v.toFixed(Math.max(0, prec - 1 - e));
  return f.includes('.') ? f.replace(/0+$/, '').replace(/\.$/, '') : f;
}

export function parseFloatText(text: string, single: boolean): number {
  const s = text.trim();
  let v: number;
  if (/^[+-]?(inf|infinity)$/i.test(s)) v = s.startsWith('-') ? -Infinity : Infinity;
  else if (/^nan$/i.test(s)) v = NaN;
  else if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) v = Number(s);
  else throw invalidInput(single ? 'real' : 'double precision', text);
  if (single) {
    const f = Math.fround(v);
    if (!Number.isFinite(f) && Number.isFinite(v))
      throw new NextDbError(SqlState.numericValueOutOfRange, `"${s}" is out of range for type real`);
    return f;
  }
  if (!Number.isFinite(v) && !/inf/i.test(s) && !/nan/i.test(s)) {
    throw new NextDbError(SqlState.numericValueOutOfRange, `"${s}" is out of range for type double precision`);
  }
  return v;
}

// ---- integers ----

const INT_RE = /^\s*[+-]?\d+\s*$/;

export function parseIntText(text: string, ty: SqlType): number | bigint {
  if (ty.id !== 'int8') {
    // Up to 9 digits and an optional sign (every int4 key a client binds, say) need no BigInt: exact as a Number.
    const n = smallIntText(text);
    if (n !== undefined && (ty.id === 'int4' || (n <= 32767 && n >= -32768))) return n;
  }
  const name = ty.name;
  if (!INT_RE.test(text)) throw invalidInput(name, text);
  const b = BigInt(text.trim());
  if (ty.id === 'int8') {
    if (b > 9223372036854775807n || b < -9223372036854775808n) {
      throw new NextDbError(SqlState.numericValueOutOfRange, `value "${text}" is out of range for type bigint`);
    }
    return b;
  }
  const max = ty.id === 'int2' ? 32767n : 2147483647n;
  if (b > max || b < -max - 1n)
    throw new NextDbError(SqlState.numericValueOutOfRange, `value "${text}" is out of range for type ${name}`);
  return Number(b);
}

/** `[+-]?[0-9]{1,9}` as a number (-0 as 0), else undefined (the general path decides). */
function smallIntText(text: string): number | undefined {
  const len = text.length;
  const c0 = text.charCodeAt(0);
  const signed = c0 === 45 || c0 === 43; // '-' or '+'
  let i = signed ? 1 : 0;
  if (len === i || len - i > 9) return undefined;
  let n = 0;
  for (; i < len; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return c0 === 45 ? -n || 0 : n;
}

// ---- bytea ----

export function formatBytea(b: Buffer): string {
  return `\\x${b.toString('hex')}`;
}

export function parseBytea(text: string): Buffer {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2).replace(/\s+/g, '');
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) throw invalidInput('bytea', text);
    return Buffer.from(hex, 'hex');
  }
  // Escape format: backslash-octal and doubled backslashes.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) {
      if (text[i + 1] === '\\') {
        out.push(0x5c);
        i++;
      } else if (/^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
        out.push(parseInt(text.slice(i + 1, i + 4), 8));
        i += 3;
      } else throw invalidInput('bytea', text);
    } else {
      const enc = Buffer.from(text[i]!, 'utf8');
      for (const x of enc) out.push(x);
    }
  }
  return Buffer.from(out);
}

// ---- uuid ----

export function parseUuid(text: string): string {
  const s = text.trim().replace(/^\{|\}$/g, '');
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw invalidInput('uuid', text);
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- booleans ----

export function parseBool(text: string): boolean {
  const s = text.trim().toLowerCase();
  if (s.length > 0) {
    if ('true'.startsWith(s) || 'yes'.startsWith(s) || s === 'on' || s === '1') return true;
    if ('false'.startsWith(s) || 'no'.startsWith(s) || s === 'off' || s === 'of' || s === '0') {
      if (s !== 'o') return false;
    }
  }
  throw invalidInput('boolean', text);
}

// ---- json ----

/** jsonb object key order: shorter keys first, then bytewise. */
export function sortJsonKeys(keys: string[]): string[] {
  return keys.sort((a, b) => {
    const la = Buffer.byteLength(a);
    const lb = Buffer.byteLength(b);
    if (la !== lb) return la - lb;
    return Buffer.compare(Buffer.from(a), Buffer.from(b));
  });
}

/** Parses JSON text keeping numbers exact (numbers become Decimal; object keys in jsonb order, last duplicate wins). */
export function parseJsonb(text: string): JsonBox {
  let i = 0;
  const fail = (): never => {
    throw new NextDbError(SqlState.invalidTextRepresentation, 'invalid input syntax for type json', {
      detail: `Token near position ${i + 1} of "${text}" is invalid.`,
    });
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const parseString = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) return fail();
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"':
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail();
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            return fail();
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) return fail();
      out += c;
      i++;
    }
  };
  const value = (): JsonValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, JsonValue> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') return fail();
        const k = parseString();
        ws();
        if (text[i] !== ':') return fail();
        i++;
        obj[k] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          const sorted: Record<string, JsonValue> = {};
          for (const key of sortJsonKeys(Object.keys(obj))) sorted[key] = obj[key]!;
          return sorted;
        }
        return fail();
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        return fail();
      }
    }
    if (c === '"') return parseString();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m !== null && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      const d = Decimal.parse(m[0]);
      return d ?? fail();
    }
    for (const [lit, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return v;
      }
    }
    return fail();
  };
  const json = value();
  ws();
  if (i !== text.length) fail();
  return { kind: 'jsonb', json };
}

export function formatJsonb(j: JsonValue): string {
  if (j === null) return 'null';
  if (typeof j === 'boolean') return j ? 'true' : 'false';
  if (typeof j === 'string') return JSON.stringify(j);
  if (j instanceof Decimal) return j.toString();
  if (Array.isArray(j)) return `[${(j as readonly JsonValue[]).map(formatJsonb).join(', ')}]`;
  const obj = j as { readonly [k: string]: JsonValue };
  return `{${Object.keys(obj)
    .map((k) => `${JSON.stringify(k)}: ${formatJsonb(obj[k] ?? null)}`)
    .join(', ')}}`;
}

export function validateJson(text: string): string {
  parseJsonb(text);
  return text;
}

// ---- arrays ----

function quoteArrayElem(s: string): string {
  if (s === '' || /[{},"\\\s]/.test(s) || /^null$/i.test(s)) return `"${s.replace(/([\\"])/g, '\\$1')}"`;
  return s;
}

export function formatArray(a: ArrayValue, elem: SqlType, io: IoSettings): string {
  const parts = a.elems.map((e) => (e === null ? 'NULL' : quoteArrayElem(formatText(elem, e, io))));
  return a.dims === undefined ? `{${parts.join(',')}}` : nestText(parts, a.dims);
}

/**
 * An array literal: '{1,2}', '{{1,2},{3,4}}' (any depth, rectangular), with
 * quoted elements and NULL. The elements are kept flat with their dimensions
 * (types/array-dims.ts).
 */
export function parseArray(text: string, elem: SqlType, io: IoSettings): ArrayValue {
  const s = text.trim();
  const bad = (detail: string): NextDbError =>
    new NextDbError(SqlState.invalidTextRepresentation, `malformed array literal: "${text}"`, { detail });
  if (!s.startsWith('{')) throw bad('Array value must start with "{" or dimension information.');
  const elems: Value[] = [];
  const dims: number[] = [];
  let leafDepth = -1;
  let i = 0;
  const ws = (): void => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const level = (depth: number): void => {
    i++; // '{'
    ws();
    let count = 0;
    if (s[i] === '}') {
      i++;
      if (depth > 0) throw bad('Multidimensional arrays must have sub-arrays with matching dimensions.');
      return;
    }
    for (;;) {
      ws();
      if (s[i] === '{') {
        if (leafDepth >= 0 && leafDepth <= depth) throw bad('Unexpected "{" character.');
        level(depth + 1);
      } else {
        if (leafDepth >= 0 && leafDepth !== depth)
          throw bad('Multidimensional arrays must have sub-arrays with matching dimensions.');
        leafDepth = depth;
        let item = '';
        let quoted = false;
        if (s[i] === '"') {
          quoted = true;
          i++;
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\') i++;
            item += s[i] ?? '';
            i++;
          }
          if (i >= s.length) throw bad('Unexpected end of input.');
          i++;
        } else {
          while (i < s.length && s[i] !== ',' && s[i] !== '}' && s[i] !== '{') {
            if (s[i] === '\\') i++;
            item += s[i] ?? '';
            i++;
          }
          item = item.trim();
          if (item === '') throw bad(s[i] === '{' ? 'Unexpected "{" character.' : 'Unexpected "," character.');
        }
        elems.push(!quoted && /^null$/i.test(item) ? null : parseText(elem, item, io));
      }
      count++;
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '}') {
        i++;
        break;
      }
      throw bad(i >= s.length ? 'Unexpected end of input.' : `Unexpected "${s[i]!}" character.`);
    }
    if (dims[depth] === undefined) dims[depth] = count;
    else if (dims[depth] !== count) throw bad('Multidimensional arrays must have sub-arrays with matching dimensions.');
  };
  level(0);
  ws();
  if (i < s.length) throw bad('Junk after closing right brace.');
  return elems.length === 0 ? { kind: 'array', elems } : makeArray(elems, dims.slice(0, leafDepth + 1));
}

// ---- dispatch ----

/** PostgreSQL's output function for `ty`. */
export function formatText(ty: SqlType, v: Value, io: IoSettings): string {
  switch (ty.id) {
    case 'bool':
      return v ? 't' : 'f';
    case 'regtype': {
      const t = typeByOid(v as number);
      return t === undefined ? String(v) : formatType(t);
    }
    case 'regclass':
      return io.relationName?.(v as number) ?? String(v);
    case 'regnamespace':
      return io.namespaceName?.(v as number) ?? String(v);
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'regproc':
    case 'regnamespace':
      return String(v);
    case 'float4':
      return formatFloat(v as number, true, io.extraFloatDigits);
    case 'float8':
      return formatFloat(v as number, false, io.extraFloatDigits);
    case 'numeric':
      return (v as Decimal).toString();
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'char':
    case 'unknown':
    case 'uuid':
    case 'json':
      return v as string;
    case 'bytea':
      return formatBytea(v as Buffer);
    case 'date':
      return formatDate(v as number);
    case 'time':
      return formatTime(v as bigint);
    case 'timestamp':
      return formatTimestamp(v as bigint);
    case 'timestamptz':
      return formatTimestamptz(v as bigint, io.timeZone);
    case 'interval':
      return formatInterval(v as Interval);
    case 'jsonb':
      return formatJsonb((v as JsonBox).json);
    case 'array':
      assert(ty.elem !== undefined, 'array type without element type');
      return formatArray(v as ArrayValue, ty.elem, io);
    case 'void':
      return '';
    case 'record':
      return formatRecord(v, io);
  }
}

function formatRecord(v: Value, io: IoSettings): string {
  const a = v as ArrayValue;
  const parts = a.elems.map((e) => {
    if (e === null) return '';
    const s = typeof e === 'string' ? e : formatText(guessType(e), e, io);
    return s === '' || /[(),"\\\s]/.test(s) ? `"${s.replace(/(["\\])/g, '$1$1')}"` : s;
  });
  return `(${parts.join(',')})`;
}

/** Runtime type of a value when no static type is known (record fields). */
export function guessType(v: Value): SqlType {
  if (typeof v === 'boolean') return Types.bool;
  if (typeof v === 'number') return Number.isInteger(v) ? Types.int4 : Types.float8;
  if (typeof v === 'bigint') return Types.int8;
  if (v instanceof Decimal) return Types.numeric;
  if (Buffer.isBuffer(v)) return Types.bytea;
  // A jsonb field (jsonb_each in a select list gives (key,value) records).
  if (typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'jsonb') return Types.jsonb;
  return Types.text;
}

/** PostgreSQL's input function for `ty`. */
export function parseText(ty: SqlType, text: string, io: IoSettings): Value {
  switch (ty.id) {
    case 'bool':
      return parseBool(text);
    case 'int2':
    case 'int4':
    case 'int8':
      return parseIntText(text, ty);
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace': {
      if (!INT_RE.test(text)) throw invalidInput(ty.name, text);
      return Number(text.trim());
    }
    case 'float4':
      return parseFloatText(text, true);
    case 'float8':
      return parseFloatText(text, false);
    case 'numeric': {
      const d = Decimal.parse(text);
      if (d === undefined) {
        // PostgreSQL's numeric also has ±Infinity; NextDB's does not (refused, not misread).
        if (/^\s*[+-]?inf(inity)?\s*$/i.test(text)) throw notSupported(`numeric value "${text.trim()}"`);
        throw invalidInput('numeric', text);
      }
      return d;
    }
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'unknown':
      return text;
    case 'char':
      return text.slice(0, 1);
    case 'bytea':
      return parseBytea(text);
    case 'date':
      return io.nowMicros === undefined ? parseDate(text) : parseDate(text, io.nowMicros);
    case 'time':
      return parseTime(text);
    case 'timestamp':
      return io.nowMicros === undefined ? parseTimestamp(text) : parseTimestamp(text, io.nowMicros);
    case 'timestamptz':
      return parseTimestamptz(text, io.timeZone, io.nowMicros);
    case 'interval':
      return parseInterval(text);
    case 'uuid':
      return parseUuid(text);
    case 'json':
      return validateJson(text);
    case 'jsonb':
      return parseJsonb(text);
    case 'array':
      assert(ty.elem !== undefined, 'array type without element type');
      return parseArray(text, ty.elem, io);
    case 'void':
    case 'record':
      throw notSupported(`input of type ${ty.name}`);
  }
}

// ---- binary format ----

const PG_EPOCH_DAYS = 10957; // 2000-01-01 in days since 1970-01-01
const PG_EPOCH_MICROS = BigInt(PG_EPOCH_DAYS) * MICROS_PER_DAY;

/** PostgreSQL's send function (binary format) for the common types; others fall back to text bytes. */
export function formatBinary(ty: SqlType, v: Value, io: IoSettings): Buffer {
  switch (ty.id) {
    case 'bool':
      return Buffer.from([v ? 1 : 0]);
    case 'int2': {
      const b = Buffer.allocUnsafe(2);
      b.writeInt16BE(v as number);
      return b;
    }
    case 'int4':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc': {
      const b = Buffer.allocUnsafe(4);
      if (ty.id === 'int4') b.writeInt32BE(v as number);
      else b.writeUInt32BE((v as number) >>> 0);
      return b;
    }
    case 'int8': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(v as bigint);
      return b;
    }
    case 'float4': {
      const b = Buffer.allocUnsafe(4);
      b.writeFloatBE(v as number);
      return b;
    }
    case 'float8': {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(v as number);
      return b;
    }
    case 'bytea':
      return v as Buffer;
    case 'uuid':
      return Buffer.from((v as string).replace(/-/g, ''), 'hex');
    case 'date': {
      const b = Buffer.allocUnsafe(4);
      b.writeInt32BE(isInfiniteDate(v as number) ? (v as number) : (v as number) - PG_EPOCH_DAYS);
      return b;
    }
    case 'time': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(v as bigint);
      return b;
    }
    case 'timestamp':
    case 'timestamptz': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(isInfiniteTs(v as bigint) ? (v as bigint) : (v as bigint) - PG_EPOCH_MICROS);
      return b;
    }
    case 'interval': {
      const iv = v as Interval;
      const b = Buffer.allocUnsafe(16);
      b.writeBigInt64BE(iv.micros);
      b.writeInt32BE(iv.days, 8);
      b.writeInt32BE(iv.months, 12);
      return b;
    }
    case 'jsonb':
      return Buffer.concat([Buffer.from([1]), Buffer.from(formatText(ty, v, io), 'utf8')]);
    case 'numeric':
      return numericSend(v as Decimal);
    case 'array':
      assert(ty.elem !== undefined, 'array type without element type');
      return arraySend(v as ArrayValue, ty.elem, io);
    default:
      return Buffer.from(formatText(ty, v, io), 'utf8');
  }
}

function numericSend(d: Decimal): Buffer {
  if (d.isNaN) {
    const b = Buffer.alloc(8);
    b.writeUInt16BE(0xc000, 4);
    return b;
  }
  const neg = d.coef < 0n;
  const digitsStr = (neg ? -d.coef : d.coef).toString();
  // Split into base-10000 groups aligned on the decimal point.
  const intLen = digitsStr.length - d.scale;
  const intStr = intLen > 0 ? digitsStr.slice(0, intLen) : '0';
  const fracStr = intLen >= 0 ? digitsStr.slice(intLen) : '0'.repeat(-intLen) + digitsStr;
  const intPadded = intStr.padStart(Math.ceil(intStr.length / 4) * 4, '0');
  const fracPadded = fracStr.padEnd(Math.ceil(fracStr.length / 4) * 4, '0');
  let groups: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) groups.push(Number(intPadded.slice(i, i + 4)));
  let weight = groups.length - 1;
  for (let i = 0; i < fracPadded.length; i += 4) groups.push(Number(fracPadded.slice(i, i + 4)));
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups.pop();
  if (groups.length === 0) weight = 0;
  groups = groups.slice();
  const b = Buffer.alloc(8 + groups.length * 2);
  b.writeUInt16BE(groups.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(neg ? 0x4000 : 0, 4);
  b.writeUInt16BE(d.scale, 6);
  groups.forEach((g, i) => b.writeUInt16BE(g, 8 + i * 2));
  return b;
}

/** PostgreSQL's receive function (binary parameter values). */
export function parseBinary(ty: SqlType, b: Buffer, io: IoSettings): Value {
  switch (ty.id) {
    case 'bool':
      return b[0] !== 0;
    case 'int2':
      return b.readInt16BE(0);
    case 'int4':
      return b.readInt32BE(0);
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc':
    case 'regnamespace':
      return b.readUInt32BE(0);
    case 'int8':
      return b.readBigInt64BE(0);
    case 'float4':
      return b.readFloatBE(0);
    case 'float8':
      return b.readDoubleBE(0);
    case 'bytea':
      return Buffer.from(b);
    case 'uuid':
      return parseUuid(b.toString('hex'));
    case 'date': {
      const d = b.readInt32BE(0);
      return isInfiniteDate(d) ? d : d + PG_EPOCH_DAYS;
    }
    case 'time':
      return b.readBigInt64BE(0);
    case 'timestamp':
    case 'timestamptz': {
      const t = b.readBigInt64BE(0);
      return isInfiniteTs(t) ? t : t + PG_EPOCH_MICROS;
    }
    case 'interval':
      return { micros: b.readBigInt64BE(0), days: b.readInt32BE(8), months: b.readInt32BE(12) };
    case 'jsonb':
      return parseJsonb(b.subarray(1).toString('utf8'));
    case 'numeric': {
      const n = b.readUInt16BE(0);
      const weight = b.readInt16BE(2);
      const sign = b.readUInt16BE(4);
      const dscale = b.readUInt16BE(6);
      if (sign === 0xc000) return Decimal.NaN;
      let s = '';
      for (let i = 0; i < n; i++) s += String(b.readUInt16BE(8 + i * 2)).padStart(4, '0');
      // value = groups × 10000^(weight - n + 1)
      const exp = (weight - n + 1) * 4;
      const d = Decimal.parse(`${sign === 0x4000 ? '-' : ''}${s || '0'}e${exp}`);
      assert(d !== undefined, 'numeric binary digits');
      return d.round(dscale);
    }
    case 'array':
      assert(ty.elem !== undefined, 'array type without element type');
      return arrayRecv(b, ty.elem, io);
    default:
      return parseText(ty, b.toString('utf8'), io);
  }
}

/**
 * PostgreSQL's binary array format (array_send): ndim, has-nulls flag,
 * element type OID, (length, lower bound) per dimension, then each element
 * as int32 length (-1 for NULL) and its binary form. One dimension here.
 */
function arraySend(a: ArrayValue, elem: SqlType, io: IoSettings): Buffer {
  const parts: Buffer[] = [];
  const dims = arrayDims(a);
  const head = Buffer.alloc(12 + 8 * dims.length);
  head.writeInt32BE(dims.length, 0);
  head.writeInt32BE(a.elems.some((e) => e === null) ? 1 : 0, 4);
  head.writeUInt32BE(elem.oid, 8);
  dims.forEach((n, d) => {
    head.writeInt32BE(n, 12 + 8 * d);
    head.writeInt32BE(1, 16 + 8 * d);
  });
  parts.push(head);
  for (const e of a.elems) {
    const len = Buffer.alloc(4);
    if (e === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const body = formatBinary(elem, e, io);
      len.writeInt32BE(body.length);
      parts.push(len, body);
    }
  }
  return Buffer.concat(parts);
}

function arrayRecv(b: Buffer, elem: SqlType, io: IoSettings): ArrayValue {
  const bad = (why: string): NextDbError => new NextDbError('22P03', `invalid binary array: ${why}`);
  if (b.length < 12) throw bad('too short');
  const ndim = b.readInt32BE(0);
  const elemOid = b.readUInt32BE(8);
  if (ndim === 0) return { kind: 'array', elems: [] };
  if (ndim < 0) throw bad(`invalid number of dimensions: ${ndim}`);
  if (ndim > 6) throw new NextDbError('54000', `number of array dimensions (${ndim}) exceeds the maximum allowed (6)`);
  if (elemOid !== elem.oid)
    throw new NextDbError('42804', `binary data has array element type ${elemOid} instead of expected ${elem.oid}`);
  if (b.length < 12 + 8 * ndim) throw bad('too short');
  const dims: number[] = [];
  let n = 1;
  for (let d = 0; d < ndim; d++) {
    const len = b.readInt32BE(12 + 8 * d);
    if (b.readInt32BE(16 + 8 * d) !== 1) throw notSupported('array lower bounds other than 1');
    if (len < 0) throw bad(`invalid length ${len}`);
    dims.push(len);
    n *= len;
  }
  const elems: Value[] = [];
  let pos = 12 + 8 * ndim;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > b.length) throw bad('insufficient data');
    const len = b.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      elems.push(null);
      continue;
    }
    if (len < 0 || pos + len > b.length) throw bad('insufficient data');
    elems.push(parseBinary(elem, b.subarray(pos, pos + len), io));
    pos += len;
  }
  if (pos !== b.length) throw bad('trailing data');
  return n === 0 ? { kind: 'array', elems } : makeArray(elems, dims);
}
