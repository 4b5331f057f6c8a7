/**
 * DDL: CREATE/DROP/ALTER of tables, indexes, views, sequences and schemas,
 * and TRUNCATE. Every change writes catalog descriptors through the user's
 * transaction and bumps the catalog version (see catalog.ts), so it commits
 * or rolls back with the transaction.
 *
 * Expressions stored in the catalog (defaults, CHECK) are kept as SQL text
 * (deparsed from the AST) and bound again when used.
 *
 * Dependencies: DROP TABLE refuses (2BP01) when a view or foreign key
 * depends on the table, unless CASCADE, which drops dependent views and
 * foreign-key constraints. Owned sequences (SERIAL) go with their table.
 */

import type {
  AlterTableStmt,
  ColumnDef as PgColumnDef,
  Constraint,
  CreateSeqStmt,
  CreateStmt,
  DropStmt,
  IndexStmt,
  Node,
  RenameStmt,
  TruncateStmt,
  ViewStmt,
  CreateSchemaStmt,
  CreateFunctionStmt,
} from '@pgsql/types';
import { deparseSync } from 'pgsql-parser';
import { NextDbError, SqlState, notSupported } from '../../util/errors.ts';
import { assert } from '../../util/assert.ts';
import type { Txn } from '../../txn/api.ts';
import type { Notice } from '../api.ts';
import {
  CatalogStore,
  sequenceKey,
  tablePrefix,
  type CatalogSnapshot,
  type ColumnDef,
  type ConstraintDef,
  type FkAction,
  type FunctionDef,
  type IndexDef,
  type IndexExpr,
  type SequenceDef,
  type TableDef,
} from '../catalog/catalog.ts';
import { Types, formatType, type SqlType } from '../types/sql-type.ts';
import { resolveTypeName } from '../plan/type-names.ts';
import { TableStore, writeKeyValue } from './table-store.ts';
import { KeyWriter } from '../../encoding/key-codec.ts';
import { mapExpr, type Binder } from '../plan/binder.ts';
import type { Expr, OutputColumn } from '../plan/plan.ts';
import type { Value } from '../types/sql-type.ts';
import { CompileEnv, compileExpr, layoutOf } from './compile-expr.ts';
import { compilePlpgsql, plSource } from '../plpgsql/compile.ts';
import { dropTrigger, setTriggersEnabled } from './trigger-ddl.ts';
import { recordOwner, requireOwner, requirePrivilege, requireRelation } from './privileges.ts';
import { isTempOid, markTempDdl } from '../temp-space.ts';
import { parseSql } from '../parser.ts';
import { checkOptionRefusal } from '../plan/view-dml.ts';

export interface DdlContext {
  readonly txn: Txn;
  readonly catalog: CatalogSnapshot;
  readonly dbOid: number;
  readonly searchPath: readonly string[];
  readonly notices: Notice[];
  /** The session's user: ownership of new objects and privilege checks (absent: no checks). */
  readonly user?: string;
  /** Creates a binder over the current catalog (views, defaults validation). */
  binder(sql: string): Binder;
  /** Fills an existing table's new column (ALTER TABLE ADD COLUMN ... DEFAULT). */
  evalDefault(t: TableDef, col: ColumnDef): Promise<(row: unknown[]) => Promise<unknown>>;
}

function str(n: Node | undefined): string {
  if (n !== undefined && 'String' in n) return n.String.sval ?? '';
  return '';
}

function deparseExpr(n: Node): string {
  return deparseSync(n as never);
}

function creationSchema(ctx: DdlContext, schema: string | undefined): string {
  const chosen = ((): string => {
    if (schema !== undefined) {
      if (ctx.catalog.schema(ctx.dbOid, schema) === undefined)
        throw new NextDbError('3F000', `schema "${schema}" does not exist`);
      return schema;
    }
    for (const s of ctx.searchPath)
      if (s !== 'pg_catalog' && !s.startsWith('pg_temp') && ctx.catalog.schema(ctx.dbOid, s) !== undefined) return s;
    throw new NextDbError('3F000', 'no schema has been selected to create in');
  })();
  // CREATE needs the CREATE privilege on the schema (PUBLIC has it on public).
  if (ctx.user !== undefined)
    requirePrivilege(ctx.catalog, ctx.user, ctx.catalog.schema(ctx.dbOid, chosen)!.oid, 'n', 'C', chosen);
  return chosen;
}

/** CREATE TEMP ... or CREATE ... pg_temp.name: a temporary relation (temp-space.ts). */
export function isTempRelation(rv: { relpersistence?: string; schemaname?: string }): boolean {
  return rv.relpersistence === 't' || (rv.schemaname !== undefined && rv.schemaname.startsWith('pg_temp'));
}

/** The session's temporary schema (the session made it before running the statement: temp-space.ts). */
function tempCreationSchema(ctx: DdlContext, schema: string | undefined): string {
  const ts = ctx.catalog.tempSchema;
  assert(ts !== undefined, 'the temporary schema exists before a temporary relation is created');
  if (schema !== undefined && schema !== 'pg_temp' && schema !== ts.name)
    throw new NextDbError('42P16', 'cannot create temporary relation in non-temporary schema');
  return ts.name;
}

/** ALTER, DROP, CREATE INDEX / TRIGGER on a relation: its owner (or a superuser) only. */
export function requireTableOwner(ctx: DdlContext, t: TableDef): void {
  if (ctx.user !== undefined)
    requireOwner(ctx.catalog, ctx.user, t.oid, `${t.kind === 'v' ? 'view' : 'table'} ${t.name}`);
}

function findRelation(ctx: DdlContext, schema: string | undefined, name: string): TableDef | undefined {
  if (schema !== undefined) return ctx.catalog.table(ctx.dbOid, schema, name);
  for (const s of ctx.searchPath) {
    const t = ctx.catalog.table(ctx.dbOid, s, name);
    if (t !== undefined) return t;
  }
  return undefined;
}

function findSequence(ctx: DdlContext, schema: string | undefined, name: string): SequenceDef | undefined {
  if (schema !== undefined) return ctx.catalog.sequence(ctx.dbOid, schema, name);
  for (const s of ctx.searchPath) {
    const q = ctx.catalog.sequence(ctx.dbOid, s, name);
    if (q !== undefined) return q;
  }
  return undefined;
}

function nameTaken(ctx: DdlContext, schema: string, name: string): boolean {
  return (
    ctx.catalog.table(ctx.dbOid, schema, name) !== undefined ||
    ctx.catalog.sequence(ctx.dbOid, schema, name) !== undefined ||
    ctx.catalog.index(ctx.dbOid, schema, name) !== undefined
  );
}

/** PostgreSQL's ChooseRelationName: table_col_suffix, truncated to 63 bytes, made unique with a number. */
function chooseName(ctx: DdlContext, schema: string, parts: string[], suffix: string, taken: Set<string>): string {
  const base = `${parts.join('_')}`.slice(0, 63 - suffix.length - 1);
  let name = `${base}_${suffix}`;
  for (let i = 1; nameTaken(ctx, schema, name) || taken.has(name); i++) name = `${base}_${suffix}${i}`;
  taken.add(name);
  return name;
}

function fkAction(c: string | undefined): FkAction {
  switch (c) {
    case 'r':
      return 'r';
    case 'c':
      return 'c';
    case 'n':
      return 'n';
    case 'd':
      return 'd';
    default:
      return 'a';
  }
}

async function sequenceDef(
  ctx: DdlContext,
  oid: number,
  schema: string,
  name: string,
  type: SqlType,
  options: readonly Node[],
  ownedBy?: { table: number; column: number },
): Promise<SequenceDef> {
  let increment = 1n;
  let start: bigint | undefined;
  let min: bigint | undefined;
  let max: bigint | undefined;
  let cycle = false;
  const typeMax = type.id === 'int2' ? 32767n : type.id === 'int4' ? 2147483647n : 9223372036854775807n;
  for (const o of options) {
    if (!('DefElem' in o)) continue;
    const d = o.DefElem;
    const num = (): bigint => {
      const a = d.arg;
      if (a !== undefined && 'Integer' in a) return BigInt(a.Integer.ival ?? 0);
      if (a !== undefined && 'Float' in a) return BigInt(a.Float.fval ?? '0');
      throw new NextDbError('22023', `invalid value for sequence option ${d.defname ?? ''}`);
    };
    switch (d.defname) {
      case 'increment':
        increment = num();
        if (increment === 0n) throw new NextDbError('22023', 'INCREMENT must not be zero');
        break;
      case 'start':
        start = num();
        break;
      case 'minvalue':
        if (d.arg !== undefined) min = num();
        break;
      case 'maxvalue':
        if (d.arg !== undefined) max = num();
        break;
      case 'cycle':
        cycle = d.arg !== undefined && 'Boolean' in d.arg ? d.arg.Boolean.boolval === true : true;
        break;
      case 'as':
      case 'cache':
      case 'owned_by':
      case 'sequence_name':
        break;
      default:
        throw notSupported(`sequence option ${d.defname ?? '?'}`);
    }
  }
  const lo = min ?? (increment > 0n ? 1n : -typeMax - 1n);
  const hi = max ?? (increment > 0n ? typeMax : -1n);
  const st = start ?? (increment > 0n ? lo : hi);
  if (st < lo || st > hi) throw new NextDbError('22023', `START value (${st}) cannot be less than MINVALUE (${lo})`);
  void ctx;
  return {
    oid,
    dbOid: ctx.dbOid,
    schema,
    name,
    start: st,
    increment,
    min: lo,
    max: hi,
    cycle,
    ...(ownedBy === undefined ? {} : { ownedBy }),
  };
}

