/**
 * The compiled point lookup: a SELECT that reads one row by its whole
 * primary key, prepared once and run many times without building an
 * operator tree.
 *
 *   project(exprs)                 one txn.get(primary key of the params)
 *     └─ scan(t, pk = $1 ...)  ──►   decode, filter, project: no batches,
 *                                    no per-run closures or compilation
 *
 * `compilePointLookup` accepts exactly the shapes the general executor runs
 * as a point get (see scanOp: equality on every primary-key column, no
 * range bounds) with an optional projection on top, and only when no
 * expression needs to wait (no subqueries, no nextval(): nothing hoisted).
 * Anything else returns undefined and runs through the executor as before,
 * so this is a shortcut with the executor's semantics, never a second
 * meaning: col = NULL matches nothing, the filter keeps only rows where it
 * is true, FOR UPDATE locks the key after the filter passed.
 *
 * A compiled lookup holds the plan's TableDef, so it is valid only for the
 * catalog version it was planned under: it lives in the prepared
 * statement's plan cache entry (src/sql/plan/plan-cache.ts), which is keyed
 * by that version.
 *
 * Two ways to run it:
 * - `run(txn, ctx)`: inside a transaction (a block, or the implicit one).
 * - `readLatest(mgr, ctx)`: the read-only fast path for a statement outside
 *   a block, synchronous and without a transaction
 *   (MvccTxnManager.readLatestCommitted). Only for a lookup proven
 *   read-only and free of session effects (`readOnlyNow`): no FOR UPDATE,
 *   no volatile function (random(), now(), txid_current(), set_config()...).
 *   When the key's head carries another transaction's intent it answers
 *   undefined and the caller runs `run` in a transaction, which handles
 *   the intent exactly as every read does.
 *
 * Both decode only the columns the filter and the projection read.
 *
 * Most point SELECTs have the plain shape (`SELECT a, b FROM t WHERE pk =
 * $1`): every key value a parameter or a constant, no filter, and output
 * columns that are the row's own columns. For those `readLatestPlain`
 * reads with the parameters alone: no EvalContext and no compiled
 * closures, and the row is decoded into a reused scratch array and copied
 * into the output by position. Such a lookup evaluates nothing that could
 * read the session (settings, clock), so the session may skip reading the
 * clock for it (SqlSession.runHandleNow).
 */

import type { Txn } from '../../txn/api.ts';
import type { Expr, Plan } from '../plan/plan.ts';
import type { Value } from '../types/sql-type.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { CompileEnv, compileExpr, layoutOf, type CompiledExpr } from './compile-expr.ts';
import type { EvalContext } from './eval-context.ts';
import { TableStore, writeKeyValue } from './table-store.ts';
import { KeyWriter } from '../../encoding/key-codec.ts';
import { MvccTxn, NOT_LOCKED } from '../../txn/transaction.ts';
import type { MvccTxnManager } from '../../txn/txn-manager.ts';
import { NEEDS_DECODE } from '../../txn/head.ts';
import { HEAD_SPACE_START } from '../../txn/keys.ts';
import { decodeRow } from '../row-codec.ts';
import type { ColumnId } from '../plan/plan.ts';
import { andOf, conjuncts, hasVolatile, refs } from '../plan/optimizer.ts';
import type { Row } from './executor.ts';

/** Never called: compilation gives up when an expression would need a subplan (it is hoisted). */
function noSubplans(): Promise<Value[][]> {
  return Promise.reject(new NextDbError(SqlState.internalError, 'point lookup compiled an expression with a subquery'));
}

/** What `readLatestPlain` needs: where each key value comes from and which row columns are the output. */
interface PlainShape {
  /** Per primary-key column: the parameter index, or -1 for a constant (in keyConsts). */
  readonly keyParams: readonly number[];
  readonly keyConsts: readonly Value[];
  /** The output's columns as positions in the decoded row; undefined: the whole row. */
  readonly outCols: readonly number[] | undefined;
}

