/**
 * The SQL catalog: databases, schemas, tables (and views), columns, indexes,
 * constraints and sequences, stored in the keyspace and changed inside the
 * user's transaction, so DDL is transactional (CREATE TABLE inside
 * BEGIN ... ROLLBACK leaves nothing behind).
 *
 * Keyspace layout (KeyWriter encoding):
 *
 *   'c' string(kind) int(oid)   → JSON descriptor           kind ∈ db|schema|rel|seq|role|func
 *   'c' string('version')       → opaque schema version token
 *   'c' string('oid')           → next OID to hand out (int8 text)
 *   'q' int(seqOid)             → sequence's last value
 *   't' int(tableOid) int(indexId) <key columns>               → row / index entry
 *
 * Every DDL statement rewrites the version token with a fresh random value.
 * A session reads the token (one point read) at each statement and reuses
 * its cached CatalogSnapshot when the token has not changed; a transaction
 * that ran DDL sees its own token and so its own uncommitted catalog.
 * Concurrent DDL conflicts on the token (40001), which serializes schema
 * changes.
 *
 * OIDs start at 16384 (FirstNormalObjectId) like PostgreSQL; built-in
 * objects (pg_catalog, public) have fixed OIDs below that.
 */

import { KeyWriter } from '../../encoding/key-codec.ts';
import { assert } from '../../util/assert.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import type { Txn } from '../../txn/api.ts';
import { typeByOid, withTypmod, type SqlType } from '../types/sql-type.ts';

export interface ColumnDef {
  readonly name: string;
  /** 1-based attribute number, also the position in the stored row + 1. */
  readonly attnum: number;
  readonly type: SqlType;
  readonly notNull: boolean;
  /** Default expression as SQL text (re-parsed when used). */
  readonly defaultExpr?: string;
  readonly identity?: 'a' | 'd';
  /** The hidden rowid column of a table without a primary key. */
  readonly hidden?: boolean;
  readonly dropped?: boolean;
}

export interface IndexDef {
  /** Index id inside the table's key prefix; the primary index is 1. */
  readonly id: number;
  readonly oid: number;
  readonly name: string;
  /** Column positions (attnum - 1); -1 for an expression key column (PostgreSQL's indkey 0). */
  readonly columns: readonly number[];
  readonly desc: readonly boolean[];
  readonly unique: boolean;
  readonly primary: boolean;
  /**
   * Expression indexes: per key column, the expression (deparsed SQL over the
   * table's columns) and its type; null where the key is a plain column.
   * Absent when every key is a plain column.
   */
  readonly exprs?: readonly (IndexExpr | null)[];
  /** Partial indexes: the predicate (deparsed SQL); only rows where it is true have an entry. */
  readonly predicate?: string;
  /**
   * A unique secondary index whose entries (without NULLs) are keyed by the
   * unique values alone, so concurrent writers of one value collide (see
   * table-store.ts). Set on every unique index created since that layout;
   * a unique index stored before it keeps `<values><pk>` keys and the
   * snapshot probe (DROP INDEX and CREATE INDEX again to upgrade it).
   */
  readonly valueKeyed?: boolean;
  /** Table columns (positions) the expressions and predicate read: dropping one drops the index. */
  readonly exprColumns?: readonly number[];
}

export interface IndexExpr {
  readonly sql: string;
  readonly type: SqlType;
}

export type FkAction = 'a' | 'r' | 'c' | 'n' | 'd';

export interface ConstraintDef {
  readonly oid: number;
  readonly name: string;
  /** PostgreSQL's contype: p primary key, u unique, c check, f foreign key. */
  readonly type: 'p' | 'u' | 'c' | 'f';
  /** Column positions the constraint is on. */
  readonly columns: readonly number[];
  readonly checkExpr?: string;
  readonly indexId?: number;
  readonly refTable?: number;
  readonly refColumns?: readonly number[];
  readonly onDelete?: FkAction;
  readonly onUpdate?: FkAction;
}

export interface TableDef {
  readonly oid: number;
  readonly dbOid: number;
  readonly schema: string;
  readonly name: string;
  /** 'r' table, 'v' view. */
  readonly kind: 'r' | 'v';
  readonly columns: readonly ColumnDef[];
  readonly indexes: readonly IndexDef[];
  readonly constraints: readonly ConstraintDef[];
  readonly nextIndexId: number;
  /** Views: the defining SELECT. */
  readonly viewSql?: string;
  /** Views: the OIDs of relations the view reads (dependency tracking for DROP). */
  readonly dependsOn?: readonly number[];
  /** Views: WITH [LOCAL | CASCADED] CHECK OPTION (absent: none). See plan/view-dml.ts. */
  readonly viewCheckOption?: 'local' | 'cascaded';
  /** CREATE TRIGGER on this table (absent: none, and DML pays nothing for triggers). */
  readonly triggers?: readonly TriggerDef[];
  /** Temporary tables: ON COMMIT DELETE ROWS / DROP (absent: PRESERVE ROWS). See temp-space.ts. */
  readonly onCommit?: 'delete' | 'drop';
}