export async function createTable(ctx: DdlContext, cs: CreateStmt): Promise<string> {
  const rv = cs.relation!;
  if (cs.inhRelations !== undefined && cs.inhRelations.length > 0) throw notSupported('table inheritance');
  if (cs.partspec !== undefined) throw notSupported('partitioned tables');
  const temp = isTempRelation(rv);
  const onCommit =
    cs.oncommit === 'ONCOMMIT_DELETE_ROWS' ? 'delete' : cs.oncommit === 'ONCOMMIT_DROP' ? 'drop' : undefined;
  if (!temp && cs.oncommit !== undefined && cs.oncommit !== 'ONCOMMIT_NOOP')
    throw new NextDbError('42P16', 'ON COMMIT can only be used on temporary tables');
  const schema = temp ? tempCreationSchema(ctx, rv.schemaname) : creationSchema(ctx, rv.schemaname);
  const name = rv.relname ?? '';
  if (nameTaken(ctx, schema, name)) {
    if (cs.if_not_exists) {
      ctx.notices.push({ severity: 'NOTICE', code: '42P07', message: `relation "${name}" already exists, skipping` });
      return 'CREATE TABLE';
    }
    throw new NextDbError(SqlState.duplicateTable, `relation "${name}" already exists`);
  }
  const txn = ctx.txn;
  if (temp) markTempDdl(txn);
  const oid = await CatalogStore.allocOid(txn);
  const columns: ColumnDef[] = [];
  const constraints: ConstraintDef[] = [];
  const tableCons: Constraint[] = [];
  const taken = new Set<string>();
  const sequences: SequenceDef[] = [];
  let pkCols: number[] | undefined;
  let pkName: string | undefined;
  const uniques: { cols: number[]; name: string | undefined }[] = [];
  for (const elt of cs.tableElts ?? []) {
    if ('Constraint' in elt) {
      tableCons.push(elt.Constraint);
      continue;
    }
    if ('TableLikeClause' in elt) throw notSupported('CREATE TABLE ... LIKE');
    assert('ColumnDef' in elt, 'table element');
    const cd: PgColumnDef = elt.ColumnDef;
    const colName = cd.colname ?? '';
    if (columns.some((c) => c.name === colName))
      throw new NextDbError('42701', `column "${colName}" specified more than once`);
    const { type, serial } = resolveTypeName(cd.typeName!, true);
    const attnum = columns.length + 1;
    let notNull = cd.is_not_null === true;
    let defaultExpr: string | undefined = cd.raw_default === undefined ? undefined : deparseExpr(cd.raw_default);
    let identity: 'a' | 'd' | undefined;
    if (serial) {
      const seqName = chooseName(ctx, schema, [name, colName], 'seq', taken);
      const seqOid = await CatalogStore.allocOid(txn);
      sequences.push(await sequenceDef(ctx, seqOid, schema, seqName, type, [], { table: oid, column: attnum - 1 }));
      defaultExpr = `nextval('${schema === 'public' || temp ? '' : `${schema}.`}${seqName}'::regclass)`;
      notNull = true;
    }
    for (const cn of cd.constraints ?? []) {
      assert('Constraint' in cn, 'column constraint');
      const c = cn.Constraint;
      switch (c.contype) {
        case 'CONSTR_NOTNULL':
          notNull = true;
          break;
        case 'CONSTR_NULL':
          break;
        case 'CONSTR_DEFAULT':
          defaultExpr = deparseExpr(c.raw_expr!);
          break;
        case 'CONSTR_PRIMARY':
          if (pkCols !== undefined)
            throw new NextDbError('42P16', `multiple primary keys for table "${name}" are not allowed`);
          pkCols = [attnum - 1];
          pkName = c.conname;
          notNull = true;
          break;
        case 'CONSTR_UNIQUE':
          uniques.push({ cols: [attnum - 1], name: c.conname });
          break;
        case 'CONSTR_CHECK':
          tableCons.push({ ...c, conname: c.conname ?? chooseName(ctx, schema, [name, colName], 'check', taken) });
          break;
        case 'CONSTR_FOREIGN':
          tableCons.push({ ...c, fk_attrs: [{ String: { sval: colName } }] });
          break;
        case 'CONSTR_IDENTITY': {
          identity = c.generated_when === 'd' ? 'd' : 'a';
          const seqName = chooseName(ctx, schema, [name, colName], 'seq', taken);
          const seqOid = await CatalogStore.allocOid(txn);
          sequences.push(
            await sequenceDef(ctx, seqOid, schema, seqName, type, c.options ?? [], { table: oid, column: attnum - 1 }),
          );
          defaultExpr = `nextval('${schema === 'public' || temp ? '' : `${schema}.`}${seqName}'::regclass)`;
          notNull = true;
          break;
        }
        case 'CONSTR_GENERATED':
          throw notSupported('generated columns');
        case 'CONSTR_ATTR_DEFERRABLE':
        case 'CONSTR_ATTR_DEFERRED':
          throw notSupported('deferrable constraints');
        default:
          break;
      }
    }
    columns.push({
      name: colName,
      attnum,
      type,
      notNull,
      ...(defaultExpr === undefined ? {} : { defaultExpr }),
      ...(identity === undefined ? {} : { identity }),
    });
  }
  const colIndex = (n: string): number => {
    const i = columns.findIndex((c) => c.name === n);
    if (i < 0) throw new NextDbError(SqlState.undefinedColumn, `column "${n}" named in key does not exist`);
    return i;
  };
  const fks: Constraint[] = [];
  for (const c of tableCons) {
    switch (c.contype) {
      case 'CONSTR_PRIMARY':
        if (pkCols !== undefined)
          throw new NextDbError('42P16', `multiple primary keys for table "${name}" are not allowed`);
        pkCols = (c.keys ?? []).map((k) => colIndex(str(k)));
        pkName = c.conname;
        for (const i of pkCols) columns[i] = { ...columns[i]!, notNull: true };
        break;
      case 'CONSTR_UNIQUE':
        uniques.push({ cols: (c.keys ?? []).map((k) => colIndex(str(k))), name: c.conname });
        break;
      case 'CONSTR_CHECK': {
        const conName = c.conname ?? chooseName(ctx, schema, [name], 'check', taken);
        const conOid = await CatalogStore.allocOid(txn);
        constraints.push({ oid: conOid, name: conName, type: 'c', columns: [], checkExpr: deparseExpr(c.raw_expr!) });
        break;
      }
      case 'CONSTR_FOREIGN':
        fks.push(c);
        break;
      case 'CONSTR_EXCLUSION':
        throw notSupported('exclusion constraints');
      default:
        break;
    }
  }
  const indexes: IndexDef[] = [];
  if (pkCols === undefined) {
    // Hidden rowid primary key.
    columns.push({ name: 'rowid', attnum: columns.length + 1, type: Types.int8, notNull: true, hidden: true });
    indexes.push({
      id: 1,
      oid: await CatalogStore.allocOid(txn),
      name: `${name}_rowid`,
      columns: [columns.length - 1],
      desc: [false],
      unique: true,
      primary: true,
    });
  } else {
    const ixName = pkName ?? chooseName(ctx, schema, [name], 'pkey', taken);
    const ixOid = await CatalogStore.allocOid(txn);
    for (const c of pkCols) writeKeyValue(new KeyWriter(), columns[c]!.type, null);
    indexes.push({
      id: 1,
      oid: ixOid,
      name: ixName,
      columns: pkCols,
      desc: pkCols.map(() => false),
      unique: true,
      primary: true,
    });
    constraints.push({ oid: await CatalogStore.allocOid(txn), name: ixName, type: 'p', columns: pkCols, indexId: 1 });
  }
  let nextIndexId = 2;
  for (const u of uniques) {
    const ixName = u.name ?? chooseName(ctx, schema, [name, ...u.cols.map((c) => columns[c]!.name)], 'key', taken);
    const ixOid = await CatalogStore.allocOid(txn);
    const id = nextIndexId++;
    indexes.push({
      id,
      oid: ixOid,
      name: ixName,
      columns: u.cols,
      desc: u.cols.map(() => false),
      unique: true,
      primary: false,
      valueKeyed: true,
    });
    constraints.push({ oid: await CatalogStore.allocOid(txn), name: ixName, type: 'u', columns: u.cols, indexId: id });
  }
  const draft: TableDef = {
    oid,
    dbOid: ctx.dbOid,
    schema,
    name,
    kind: 'r',
    columns,
    indexes,
    constraints,
    nextIndexId,
    ...(onCommit === undefined ? {} : { onCommit }),
  };
  for (const c of fks) constraints.push(await foreignKey(ctx, draft, c, taken));
  const table: TableDef = { ...draft, constraints };
  // Validate defaults and checks by binding them once.
  const binder = ctx.binder('');
  const scope = binder.newScope();
  for (const c of columns)
    if (c.defaultExpr !== undefined && !c.defaultExpr.startsWith('nextval(')) binder.defaultFor(c, scope);
  await CatalogStore.put(txn, 'rel', oid, table);
  await recordOwner(ctx, oid, 'r');
  for (const s of sequences) {
    await CatalogStore.put(txn, 'seq', s.oid, s);
    await recordOwner(ctx, s.oid, 'S');
  }
  return 'CREATE TABLE';
}

