/**
 * The plan cache of a prepared statement: the bound and optimized plan,
 * plus, for a primary-key point SELECT, its compiled lookup
 * (src/sql/exec/point-lookup.ts), reused by every execution while nothing
 * the plan depends on has changed.
 *
 * What a plan depends on, and so what an entry is keyed by:
 * - the catalog version (every DDL statement bumps it in the same
 *   transaction; each statement reads it through its own transaction, so a
 *   concurrent or rolled-back DDL is never seen early);
 * - the session settings the binder reads: search_path (name resolution)
 *   and timezone / extra_float_digits (constant folding of casts to and
 *   from text). SqlSession keeps them as one string that changes whenever
 *   any of them does.
 *
 * An entry is immutable; a miss builds a new one. The cache holds one entry
 * per statement (the last plan): re-planning after DDL costs one bind,
 * as PostgreSQL's plan invalidation does.
 */

import type { BoundQuery } from './binder.ts';
import type { Expr, Plan } from './plan.ts';
import type { Value } from '../types/sql-type.ts';
import { PointLookup } from '../exec/point-lookup.ts';
import { CompileEnv, compileExpr, layoutOf, type CompiledExpr } from '../exec/compile-expr.ts';

export class CachedPlan {
  /** The compiled point lookup when the plan is one; else the executor runs `query.plan`. */
  readonly point: PointLookup | undefined;

  constructor(
    readonly catalogVersion: string,
    readonly settingsKey: string,
    readonly query: BoundQuery,
  ) {
    this.point = PointLookup.compile(query.plan);
    this.constant = this.point === undefined ? compileConstant(query.plan) : undefined;
  }

  /**
   * A statement without FROM (`SELECT 1`, `SELECT $1 + 1`) whose output
   * expressions are immutable over parameters and constants: compiled once,
   * so that an execution needs no transaction (SqlSession.constantNow).
   */
  readonly constant: readonly CompiledExpr[] | undefined;

  /** True when this plan is still valid for the statement's catalog version and the session's binding settings. */
  matches(catalogVersion: string, settingsKey: string): boolean {
    return this.catalogVersion === catalogVersion && this.settingsKey === settingsKey;
  }
}

/**
 * The compiled output of `SELECT exprs` with no FROM, WHERE, ORDER BY or
 * LIMIT (a projection of the one-row plan) when every expression is
 * immutable (isImmutable); else undefined.
 */
function compileConstant(plan: Plan): readonly CompiledExpr[] | undefined {
  if (plan.kind !== 'project' || plan.input.kind !== 'one-row' || !plan.exprs.every(isImmutable)) return undefined;
  const root = CompileEnv.root(layoutOf([]), [], noSubplans);
  const fns = plan.exprs.map((e) => compileExpr(e, root));
  return root.hoisted.length === 0 ? fns : undefined;
}

/**
 * True when `e` reads nothing but constants and parameters, through
 * operators, casts and functions that are not volatile: its value depends
 * on its inputs and the session's I/O settings only, never on a
 * transaction, the clock, the catalog or a sequence. Volatile here is
 * every session-dependent function (now(), random(), nextval(),
 * current_setting(), current_user...): the binder never folds those. Any
 * other kind of expression (a column, a subquery, an array, a user
 * function) answers false.
 */
function isImmutable(e: Expr): boolean {
  switch (e.kind) {
    case 'const':
    case 'param':
      return true;
    case 'call':
      return !e.volatile && e.args.every(isImmutable);
    case 'cast':
    case 'not':
    case 'is-null':
    case 'is-bool':
      return isImmutable(e.arg);
    case 'and':
    case 'or':
    case 'coalesce':
    case 'greatest':
    case 'least':
      return e.args.every(isImmutable);
    case 'compare':
    case 'distinct-from':
      return isImmutable(e.left) && isImmutable(e.right);
    case 'case':
      return e.whens.every((w) => isImmutable(w.cond) && isImmutable(w.result)) && isImmutable(e.elseExpr);
    case 'in-list':
      return isImmutable(e.arg) && e.list.every(isImmutable);
    default:
      return false;
  }
}

function noSubplans(): Promise<Value[][]> {
  return Promise.reject(new Error('a constant expression runs no subquery'));
}
