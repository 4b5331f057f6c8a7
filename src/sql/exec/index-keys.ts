/**
 * Expression and partial indexes on the write path: the compiled key
 * expressions and predicate of one index, evaluated on a table row (the
 * stored layout, one value per column).
 *
 * The expressions are kept in the catalog as SQL text and bound here once
 * per index descriptor (a catalog snapshot's IndexDef objects are immutable,
 * so a WeakMap keyed by them is a safe cache). CREATE INDEX accepts only
 * expressions without volatile functions, subqueries or parameters, so they
 * need no session: they run with the UTC, no-services context constant
 * folding uses, and give the same value at every write and every read.
 */

import { CatalogSnapshot, type IndexDef, type TableDef } from '../catalog/catalog.ts';
import { Binder, noServices } from '../plan/binder.ts';
import type { OutputColumn } from '../plan/plan.ts';
import type { Value } from '../types/sql-type.ts';
import { defaultIoSettings } from '../types/text-io.ts';
import { CompileEnv, compileExpr, layoutOf, type CompiledExpr } from './compile-expr.ts';
import { EvalContext } from './eval-context.ts';

export interface IndexEval {
  /** Per key column: the compiled expression, undefined for a plain column. */
  readonly keys: readonly (CompiledExpr | undefined)[];
  readonly pred: CompiledExpr | undefined;
}

const cache = new WeakMap<IndexDef, IndexEval>();
const ctx = new EvalContext(defaultIoSettings, [], noServices);

export function indexEval(t: TableDef, ix: IndexDef): IndexEval {
  let ev = cache.get(ix);
  if (ev === undefined) {
    const binder = new Binder({
      catalog: new CatalogSnapshot('', [], [], [t], []),
      dbOid: t.dbOid,
      searchPath: ['pg_catalog', t.schema],
      io: defaultIoSettings,
      sql: '',
      paramTypes: [],
    });
    const cols: OutputColumn[] = t.columns.map((c) => ({
      id: binder.newId(),
      name: c.name,
      type: c.type,
      tableOid: t.oid,
      attnum: c.attnum,
    }));
    const bound = binder.bindIndexExprs(t, ix, cols);
    const env = CompileEnv.root(layoutOf(cols.map((c) => c.id)), [], () =>
      Promise.reject(new Error('index expressions hold no subqueries')),
    );
    ev = {
      keys: bound.keys.map((e) => (e === undefined ? undefined : compileExpr(e, env))),
      pred: bound.pred === undefined ? undefined : compileExpr(bound.pred, env),
    };
    cache.set(ix, ev);
  }
  return ev;
}

/** Evaluates a compiled index expression on a stored row. */
export function evalIndexExpr(f: CompiledExpr, row: readonly Value[]): Value {
  return f(row, ctx);
}
