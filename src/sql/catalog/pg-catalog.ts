/**
 * pg_catalog and information_schema relations, computed from the catalog
 * snapshot when a query names them (a VALUES plan per reference, so they
 * compose with every other SQL feature).
 *
 * Coverage: what psql's describe commands, node-postgres, postgres.js
 * (array type discovery) and common tools read. A column PostgreSQL has and
 * we do not is a 42703 error, never a made-up value. Tables we have no
 * objects for (triggers, policies, publications ...) exist and are empty.
 *
 * OIDs: user objects use their catalog OIDs; built-in schemas, types,
 * access methods and the superuser use PostgreSQL's fixed OIDs.
 */

import { isTempOid } from '../temp-space.ts';
import { aclText } from '../exec/privileges.ts';
import { allRoles } from '../exec/roles.ts';
import type { Binder, BoundQuery } from '../plan/binder.ts';
import type { OutputColumn, Expr } from '../plan/plan.ts';
import { Types, allTypes, arrayOf, type SqlType, type Value, type ArrayValue } from '../types/sql-type.ts';
import {
  INFORMATION_SCHEMA_OID,
  PG_CATALOG_OID,
  PUBLIC_OID,
  SUPERUSER_OID,
  type CatalogSnapshot,
  type IndexDef,
  type IndexExpr,
  type SchemaDef,
  type SequenceDef,
  type TableDef,
} from './catalog.ts';
import { SETTINGS, DISPLAY_NAMES } from '../settings.ts';
import { formatType } from '../types/sql-type.ts';

export interface SessionInfo {
  readonly user: string;
  readonly database: string;
  getSetting(name: string): string | undefined;
  /** The session's open cursors (pg_cursors). */
  cursorList?(): readonly CursorInfo[];
}

/** One row of pg_cursors. */
export interface CursorInfo {
  name: string;
  statement: string;
  hold: boolean;
  binary: boolean;
  scroll: boolean;
  createdMicros: bigint;
}

interface Ctx {
  readonly catalog: CatalogSnapshot;
  readonly dbOid: number;
  readonly session: SessionInfo;
}

type ColSpec = readonly [string, SqlType];

interface VirtualTable {
  readonly cols: readonly ColSpec[];
  rows(ctx: Ctx): Value[][];
}

const T = Types;
const name = T.name;
const oid = T.oid;
const textArr = arrayOf(T.text);
const BTREE_AM = 403;
const HEAP_AM = 2;
/** pg_type OID of the trigger pseudo-type (prorettype of trigger functions). */
const TRIGGER_TYPE_OID = 2279;
/** pg_language OIDs: sql 14; plpgsql as in a fresh PostgreSQL 15 cluster. */
const PLPGSQL_LANG_OID = 13576;

function schemaOid(ctx: Ctx, schema: string): number {
  return ctx.catalog.schema(ctx.dbOid, schema)?.oid ?? PUBLIC_OID;
}

function relations(ctx: Ctx): TableDef[] {
  return ctx.catalog.tablesOf(ctx.dbOid);
}

function arr(values: readonly Value[]): ArrayValue {
  return { kind: 'array', elems: values };
}

/** The database's sequences. */
function sequences(ctx: Ctx): SequenceDef[] {
  return [...ctx.catalog.sequences.values()].filter((s) => s.dbOid === ctx.dbOid);
}

/** The schemas the database sees (its own and the shared ones). */
function schemas(ctx: Ctx): SchemaDef[] {
  return [...ctx.catalog.schemas.values()].filter((s) => s.dbOid === 0 || s.dbOid === ctx.dbOid);
}

/** The indexes the catalog shows: all but the primary index on the hidden rowid of a table without a primary key. */
function shownIndexes(t: TableDef): TableDef['indexes'] {
  return t.indexes.filter((ix) => !(ix.primary && t.columns[ix.columns[0]!]?.hidden === true));
}

function liveColumns(t: TableDef): TableDef['columns'] {
  return t.columns.filter((c) => !c.dropped && c.hidden !== true);
}

/** A column name or function call prints bare in PostgreSQL's deparser; an operator expression in parentheses. */
function isBare(sql: string): boolean {
  return /^[\w.]+(\(.*\))?$/s.test(sql);
}

/** How an index key expression prints in CREATE INDEX: a function call as is, anything else as `((a + b))` (PostgreSQL's). */
function keyExprText(sql: string): string {
  return isBare(sql) ? sql : `((${sql}))`;
}

/** A partial index's predicate as pg_get_indexdef prints it: `active`, `(n > 10)`. */
function predicateText(sql: string): string {
  return isBare(sql) ? sql : `(${sql})`;
}