async function foreignKey(ctx: DdlContext, table: TableDef, c: Constraint, taken: Set<string>): Promise<ConstraintDef> {
  const pk = c.pktable!;
  const parent =
    pk.relname === table.name && (pk.schemaname === undefined || pk.schemaname === table.schema)
      ? table
      : findRelation(ctx, pk.schemaname, pk.relname ?? '');
  if (parent === undefined)
    throw new NextDbError(SqlState.undefinedTable, `relation "${pk.relname ?? ''}" does not exist`);
  if (parent.kind !== 'r') throw new NextDbError('42809', `referenced relation "${parent.name}" is not a table`);
  if (isTempOid(parent.oid) !== isTempOid(table.oid))
    throw new NextDbError(
      '42P16',
      isTempOid(table.oid)
        ? 'constraints on temporary tables may reference only temporary tables'
        : 'constraints on permanent tables may reference only permanent tables',
    );
  const cols = (c.fk_attrs ?? []).map((k) => {
    const i = table.columns.findIndex((x) => x.name === str(k) && !x.dropped);
    if (i < 0)
      throw new NextDbError(
        SqlState.undefinedColumn,
        `column "${str(k)}" referenced in foreign key constraint does not exist`,
      );
    return i;
  });
  let refCols: number[];
  if ((c.pk_attrs ?? []).length === 0) {
    const ppk = parent.indexes.find((i) => i.primary);
    if (ppk === undefined || parent.columns[ppk.columns[0]!]?.hidden === true)
      throw new NextDbError('42830', `there is no primary key for referenced table "${parent.name}"`);
    refCols = [...ppk.columns];
  } else {
    refCols = (c.pk_attrs ?? []).map((k) => {
      const i = parent.columns.findIndex((x) => x.name === str(k) && !x.dropped);
      if (i < 0)
        throw new NextDbError(
          SqlState.undefinedColumn,
          `column "${str(k)}" referenced in foreign key constraint does not exist`,
        );
      return i;
    });
  }
  if (refCols.length !== cols.length)
    throw new NextDbError('42830', 'number of referencing and referenced columns for foreign key disagree');
  const hasUnique = parent.indexes.some(
    (i) =>
      i.unique &&
      i.predicate === undefined &&
      i.columns.length === refCols.length &&
      i.columns.every((x) => refCols.includes(x)),
  );
  if (!hasUnique)
    throw new NextDbError(
      '42830',
      `there is no unique constraint matching given keys for referenced table "${parent.name}"`,
    );
  const name =
    c.conname ?? chooseName(ctx, table.schema, [table.name, ...cols.map((i) => table.columns[i]!.name)], 'fkey', taken);
  return {
    oid: await CatalogStore.allocOid(ctx.txn),
    name,
    type: 'f',
    columns: cols,
    refTable: parent.oid,
    refColumns: refCols,
    onDelete: fkAction(c.fk_del_action),
    onUpdate: fkAction(c.fk_upd_action),
  };
}

export async function createIndex(ctx: DdlContext, s: IndexStmt): Promise<string> {
  const rv = s.relation!;
  const t = findRelation(ctx, rv.schemaname, rv.relname ?? '');
  if (t === undefined) throw new NextDbError(SqlState.undefinedTable, `relation "${rv.relname ?? ''}" does not exist`);
  if (t.kind !== 'r') throw new NextDbError('42809', `"${t.name}" is not a table`);
  requireTableOwner(ctx, t);
  if (s.accessMethod !== undefined && s.accessMethod !== 'btree') throw notSupported(`index method ${s.accessMethod}`);
  if ((s.indexIncludingParams ?? []).length > 0) throw notSupported('INCLUDE columns in indexes');
  const cols: number[] = [];
  const desc: boolean[] = [];
  const exprs: (IndexExpr | null)[] = [];
  const nameParts: string[] = [];
  // Expressions and the predicate are validated (names, types, immutability) by binding them once.
  const binder = ctx.binder('');
  const boundCols: OutputColumn[] = t.columns.map((c) => ({
    id: binder.newId(),
    name: c.name,
    type: c.type,
    tableOid: t.oid,
    attnum: c.attnum,
  }));
  const readCols = new Set<number>();
  const noteReads = (e: Expr): void => {
    if (e.kind === 'col') readCols.add(boundCols.findIndex((c) => c.id === e.id));
    mapExpr(e, (c) => {
      noteReads(c);
      return c;
    });
  };
  for (const p of s.indexParams ?? []) {
    assert('IndexElem' in p, 'index element');
    const e = p.IndexElem;
    if (e.nulls_ordering !== undefined && e.nulls_ordering !== 'SORTBY_NULLS_DEFAULT')
      throw notSupported('NULLS FIRST/LAST in indexes');
    if ((e.collation ?? []).length > 0 || (e.opclass ?? []).length > 0)
      throw notSupported('index collations and operator classes');
    // `((col))` is a plain column, as in PostgreSQL.
    const plainName =
      e.expr === undefined
        ? e.name
        : 'ColumnRef' in e.expr && e.expr.ColumnRef.fields?.length === 1
          ? str(e.expr.ColumnRef.fields[0])
          : undefined;
    if (plainName !== undefined && plainName !== '') {
      const i = t.columns.findIndex((c) => c.name === plainName && !c.dropped && c.hidden !== true);
      if (i < 0) throw new NextDbError(SqlState.undefinedColumn, `column "${plainName}" does not exist`);
      cols.push(i);
      exprs.push(null);
      nameParts.push(plainName);
    } else {
      assert(e.expr !== undefined, 'index element without a column or expression');
      const sql = deparseExpr(e.expr);
      const bound = binder.bindIndexText(t, sql, boundCols, 'expression');
      noteReads(bound);
      cols.push(-1);
      exprs.push({ sql, type: bound.type });
      // PostgreSQL names an expression column after its function, else "expr".
      nameParts.push(
        'FuncCall' in e.expr ? str(e.expr.FuncCall.funcname?.[e.expr.FuncCall.funcname.length - 1]) || 'expr' : 'expr',
      );
    }
    desc.push(e.ordering === 'SORTBY_DESC');
  }
  let predicate: string | undefined;
  if (s.whereClause !== undefined) {
    predicate = deparseExpr(s.whereClause);
    noteReads(binder.bindIndexText(t, predicate, boundCols, 'predicate'));
  }
  const taken = new Set<string>();
  let name = s.idxname;
  if (name !== undefined && nameTaken(ctx, t.schema, name)) {
    if (s.if_not_exists) {
      ctx.notices.push({ severity: 'NOTICE', code: '42P07', message: `relation "${name}" already exists, skipping` });
      return 'CREATE INDEX';
    }
    throw new NextDbError(SqlState.duplicateTable, `relation "${name}" already exists`);
  }
  name ??= chooseName(ctx, t.schema, [t.name, ...nameParts], 'idx', taken);
  if (isTempOid(t.oid)) markTempDdl(ctx.txn);
  const ix: IndexDef = {
    id: t.nextIndexId,
    oid: await CatalogStore.allocOid(ctx.txn),
    name,
    columns: cols,
    desc,
    unique: s.unique === true,
    ...(s.unique === true ? { valueKeyed: true } : {}),
    primary: false,
    ...(exprs.some((x) => x !== null) ? { exprs } : {}),
    ...(predicate === undefined ? {} : { predicate }),
    ...(readCols.size === 0 ? {} : { exprColumns: [...readCols].sort((a, b) => a - b) }),
  };
  const constraints = [...t.constraints];
  if (s.primary) throw notSupported('CREATE INDEX ... PRIMARY');
  const next: TableDef = { ...t, indexes: [...t.indexes, ix], constraints, nextIndexId: t.nextIndexId + 1 };
  await new TableStore(next).buildIndex(ctx.txn, ix);
  await CatalogStore.put(ctx.txn, 'rel', t.oid, next);
  return 'CREATE INDEX';
}

