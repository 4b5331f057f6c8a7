/**
 * SQL types: identity (PostgreSQL OIDs), type modifiers, and how values of
 * each type are represented in memory while a query runs.
 *
 *   type            JS value                        notes
 *   bool            boolean
 *   int2, int4      number                          range-checked on every operation
 *   int8            bigint                          range-checked
 *   float4, float8  number                          float4 rounded with Math.fround
 *   numeric         Decimal                         exact
 *   text/varchar/   string                          bpchar keeps its padding
 *   bpchar/name
 *   bytea           Buffer
 *   date            number                          days since 1970-01-01
 *   time            bigint                          microseconds since midnight
 *   timestamp(tz)   bigint                          microseconds since 1970-01-01 UTC
 *   interval        Interval {months, days, micros}
 *   uuid            string                          canonical lower-case form
 *   json            string                          the text as given
 *   jsonb           JsonValue                       parsed; numbers kept as Decimal
 *   arrays          ArrayValue                      elements row-major, dims when multidimensional
 *   unknown         string                          untyped literal, resolved by context
 *
 * SQL NULL is `null` for every type. Types are interned: compare with `===`
 * only via `sameType` (typmods make distinct objects).
 */

import type { Decimal } from './decimal.ts';
import { notSupported } from '../../util/errors.ts';

export type TypeId =
  | 'bool'
  | 'int2'
  | 'int4'
  | 'int8'
  | 'float4'
  | 'float8'
  | 'numeric'
  | 'text'
  | 'varchar'
  | 'bpchar'
  | 'name'
  | 'char'
  | 'bytea'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'interval'
  | 'uuid'
  | 'json'
  | 'jsonb'
  | 'oid'
  | 'regclass'
  | 'regtype'
  | 'regproc'
  | 'regnamespace'
  | 'unknown'
  | 'void'
  | 'record'
  | 'array';

/** PostgreSQL's type categories, used for implicit-cast resolution. */
export type TypeCategory = 'B' | 'N' | 'S' | 'D' | 'T' | 'U' | 'A' | 'X' | 'P' | 'Z';

export interface SqlType {
  readonly id: TypeId;
  readonly oid: number;
  readonly name: string;
  /** pg_type.typlen: fixed size in bytes, or -1 (varlena) / -2 (cstring). */
  readonly len: number;
  readonly category: TypeCategory;
  /** Preferred type of its category (PostgreSQL's typispreferred). */
  readonly preferred: boolean;
  /** -1 when absent; varchar/bpchar: n + 4; numeric: ((p << 16) | s) + 4. */
  readonly typmod: number;
  /** Element type of an array type. */
  readonly elem?: SqlType;
  /** OID of the array type whose elements are this type (0 when none). */
  readonly arrayOid: number;
}

function t(
  id: TypeId,
  oid: number,
  name: string,
  len: number,
  category: TypeCategory,
  preferred: boolean,
  arrayOid: number,
): SqlType {
  return { id, oid, name, len, category, preferred, typmod: -1, arrayOid };
}

export const Types = {
  bool: t('bool', 16, 'boolean', 1, 'B', true, 1000),
  int2: t('int2', 21, 'smallint', 2, 'N', false, 1005),
  int4: t('int4', 23, 'integer', 4, 'N', false, 1007),
  int8: t('int8', 20, 'bigint', 8, 'N', false, 1016),
  float4: t('float4', 700, 'real', 4, 'N', false, 1021),
  float8: t('float8', 701, 'double precision', 8, 'N', true, 1022),
  numeric: t('numeric', 1700, 'numeric', -1, 'N', false, 1231),
  text: t('text', 25, 'text', -1, 'S', true, 1009),
  varchar: t('varchar', 1043, 'character varying', -1, 'S', false, 1015),
  bpchar: t('bpchar', 1042, 'character', -1, 'S', false, 1014),
  name: t('name', 19, 'name', 64, 'S', false, 1003),
  char: t('char', 18, '"char"', 1, 'Z', false, 1002),
  bytea: t('bytea', 17, 'bytea', -1, 'U', false, 1001),
  date: t('date', 1082, 'date', 4, 'D', false, 1182),
  time: t('time', 1083, 'time without time zone', 8, 'D', false, 1183),
  timestamp: t('timestamp', 1114, 'timestamp without time zone', 8, 'D', false, 1115),
  timestamptz: t('timestamptz', 1184, 'timestamp with time zone', 8, 'D', true, 1185),
  interval: t('interval', 1186, 'interval', 16, 'T', true, 1187),
  uuid: t('uuid', 2950, 'uuid', 16, 'U', false, 2951),
  json: t('json', 114, 'json', -1, 'U', false, 199),
  jsonb: t('jsonb', 3802, 'jsonb', -1, 'U', false, 3807),
  oid: t('oid', 26, 'oid', 4, 'N', true, 1028),
  regclass: t('regclass', 2205, 'regclass', 4, 'N', false, 2210),
  regtype: t('regtype', 2206, 'regtype', 4, 'N', false, 2211),
  regproc: t('regproc', 24, 'regproc', 4, 'N', false, 1008),
  regnamespace: t('regnamespace', 4089, 'regnamespace', 4, 'N', false, 4090),
  unknown: t('unknown', 705, 'unknown', -2, 'X', false, 0),
  void: t('void', 2278, 'void', 4, 'P', false, 0),
  record: t('record', 2249, 'record', -1, 'P', false, 2287),
} as const satisfies Record<string, SqlType>;