export class PointLookup {
  private readonly writer = new KeyWriter(64);
  /** The decode target of readLatestPlain (synchronous: its values are copied out before it returns). */
  private readonly scratch: Value[];
  /** The length of the key prefix the writer keeps (see the constructor). */
  private readonly prefixBytes: number;

  private constructor(
    private readonly store: TableStore,
    private readonly keyExprs: readonly CompiledExpr[],
    private readonly filter: CompiledExpr | undefined,
    private readonly exprs: readonly CompiledExpr[] | undefined,
    private readonly lockForUpdate: boolean,
    private readonly limit: number,
    /** The row's columns the filter and projection read (undefined: all); see decodeRow. */
    private readonly wanted: readonly boolean[] | undefined,
    /** True when `readLatest` may run it: no lock, no volatile function (see the header). */
    readonly readOnlyNow: boolean,
    /** Set when `readLatestPlain` may run it (see the header): read-only and of the plain shape. */
    readonly plain: PlainShape | undefined,
  ) {
    this.scratch = new Array<Value>(store.types.length).fill(null);
    // Every key starts with SPACE_HEAD and the primary index prefix: written once, kept by truncate.
    this.writer.raw(HEAD_SPACE_START).raw(store.primaryPrefix);
    this.prefixBytes = this.writer.length;
  }

  /** The compiled form of `plan`, or undefined when the plan is not a plain primary-key point lookup. */
  static compile(plan: Plan): PointLookup | undefined {
    let exprs: readonly Expr[] | undefined;
    let scan = plan;
    if (plan.kind === 'project') {
      exprs = plan.exprs;
      scan = plan.input;
    }
    if (scan.kind !== 'scan') return undefined;
    const access = scan.access;
    if (access.kind !== 'index' || !access.index.primary) return undefined;
    if (access.eq.length !== access.index.columns.length || access.lower !== undefined || access.upper !== undefined)
      return undefined;
    const store = new TableStore(scan.table);
    const root = CompileEnv.root(layoutOf([]), [], noSubplans);
    const keyExprs = access.eq.map((e) => compileExpr(e, root));
    const rowEnv = root.forLayout(layoutOf(scan.cols.map((c) => c.id)));
    const residual = residualFilter(scan.filter, access.eq, access.index.columns, scan.cols);
    const filter = residual === undefined ? undefined : compileExpr(residual, rowEnv);
    let projected: CompiledExpr[] | undefined;
    if (exprs !== undefined) {
      const projEnv = root.forLayout(layoutOf(scan.cols.map((c) => c.id)));
      projected = exprs.map((e) => compileExpr(e, projEnv));
      if (projEnv.hoisted.length > 0) return undefined;
    }
    if (root.hoisted.length > 0 || rowEnv.hoisted.length > 0) return undefined;
    const lockForUpdate = scan.lockForUpdate === true;
    const all: Expr[] = [...access.eq, ...(residual === undefined ? [] : [residual]), ...(exprs ?? [])];
    const readOnlyNow = !lockForUpdate && !all.some(hasVolatile);
    return new PointLookup(
      store,
      keyExprs,
      filter,
      projected,
      lockForUpdate,
      scan.limit ?? Infinity,
      exprs === undefined
        ? undefined
        : wantedColumns(
            scan.cols.map((c) => c.id),
            all,
          ),
      readOnlyNow,
      readOnlyNow && residual === undefined ? plainShape(access.eq, scan.cols, exprs) : undefined,
    );
  }

  /**
   * Writes the MVCC head key (SPACE_HEAD, then the primary key for this
   * execution's parameters) into the reused writer; false when a key value
   * is NULL (matches nothing). The user key is the writer's bytes after the first.
   */
  private writeKey(ctx: EvalContext): boolean {
    const store = this.store;
    const cols = store.primary.columns;
    const w = this.writer.truncate(this.prefixBytes);
    for (let i = 0; i < this.keyExprs.length; i++) {
      const v = this.keyExprs[i]!(NO_ROW, ctx);
      if (v === null) return false;
      writeKeyValue(w, store.types[cols[i]!]!, v, store.primary.desc[i] ?? false);
    }
    return true;
  }