/** A trigger (CREATE TRIGGER): PostgreSQL's pg_trigger row. */
export interface TriggerDef {
  readonly oid: number;
  readonly name: string;
  /** The trigger function (RETURNS trigger). */
  readonly funcOid: number;
  readonly timing: 'before' | 'after';
  readonly level: 'row' | 'statement';
  readonly events: readonly ('insert' | 'update' | 'delete')[];
  /** UPDATE OF: column positions (attnum - 1); fires only when the UPDATE sets one of them. */
  readonly columns?: readonly number[];
  /** WHEN (condition) as SQL text over NEW and OLD. */
  readonly when?: string;
  readonly args: readonly string[];
  /** ALTER TABLE ... DISABLE TRIGGER. */
  readonly disabled?: boolean;
}

export interface SequenceDef {
  readonly oid: number;
  readonly dbOid: number;
  readonly schema: string;
  readonly name: string;
  readonly start: bigint;
  readonly increment: bigint;
  readonly min: bigint;
  readonly max: bigint;
  readonly cycle: boolean;
  /** Table OID and column position of a SERIAL/IDENTITY owner. */
  readonly ownedBy?: { readonly table: number; readonly column: number };
}

/** A user function (CREATE FUNCTION ... LANGUAGE sql): PostgreSQL's pg_proc row. */
export interface FunctionDef {
  readonly oid: number;
  readonly dbOid: number;
  readonly schema: string;
  readonly name: string;
  readonly argNames: readonly string[];
  readonly argTypes: readonly SqlType[];
  readonly retType: SqlType;
  /** RETURNS SETOF / RETURNS TABLE. */
  readonly retSet: boolean;
  /** RETURNS TABLE (...): the output columns. */
  readonly outColumns?: readonly { readonly name: string; readonly type: SqlType }[];
  /** The body: one SQL query ($1.. or the argument names read the arguments). */
  readonly body: string;
  /** provolatile: i immutable, s stable, v volatile. */
  readonly volatility: 'i' | 's' | 'v';
  readonly strict: boolean;
  /** LANGUAGE plpgsql (absent: LANGUAGE sql). */
  readonly language?: 'plpgsql';
  /** `outColumns` are OUT parameters (not RETURNS TABLE). */
  readonly outParams?: boolean;
  /** RETURNS trigger (retType is void). */
  readonly returnsTrigger?: boolean;
  /** Parameter defaults (SQL text) by position; null where a parameter has none. Absent: none. */
  readonly argDefaults?: readonly (string | null)[];
  /** CREATE PROCEDURE: called only by CALL (retType void). */
  readonly procedure?: boolean;
}

/** One grant in an ACL: grantee '' is PUBLIC; privileges and grant options as PostgreSQL's aclitem letters. */
export interface AclItem {
  readonly grantee: string;
  readonly privs: string;
  readonly grantable: string;
  readonly grantor: string;
}

/** An object's owner and ACL (GRANT/REVOKE; see exec/privileges.ts). `items` absent: the default privileges. */
export interface AclDef {
  /** The object's OID (table, view, catalog relation, sequence, schema or function). */
  readonly oid: number;
  readonly kind: 'r' | 'S' | 'n' | 'f';
  readonly owner: string;
  readonly items?: readonly AclItem[];
}

export interface SchemaDef {
  readonly oid: number;
  readonly dbOid: number;
  readonly name: string;
}

export interface DatabaseDef {
  readonly oid: number;
  readonly name: string;
}

export const PG_CATALOG_OID = 11;
export const PUBLIC_OID = 2200;
export const INFORMATION_SCHEMA_OID = 13000;
export const POSTGRES_DB_OID = 5;
export const SUPERUSER_OID = 10;
export const FIRST_NORMAL_OID = 16384;

const CAT = 0x63; // 'c'
const SEQ = 0x71; // 'q'
const TABLE = 0x74; // 't'

export function catalogKey(kind: string, oid: number): Buffer {
  return new KeyWriter()
    .raw(Buffer.from([CAT]))
    .string(kind)
    .int(oid)
    .finish();
}
export function catalogKindPrefix(kind: string): Buffer {
  return new KeyWriter()
    .raw(Buffer.from([CAT]))
    .string(kind)
    .finish();
}
export const VERSION_KEY = new KeyWriter()
  .raw(Buffer.from([CAT]))
  .string('version')
  .finish();
export const OID_KEY = new KeyWriter()
  .raw(Buffer.from([CAT]))
  .string('oid')
  .finish();