export async function createView(ctx: DdlContext, v: ViewStmt, sqlText: string): Promise<string> {
  const rv = v.view!;
  const name = rv.relname ?? '';
  // A view over a temporary table is temporary too (PostgreSQL's rule, with its notice).
  let temp = isTempRelation(rv);
  if (!temp && rv.schemaname === undefined && ctx.catalog.tempSchema !== undefined) {
    temp = collectRelations(v.query).some((r) => isTempOid(findRelation(ctx, r.schema, r.name)?.oid ?? 0));
    if (temp)
      ctx.notices.push({ severity: 'NOTICE', code: '00000', message: `view "${name}" will be a temporary view` });
  }
  const schema = temp ? tempCreationSchema(ctx, rv.schemaname) : creationSchema(ctx, rv.schemaname);
  if (temp) markTempDdl(ctx.txn);
  const existing = ctx.catalog.table(ctx.dbOid, schema, name);
  if (existing !== undefined && !(v.replace === true && existing.kind === 'v'))
    throw new NextDbError(SqlState.duplicateTable, `relation "${name}" already exists`);
  if (existing === undefined && nameTaken(ctx, schema, name))
    throw new NextDbError(SqlState.duplicateTable, `relation "${name}" already exists`);
  const query = v.query!;
  let viewSql = deparseSync([{ RawStmt: { stmt: query } }] as never);
  void sqlText;
  const aliases = (v.aliases ?? []).map(str);
  // Bind now: catches errors and gives the column list.
  const binder = ctx.binder(viewSql);
  const q = binder.bindTopQuery(query);
  if (aliases.length > q.cols.length)
    throw new NextDbError('42601', 'CREATE VIEW specifies more column names than columns');
  const names = q.cols.map((c, i) => aliases[i] ?? c.name);
  if (new Set(names).size !== names.length)
    throw new NextDbError(
      '42701',
      `column "${names.find((n, i) => names.indexOf(n) !== i) ?? ''}" specified more than once`,
    );
  if (aliases.length > 0)
    viewSql = `SELECT * FROM (${viewSql}) AS _v(${names.map((n) => `"${n.replace(/"/g, '""')}"`).join(', ')})`;
  const deps = [
    ...new Set(
      collectRelations(query)
        .map((r) => findRelation(ctx, r.schema, r.name)?.oid)
        .filter((x): x is number => x !== undefined),
    ),
  ];
  const oid = existing?.oid ?? (await CatalogStore.allocOid(ctx.txn));
  const columns: ColumnDef[] = q.cols.map((c, i) => ({ name: names[i]!, attnum: i + 1, type: c.type, notNull: false }));
  const optionArg = (v.options ?? [])
    .map((o) => ('DefElem' in o && o.DefElem.defname === 'check_option' ? o.DefElem.arg : undefined))
    .find((a) => a !== undefined);
  const checkOption: 'local' | 'cascaded' | undefined =
    v.withCheckOption === 'LOCAL_CHECK_OPTION'
      ? 'local'
      : v.withCheckOption === 'CASCADED_CHECK_OPTION'
        ? 'cascaded'
        : optionArg === undefined
          ? undefined
          : defElemWord(optionArg) === 'local'
            ? 'local'
            : 'cascaded';
  const t: TableDef = {
    oid,
    dbOid: ctx.dbOid,
    schema,
    name,
    kind: 'v',
    columns,
    indexes: [],
    constraints: [],
    nextIndexId: 1,
    viewSql,
    dependsOn: deps,
    ...(checkOption === undefined ? {} : { viewCheckOption: checkOption }),
  };
  if (checkOption !== undefined) {
    // WITH CHECK OPTION needs an automatically updatable view (PostgreSQL's rule).
    const reason = checkOptionRefusal(t, (sch, n) =>
      (findRelation(ctx, sch, n)?.columns ?? []).filter((c) => !c.dropped && c.hidden !== true).map((c) => c.name),
    );
    if (reason !== undefined)
      throw new NextDbError('0A000', 'WITH CHECK OPTION is supported only on automatically updatable views', {
        hint: reason,
      });
  }
  await CatalogStore.put(ctx.txn, 'rel', oid, t);
  await recordOwner(ctx, oid, 'r');
  return 'CREATE VIEW';
}

/** The word of an option value (`check_option = local` parses as a type name, `'local'` as a string). */
function defElemWord(arg: Node): string {
  if ('String' in arg) return arg.String.sval ?? '';
  if ('TypeName' in arg) return str(arg.TypeName.names?.[arg.TypeName.names.length - 1]);
  return '';
}

/** Relation names a query reads (for view dependencies). */
function collectRelations(
  n: unknown,
  out: { schema: string | undefined; name: string }[] = [],
): { schema: string | undefined; name: string }[] {
  if (Array.isArray(n)) {
    for (const x of n) collectRelations(x, out);
  } else if (n !== null && typeof n === 'object') {
    const o = n as Record<string, unknown>;
    if ('RangeVar' in o) {
      const rv = o.RangeVar as { schemaname?: string; relname?: string };
      out.push({ schema: rv.schemaname, name: rv.relname ?? '' });
    }
    for (const v of Object.values(o)) collectRelations(v, out);
  }
  return out;
}

export async function createSequence(ctx: DdlContext, s: CreateSeqStmt): Promise<string> {
  const rv = s.sequence!;
  const schema = creationSchema(ctx, rv.schemaname);
  const name = rv.relname ?? '';
  if (nameTaken(ctx, schema, name)) {
    if (s.if_not_exists) {
      ctx.notices.push({ severity: 'NOTICE', code: '42P07', message: `relation "${name}" already exists, skipping` });
      return 'CREATE SEQUENCE';
    }
    throw new NextDbError(SqlState.duplicateTable, `relation "${name}" already exists`);
  }
  const oid = await CatalogStore.allocOid(ctx.txn);
  let type: SqlType = Types.int8;
  for (const o of s.options ?? []) {
    if ('DefElem' in o && o.DefElem.defname === 'as' && o.DefElem.arg !== undefined && 'TypeName' in o.DefElem.arg)
      type = resolveTypeName(o.DefElem.arg.TypeName).type;
  }
  await CatalogStore.put(ctx.txn, 'seq', oid, await sequenceDef(ctx, oid, schema, name, type, s.options ?? []));
  await recordOwner(ctx, oid, 'S');
  return 'CREATE SEQUENCE';
}

export async function createSchema(ctx: DdlContext, s: CreateSchemaStmt): Promise<string> {
  const name = s.schemaname ?? '';
  if (ctx.catalog.schema(ctx.dbOid, name) !== undefined) {
    if (s.if_not_exists) {
      ctx.notices.push({ severity: 'NOTICE', code: '42P06', message: `schema "${name}" already exists, skipping` });
      return 'CREATE SCHEMA';
    }
    throw new NextDbError('42P06', `schema "${name}" already exists`);
  }
  if ((s.schemaElts ?? []).length > 0) throw notSupported('CREATE SCHEMA with elements');
  const oid = await CatalogStore.allocOid(ctx.txn);
  await CatalogStore.put(ctx.txn, 'schema', oid, { oid, dbOid: ctx.dbOid, name });
  await recordOwner(ctx, oid, 'n');
  return 'CREATE SCHEMA';
}

/**
 * ALTER TABLE ... ALTER COLUMN ... TYPE t [USING expr]: every row is read,
 * converted and written again under the new definition (keys of the primary
 * key and of indexes are re-encoded, uniqueness re-checked), the types of
 * expression-index keys re-derived. Not supported (0A000): columns of a
 * foreign key, columns a view reads, USING with volatile functions or
 * subqueries. The rows are held in memory while the table is rewritten.
 */
async function alterColumnType(ctx: DdlContext, t: TableDef, i: number, def: Node | undefined): Promise<TableDef> {
  assert(def !== undefined && 'ColumnDef' in def, 'ALTER COLUMN TYPE definition');
  const cd = def.ColumnDef;
  const col = t.columns[i]!;
  if (cd.collClause !== undefined) throw notSupported('COLLATE in ALTER COLUMN TYPE');
  const { type } = resolveTypeName(cd.typeName!);
  if (
    t.constraints.some((c) => c.type === 'f' && c.columns.includes(i)) ||
    dependents(ctx, t.oid).fks.some((f) => (f.con.refColumns ?? []).includes(i))
  ) {
    throw notSupported('changing the type of a column in a foreign key');
  }
  const usedByView = dependents(ctx, t.oid).views.find((v) => new RegExp(`\\b${col.name}\\b`).test(v.viewSql ?? ''));
  if (usedByView !== undefined) {
    throw new NextDbError(SqlState.featureNotSupported, 'cannot alter type of a column used by a view or rule', {
      detail: `rule _RETURN on view ${usedByView.name} depends on column "${col.name}"`,
    });
  }
  const binder = ctx.binder('');
  const cols: OutputColumn[] = t.columns.map((c) => ({
    id: binder.newId(),
    name: c.name,
    type: c.type,
    tableOid: t.oid,
    attnum: c.attnum,
  }));
  const conv = binder.bindTypeConversion(t, i, type, cd.raw_default, cols);
  const noVolatile = (e: Expr): void => {
    if (e.kind === 'subquery' || e.kind === 'async-call' || (e.kind === 'call' && e.volatile))
      throw notSupported('volatile functions and subqueries in ALTER COLUMN TYPE ... USING');
    mapExpr(e, (c) => {
      noVolatile(c);
      return c;
    });
  };
  noVolatile(conv);
  if (col.identity !== undefined && !['int2', 'int4', 'int8'].includes(type.id))
    throw new NextDbError('22023', 'identity column type must be smallint, integer, or bigint');
  const columns = t.columns.map((c, j) => (j === i ? { ...c, type } : c));
  let next: TableDef = { ...t, columns };
  // Defaults are kept as text: check the old default still converts to the new type.
  if (col.defaultExpr !== undefined && !col.defaultExpr.startsWith('nextval('))
    binder.defaultFor(columns[i]!, binder.newScope());
  // Fresh index descriptors (their compiled key expressions depend on column types); expression key types re-derived.
  const newCols: OutputColumn[] = columns.map((c) => ({
    id: binder.newId(),
    name: c.name,
    type: c.type,
    tableOid: t.oid,
    attnum: c.attnum,
  }));
  next = {
    ...next,
    indexes: t.indexes.map((ix) =>
      ix.exprs === undefined
        ? { ...ix }
        : {
            ...ix,
            exprs: ix.exprs.map((x) =>
              x === null ? null : { sql: x.sql, type: binder.bindIndexText(next, x.sql, newCols, 'expression').type },
            ),
          },
    ),
  };
  const cenv = CompileEnv.root(layoutOf(cols.map((c) => c.id)), [], () =>
    Promise.reject(notSupported('subqueries in ALTER COLUMN TYPE ... USING')),
  );
  const fn = compileExpr(conv, cenv);
  const ectx = binder.ddlEvalContext();
  const oldStore = new TableStore(t);
  const rows: Value[][] = [];
  for await (const row of oldStore.scanAll(ctx.txn)) rows.push(row);
  await oldStore.truncate(ctx.txn, tablePrefix(t.oid));
  const store = new TableStore(next);
  for (const row of rows) {
    const nr = row.slice();
    nr[i] = fn(row, ectx);
    if (nr[i] === null && col.notNull)
      throw new NextDbError(
        SqlState.notNullViolation,
        `column "${col.name}" of relation "${t.name}" contains null values`,
      );
    await store.insert(ctx.txn, nr);
  }
  return next;
}