  /** Runs the lookup in `txn`: zero or one row, laid out as the plan's output columns. */
  async run(txn: Txn, ctx: EvalContext): Promise<Row[]> {
    if (this.limit <= 0) return [];
    if (!this.writeKey(ctx)) return [];
    // The local MVCC transaction reads by the head key in the writer's buffer (no key allocated).
    const raw =
      txn instanceof MvccTxn
        ? await txn.getByHeadKey(this.writer.view())
        : await txn.get(this.writer.finish().subarray(1));
    if (raw === undefined) return [];
    const row = this.decode(raw);
    if (this.filter !== undefined && this.filter(row, ctx) !== true) return [];
    // The writer may have been reused by another run while this one awaited: build the key again.
    if (this.lockForUpdate && this.writeKey(ctx)) await txn.lockForUpdate(this.writer.finish().subarray(1));
    return [this.project(row, ctx)];
  }

  /**
   * The input of an UPDATE / DELETE by primary key: `run` and then the
   * row's lock (TableStore.lockRow) in one step (MvccTxn.lockForStatement):
   * the rows, already locked and the latest version. Undefined, or a
   * promise of undefined, when that cannot be done (also with a residual
   * filter, which must pass before a lock is taken): nothing was done, the
   * caller runs and locks as usual.
   */
  runLocked(txn: Txn, ctx: EvalContext): Promise<Row[] | undefined> | undefined {
    if (this.filter !== undefined || this.lockForUpdate || this.limit <= 0 || !(txn instanceof MvccTxn))
      return undefined;
    if (!this.writeKey(ctx)) return undefined;
    const locked = txn.lockForStatement(this.writer.view());
    if (locked === undefined) return undefined;
    return locked.then((raw) =>
      raw === NOT_LOCKED ? undefined : raw === undefined ? [] : [this.project(this.decode(raw), ctx)],
    );
  }

  /**
   * The read-only fast path (only when `readOnlyNow`): the row, null when
   * there is none, or undefined when the key's head carries an intent and
   * the lookup must `run` in a transaction instead. Synchronous: nothing
   * else runs between the read and the answer.
   */
  readLatest(mgr: MvccTxnManager, ctx: EvalContext): Row | null | undefined {
    if (this.limit <= 0 || !this.writeKey(ctx)) return null;
    const raw = mgr.readLatestCommitted(this.writer.view());
    if (raw === NEEDS_DECODE) return undefined;
    if (raw === undefined) return null;
    const row = this.decode(raw);
    if (this.filter !== undefined && this.filter(row, ctx) !== true) return null;
    return this.project(row, ctx);
  }

  /**
   * `readLatest` for a lookup of the plain shape (only when `plain` is
   * set), with the statement's parameters instead of an EvalContext: the
   * same answers.
   */
  readLatestPlain(mgr: MvccTxnManager, params: readonly Value[]): Row | null | undefined {
    const plain = this.plain!;
    if (this.limit <= 0) return null;
    const store = this.store;
    const cols = store.primary.columns;
    const w = this.writer.truncate(this.prefixBytes);
    const keyParams = plain.keyParams;
    for (let i = 0; i < keyParams.length; i++) {
      const p = keyParams[i]!;
      const v = p >= 0 ? (params[p] ?? null) : plain.keyConsts[i]!;
      if (v === null) return null;
      writeKeyValue(w, store.types[cols[i]!]!, v, store.primary.desc[i] ?? false);
    }
    const raw = mgr.readLatestCommitted(w.view());
    if (raw === NEEDS_DECODE) return undefined;
    if (raw === undefined) return null;
    const outCols = plain.outCols;
    if (outCols === undefined) return this.decode(raw);
    const row = decodeRow(store.types, raw, this.scratch, this.wanted);
    const n = outCols.length;
    const out = new Array<Value>(n);
    for (let j = 0; j < n; j++) out[j] = row[outCols[j]!] ?? null;
    return out;
  }

