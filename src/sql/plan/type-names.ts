/**
 * Resolves a parsed TypeName (CAST targets, column definitions) to an
 * SqlType with its typmod, accepting PostgreSQL's spellings and aliases
 * (integer, int, double precision, character varying(n), decimal(p,s) ...).
 * SERIAL types are reported separately because they are sugar for a
 * sequence default, valid only in column definitions.
 */

import type { Node, TypeName } from '@pgsql/types';
import { NextDbError, notSupported } from '../../util/errors.ts';
import { Types, arrayOf, withTypmod, type SqlType } from '../types/sql-type.ts';

const NAMES: Record<string, SqlType> = {
  bool: Types.bool,
  boolean: Types.bool,
  int2: Types.int2,
  smallint: Types.int2,
  int4: Types.int4,
  int: Types.int4,
  integer: Types.int4,
  int8: Types.int8,
  bigint: Types.int8,
  float4: Types.float4,
  real: Types.float4,
  float8: Types.float8,
  'double precision': Types.float8,
  float: Types.float8,
  numeric: Types.numeric,
  decimal: Types.numeric,
  text: Types.text,
  varchar: Types.varchar,
  'character varying': Types.varchar,
  bpchar: Types.bpchar,
  char: Types.bpchar,
  character: Types.bpchar,
  name: Types.name,
  '"char"': Types.char,
  bytea: Types.bytea,
  date: Types.date,
  time: Types.time,
  'time without time zone': Types.time,
  timestamp: Types.timestamp,
  'timestamp without time zone': Types.timestamp,
  timestamptz: Types.timestamptz,
  'timestamp with time zone': Types.timestamptz,
  interval: Types.interval,
  uuid: Types.uuid,
  json: Types.json,
  jsonb: Types.jsonb,
  oid: Types.oid,
  regclass: Types.regclass,
  regtype: Types.regtype,
  regproc: Types.regproc,
  regnamespace: Types.regnamespace,
  unknown: Types.unknown,
  void: Types.void,
  record: Types.record,
};

export const SERIAL_TYPES: Record<string, SqlType> = {
  serial: Types.int4,
  serial4: Types.int4,
  bigserial: Types.int8,
  serial8: Types.int8,
  smallserial: Types.int2,
  serial2: Types.int2,
};

function intMod(n: Node | undefined): number {
  if (n !== undefined && 'A_Const' in n) {
    const c = n.A_Const;
    if (c.ival !== undefined) return c.ival.ival ?? 0;
  }
  throw new NextDbError('22023', 'type modifiers must be simple constants');
}

export function typeNameString(tn: TypeName): string {
  const names = (tn.names ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  return names[names.length - 1] ?? '';
}

/** Resolves a TypeName; `serial` is returned in the second slot when allowSerial. */
export function resolveTypeName(tn: TypeName, allowSerial = false): { type: SqlType; serial: boolean } {
  const names = (tn.names ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : ''));
  const last = names[names.length - 1] ?? '';
  const schema = names.length > 1 ? names[0] : undefined;
  if (schema !== undefined && schema !== 'pg_catalog' && schema !== 'public') {
    throw new NextDbError('42704', `type "${names.join('.')}" does not exist`);
  }
  let serial = false;
  let base: SqlType | undefined = NAMES[last];
  if (base === undefined && allowSerial && names.length === 1 && SERIAL_TYPES[last] !== undefined) {
    base = SERIAL_TYPES[last];
    serial = true;
  }
  if (base === undefined) {
    if (
      [
        'bit',
        'varbit',
        'money',
        'inet',
        'cidr',
        'macaddr',
        'xml',
        'point',
        'tsvector',
        'tsquery',
        'timetz',
        'int4range',
        'daterange',
      ].includes(last)
    ) {
      throw notSupported(`type ${last}`);
    }
    throw new NextDbError('42704', `type "${last}" does not exist`, tn.location === undefined ? {} : {});
  }
  let ty: SqlType = base;
  const mods = tn.typmods ?? [];
  if (mods.length > 0) {
    switch (base.id) {
      case 'varchar':
      case 'bpchar': {
        const n = intMod(mods[0]);
        if (n < 1)
          throw new NextDbError(
            '22023',
            `length for type ${base.id === 'varchar' ? 'varchar' : 'char'} must be at least 1`,
          );
        ty = withTypmod(base, n + 4);
        break;
      }
      case 'numeric': {
        const p = intMod(mods[0]);
        const s = mods.length > 1 ? intMod(mods[1]) : 0;
        if (p < 1 || p > 1000) throw new NextDbError('22023', `NUMERIC precision ${p} must be between 1 and 1000`);
        if (s < 0 || s > p) throw new NextDbError('22023', `NUMERIC scale ${s} must be between 0 and precision ${p}`);
        ty = withTypmod(base, ((p << 16) | s) + 4);
        break;
      }
      case 'float8':
        if (last === 'float') {
          const p = intMod(mods[0]);
          ty = p <= 24 ? Types.float4 : Types.float8;
        }
        break;
      case 'timestamp':
      case 'timestamptz':
      case 'time':
      case 'interval':
        // Fractional-second precision is accepted and ignored (microseconds kept).
        break;
      default:
        break;
    }
  } else if (base.id === 'bpchar' && last !== 'bpchar') {
    // char without length means char(1).
    ty = withTypmod(base, 5);
  }
  if ((tn.arrayBounds ?? []).length > 0) ty = arrayOf(ty);
  return { type: ty, serial };
}