function dependents(
  ctx: DdlContext,
  oid: number,
): { views: TableDef[]; fks: { table: TableDef; con: ConstraintDef }[] } {
  const views: TableDef[] = [];
  const fks: { table: TableDef; con: ConstraintDef }[] = [];
  for (const t of ctx.catalog.tablesOf(ctx.dbOid)) {
    if (t.kind === 'v' && (t.dependsOn ?? []).includes(oid) && t.oid !== oid) views.push(t);
    for (const c of t.constraints)
      if (c.type === 'f' && c.refTable === oid && t.oid !== oid) fks.push({ table: t, con: c });
  }
  return { views, fks };
}

async function dropRelation(ctx: DdlContext, t: TableDef, cascade: boolean, dropped: Set<number>): Promise<void> {
  if (dropped.has(t.oid)) return;
  dropped.add(t.oid);
  const deps = dependents(ctx, t.oid);
  const liveViews = deps.views.filter((v) => !dropped.has(v.oid));
  const liveFks = deps.fks.filter((f) => !dropped.has(f.table.oid));
  if (!cascade && (liveViews.length > 0 || liveFks.length > 0)) {
    const what =
      liveViews.length > 0
        ? `view ${liveViews[0]!.name} depends on ${t.kind === 'v' ? 'view' : 'table'} ${t.name}`
        : `constraint ${liveFks[0]!.con.name} on table ${liveFks[0]!.table.name} depends on table ${t.name}`;
    throw new NextDbError(
      '2BP01',
      `cannot drop ${t.kind === 'v' ? 'view' : 'table'} ${t.name} because other objects depend on it`,
      {
        detail: what,
        hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
      },
    );
  }
  for (const v of liveViews) {
    ctx.notices.push({ severity: 'NOTICE', code: '00000', message: `drop cascades to view ${v.name}` });
    await dropRelation(ctx, v, true, dropped);
  }
  for (const f of liveFks) {
    ctx.notices.push({
      severity: 'NOTICE',
      code: '00000',
      message: `drop cascades to constraint ${f.con.name} on table ${f.table.name}`,
    });
    const cur = ctx.catalog.tables.get(f.table.oid)!;
    await CatalogStore.put(ctx.txn, 'rel', cur.oid, {
      ...cur,
      constraints: cur.constraints.filter((c) => c.oid !== f.con.oid),
    });
  }
  if (t.kind === 'r') {
    await new TableStore(t).truncate(ctx.txn, tablePrefix(t.oid));
    for (const s of ctx.catalog.sequences.values()) {
      if (s.ownedBy?.table === t.oid) {
        await CatalogStore.remove(ctx.txn, 'seq', s.oid);
        await ctx.txn.delete(sequenceKey(s.oid));
      }
    }
  }
  await CatalogStore.remove(ctx.txn, 'rel', t.oid);
}

/** The argument types of a function signature as DROP FUNCTION names it (ObjectWithArgs). */
function signatureTypes(objargs: readonly Node[] | undefined): SqlType[] | undefined {
  if (objargs === undefined) return undefined;
  return objargs.map((a) => {
    assert('TypeName' in a, 'function argument type');
    return resolveTypeName(a.TypeName).type;
  });
}

/** DROP FUNCTION [IF EXISTS] name [(types)] [, ...]: by name alone when only one function has it (42725 otherwise). */
async function dropFunctions(ctx: DdlContext, s: DropStmt): Promise<string> {
  const kindWord = s.removeType === 'OBJECT_PROCEDURE' ? 'procedure' : 'function';
  for (const obj of s.objects ?? []) {
    assert('ObjectWithArgs' in obj, 'DROP FUNCTION object');
    const o = obj.ObjectWithArgs;
    const names = (o.objname ?? []).map(str);
    const name = names[names.length - 1] ?? '';
    const types = o.args_unspecified === true ? undefined : signatureTypes(o.objargs ?? []);
    const schemas = names.length > 1 ? [names[0]!] : ctx.searchPath;
    const found = schemas
      .flatMap((sc) => ctx.catalog.functionsNamed(ctx.dbOid, sc, name))
      .filter(
        (f) =>
          types === undefined ||
          (f.argTypes.length === types.length && f.argTypes.every((t, i) => t.oid === types[i]!.oid)),
      );
    const sig = `${name}(${(types ?? []).map(formatType).join(', ')})`;
    if (found.length === 0) {
      if (s.missing_ok) {
        ctx.notices.push({
          severity: 'NOTICE',
          code: '00000',
          message: `${kindWord} ${types === undefined ? name : sig} does not exist, skipping`,
        });
        continue;
      }
      throw new NextDbError('42883', `${kindWord} ${types === undefined ? name : sig} does not exist`);
    }
    if (found.length > 1)
      throw new NextDbError('42725', `function name "${name}" is not unique`, {
        hint: 'Specify the argument list to select the function unambiguously.',
      });
    const f = found[0]!;
    if (ctx.user !== undefined) requireOwner(ctx.catalog, ctx.user, f.oid, `function ${name}`);
    const user = [...ctx.catalog.tables.values()].find((t) => (t.triggers ?? []).some((g) => g.funcOid === f.oid));
    if (user !== undefined) {
      const g = user.triggers!.find((x) => x.funcOid === f.oid)!;
      throw new NextDbError('2BP01', `cannot drop function ${name}() because other objects depend on it`, {
        detail: `trigger ${g.name} on table ${user.name} depends on function ${name}()`,
        hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
      });
    }
    await CatalogStore.remove(ctx.txn, 'func', f.oid);
  }
  return s.removeType === 'OBJECT_PROCEDURE' ? 'DROP PROCEDURE' : 'DROP FUNCTION';
}

/**
 * CREATE [OR REPLACE] FUNCTION name(args) RETURNS t | SETOF t | TABLE(...)
 * LANGUAGE sql [IMMUTABLE|STABLE|VOLATILE] [STRICT] AS 'one SELECT'. The
 * body is bound once here (names, types, the result against the declared
 * one: 42P13) and again at each call (see Binder.callUserFunction). Other
 * languages (plpgsql), procedures, OUT parameters, defaults and
 * BEGIN ATOMIC bodies raise 0A000.
 */