const byOid = new Map<number, SqlType>();
for (const ty of Object.values(Types)) byOid.set(ty.oid, ty);
const arrayByOid = new Map<number, SqlType>();

/** The array type whose elements are `elem`. */
export function arrayOf(elem: SqlType): SqlType {
  // PostgreSQL makes an array of arrays a multidimensional array ({{1,2},{3,4}}) of the same
  // type: the places that build one (ARRAY[...], ARRAY(subquery), array_agg) handle an array
  // element themselves (types/array-dims.ts nestArrays); anywhere else, refuse rather than nest.
  if (elem.id === 'array') throw notSupported('an array of arrays here');
  const base = elem.typmod === -1 ? elem : (typeByOid(elem.oid) ?? elem);
  let a = arrayByOid.get(base.arrayOid);
  if (a === undefined) {
    a = {
      id: 'array',
      oid: base.arrayOid,
      name: `${base.name}[]`,
      len: -1,
      category: 'A',
      preferred: false,
      typmod: -1,
      elem: base,
      arrayOid: 0,
    };
    arrayByOid.set(base.arrayOid, a);
  }
  return a;
}

for (const ty of Object.values(Types)) if (ty.arrayOid !== 0 && ty.id !== 'record') arrayOf(ty);

export function typeByOid(oid: number): SqlType | undefined {
  return byOid.get(oid) ?? arrayByOid.get(oid);
}

export function allTypes(): SqlType[] {
  return [...byOid.values(), ...arrayByOid.values()];
}

/** The same type with a type modifier (varchar(n), numeric(p,s), bpchar(n)). */
export function withTypmod(ty: SqlType, typmod: number): SqlType {
  if (typmod === ty.typmod) return ty;
  return { ...ty, typmod };
}

/** Same type, ignoring typmod. */
export function sameType(a: SqlType, b: SqlType): boolean {
  return a.oid === b.oid;
}

export function isNumericType(ty: SqlType): boolean {
  return (
    ty.id === 'int2' ||
    ty.id === 'int4' ||
    ty.id === 'int8' ||
    ty.id === 'float4' ||
    ty.id === 'float8' ||
    ty.id === 'numeric'
  );
}

export function isIntegerType(ty: SqlType): boolean {
  return ty.id === 'int2' || ty.id === 'int4' || ty.id === 'int8';
}

export function isStringType(ty: SqlType): boolean {
  return ty.id === 'text' || ty.id === 'varchar' || ty.id === 'bpchar' || ty.id === 'name';
}

/** format_type(): the name PostgreSQL prints for a type with its modifier. */
export function formatType(ty: SqlType): string {
  if (ty.id === 'array' && ty.elem !== undefined) return `${formatType(withTypmod(ty.elem, ty.typmod))}[]`;
  if (ty.typmod >= 0) {
    switch (ty.id) {
      case 'varchar':
        return `character varying(${ty.typmod - 4})`;
      case 'bpchar':
        return `character(${ty.typmod - 4})`;
      case 'numeric': {
        const m = ty.typmod - 4;
        return `numeric(${m >> 16},${m & 0xffff})`;
      }
      default:
        break;
    }
  }
  return ty.name;
}

// ---- runtime value shapes ----

export interface Interval {
  readonly months: number;
  readonly days: number;
  readonly micros: bigint;
}

export interface ArrayValue {
  readonly kind: 'array';
  /** The elements, row-major (the last subscript varies fastest). */
  readonly elems: readonly Value[];
  /**
   * Multidimensional arrays only (two or more dimensions): the length of each
   * dimension, whose product is elems.length. Absent for one dimension (and
   * for the empty array). Lower bounds are always 1. See types/array-dims.ts.
   */
  readonly dims?: readonly number[];
}

/** jsonb values: objects keep PostgreSQL's key order (shorter keys first, then bytewise). */
export type JsonValue = null | boolean | string | Decimal | readonly JsonValue[] | { readonly [k: string]: JsonValue };

export type Value = null | boolean | number | bigint | string | Decimal | Buffer | Interval | ArrayValue | JsonBox;

/** jsonb values are boxed so that a JSON string is not confused with a SQL text value. */
export interface JsonBox {
  readonly kind: 'jsonb';
  readonly json: JsonValue;
}

export type Row = Value[];