  private decode(raw: Buffer): Row {
    const types = this.store.types;
    return decodeRow(types, raw, new Array<Value>(types.length), this.wanted);
  }

  private project(row: Row, ctx: EvalContext): Row {
    const exprs = this.exprs;
    if (exprs === undefined) return row;
    const n = exprs.length;
    const out = new Array<Value>(n);
    for (let j = 0; j < n; j++) out[j] = exprs[j]!(row, ctx);
    return out;
  }
}

/**
 * Key column types whose key encoding is equal exactly when the values are
 * SQL-equal (integers, and text in the C collation NextDB compares by): for
 * them a row found by the key `encode(v)` satisfies `col = v`.
 */
const KEY_EQUALITY_EXACT: ReadonlySet<string> = new Set([
  'int2',
  'int4',
  'int8',
  'oid',
  'date',
  'text',
  'varchar',
  'name',
]);

/**
 * The scan filter without the conjuncts the key lookup already decided:
 * the optimizer keeps every conjunct as a residual check (its index
 * bounds need only be a superset), but a conjunct `col = v` whose `v` is
 * the very expression the key was built from, on a column of a type in
 * KEY_EQUALITY_EXACT, holds for the one row the key finds. Undefined when
 * nothing remains.
 */
function residualFilter(
  filter: Expr | undefined,
  eq: readonly Expr[],
  keyCols: readonly number[],
  cols: readonly { readonly id: ColumnId }[],
): Expr | undefined {
  const list: Expr[] = [];
  conjuncts(filter, list);
  const decided = (col: Expr, value: Expr): boolean => {
    if (col.kind !== 'col' || !KEY_EQUALITY_EXACT.has(col.type.id)) return false;
    const pos = cols.findIndex((c) => c.id === col.id);
    for (let i = 0; i < eq.length; i++) if (keyCols[i] === pos && eq[i] === value) return true;
    return false;
  };
  return andOf(
    list.filter(
      (c) => !(c.kind === 'compare' && c.op === '=' && (decided(c.left, c.right) || decided(c.right, c.left))),
    ),
  );
}

/**
 * The plain shape (see the header) of a lookup by `keys` projecting `exprs`
 * from a row of `cols`, or undefined when it is not plain.
 */
function plainShape(
  keys: readonly Expr[],
  cols: readonly { readonly id: ColumnId }[],
  exprs: readonly Expr[] | undefined,
): PlainShape | undefined {
  const keyParams: number[] = [];
  const keyConsts: Value[] = [];
  for (const k of keys) {
    if (k.kind === 'param') {
      keyParams.push(k.index);
      keyConsts.push(null);
    } else if (k.kind === 'const') {
      keyParams.push(-1);
      keyConsts.push(k.value);
    } else return undefined;
  }
  let outCols: number[] | undefined;
  if (exprs !== undefined) {
    outCols = [];
    for (const e of exprs) {
      const pos = e.kind === 'col' ? cols.findIndex((c) => c.id === e.id) : -1;
      if (pos < 0) return undefined;
      outCols.push(pos);
    }
  }
  return { keyParams, keyConsts, outCols };
}

/**
 * Which of the row's columns (`ids`, in decode order) the expressions read,
 * trimmed after the last one (decodeRow stops there); undefined when they
 * may read anything.
 */
function wantedColumns(ids: readonly ColumnId[], exprs: readonly Expr[]): boolean[] | undefined {
  const read = new Set<ColumnId>();
  for (const e of exprs) if (!refs(e, read)) return undefined;
  const wanted = ids.map((id) => read.has(id));
  const last = wanted.lastIndexOf(true);
  wanted.length = last + 1;
  return wanted;
}

const NO_ROW: readonly Value[] = [];