export async function createFunction(ctx: DdlContext, s: CreateFunctionStmt): Promise<string> {
  const names = (s.funcname ?? []).map(str);
  const name = names[names.length - 1] ?? '';
  const schema = creationSchema(ctx, names.length > 1 ? names[0] : undefined);
  let language = 'sql';
  let body: string | undefined;
  let volatility: FunctionDef['volatility'] = 'v';
  let strict = false;
  for (const o of s.options ?? []) {
    assert('DefElem' in o, 'function option');
    const d = o.DefElem;
    const arg = d.arg;
    if (d.defname === 'language') language = arg !== undefined ? str(arg) : language;
    else if (d.defname === 'as')
      body =
        arg !== undefined && 'List' in arg
          ? (arg.List.items ?? []).map(str)[0]
          : arg !== undefined
            ? str(arg)
            : undefined;
    else if (d.defname === 'volatility')
      volatility = str(arg) === 'immutable' ? 'i' : str(arg) === 'stable' ? 's' : 'v';
    else if (d.defname === 'strict')
      strict = arg !== undefined && 'Boolean' in arg ? arg.Boolean.boolval === true : true;
    else if (d.defname === 'security') {
      // SECURITY DEFINER would run the body with the owner's privileges: not implemented, so refused.
      if (arg !== undefined && 'Boolean' in arg && arg.Boolean.boolval === true)
        throw notSupported('SECURITY DEFINER functions');
    } else if (d.defname === 'parallel' || d.defname === 'leakproof' || d.defname === 'cost' || d.defname === 'rows')
      continue;
    else throw notSupported(`function option ${d.defname ?? '?'}`);
  }
  if (language !== 'sql' && language !== 'plpgsql')
    throw notSupported(`LANGUAGE ${language}`, 'NextDB runs LANGUAGE sql and LANGUAGE plpgsql functions.');
  const pl = language === 'plpgsql';
  if (s.sql_body !== undefined) throw notSupported('SQL-standard function bodies (BEGIN ATOMIC / RETURN)');
  if (body === undefined) throw new NextDbError('42P13', 'no function body specified');
  const procedure = s.is_procedure === true;
  if (procedure && !pl) {
    // A LANGUAGE sql procedure runs its statements in order, discarding SELECT results: the same as a
    // PL/pgSQL block of those statements with SELECT as PERFORM, which is how it is kept and run.
    const stmts = parseSql(body).map((p) => p.text.trim().replace(/;$/, ''));
    body = `BEGIN\n${stmts.map((t) => `${t.replace(/^select\b/i, 'PERFORM')};\n`).join('')}END`;
  }
  const plBody = pl || procedure;
  const argDefaults: (string | null)[] = [];
  const argNames: string[] = [];
  const argTypes: SqlType[] = [];
  const outColumns: { name: string; type: SqlType }[] = [];
  let outParams = false;
  for (const p of s.parameters ?? []) {
    assert('FunctionParameter' in p, 'function parameter');
    const fp = p.FunctionParameter;
    const { type } = resolveTypeName(fp.argType!);
    if (fp.mode === 'FUNC_PARAM_TABLE') {
      outColumns.push({ name: fp.name ?? `column${outColumns.length + 1}`, type });
      continue;
    }
    if (pl && fp.mode === 'FUNC_PARAM_OUT') {
      outColumns.push({ name: fp.name ?? `column${outColumns.length + 1}`, type });
      outParams = true;
      continue;
    }
    if (fp.mode !== undefined && fp.mode !== 'FUNC_PARAM_IN' && fp.mode !== 'FUNC_PARAM_DEFAULT')
      throw notSupported(pl ? 'INOUT and VARIADIC parameters' : 'OUT, INOUT and VARIADIC parameters');
    if (fp.defexpr === undefined && argDefaults.some((d) => d !== null))
      throw new NextDbError('42P13', 'input parameters after one with a default value must also have defaults');
    // Kept as PostgreSQL shows it (pg_get_function_arguments): a quoted literal with its cast to the parameter's type.
    const dflt = fp.defexpr === undefined ? null : deparseExpr(fp.defexpr);
    argDefaults.push(dflt !== null && /^'(?:[^']|'')*'$/.test(dflt) ? `${dflt}::${formatType(type)}` : dflt);
    argNames.push(fp.name ?? '');
    argTypes.push(type);
  }
  const rt = s.returnType;
  if (rt === undefined && !outParams && !procedure) throw notSupported('functions without RETURNS');
  const rtName = (rt?.names ?? []).map(str);
  const returnsTrigger = rtName[rtName.length - 1] === 'trigger';
  if (returnsTrigger && !pl) throw new NextDbError('42P13', 'SQL functions cannot return type trigger');
  if (returnsTrigger && (s.parameters ?? []).length > 0)
    throw new NextDbError('42P13', 'trigger functions cannot have declared arguments', {
      hint: 'The arguments of the trigger can be accessed through TG_NARGS and TG_ARGV instead.',
    });
  // OUT parameters: one gives that type, several a record (a row in FROM).
  const retSet = rt?.setof === true || (outColumns.length > 0 && !outParams);
  const retType =
    returnsTrigger || procedure
      ? Types.void
      : outParams
        ? outColumns.length === 1
          ? outColumns[0]!.type
          : Types.record
        : outColumns.length > 0
          ? Types.record
          : resolveTypeName(rt!).type;
  if (retType.id === 'record' && outColumns.length === 0) throw notSupported('functions returning record');
  if (outParams && rt !== undefined && rtName[rtName.length - 1] !== 'record' && outColumns.length > 1)
    throw new NextDbError('42P13', 'function result type must be record because of OUT parameters');
  const existing = ctx.catalog
    .functionsNamed(ctx.dbOid, schema, name)
    .find((f) => f.argTypes.length === argTypes.length && f.argTypes.every((t, i) => t.oid === argTypes[i]!.oid));
  if (existing !== undefined && s.replace !== true)
    throw new NextDbError('42723', `function "${name}" already exists with same argument types`);
  if (
    existing === undefined &&
    ctx.catalog.functionsNamed(ctx.dbOid, schema, name).some((f) => f.argTypes.length === argTypes.length)
  ) {
    throw notSupported('overloading a function with the same number of arguments');
  }
  if (existing !== undefined && (existing.retType.oid !== retType.oid || existing.retSet !== retSet))
    throw new NextDbError('42P13', 'cannot change return type of existing function', {
      hint: `Use DROP FUNCTION ${name}(${argTypes.map(formatType).join(', ')}) first.`,
    });
  const def: FunctionDef = {
    oid: existing?.oid ?? (await CatalogStore.allocOid(ctx.txn)),
    dbOid: ctx.dbOid,
    schema,
    name,
    argNames,
    argTypes,
    retType,
    retSet,
    ...(outColumns.length > 0 ? { outColumns } : {}),
    body,
    volatility,
    strict,
    ...(plBody ? { language: 'plpgsql' as const } : {}),
    ...(outParams ? { outParams: true } : {}),
    ...(returnsTrigger ? { returnsTrigger: true } : {}),
    ...(argDefaults.some((d) => d !== null) ? { argDefaults } : {}),
    ...(procedure ? { procedure: true } : {}),
  };
  // Validate the body now, as PostgreSQL does (check_function_bodies).
  if (plBody) compilePlpgsql(name, plSource(def));
  else ctx.binder(body).bindFunctionBody(def);
  await CatalogStore.put(ctx.txn, 'func', def.oid, def);
  if (existing === undefined) await recordOwner(ctx, def.oid, 'f');
  return procedure ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
}

export async function drop(ctx: DdlContext, s: DropStmt): Promise<string> {
  if (s.removeType === 'OBJECT_FUNCTION' || s.removeType === 'OBJECT_PROCEDURE') return dropFunctions(ctx, s);
  if (s.removeType === 'OBJECT_TRIGGER') return dropTrigger(ctx, s);
  const cascade = s.behavior === 'DROP_CASCADE';
  const dropped = new Set<number>();
  const kind = s.removeType ?? 'OBJECT_TABLE';
  const tag: Record<string, string> = {
    OBJECT_TABLE: 'DROP TABLE',
    OBJECT_VIEW: 'DROP VIEW',
    OBJECT_INDEX: 'DROP INDEX',
    OBJECT_SEQUENCE: 'DROP SEQUENCE',
    OBJECT_SCHEMA: 'DROP SCHEMA',
  };
  if (tag[kind] === undefined) throw notSupported(`DROP ${kind.replace('OBJECT_', '')}`);
  for (const obj of s.objects ?? []) {
    let names: string[];
    if ('List' in obj) names = (obj.List.items ?? []).map(str);
    else if ('String' in obj) names = [str(obj)];
    else names = [];
    const name = names[names.length - 1] ?? '';
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    const typeWord =
      kind === 'OBJECT_TABLE'
        ? 'table'
        : kind === 'OBJECT_VIEW'
          ? 'view'
          : kind === 'OBJECT_INDEX'
            ? 'index'
            : kind === 'OBJECT_SEQUENCE'
              ? 'sequence'
              : 'schema';
    const missing = (): void => {
      if (s.missing_ok) {
        ctx.notices.push({
          severity: 'NOTICE',
          code: '00000',
          message: `${typeWord} "${name}" does not exist, skipping`,
        });
        return;
      }
      const code =
        kind === 'OBJECT_SCHEMA'
          ? '3F000'
          : kind === 'OBJECT_INDEX' || kind === 'OBJECT_SEQUENCE'
            ? SqlState.undefinedTable
            : SqlState.undefinedTable;
      throw new NextDbError(code, `${typeWord} "${name}" does not exist`);
    };
    switch (kind) {
      case 'OBJECT_TABLE':
      case 'OBJECT_VIEW': {
        const t = findRelation(ctx, schema, name);
        if (t === undefined) {
          missing();
          continue;
        }
        if ((kind === 'OBJECT_TABLE') !== (t.kind === 'r'))
          throw new NextDbError('42809', `"${name}" is not a ${typeWord}`, {
            hint: `Use DROP ${t.kind === 'v' ? 'VIEW' : 'TABLE'} to remove a ${t.kind === 'v' ? 'view' : 'table'}.`,
          });
        requireTableOwner(ctx, t);
        await dropRelation(ctx, ctx.catalog.tables.get(t.oid)!, cascade, dropped);
        break;
      }
      case 'OBJECT_INDEX': {
        let found: [TableDef, IndexDef] | undefined;
        for (const sc of schema === undefined ? ctx.searchPath : [schema]) {
          found = ctx.catalog.index(ctx.dbOid, sc, name);
          if (found !== undefined) break;
        }
        if (found === undefined) {
          missing();
          continue;
        }
        const [t, ix] = found;
        requireTableOwner(ctx, t);
        const con = t.constraints.find((c) => c.indexId === ix.id);
        if (ix.primary || con !== undefined) {
          throw new NextDbError(
            '2BP01',
            `cannot drop index ${name} because constraint ${con?.name ?? name} on table ${t.name} requires it`,
            {
              hint: `You can drop constraint ${con?.name ?? name} on table ${t.name} instead.`,
            },
          );
        }
        const prefix = new KeyWriter().raw(tablePrefix(t.oid)).int(ix.id).finish();
        await new TableStore(t).truncate(ctx.txn, prefix);
        await CatalogStore.put(ctx.txn, 'rel', t.oid, { ...t, indexes: t.indexes.filter((i) => i.oid !== ix.oid) });
        break;
      }
      case 'OBJECT_SEQUENCE': {
        const q = findSequence(ctx, schema, name);
        if (q === undefined) {
          missing();
          continue;
        }
        if (ctx.user !== undefined) requireOwner(ctx.catalog, ctx.user, q.oid, `sequence ${q.name}`);
        await CatalogStore.remove(ctx.txn, 'seq', q.oid);
        await ctx.txn.delete(sequenceKey(q.oid));
        break;
      }
      case 'OBJECT_SCHEMA': {
        const sc = ctx.catalog.schema(ctx.dbOid, name);
        if (sc === undefined) {
          missing();
          continue;
        }
        if (sc.dbOid === 0)
          throw new NextDbError('2BP01', `cannot drop schema ${name} because it is required by the database system`);
        if (ctx.user !== undefined) requireOwner(ctx.catalog, ctx.user, sc.oid, `schema ${name}`);
        const rels = ctx.catalog.tablesOf(ctx.dbOid).filter((t) => t.schema === name);
        if (rels.length > 0 && !cascade) {
          throw new NextDbError('2BP01', `cannot drop schema ${name} because other objects depend on it`, {
            hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
          });
        }
        for (const t of rels) await dropRelation(ctx, t, true, dropped);
        for (const q of ctx.catalog.sequences.values())
          if (q.dbOid === ctx.dbOid && q.schema === name) await CatalogStore.remove(ctx.txn, 'seq', q.oid);
        await CatalogStore.remove(ctx.txn, 'schema', sc.oid);
        break;
      }
      default:
        break;
    }
  }
  return tag[kind]!;
}

