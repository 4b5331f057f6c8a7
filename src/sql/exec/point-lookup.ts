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
 */

import type { Txn } from '../../txn/api.ts';
import type { Expr, Plan } from '../plan/plan.ts';
import type { Value } from '../types/sql-type.ts';
import { NextDbError, SqlState } from '../../util/errors.ts';
import { CompileEnv, compileExpr, layoutOf, type CompiledExpr } from './compile-expr.ts';
import type { EvalContext } from './eval-context.ts';
import { TableStore, writeKeyValue } from './table-store.ts';
import { KeyWriter } from '../../encoding/key-codec.ts';
import { MvccTxn } from '../../txn/transaction.ts';
import { HEAD_SPACE_START } from '../../txn/keys.ts';
import type { Row } from './executor.ts';

/** Never called: compilation gives up when an expression would need a subplan (it is hoisted). */
function noSubplans(): Promise<Value[][]> {
  return Promise.reject(new NextDbError(SqlState.internalError, 'point lookup compiled an expression with a subquery'));
}

export class PointLookup {
  private readonly writer = new KeyWriter(64);

  private constructor(
    private readonly store: TableStore,
    private readonly keyExprs: readonly CompiledExpr[],
    private readonly filter: CompiledExpr | undefined,
    private readonly exprs: readonly CompiledExpr[] | undefined,
    private readonly lockForUpdate: boolean,
    private readonly limit: number,
  ) {}

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
    const filter = scan.filter === undefined ? undefined : compileExpr(scan.filter, rowEnv);
    let projected: CompiledExpr[] | undefined;
    if (exprs !== undefined) {
      const projEnv = root.forLayout(layoutOf(scan.cols.map((c) => c.id)));
      projected = exprs.map((e) => compileExpr(e, projEnv));
      if (projEnv.hoisted.length > 0) return undefined;
    }
    if (root.hoisted.length > 0 || rowEnv.hoisted.length > 0) return undefined;
    return new PointLookup(store, keyExprs, filter, projected, scan.lockForUpdate === true, scan.limit ?? Infinity);
  }

  /**
   * Writes the MVCC head key (SPACE_HEAD, then the primary key for this
   * execution's parameters) into the reused writer; false when a key value
   * is NULL (matches nothing). The user key is the writer's bytes after the first.
   */
  private writeKey(ctx: EvalContext): boolean {
    const store = this.store;
    const cols = store.primary.columns;
    const w = this.writer.reset();
    w.raw(HEAD_SPACE_START);
    w.raw(store.primaryPrefix);
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
    const row = this.store.decode(raw);
    if (this.filter !== undefined && this.filter(row, ctx) !== true) return [];
    // The writer may have been reused by another run while this one awaited: build the key again.
    if (this.lockForUpdate && this.writeKey(ctx)) await txn.lockForUpdate(this.writer.finish().subarray(1));
    const exprs = this.exprs;
    if (exprs === undefined) return [row];
    const n = exprs.length;
    const out = new Array<Value>(n);
    for (let j = 0; j < n; j++) out[j] = exprs[j]!(row, ctx);
    return [out];
  }
}

const NO_ROW: readonly Value[] = [];