export function sequenceKey(oid: number): Buffer {
  return new KeyWriter()
    .raw(Buffer.from([SEQ]))
    .int(oid)
    .finish();
}

/** Key prefix of one index of one table: 't' int(table) int(index). */
export function indexPrefix(tableOid: number, indexId: number): Buffer {
  return new KeyWriter()
    .raw(Buffer.from([TABLE]))
    .int(tableOid)
    .int(indexId)
    .finish();
}
export function tablePrefix(tableOid: number): Buffer {
  return new KeyWriter()
    .raw(Buffer.from([TABLE]))
    .int(tableOid)
    .finish();
}

// ---- JSON (de)serialization: types and bigints need help ----

interface StoredType {
  readonly oid: number;
  readonly typmod: number;
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return { $big: v.toString() };
  if (v !== null && typeof v === 'object' && 'oid' in v && 'category' in v && 'typmod' in v) {
    const t = v as SqlType;
    return { $type: { oid: t.oid, typmod: t.typmod } satisfies StoredType };
  }
  return v;
}

function reviver(_k: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object') {
    if ('$big' in v) return BigInt((v as { $big: string }).$big);
    if ('$type' in v) {
      const st = (v as { $type: StoredType }).$type;
      const base = typeByOid(st.oid);
      if (base === undefined) throw new NextDbError(SqlState.dataCorrupted, `catalog names unknown type OID ${st.oid}`);
      return withTypmod(base, st.typmod);
    }
  }
  return v;
}

export function encodeDescriptor(d: unknown): Buffer {
  return Buffer.from(JSON.stringify(d, replacer), 'utf8');
}

export function decodeDescriptor<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8'), reviver) as T;
}

/** An immutable view of the whole catalog at one version. */
/** A role (CREATE ROLE / USER): PostgreSQL's pg_authid row, with a SCRAM-SHA-256 or md5 verifier, never a password. */
export interface RoleDef {
  readonly oid: number;
  readonly name: string;
  readonly login: boolean;
  readonly superuser: boolean;
  readonly password: string | null;
}

export class CatalogSnapshot {
  readonly databases = new Map<number, DatabaseDef>();
  /** Roles stored by CREATE ROLE (and ALTER ROLE of the built-in superuser, oid 10). */
  readonly roles = new Map<number, RoleDef>();
  readonly schemas = new Map<number, SchemaDef>();
  readonly tables = new Map<number, TableDef>();
  readonly sequences = new Map<number, SequenceDef>();
  readonly functions = new Map<number, FunctionDef>();
  /** Owners and ACLs by object OID (objects without one: the built-in superuser's, default privileges). */
  readonly acls = new Map<number, AclDef>();
  private readonly tableByName = new Map<string, TableDef>();
  private readonly seqByName = new Map<string, SequenceDef>();
  private readonly indexByName = new Map<string, [TableDef, IndexDef]>();
  /** The session's temporary schema when this snapshot has one (temp-space.ts). */
  readonly tempSchema: SchemaDef | undefined;

  constructor(
    readonly version: string,
    dbs: DatabaseDef[],
    schemas: SchemaDef[],
    tables: TableDef[],
    seqs: SequenceDef[],
    roles: RoleDef[] = [],
    functions: FunctionDef[] = [],
    acls: AclDef[] = [],
  ) {
    for (const a of acls) this.acls.set(a.oid, a);
    for (const r of roles) this.roles.set(r.oid, r);
    for (const f of functions) this.functions.set(f.oid, f);
    for (const d of dbs) this.databases.set(d.oid, d);
    for (const s of schemas) this.schemas.set(s.oid, s);
    for (const t of tables) {
      this.tables.set(t.oid, t);
      this.tableByName.set(`${t.dbOid}\0${t.schema}\0${t.name}`, t);
      for (const ix of t.indexes) this.indexByName.set(`${t.dbOid}\0${t.schema}\0${ix.name}`, [t, ix]);
    }
    for (const s of seqs) {
      this.sequences.set(s.oid, s);
      this.seqByName.set(`${s.dbOid}\0${s.schema}\0${s.name}`, s);
    }
    // A session's temporary schema (pg_temp_N, only in that session's snapshots: temp-space.ts) also answers to pg_temp.
    for (const sc of schemas) {
      if (!sc.name.startsWith('pg_temp_')) continue;
      this.tempSchema = sc;
      for (const t of tables) {
        if (t.schema !== sc.name) continue;
        this.tableByName.set(`${t.dbOid}\0pg_temp\0${t.name}`, t);
        for (const ix of t.indexes) this.indexByName.set(`${t.dbOid}\0pg_temp\0${ix.name}`, [t, ix]);
      }
      for (const q of seqs) if (q.schema === sc.name) this.seqByName.set(`${q.dbOid}\0pg_temp\0${q.name}`, q);
    }
  }