export async function truncate(ctx: DdlContext, s: TruncateStmt): Promise<string> {
  const tables: TableDef[] = [];
  for (const r of s.relations ?? []) {
    assert('RangeVar' in r, 'TRUNCATE target');
    const t = findRelation(ctx, r.RangeVar.schemaname, r.RangeVar.relname ?? '');
    if (t === undefined)
      throw new NextDbError(SqlState.undefinedTable, `relation "${r.RangeVar.relname ?? ''}" does not exist`);
    if (t.kind !== 'r') throw new NextDbError('42809', `"${t.name}" is not a table`);
    if (ctx.user !== undefined) requireRelation(ctx.catalog, ctx.user, ctx.dbOid, t, 'D');
    tables.push(t);
  }
  const oids = new Set(tables.map((t) => t.oid));
  for (const t of tables) {
    const refs = dependents(ctx, t.oid).fks.filter((f) => !oids.has(f.table.oid));
    if (refs.length > 0) {
      if (s.behavior !== 'DROP_CASCADE') {
        throw new NextDbError('0A000', 'cannot truncate a table referenced in a foreign key constraint', {
          detail: `Table "${refs[0]!.table.name}" references "${t.name}".`,
          hint: `Truncate table "${refs[0]!.table.name}" at the same time, or use TRUNCATE ... CASCADE.`,
        });
      }
      for (const f of refs) {
        if (!oids.has(f.table.oid)) {
          oids.add(f.table.oid);
          tables.push(f.table);
          ctx.notices.push({
            severity: 'NOTICE',
            code: '00000',
            message: `truncate cascades to table "${f.table.name}"`,
          });
        }
      }
    }
  }
  for (const t of tables) {
    await new TableStore(t).truncate(ctx.txn, tablePrefix(t.oid));
    if (s.restart_seqs)
      for (const q of ctx.catalog.sequences.values())
        if (q.ownedBy?.table === t.oid) await ctx.txn.delete(sequenceKey(q.oid));
  }
  return 'TRUNCATE TABLE';
}

export async function rename(ctx: DdlContext, s: RenameStmt): Promise<string> {
  const rv = s.relation;
  const newName = s.newname ?? '';
  switch (s.renameType) {
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW': {
      const t = findRelation(ctx, rv?.schemaname, rv?.relname ?? '');
      if (t === undefined)
        throw new NextDbError(SqlState.undefinedTable, `relation "${rv?.relname ?? ''}" does not exist`);
      requireTableOwner(ctx, t);
      if (nameTaken(ctx, t.schema, newName))
        throw new NextDbError(SqlState.duplicateTable, `relation "${newName}" already exists`);
      await CatalogStore.put(ctx.txn, 'rel', t.oid, { ...t, name: newName });
      return s.renameType === 'OBJECT_VIEW' ? 'ALTER VIEW' : 'ALTER TABLE';
    }
    case 'OBJECT_COLUMN': {
      const t = findRelation(ctx, rv?.schemaname, rv?.relname ?? '');
      if (t === undefined)
        throw new NextDbError(SqlState.undefinedTable, `relation "${rv?.relname ?? ''}" does not exist`);
      requireTableOwner(ctx, t);
      const i = t.columns.findIndex((c) => c.name === s.subname && !c.dropped && c.hidden !== true);
      if (i < 0) throw new NextDbError(SqlState.undefinedColumn, `column "${s.subname ?? ''}" does not exist`);
      if (t.columns.some((c) => c.name === newName && !c.dropped))
        throw new NextDbError('42701', `column "${newName}" of relation "${t.name}" already exists`);
      if (t.kind === 'r' && t.constraints.some((c) => c.type === 'c'))
        throw notSupported('renaming a column of a table with CHECK constraints');
      if (t.indexes.some((ix) => ix.exprColumns?.includes(i) ?? false))
        throw notSupported('renaming a column used by an expression or partial index');
      const columns = t.columns.map((c, j) => (j === i ? { ...c, name: newName } : c));
      await CatalogStore.put(ctx.txn, 'rel', t.oid, { ...t, columns });
      return 'ALTER TABLE';
    }
    case 'OBJECT_INDEX': {
      let found: [TableDef, IndexDef] | undefined;
      for (const sc of rv?.schemaname === undefined ? ctx.searchPath : [rv.schemaname]) {
        found = ctx.catalog.index(ctx.dbOid, sc, rv?.relname ?? '');
        if (found !== undefined) break;
      }
      if (found === undefined)
        throw new NextDbError(SqlState.undefinedTable, `relation "${rv?.relname ?? ''}" does not exist`);
      const [t, ix] = found;
      requireTableOwner(ctx, t);
      await CatalogStore.put(ctx.txn, 'rel', t.oid, {
        ...t,
        indexes: t.indexes.map((i) => (i.oid === ix.oid ? { ...i, name: newName } : i)),
        constraints: t.constraints.map((c) => (c.indexId === ix.id ? { ...c, name: newName } : c)),
      });
      return 'ALTER INDEX';
    }
    default:
      throw notSupported(`ALTER ... RENAME of ${s.renameType ?? '?'}`);
  }
}