/**
 * pg_index.indexprs: PostgreSQL keeps a node tree there; NextDB keeps the
 * expressions' SQL text (comma-separated), which is also what pg_get_expr
 * returns for it. NULL when no key is an expression.
 */
function indexExprsText(ix: IndexDef): string | null {
  const list = (ix.exprs ?? []).filter((x) => x !== null).map((x) => keyExprText(x.sql));
  return list.length === 0 ? null : list.join(', ');
}

/** pg_index.indpred: the partial index's predicate as SQL text (pg_get_expr prints it). */
function indexPredText(ix: IndexDef): string | null {
  return ix.predicate === undefined ? null : predicateText(ix.predicate);
}

/** The pg_attribute name of expression key column `k`: its function's name or "expr", numbered when taken. */
function exprColumnName(ix: IndexDef, k: number): string {
  const base = (x: IndexExpr | null | undefined): string => (x == null ? '' : (/^(\w+)\(/.exec(x.sql)?.[1] ?? 'expr'));
  const mine = base(ix.exprs![k]!);
  const before = ix.exprs!.slice(0, k).filter((x) => x !== null && base(x) === mine).length;
  return before === 0 ? mine : `${mine}${before}`;
}

/** CREATE INDEX text for pg_get_indexdef and pg_indexes; with `column` > 0 only that key column, as PostgreSQL. */
export function indexDef(t: TableDef, ixOid: number, column = 0): string | undefined {
  const ix = t.indexes.find((i) => i.oid === ixOid);
  if (ix === undefined) return undefined;
  const key = (c: number, i: number): string => {
    const x = ix.exprs?.[i];
    return x == null ? t.columns[c]!.name : keyExprText(x.sql);
  };
  if (column > 0) {
    const c = ix.columns[column - 1];
    return c === undefined ? '' : key(c, column - 1);
  }
  const cols = ix.columns.map((c, i) => `${key(c, i)}${ix.desc[i] ? ' DESC' : ''}`).join(', ');
  const where = ix.predicate === undefined ? '' : ` WHERE ${predicateText(ix.predicate)}`;
  return `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ${ix.name} ON ${t.schema}.${t.name} USING btree (${cols})${where}`;
}

/** pg_get_function_result / pg_get_function_arguments text of a user function (null when unknown). */
export function functionText(
  catalog: CatalogSnapshot,
  kind: 'functionresult' | 'functionargs',
  oid: number,
): string | null {
  const f = catalog.functions.get(oid);
  if (f === undefined) return null;
  if (kind === 'functionargs')
    return f.argTypes
      .map(
        (t, i) =>
          `${f.argNames[i] !== '' && f.argNames[i] !== undefined ? `${f.argNames[i]} ` : ''}${formatType(t)}${
            f.argDefaults?.[i] != null ? ` DEFAULT ${f.argDefaults[i]}` : ''
          }`,
      )
      .join(', ');
  if (f.outColumns !== undefined)
    return `TABLE(${f.outColumns.map((c) => `${c.name} ${formatType(c.type)}`).join(', ')})`;
  if (f.returnsTrigger === true) return 'trigger';
  return `${f.retSet ? 'SETOF ' : ''}${formatType(f.retType)}`;
}

/** Constraint text for pg_get_constraintdef. */
export function constraintDef(ctx: { catalog: CatalogSnapshot }, t: TableDef, conOid: number): string | undefined {
  const c = t.constraints.find((x) => x.oid === conOid);
  if (c === undefined) return undefined;
  const cols = (idx: readonly number[], table: TableDef): string => idx.map((i) => table.columns[i]!.name).join(', ');
  switch (c.type) {
    case 'p':
      return `PRIMARY KEY (${cols(c.columns, t)})`;
    case 'u':
      return `UNIQUE (${cols(c.columns, t)})`;
    case 'c':
      return `CHECK (${c.checkExpr ?? ''})`;
    case 'f': {
      const parent = ctx.catalog.tables.get(c.refTable ?? 0);
      const act = (a: string | undefined, what: string): string => {
        const m: Record<string, string> = { r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };
        return a === undefined || a === 'a' ? '' : ` ON ${what} ${m[a] ?? ''}`;
      };
      return `FOREIGN KEY (${cols(c.columns, t)}) REFERENCES ${parent?.name ?? '?'}(${parent === undefined ? '' : cols(c.refColumns ?? [], parent)})${act(c.onUpdate, 'UPDATE')}${act(c.onDelete, 'DELETE')}`;
    }
  }
}

function typeRows(): Value[][] {
  return allTypes()
    .filter((t) => t.oid !== 0)
    .map((t) => [
      t.oid,
      t.id === 'array' ? `_${t.elem?.id === 'array' ? '' : pgTypeName(t.elem!)}` : pgTypeName(t),
      PG_CATALOG_OID,
      SUPERUSER_OID,
      t.len,
      t.len > 0 && t.len <= 8,
      t.id === 'void' || t.id === 'record' ? 'p' : 'b',
      t.category,
      t.preferred,
      true,
      ',',
      0,
      t.elem?.oid ?? 0,
      t.arrayOid,
      0,
      -1,
      0,
      t.category === 'S' ? 100 : 0,
      false,
      'i',
    ]);
}

/** pg_type.typname: the internal name (int4, not integer). */
function pgTypeName(t: SqlType): string {
  switch (t.id) {
    case 'char':
      return 'char';
    default:
      return t.id;
  }
}

const TABLES: Record<string, VirtualTable> = {
  pg_namespace: {
    cols: [
      ['oid', oid],
      ['nspname', name],
      ['nspowner', oid],
      ['nspacl', textArr],
    ],
    rows: (ctx) => schemas(ctx).map((s) => [s.oid, s.name, SUPERUSER_OID, null]),
  },
  pg_class: {
    cols: [
      ['oid', oid],
      ['relname', name],
      ['relnamespace', oid],
      ['reltype', oid],
      ['reloftype', oid],
      ['relowner', oid],
      ['relam', oid],
      ['relfilenode', oid],
      ['reltablespace', oid],
      ['relpages', T.int4],
      ['reltuples', T.float4],
      ['relallvisible', T.int4],
      ['reltoastrelid', oid],
      ['relhasindex', T.bool],
      ['relisshared', T.bool],
      ['relpersistence', T.char],
      ['relkind', T.char],
      ['relnatts', T.int2],
      ['relchecks', T.int2],
      ['relhasrules', T.bool],
      ['relhastriggers', T.bool],
      ['relhassubclass', T.bool],
      ['relrowsecurity', T.bool],
      ['relforcerowsecurity', T.bool],
      ['relispopulated', T.bool],
      ['relreplident', T.char],
      ['relispartition', T.bool],
      ['relacl', textArr],
      ['reloptions', textArr],
      ['relpartbound', T.text],
    ],
    rows: (ctx) => {
      const out: Value[][] = [];
      const row = (
        o: number,
        n: string,
        ns: number,
        am: number,
        kind: string,
        natts: number,
        checks: number,
        hasIndex: boolean,
      ): Value[] => [
        o,
        n,
        ns,
        0,
        0,
        SUPERUSER_OID,
        am,
        o,
        0,
        0,
        -1,
        0,
        0,
        hasIndex,
        false,
        'p',
        kind,
        natts,
        checks,
        false,
        false,
        false,
        false,
        false,
        true,
        'd',
        false,
        null,
        null,
        null,
      ];
      for (const t of relations(ctx)) {
        const ns = schemaOid(ctx, t.schema);
        const r = row(
          t.oid,
          t.name,
          ns,
          t.kind === 'r' ? HEAP_AM : 0,
          t.kind,
          liveColumns(t).length,
          t.constraints.filter((c) => c.type === 'c').length,
          shownIndexes(t).length > 0,
        );
        r[20] = (t.triggers ?? []).length > 0; // relhastriggers
        if (isTempOid(t.oid)) r[15] = 't'; // relpersistence
        const acl = aclText(ctx.catalog, t.oid, 'r');
        if (acl !== null) r[27] = { kind: 'array', elems: acl }; // relacl
        out.push(r);
        for (const ix of shownIndexes(t))
          out.push(row(ix.oid, ix.name, ns, BTREE_AM, 'i', ix.columns.length, 0, false));
      }
      for (const s of sequences(ctx)) out.push(row(s.oid, s.name, schemaOid(ctx, s.schema), 0, 'S', 3, 0, false));
      return out;
    },
  },
  pg_attribute: {
    cols: [
      ['attrelid', oid],
      ['attname', name],
      ['atttypid', oid],
      ['attstattarget', T.int4],
      ['attlen', T.int2],
      ['attnum', T.int2],
      ['attndims', T.int4],
      ['atttypmod', T.int4],
      ['attbyval', T.bool],
      ['attalign', T.char],
      ['attstorage', T.char],
      ['attcompression', T.char],
      ['attnotnull', T.bool],
      ['atthasdef', T.bool],
      ['atthasmissing', T.bool],
      ['attidentity', T.char],
      ['attgenerated', T.char],
      ['attisdropped', T.bool],
      ['attislocal', T.bool],
      ['attinhcount', T.int4],
      ['attcollation', oid],
      ['attacl', textArr],
      ['attoptions', textArr],
    ],
    rows: (ctx) => {
      const out: Value[][] = [];
      for (const t of relations(ctx)) {
        for (const c of t.columns) {
          if (c.hidden === true) continue;
          out.push([
            t.oid,
            c.name,
            c.dropped ? 0 : c.type.oid,
            -1,
            c.type.len,
            c.attnum,
            c.type.id === 'array' ? 1 : 0,
            c.type.typmod,
            c.type.len > 0 && c.type.len <= 8,
            'i',
            c.type.len === -1 ? 'x' : 'p',
            '',
            c.notNull,
            c.defaultExpr !== undefined && c.identity === undefined,
            false,
            c.identity ?? '',
            '',
            c.dropped === true,
            true,
            0,
            c.type.category === 'S' ? 100 : 0,
            null,
            null,
          ]);
        }
        for (const ix of shownIndexes(t)) {
          ix.columns.forEach((ci, k) => {
            // An expression column is named like PostgreSQL's: after its function, else "expr" (numbered when repeated).
            const x = ix.exprs?.[k];
            const c = x == null ? t.columns[ci]! : { name: exprColumnName(ix, k), type: x.type };
            out.push([
              ix.oid,
              c.name,
              c.type.oid,
              -1,
              c.type.len,
              k + 1,
              0,
              c.type.typmod,
              false,
              'i',
              'p',
              '',
              false,
              false,
              false,
              '',
              '',
              false,
              true,
              0,
              0,
              null,
              null,
            ]);
          });
        }
      }
      return out;
    },
  },
  pg_attrdef: {
    cols: [
      ['oid', oid],
      ['adrelid', oid],
      ['adnum', T.int2],
      ['adbin', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        t.columns
          .filter((c) => c.defaultExpr !== undefined && c.identity === undefined && c.hidden !== true && !c.dropped)
          .map((c) => [t.oid * 1000 + c.attnum, t.oid, c.attnum, c.defaultExpr!] as Value[]),
      ),
  },
  pg_type: {
    cols: [
      ['oid', oid],
      ['typname', name],
      ['typnamespace', oid],
      ['typowner', oid],
      ['typlen', T.int2],
      ['typbyval', T.bool],
      ['typtype', T.char],
      ['typcategory', T.char],
      ['typispreferred', T.bool],
      ['typisdefined', T.bool],
      ['typdelim', T.char],
      ['typrelid', oid],
      ['typelem', oid],
      ['typarray', oid],
      ['typbasetype', oid],
      ['typtypmod', T.int4],
      ['typndims', T.int4],
      ['typcollation', oid],
      ['typnotnull', T.bool],
      ['typalign', T.char],
    ],
    rows: () => typeRows(),
  },
  pg_index: {
    cols: [
      ['indexrelid', oid],
      ['indrelid', oid],
      ['indnatts', T.int2],
      ['indnkeyatts', T.int2],
      ['indisunique', T.bool],
      ['indnullsnotdistinct', T.bool],
      ['indisprimary', T.bool],
      ['indisexclusion', T.bool],
      ['indimmediate', T.bool],
      ['indisclustered', T.bool],
      ['indisvalid', T.bool],
      ['indcheckxmin', T.bool],
      ['indisready', T.bool],
      ['indislive', T.bool],
      ['indisreplident', T.bool],
      ['indkey', T.text],
      ['indexprs', T.text],
      ['indpred', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        shownIndexes(t).map(
          (ix) =>
            [
              ix.oid,
              t.oid,
              ix.columns.length,
              ix.columns.length,
              ix.unique,
              false,
              ix.primary,
              false,
              true,
              false,
              true,
              false,
              true,
              true,
              false,
              ix.columns.map((c) => c + 1).join(' '),
              indexExprsText(ix),
              indexPredText(ix),
            ] as Value[],
        ),
      ),
  },
  pg_constraint: {
    cols: [
      ['oid', oid],
      ['conname', name],
      ['connamespace', oid],
      ['contype', T.char],
      ['condeferrable', T.bool],
      ['condeferred', T.bool],
      ['convalidated', T.bool],
      ['conrelid', oid],
      ['contypid', oid],
      ['conindid', oid],
      ['conparentid', oid],
      ['confrelid', oid],
      ['confupdtype', T.char],
      ['confdeltype', T.char],
      ['confmatchtype', T.char],
      ['conislocal', T.bool],
      ['coninhcount', T.int4],
      ['connoinherit', T.bool],
      ['conkey', arrayOf(T.int2)],
      ['confkey', arrayOf(T.int2)],
      ['conbin', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        t.constraints.map(
          (c) =>
            [
              c.oid,
              c.name,
              schemaOid(ctx, t.schema),
              c.type,
              false,
              false,
              true,
              t.oid,
              0,
              c.indexId === undefined ? 0 : (t.indexes.find((i) => i.id === c.indexId)?.oid ?? 0),
              0,
              c.refTable ?? 0,
              c.type === 'f' ? (c.onUpdate ?? 'a') : ' ',
              c.type === 'f' ? (c.onDelete ?? 'a') : ' ',
              c.type === 'f' ? 's' : ' ',
              true,
              0,
              false,
              arr(c.columns.map((i) => i + 1)),
              c.refColumns === undefined ? null : arr(c.refColumns.map((i) => i + 1)),
              c.checkExpr ?? null,
            ] as Value[],
        ),
      ),
  },
  pg_database: {
    cols: [
      ['oid', oid],
      ['datname', name],
      ['datdba', oid],
      ['encoding', T.int4],
      ['datlocprovider', T.char],
      ['datistemplate', T.bool],
      ['datallowconn', T.bool],
      ['datconnlimit', T.int4],
      ['dattablespace', oid],
      ['datcollate', T.text],
      ['datctype', T.text],
      ['daticulocale', T.text],
      ['datcollversion', T.text],
      ['datacl', textArr],
    ],
    rows: (ctx) =>
      [...ctx.catalog.databases.values()].map((d) => [
        d.oid,
        d.name,
        SUPERUSER_OID,
        6,
        'c',
        false,
        true,
        -1,
        1663,
        'C',
        'C',
        null,
        null,
        null,
      ]),
  },
  pg_roles: {
    cols: [
      ['oid', oid],
      ['rolname', name],
      ['rolsuper', T.bool],
      ['rolinherit', T.bool],
      ['rolcreaterole', T.bool],
      ['rolcreatedb', T.bool],
      ['rolcanlogin', T.bool],
      ['rolreplication', T.bool],
      ['rolconnlimit', T.int4],
      ['rolpassword', T.text],
      ['rolvaliduntil', T.timestamptz],
      ['rolbypassrls', T.bool],
      ['rolconfig', textArr],
    ],
    rows: (ctx) =>
      allRoles(ctx.catalog).map((r) => [
        r.oid,
        r.name,
        r.superuser,
        true,
        r.superuser,
        r.superuser,
        r.login,
        r.superuser,
        -1,
        '********',
        null,
        r.superuser,
        null,
      ]),
  },
  pg_authid: {
    cols: [
      ['oid', oid],
      ['rolname', name],
      ['rolsuper', T.bool],
      ['rolinherit', T.bool],
      ['rolcreaterole', T.bool],
      ['rolcreatedb', T.bool],
      ['rolcanlogin', T.bool],
      ['rolreplication', T.bool],
      ['rolbypassrls', T.bool],
      ['rolconnlimit', T.int4],
      ['rolpassword', T.text],
      ['rolvaliduntil', T.timestamptz],
    ],
    // PostgreSQL shows pg_authid to superusers only; NextDB has no privileges yet (every session is a superuser).
    rows: (ctx) =>
      allRoles(ctx.catalog).map((r) => [
        r.oid,
        r.name,
        r.superuser,
        true,
        r.superuser,
        r.superuser,
        r.login,
        r.superuser,
        r.superuser,
        -1,
        r.password,
        null,
      ]),
  },
  pg_user: {
    cols: [
      ['usename', name],
      ['usesysid', oid],
      ['usecreatedb', T.bool],
      ['usesuper', T.bool],
      ['userepl', T.bool],
      ['usebypassrls', T.bool],
      ['passwd', T.text],
      ['valuntil', T.timestamptz],
      ['useconfig', textArr],
    ],
    rows: (ctx) =>
      allRoles(ctx.catalog)
        .filter((r) => r.login)
        .map((r) => [r.name, r.oid, r.superuser, r.superuser, r.superuser, r.superuser, '********', null, null]),
  },
  pg_am: {
    cols: [
      ['oid', oid],
      ['amname', name],
      ['amhandler', T.regproc],
      ['amtype', T.char],
    ],
    rows: () => [
      [HEAP_AM, 'heap', 0, 't'],
      [BTREE_AM, 'btree', 0, 'i'],
    ],
  },
  pg_tablespace: {
    cols: [
      ['oid', oid],
      ['spcname', name],
      ['spcowner', oid],
      ['spcacl', textArr],
      ['spcoptions', textArr],
    ],
    rows: () => [
      [1663, 'pg_default', SUPERUSER_OID, null, null],
      [1664, 'pg_global', SUPERUSER_OID, null, null],
    ],
  },
  pg_cursors: {
    cols: [
      ['name', T.text],
      ['statement', T.text],
      ['is_holdable', T.bool],
      ['is_binary', T.bool],
      ['is_scrollable', T.bool],
      ['creation_time', T.timestamptz],
    ],
    rows: (ctx) =>
      (ctx.session.cursorList?.() ?? []).map((c) => [c.name, c.statement, c.hold, c.binary, c.scroll, c.createdMicros]),
  },
  pg_settings: {
    cols: [
      ['name', T.text],
      ['setting', T.text],
      ['unit', T.text],
      ['category', T.text],
      ['short_desc', T.text],
      ['context', T.text],
      ['vartype', T.text],
      ['source', T.text],
      ['boot_val', T.text],
      ['reset_val', T.text],
      ['pending_restart', T.bool],
    ],
    rows: (ctx) =>
      Object.entries(SETTINGS).map(([k, def]) => {
        const v = ctx.session.getSetting(k) ?? def.default;
        return [
          DISPLAY_NAMES[k] ?? k,
          v,
          k.endsWith('timeout') ? 'ms' : null,
          '',
          '',
          def.readOnly === true ? 'internal' : 'user',
          'string',
          v === def.default ? 'default' : 'session',
          def.default,
          def.default,
          false,
        ];
      }),
  },
  pg_sequence: {
    cols: [
      ['seqrelid', oid],
      ['seqtypid', oid],
      ['seqstart', T.int8],
      ['seqincrement', T.int8],
      ['seqmax', T.int8],
      ['seqmin', T.int8],
      ['seqcache', T.int8],
      ['seqcycle', T.bool],
    ],
    rows: (ctx) => sequences(ctx).map((s) => [s.oid, T.int8.oid, s.start, s.increment, s.max, s.min, 1n, s.cycle]),
  },
  pg_proc: {
    cols: [
      ['oid', oid],
      ['proname', name],
      ['pronamespace', oid],
      ['prokind', T.char],
      ['prorettype', oid],
      ['proretset', T.bool],
      ['provolatile', T.char],
      ['proisstrict', T.bool],
      ['pronargs', T.int2],
      ['prosrc', T.text],
      ['prolang', oid],
      ['proowner', oid],
    ],
    // User functions only (LANGUAGE sql: prolang 14); built-ins are not listed.
    rows: (ctx) =>
      [...ctx.catalog.functions.values()]
        .filter((f) => f.dbOid === ctx.dbOid)
        .map(
          (f) =>
            [
              f.oid,
              f.name,
              schemaOid(ctx, f.schema),
              f.procedure === true ? 'p' : 'f',
              f.returnsTrigger === true ? TRIGGER_TYPE_OID : f.retType.oid,
              f.retSet,
              f.volatility,
              f.strict,
              f.argTypes.length,
              f.body,
              f.language === 'plpgsql' ? PLPGSQL_LANG_OID : 14,
              SUPERUSER_OID,
            ] as Value[],
        ),
  },
  pg_description: {
    cols: [
      ['objoid', oid],
      ['classoid', oid],
      ['objsubid', T.int4],
      ['description', T.text],
    ],
    rows: () => [],
  },
  pg_collation: {
    cols: [
      ['oid', oid],
      ['collname', name],
      ['collnamespace', oid],
    ],
    rows: () => [],
  },
  pg_inherits: {
    cols: [
      ['inhrelid', oid],
      ['inhparent', oid],
      ['inhseqno', T.int4],
      ['inhdetachpending', T.bool],
    ],
    rows: () => [],
  },
  pg_trigger: {
    cols: [
      ['oid', oid],
      ['tgrelid', oid],
      ['tgparentid', oid],
      ['tgname', name],
      ['tgfoid', oid],
      ['tgtype', T.int2],
      ['tgenabled', T.char],
      ['tgisinternal', T.bool],
      ['tgconstrrelid', oid],
      ['tgconstrindid', oid],
      ['tgconstraint', oid],
      ['tgdeferrable', T.bool],
      ['tginitdeferred', T.bool],
      ['tgnargs', T.int2],
      ['tgqual', T.text],
    ],
    // tgtype bits as PostgreSQL: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE.
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        (t.triggers ?? []).map(
          (g) =>
            [
              g.oid,
              t.oid,
              0,
              g.name,
              g.funcOid,
              (g.level === 'row' ? 1 : 0) +
                (g.timing === 'before' ? 2 : 0) +
                (g.events.includes('insert') ? 4 : 0) +
                (g.events.includes('delete') ? 8 : 0) +
                (g.events.includes('update') ? 16 : 0),
              g.disabled === true ? 'D' : 'O',
              false,
              0,
              0,
              0,
              false,
              false,
              g.args.length,
              g.when ?? null,
            ] as Value[],
        ),
      ),
  },
  pg_policy: {
    cols: [
      ['oid', oid],
      ['polname', name],
      ['polrelid', oid],
      ['polcmd', T.char],
      ['polpermissive', T.bool],
      ['polroles', arrayOf(T.oid)],
      ['polqual', T.text],
      ['polwithcheck', T.text],
    ],
    rows: () => [],
  },
  pg_statistic_ext: {
    cols: [
      ['oid', oid],
      ['stxrelid', oid],
      ['stxname', name],
      ['stxnamespace', oid],
      ['stxowner', oid],
      ['stxstattarget', T.int4],
      ['stxkeys', arrayOf(T.int2)],
      ['stxkind', arrayOf(T.char)],
      ['stxexprs', T.text],
    ],
    rows: () => [],
  },
  pg_publication: {
    cols: [
      ['oid', oid],
      ['pubname', name],
      ['puballtables', T.bool],
    ],
    rows: () => [],
  },
  pg_publication_rel: {
    cols: [
      ['oid', oid],
      ['prpubid', oid],
      ['prrelid', oid],
      ['prqual', T.text],
      ['prattrs', arrayOf(T.int2)],
    ],
    rows: () => [],
  },
  pg_publication_namespace: {
    cols: [
      ['oid', oid],
      ['pnpubid', oid],
      ['pnnspid', oid],
    ],
    rows: () => [],
  },
  pg_extension: {
    cols: [
      ['oid', oid],
      ['extname', name],
      ['extowner', oid],
      ['extnamespace', oid],
      ['extversion', T.text],
    ],
    rows: () => [],
  },
  pg_auth_members: {
    cols: [
      ['roleid', oid],
      ['member', oid],
      ['grantor', oid],
      ['admin_option', T.bool],
    ],
    rows: () => [],
  },
  pg_rewrite: {
    cols: [
      ['oid', oid],
      ['rulename', name],
      ['ev_class', oid],
    ],
    rows: () => [],
  },
  pg_partitioned_table: {
    cols: [
      ['partrelid', oid],
      ['partstrat', T.char],
    ],
    rows: () => [],
  },
  pg_tables: {
    cols: [
      ['schemaname', name],
      ['tablename', name],
      ['tableowner', name],
      ['tablespace', name],
      ['hasindexes', T.bool],
      ['hasrules', T.bool],
      ['hastriggers', T.bool],
      ['rowsecurity', T.bool],
    ],
    rows: (ctx) =>
      relations(ctx)
        .filter((t) => t.kind === 'r')
        .map((t) => [t.schema, t.name, ctx.session.user, null, t.indexes.length > 1, false, false, false]),
  },
  pg_views: {
    cols: [
      ['schemaname', name],
      ['viewname', name],
      ['viewowner', name],
      ['definition', T.text],
    ],
    rows: (ctx) =>
      relations(ctx)
        .filter((t) => t.kind === 'v')
        .map((t) => [t.schema, t.name, ctx.session.user, t.viewSql ?? null]),
  },
  pg_indexes: {
    cols: [
      ['schemaname', name],
      ['tablename', name],
      ['indexname', name],
      ['tablespace', name],
      ['indexdef', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        shownIndexes(t).map((ix) => [t.schema, t.name, ix.name, null, indexDef(t, ix.oid) ?? null] as Value[]),
      ),
  },
  pg_sequences: {
    cols: [
      ['schemaname', name],
      ['sequencename', name],
      ['sequenceowner', name],
      ['start_value', T.int8],
      ['min_value', T.int8],
      ['max_value', T.int8],
      ['increment_by', T.int8],
      ['cycle', T.bool],
    ],
    rows: (ctx) =>
      sequences(ctx).map((s) => [s.schema, s.name, ctx.session.user, s.start, s.min, s.max, s.increment, s.cycle]),
  },
};

const INFO_SCHEMA: Record<string, VirtualTable> = {
  schemata: {
    cols: [
      ['catalog_name', name],
      ['schema_name', name],
      ['schema_owner', name],
    ],
    rows: (ctx) => schemas(ctx).map((s) => [ctx.session.database, s.name, ctx.session.user]),
  },
  tables: {
    cols: [
      ['table_catalog', name],
      ['table_schema', name],
      ['table_name', name],
      ['table_type', T.text],
      ['is_insertable_into', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).map((t) => [
        ctx.session.database,
        t.schema,
        t.name,
        t.kind === 'r' ? 'BASE TABLE' : 'VIEW',
        t.kind === 'r' ? 'YES' : 'NO',
      ]),
  },
  columns: {
    cols: [
      ['table_catalog', name],
      ['table_schema', name],
      ['table_name', name],
      ['column_name', name],
      ['ordinal_position', T.int4],
      ['column_default', T.text],
      ['is_nullable', T.text],
      ['data_type', T.text],
      ['character_maximum_length', T.int4],
      ['numeric_precision', T.int4],
      ['numeric_scale', T.int4],
      ['udt_name', name],
      ['is_identity', T.text],
    ],
    rows: (ctx) =>
      relations(ctx).flatMap((t) =>
        liveColumns(t).map((c, i) => {
          const ty = c.type;
          const dataType = ty.id === 'array' ? 'ARRAY' : formatType({ ...ty, typmod: -1 });
          const m = ty.typmod - 4;
          return [
            ctx.session.database,
            t.schema,
            t.name,
            c.name,
            i + 1,
            c.identity === undefined ? (c.defaultExpr ?? null) : null,
            c.notNull ? 'NO' : 'YES',
            dataType,
            (ty.id === 'varchar' || ty.id === 'bpchar') && ty.typmod >= 0 ? m : null,
            ty.id === 'numeric' && ty.typmod >= 0
              ? m >> 16
              : ty.id === 'int4'
                ? 32
                : ty.id === 'int8'
                  ? 64
                  : ty.id === 'int2'
                    ? 16
                    : null,
            ty.id === 'numeric' && ty.typmod >= 0
              ? m & 0xffff
              : ty.id === 'int4' || ty.id === 'int8' || ty.id === 'int2'
                ? 0
                : null,
            ty.id === 'array' ? `_${ty.elem?.id ?? ''}` : ty.id,
            c.identity === undefined ? 'NO' : 'YES',
          ] as Value[];
        }),
      ),
  },
};

/** PostgreSQL's fixed OIDs for the catalogs clients name in regclass literals. */
const FIXED_OIDS: Record<string, number> = {
  pg_type: 1247,
  pg_attribute: 1249,
  pg_proc: 1255,
  pg_class: 1259,
  pg_database: 1262,
  pg_constraint: 2606,
  pg_description: 2609,
  pg_index: 2610,
  pg_namespace: 2615,
  pg_trigger: 2620,
  pg_extension: 3079,
  pg_am: 2601,
  pg_attrdef: 2604,
  pg_inherits: 2611,
  pg_tablespace: 1213,
  pg_authid: 1260,
  pg_collation: 3456,
  pg_policy: 3256,
  pg_publication: 6104,
};

/** The OID of a pg_catalog relation (for 'pg_catalog.pg_class'::regclass). */
export function virtualOid(schema: string | undefined, relName: string): number | undefined {
  if (schema !== undefined && schema !== 'pg_catalog') return undefined;
  if (TABLES[relName] === undefined) return undefined;
  return FIXED_OIDS[relName] ?? 10000 + Object.keys(TABLES).indexOf(relName);
}

/** Returns the bound virtual relation, or undefined when `name` is not one. */
export function virtualRelation(
  schema: string | undefined,
  relName: string,
  binder: Binder,
  catalog: CatalogSnapshot,
  dbOid: number,
  session: SessionInfo,
): BoundQuery | undefined {
  let def: VirtualTable | undefined;
  if (schema === 'information_schema') def = INFO_SCHEMA[relName];
  else if (schema === 'pg_catalog' || (schema === undefined && relName.startsWith('pg_'))) {
    // A user table of the same name shadows pg_catalog only when schema-qualified lookup says so.
    if (schema === undefined && binder.lookupTable(undefined, relName, undefined, true) !== undefined) return undefined;
    def = TABLES[relName];
  }
  if (def === undefined) return undefined;
  void INFORMATION_SCHEMA_OID;
  const ctx: Ctx = { catalog, dbOid, session };
  const cols: OutputColumn[] = def.cols.map(([n, t]) => ({
    id: binder.newId(),
    name: n,
    type: t,
    tableOid: 0,
    attnum: 0,
  }));
  const rows = def
    .rows(ctx)
    .map((r) => r.map((v, i) => ({ kind: 'const', type: cols[i]!.type, value: v ?? null }) as Expr));
  return { plan: { kind: 'values', cols, rows }, cols };
}