  database(name: string): DatabaseDef | undefined {
    for (const d of this.databases.values()) if (d.name === name) return d;
    return undefined;
  }

  schema(dbOid: number, name: string): SchemaDef | undefined {
    if (name === 'pg_temp') return this.tempSchema;
    for (const s of this.schemas.values()) if ((s.dbOid === dbOid || s.dbOid === 0) && s.name === name) return s;
    return undefined;
  }

  table(dbOid: number, schema: string, name: string): TableDef | undefined {
    return this.tableByName.get(`${dbOid}\0${schema}\0${name}`);
  }

  sequence(dbOid: number, schema: string, name: string): SequenceDef | undefined {
    return this.seqByName.get(`${dbOid}\0${schema}\0${name}`);
  }

  index(dbOid: number, schema: string, name: string): [TableDef, IndexDef] | undefined {
    return this.indexByName.get(`${dbOid}\0${schema}\0${name}`);
  }

  /** User functions named `name` in `schema` (all overloads). */
  functionsNamed(dbOid: number, schema: string, name: string): FunctionDef[] {
    return [...this.functions.values()].filter((f) => f.dbOid === dbOid && f.schema === schema && f.name === name);
  }

  tablesOf(dbOid: number): TableDef[] {
    return [...this.tables.values()].filter((t) => t.dbOid === dbOid);
  }
}

/** Reads and writes catalog descriptors through a transaction. */
export class CatalogStore {
  static async readVersion(txn: Txn): Promise<string> {
    const v = await txn.get(VERSION_KEY);
    return v === undefined ? '' : v.toString('utf8');
  }

  static async load(txn: Txn, version: string): Promise<CatalogSnapshot> {
    const all = async <T>(kind: string): Promise<T[]> => {
      const prefix = catalogKindPrefix(kind);
      const end = Buffer.from(prefix);
      end[end.length - 1]!++;
      const out: T[] = [];
      let start: Uint8Array = prefix;
      for (;;) {
        const page = await txn.scan({ start, end, limit: 512 });
        for (const kv of page) out.push(decodeDescriptor<T>(kv.value));
        if (page.length < 512) break;
        start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
      }
      return out;
    };
    return new CatalogSnapshot(
      version,
      await all<DatabaseDef>('db'),
      await all<SchemaDef>('schema'),
      await all<TableDef>('rel'),
      await all<SequenceDef>('seq'),
      await all<RoleDef>('role'),
      await all<FunctionDef>('func'),
      await all<AclDef>('acl'),
    );
  }

  static async bumpVersion(txn: Txn, token: string): Promise<void> {
    await txn.put(VERSION_KEY, Buffer.from(token, 'utf8'));
  }

  static async allocOid(txn: Txn): Promise<number> {
    const cur = await txn.get(OID_KEY);
    const next = cur === undefined ? FIRST_NORMAL_OID : Number(cur.toString('utf8'));
    assert(Number.isSafeInteger(next), 'OID counter must be an integer');
    await txn.put(OID_KEY, Buffer.from(String(next + 1), 'utf8'));
    return next;
  }

  static async put(
    txn: Txn,
    kind: 'db' | 'schema' | 'rel' | 'seq' | 'role' | 'func' | 'acl',
    oid: number,
    d: unknown,
  ): Promise<void> {
    await txn.put(catalogKey(kind, oid), encodeDescriptor(d));
  }

  static async remove(
    txn: Txn,
    kind: 'db' | 'schema' | 'rel' | 'seq' | 'role' | 'func' | 'acl',
    oid: number,
  ): Promise<void> {
    await txn.delete(catalogKey(kind, oid));
  }

  /** Creates database `postgres` with schemas public/pg_catalog when the catalog is empty. */
  static async bootstrap(txn: Txn): Promise<boolean> {
    if ((await CatalogStore.readVersion(txn)) !== '') return false;
    await CatalogStore.put(txn, 'db', POSTGRES_DB_OID, {
      oid: POSTGRES_DB_OID,
      name: 'postgres',
    } satisfies DatabaseDef);
    await CatalogStore.put(txn, 'schema', PG_CATALOG_OID, {
      oid: PG_CATALOG_OID,
      dbOid: 0,
      name: 'pg_catalog',
    } satisfies SchemaDef);
    await CatalogStore.put(txn, 'schema', INFORMATION_SCHEMA_OID, {
      oid: INFORMATION_SCHEMA_OID,
      dbOid: 0,
      name: 'information_schema',
    } satisfies SchemaDef);
    await CatalogStore.put(txn, 'schema', PUBLIC_OID, {
      oid: PUBLIC_OID,
      dbOid: POSTGRES_DB_OID,
      name: 'public',
    } satisfies SchemaDef);
    await CatalogStore.bumpVersion(txn, 'bootstrap');
    return true;
  }
}