export async function alterTable(ctx: DdlContext, s: AlterTableStmt): Promise<string> {
  const rv = s.relation!;
  let t: TableDef | undefined = findRelation(ctx, rv.schemaname, rv.relname ?? '');
  if (t === undefined) {
    if (s.missing_ok) {
      ctx.notices.push({
        severity: 'NOTICE',
        code: '00000',
        message: `relation "${rv.relname ?? ''}" does not exist, skipping`,
      });
      return 'ALTER TABLE';
    }
    throw new NextDbError(SqlState.undefinedTable, `relation "${rv.relname ?? ''}" does not exist`);
  }
  if (t.kind !== 'r') throw notSupported('ALTER on views');
  requireTableOwner(ctx, t);
  const taken = new Set<string>();
  for (const cn of s.cmds ?? []) {
    assert('AlterTableCmd' in cn, 'ALTER TABLE command');
    const cmd = cn.AlterTableCmd;
    const colIdx = (name: string | undefined): number => {
      const i = t!.columns.findIndex((c) => c.name === name && !c.dropped && c.hidden !== true);
      if (i < 0)
        throw new NextDbError(
          SqlState.undefinedColumn,
          `column "${name ?? ''}" of relation "${t!.name}" does not exist`,
        );
      return i;
    };
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const def = cmd.def!;
        assert('ColumnDef' in def, 'ADD COLUMN definition');
        const cd = def.ColumnDef;
        if (t.columns.some((c) => c.name === cd.colname && !c.dropped)) {
          if (cmd.missing_ok) {
            ctx.notices.push({
              severity: 'NOTICE',
              code: '42701',
              message: `column "${cd.colname ?? ''}" of relation "${t.name}" already exists, skipping`,
            });
            continue;
          }
          throw new NextDbError('42701', `column "${cd.colname ?? ''}" of relation "${t.name}" already exists`);
        }
        const { type, serial } = resolveTypeName(cd.typeName!, true);
        if (serial) throw notSupported('ADD COLUMN with a serial type');
        let notNull = cd.is_not_null === true;
        let defaultExpr: string | undefined;
        for (const c of cd.constraints ?? []) {
          assert('Constraint' in c, 'column constraint');
          const k = c.Constraint.contype;
          if (k === 'CONSTR_NOTNULL') notNull = true;
          else if (k === 'CONSTR_DEFAULT') defaultExpr = deparseExpr(c.Constraint.raw_expr!);
          else if (k === 'CONSTR_NULL') continue;
          else throw notSupported(`constraint ${k ?? '?'} in ADD COLUMN`);
        }
        const col: ColumnDef = {
          name: cd.colname ?? '',
          attnum: t.columns.length + 1,
          type,
          notNull,
          ...(defaultExpr === undefined ? {} : { defaultExpr }),
        };
        const next: TableDef = { ...t, columns: [...t.columns, col] };
        // Existing rows get the default (evaluated per row) or NULL.
        const store = new TableStore(next);
        const oldStore = new TableStore(t);
        if (defaultExpr !== undefined || notNull) {
          const fill = defaultExpr === undefined ? undefined : await ctx.evalDefault(next, col);
          for await (const row of oldStore.scanAll(ctx.txn)) {
            const v = fill === undefined ? null : await fill(row);
            if (v === null && notNull)
              throw new NextDbError(
                SqlState.notNullViolation,
                `column "${col.name}" of relation "${t.name}" contains null values`,
              );
            const nr = [...row.slice(0, t.columns.length), v as never];
            await store.update(ctx.txn, row.concat([null]), nr);
          }
        }
        t = next;
        break;
      }
      case 'AT_DropColumn': {
        const i = t.columns.findIndex((c) => c.name === cmd.name && !c.dropped && c.hidden !== true);
        if (i < 0) {
          if (cmd.missing_ok) {
            ctx.notices.push({
              severity: 'NOTICE',
              code: '00000',
              message: `column "${cmd.name ?? ''}" of relation "${t.name}" does not exist, skipping`,
            });
            continue;
          }
          throw new NextDbError(
            SqlState.undefinedColumn,
            `column "${cmd.name ?? ''}" of relation "${t.name}" does not exist`,
          );
        }
        if (t.indexes.some((ix) => ix.primary && ix.columns.includes(i)))
          throw notSupported('dropping a primary key column');
        const usedBy: IndexDef[] = t.indexes.filter(
          (ix) => ix.columns.includes(i) || (ix.exprColumns?.includes(i) ?? false),
        );
        const cons: ConstraintDef[] = t.constraints.filter(
          (c) =>
            c.columns.includes(i) ||
            (c.type === 'c' && c.checkExpr !== undefined && new RegExp(`\\b${cmd.name ?? ''}\\b`).test(c.checkExpr)),
        );
        if (dependents(ctx, t.oid).views.length > 0 && cmd.behavior !== 'DROP_CASCADE') {
          throw new NextDbError(
            '2BP01',
            `cannot drop column ${cmd.name ?? ''} of table ${t.name} because other objects depend on it`,
          );
        }
        for (const ix of usedBy) {
          const prefix = new KeyWriter().raw(tablePrefix(t.oid)).int(ix.id).finish();
          await new TableStore(t).truncate(ctx.txn, prefix);
        }
        const columns: ColumnDef[] = t.columns.map((c, j) =>
          j === i ? { ...c, dropped: true, notNull: false, name: `........pg.dropped.${i + 1}........` } : c,
        );
        // Rewrite rows so the dropped value is gone (NULL in its slot).
        const store = new TableStore({ ...t, columns, indexes: t.indexes.filter((ix) => !usedBy.includes(ix)) });
        for await (const row of new TableStore(t).scanAll(ctx.txn)) {
          const nr = row.slice();
          nr[i] = null;
          await store.update(ctx.txn, row, nr);
        }
        const { defaultExpr: _d, ...rest } = t.columns[i]!;
        void _d;
        t = {
          ...t,
          columns: columns.map((c, j) =>
            j === i ? { ...rest, dropped: true, notNull: false, name: `........pg.dropped.${i + 1}........` } : c,
          ),
          indexes: t.indexes.filter((ix) => !usedBy.includes(ix)),
          constraints: t.constraints.filter((c) => !cons.includes(c)),
        };
        break;
      }
      case 'AT_ColumnDefault': {
        const i = colIdx(cmd.name);
        const col = t.columns[i]!;
        const { defaultExpr: _old, ...rest } = col;
        void _old;
        const next: ColumnDef = cmd.def === undefined ? rest : { ...rest, defaultExpr: deparseExpr(cmd.def) };
        t = { ...t, columns: t.columns.map((c, j) => (j === i ? next : c)) };
        break;
      }
      case 'AT_SetNotNull': {
        const i = colIdx(cmd.name);
        for await (const row of new TableStore(t).scanAll(ctx.txn)) {
          if (row[i] === null)
            throw new NextDbError(
              SqlState.notNullViolation,
              `column "${cmd.name ?? ''}" of relation "${t.name}" contains null values`,
            );
        }
        t = { ...t, columns: t.columns.map((c, j) => (j === i ? { ...c, notNull: true } : c)) };
        break;
      }
      case 'AT_DropNotNull': {
        const i = colIdx(cmd.name);
        if (t.indexes.some((ix) => ix.primary && ix.columns.includes(i)))
          throw new NextDbError('42P16', `column "${cmd.name ?? ''}" is in a primary key`);
        t = { ...t, columns: t.columns.map((c, j) => (j === i ? { ...c, notNull: false } : c)) };
        break;
      }
      case 'AT_AddConstraint': {
        const def = cmd.def!;
        assert('Constraint' in def, 'ADD CONSTRAINT definition');
        const c = def.Constraint;
        switch (c.contype) {
          case 'CONSTR_CHECK': {
            const name = c.conname ?? chooseName(ctx, t.schema, [t.name], 'check', taken);
            const con: ConstraintDef = {
              oid: await CatalogStore.allocOid(ctx.txn),
              name,
              type: 'c',
              columns: [],
              checkExpr: deparseExpr(c.raw_expr!),
            };
            t = { ...t, constraints: [...t.constraints, con] };
            // Existing rows must satisfy it: checked by the session after the catalog update (validateTable).
            break;
          }
          case 'CONSTR_UNIQUE':
          case 'CONSTR_PRIMARY': {
            const cols = (c.keys ?? []).map((k) => colIdx(str(k)));
            if (c.contype === 'CONSTR_PRIMARY') {
              const pk = t.indexes.find((ix) => ix.primary)!;
              if (t.columns[pk.columns[0]!]?.hidden !== true)
                throw new NextDbError('42P16', `multiple primary keys for table "${t.name}" are not allowed`);
              // Re-key the table on the new primary key.
              const name = c.conname ?? chooseName(ctx, t.schema, [t.name], 'pkey', taken);
              const newPk: IndexDef = {
                ...pk,
                name,
                columns: cols,
                desc: cols.map(() => false),
                oid: await CatalogStore.allocOid(ctx.txn),
              };
              const columns = t.columns.map((col, j) => (cols.includes(j) ? { ...col, notNull: true } : col));
              const next: TableDef = {
                ...t,
                columns,
                indexes: t.indexes.map((ix) => (ix.primary ? newPk : ix)),
                constraints: [
                  ...t.constraints,
                  { oid: await CatalogStore.allocOid(ctx.txn), name, type: 'p', columns: cols, indexId: pk.id },
                ],
              };
              await new TableStore(next).rekeyFrom(ctx.txn, new TableStore(t));
              t = next;
            } else {
              const name =
                c.conname ?? chooseName(ctx, t.schema, [t.name, ...cols.map((i) => t!.columns[i]!.name)], 'key', taken);
              const ix: IndexDef = {
                id: t.nextIndexId,
                oid: await CatalogStore.allocOid(ctx.txn),
                name,
                columns: cols,
                desc: cols.map(() => false),
                unique: true,
                primary: false,
                valueKeyed: true,
              };
              const next: TableDef = {
                ...t,
                indexes: [...t.indexes, ix],
                nextIndexId: t.nextIndexId + 1,
                constraints: [
                  ...t.constraints,
                  { oid: await CatalogStore.allocOid(ctx.txn), name, type: 'u', columns: cols, indexId: ix.id },
                ],
              };
              await new TableStore(next).buildIndex(ctx.txn, ix);
              t = next;
            }
            break;
          }
          case 'CONSTR_FOREIGN': {
            const con = await foreignKey(ctx, t, c, taken);
            t = { ...t, constraints: [...t.constraints, con] };
            break;
          }
          default:
            throw notSupported(`ADD CONSTRAINT of type ${c.contype ?? '?'}`);
        }
        break;
      }
      case 'AT_DropConstraint': {
        const con: ConstraintDef | undefined = t.constraints.find((c) => c.name === cmd.name);
        if (con === undefined) {
          if (cmd.missing_ok) {
            ctx.notices.push({
              severity: 'NOTICE',
              code: '00000',
              message: `constraint "${cmd.name ?? ''}" of relation "${t.name}" does not exist, skipping`,
            });
            continue;
          }
          throw new NextDbError('42704', `constraint "${cmd.name ?? ''}" of relation "${t.name}" does not exist`);
        }
        if (con.type === 'p') throw notSupported('dropping a primary key');
        let indexes: readonly IndexDef[] = t.indexes;
        if (con.indexId !== undefined) {
          const ix = t.indexes.find((i) => i.id === con.indexId);
          if (ix !== undefined) {
            const prefix = new KeyWriter().raw(tablePrefix(t.oid)).int(ix.id).finish();
            await new TableStore(t).truncate(ctx.txn, prefix);
            indexes = t.indexes.filter((i) => i !== ix);
          }
        }
        t = { ...t, indexes, constraints: t.constraints.filter((c) => c !== con) };
        break;
      }
      case 'AT_AlterColumnType':
        t = await alterColumnType(ctx, t, colIdx(cmd.name), cmd.def);
        break;
      case 'AT_ChangeOwner':
      case 'AT_SetRelOptions':
      case 'AT_ResetRelOptions':
        break;
      case 'AT_EnableTrig':
      case 'AT_DisableTrig':
        t = setTriggersEnabled(t, cmd.name, cmd.subtype === 'AT_EnableTrig');
        break;
      case 'AT_EnableTrigAll':
      case 'AT_DisableTrigAll':
      case 'AT_EnableTrigUser':
      case 'AT_DisableTrigUser':
        t = setTriggersEnabled(t, undefined, cmd.subtype.startsWith('AT_Enable'));
        break;
      default:
        throw notSupported(`ALTER TABLE ${cmd.subtype ?? '?'}`);
    }
  }
  await CatalogStore.put(ctx.txn, 'rel', t.oid, t);
  return 'ALTER TABLE';
}
