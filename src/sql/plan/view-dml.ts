/**
 * INSERT / UPDATE / DELETE through automatically updatable views
 * (PostgreSQL's rules, rewriteHandler.c): a view whose query reads one
 * table or view, with no DISTINCT, GROUP BY, HAVING, set operation, WITH,
 * LIMIT/OFFSET, aggregate, window or set-returning function in its output.
 *
 * The statement is rewritten at the syntax level into one on the view's
 * base relation, as PostgreSQL's rewriter does:
 *
 *   UPDATE v SET x = 1 WHERE y > 2      CREATE VIEW v AS SELECT a AS x, b + 1 AS y
 *     -> UPDATE t AS v SET a = 1          FROM t WHERE a > 0
 *          WHERE (a > 0) AND ((b + 1) > 2)
 *
 * References to view columns become the view's expressions; assignments
 * and INSERT columns must name view columns that are plain base columns
 * (0A000 otherwise); the view's WHERE is ANDed into UPDATE and DELETE.
 * WITH [LOCAL | CASCADED] CHECK OPTION adds the view's WHERE as a check on
 * every new row (44000), CASCADED also the conditions of the views below.
 * If the base relation is a view again, the binder rewrites once more.
 * The binder checks the user's privileges on the view and the view
 * owner's on the base relation (as SELECT through a view does).
 */

import type { Node } from '@pgsql/types';
import { NextDbError } from '../../util/errors.ts';
import { isAggregateName } from '../exec/aggregates.ts';
import { isSrf } from './functions.ts';
import { parseSql } from '../parser.ts';
import type { TableDef } from '../catalog/catalog.ts';

type Obj = Record<string, unknown>;

/** A view's WHERE to check on new rows (WITH CHECK OPTION), as an expression over the base relation's columns. */
export interface ViewCheck {
  readonly view: string;
  readonly expr: Node;
}

/** What an updatable view maps to. */
interface ViewMapping {
  /** The base relation (schema, name) and the alias the view's query gives it. */
  readonly base: { readonly schemaname?: string; readonly relname: string };
  readonly innerAlias: string;
  /** View column name -> its expression over the base relation (unqualified column references). */
  readonly exprs: Map<string, Node>;
  /** View column name -> base column name, for the updatable (plain column) ones. */
  readonly baseCol: Map<string, string>;
  readonly order: readonly string[];
  readonly where: Node | undefined;
}

const clone = <T>(n: T): T => structuredClone(n);

function str(n: unknown): string {
  const o = n as { String?: { sval?: string } };
  return o.String?.sval ?? '';
}

/** PostgreSQL's reason a view is not automatically updatable, or the mapping. */
function analyze(
  view: TableDef,
  columnsOf: (schema: string | undefined, name: string) => string[],
): ViewMapping | string {
  const stmt = parseSql(view.viewSql ?? '')[0]?.stmt as Obj | undefined;
  let sel = (stmt?.SelectStmt ?? {}) as Obj;
  let names = view.columns.map((c) => c.name);
  // CREATE VIEW v (names) is stored as SELECT * FROM (query) AS _v(names).
  const from0 = (sel.fromClause as Obj[] | undefined)?.[0];
  if (
    (sel.fromClause as unknown[] | undefined)?.length === 1 &&
    from0 !== undefined &&
    'RangeSubselect' in from0 &&
    ((from0.RangeSubselect as Obj).alias as Obj | undefined)?.aliasname === '_v'
  ) {
    sel = ((from0.RangeSubselect as Obj).subquery as Obj).SelectStmt as Obj;
  }
  if (sel.op !== undefined && sel.op !== 'SETOP_NONE')
    return 'Views containing UNION, INTERSECT, or EXCEPT are not automatically updatable.';
  if (sel.valuesLists !== undefined)
    return 'Views that do not select from a single table or view are not automatically updatable.';
  if (sel.distinctClause !== undefined) return 'Views containing DISTINCT are not automatically updatable.';
  if (sel.groupClause !== undefined) return 'Views containing GROUP BY are not automatically updatable.';
  if (sel.havingClause !== undefined) return 'Views containing HAVING are not automatically updatable.';
  if (sel.withClause !== undefined) return 'Views containing WITH are not automatically updatable.';
  if (sel.limitCount !== undefined || sel.limitOffset !== undefined)
    return 'Views containing LIMIT or OFFSET are not automatically updatable.';
  const targets = (sel.targetList ?? []) as Obj[];
  if (contains(targets, (fc) => fc.over === undefined && isAggregateName(funcName(fc))))
    return 'Views that return aggregate functions are not automatically updatable.';
  if (contains(targets, (fc) => fc.over !== undefined))
    return 'Views that return window functions are not automatically updatable.';
  if (contains(targets, (fc) => isSrf(funcName(fc))))
    return 'Views that return set-returning functions are not automatically updatable.';
  const from = (sel.fromClause ?? []) as Obj[];
  const rv = from.length === 1 ? (from[0]!.RangeVar as Obj | undefined) : undefined;
  if (rv === undefined) return 'Views that do not select from a single table or view are not automatically updatable.';
  const relname = rv.relname as string;
  const schemaname = rv.schemaname as string | undefined;
  const innerAlias = ((rv.alias as Obj | undefined)?.aliasname as string | undefined) ?? relname;
  // The view's output expressions, in order ('*' expands to the base relation's columns).
  const outs: Node[] = [];
  for (const t of targets) {
    const rt = t.ResTarget as Obj;
    const val = rt.val as Obj;
    const fields = (val.ColumnRef as Obj | undefined)?.fields as Obj[] | undefined;
    if (fields !== undefined && 'A_Star' in fields[fields.length - 1]!) {
      for (const c of columnsOf(schemaname, relname))
        outs.push({ ColumnRef: { fields: [{ String: { sval: c } }] } } as Node);
      continue;
    }
    outs.push(unqualify(clone(val), innerAlias) as Node);
  }
  names = names.slice(0, outs.length);
  const exprs = new Map<string, Node>();
  const baseCol = new Map<string, string>();
  names.forEach((n, i) => {
    const e = outs[i]!;
    exprs.set(n, e);
    const f = ((e as Obj).ColumnRef as Obj | undefined)?.fields as Obj[] | undefined;
    if (f !== undefined && f.length === 1 && 'String' in f[0]!) baseCol.set(n, str(f[0]));
  });
  const where = sel.whereClause === undefined ? undefined : (unqualify(clone(sel.whereClause), innerAlias) as Node);
  return {
    base: { ...(schemaname === undefined ? {} : { schemaname }), relname },
    innerAlias,
    exprs,
    baseCol,
    order: names,
    where,
  };
}

function funcName(fc: Obj): string {
  const parts = (fc.funcname ?? []) as unknown[];
  return str(parts[parts.length - 1]).toLowerCase();
}

/** Whether a FuncCall below `n` (not inside a subquery) satisfies `pred`. */
function contains(n: unknown, pred: (fc: Obj) => boolean): boolean {
  if (Array.isArray(n)) return n.some((x) => contains(x, pred));
  if (n === null || typeof n !== 'object') return false;
  const o = n as Obj;
  if ('SubLink' in o) return false;
  if ('FuncCall' in o && pred(o.FuncCall as Obj)) return true;
  return Object.values(o).some((v) => contains(v, pred));
}

/** Drops the qualifier `alias.` from column references (the view's expressions read one relation). */
function unqualify(n: unknown, alias: string): unknown {
  if (Array.isArray(n)) return n.map((x) => unqualify(x, alias));
  if (n === null || typeof n !== 'object') return n;
  const o = n as Obj;
  if ('SubLink' in o) return o;
  if ('ColumnRef' in o) {
    const cr = o.ColumnRef as Obj;
    const f = cr.fields as Obj[];
    if (f.length === 2 && str(f[0]) === alias && 'String' in f[1]!) return { ColumnRef: { ...cr, fields: [f[1]] } };
    return o;
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[k] = unqualify(v, alias);
  return out;
}

/**
 * Replaces references to view columns (`col` or `alias.col`) by the view's
 * expressions; `alias.*` and a bare `*` in RETURNING are expanded by the caller.
 * Subqueries are walked too (their own FROM may shadow a name: PostgreSQL
 * resolves those first; this rewrite prefers the view column).
 */
function substitute(n: unknown, m: ViewMapping, alias: string): unknown {
  if (Array.isArray(n)) return n.map((x) => substitute(x, m, alias));
  if (n === null || typeof n !== 'object') return n;
  const o = n as Obj;
  if ('ColumnRef' in o) {
    const f = (o.ColumnRef as Obj).fields as Obj[];
    const col =
      f.length === 1 && 'String' in f[0]!
        ? str(f[0])
        : f.length === 2 && str(f[0]) === alias && 'String' in f[1]!
          ? str(f[1])
          : undefined;
    if (col !== undefined) {
      const e = m.exprs.get(col);
      if (e !== undefined) return clone(e);
    }
    return o;
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) out[k] = substitute(v, m, alias);
  return out;
}

function and(a: Node | undefined, b: Node | undefined): Node | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { BoolExpr: { boolop: 'AND_EXPR', args: [a, b] } } as Node;
}

function notUpdatable(op: 'insert' | 'update' | 'delete', view: string, reason: string): NextDbError {
  const verb = op === 'insert' ? 'insert into' : op === 'update' ? 'update' : 'delete from';
  const hint =
    op === 'insert'
      ? 'To enable inserting into the view, provide an INSTEAD OF INSERT trigger or an unconditional ON INSERT DO INSTEAD rule.'
      : op === 'update'
        ? 'To enable updating the view, provide an INSTEAD OF UPDATE trigger or an unconditional ON UPDATE DO INSTEAD rule.'
        : 'To enable deleting from the view, provide an INSTEAD OF DELETE trigger or an unconditional ON DELETE DO INSTEAD rule.';
  return new NextDbError('55000', `cannot ${verb} view "${view}"`, { detail: reason, hint });
}

function columnNotUpdatable(op: 'insert' | 'update', col: string, view: string): NextDbError {
  return new NextDbError(
    '0A000',
    `cannot ${op === 'insert' ? 'insert into' : 'update'} column "${col}" of view "${view}"`,
    {
      detail: 'View columns that are not columns of their base relation are not updatable.',
    },
  );
}

/** Why a view cannot take WITH CHECK OPTION (CREATE VIEW), or undefined when it can. */
export function checkOptionRefusal(
  view: TableDef,
  columnsOf: (schema: string | undefined, name: string) => string[],
): string | undefined {
  const m = analyze(view, columnsOf);
  return typeof m === 'string' ? m : undefined;
}

export interface RewriteResult {
  /** The statement on the base relation (same kind as the input). */
  readonly stmt: Obj;
  /** The base relation as the statement names it. */
  readonly base: { readonly schemaname?: string; readonly relname: string };
  /** Checks carried down: this view's (WITH CHECK OPTION) and the caller's, rewritten over the base relation. */
  readonly checks: ViewCheck[];
  /** CASCADED: the views below must check their conditions too. */
  readonly cascade: boolean;
}

/**
 * Rewrites an INSERT/UPDATE/DELETE on `view` into one on its base relation.
 * `checks`/`cascade`: what the views above asked for (a view over this one).
 */
export function rewriteViewDml(
  kind: 'InsertStmt' | 'UpdateStmt' | 'DeleteStmt',
  stmt: Obj,
  view: TableDef,
  columnsOf: (schema: string | undefined, name: string) => string[],
  checks: readonly ViewCheck[],
  cascade: boolean,
): RewriteResult {
  const op = kind === 'InsertStmt' ? 'insert' : kind === 'UpdateStmt' ? 'update' : 'delete';
  const m = analyze(view, columnsOf);
  if (typeof m === 'string') throw notUpdatable(op, view.name, m);
  const rel = stmt.relation as Obj;
  const alias = ((rel.alias as Obj | undefined)?.aliasname as string | undefined) ?? view.name;
  const out: Obj = { ...stmt };
  out.relation = {
    ...m.base,
    inh: true,
    relpersistence: 'p',
    alias: { aliasname: alias },
    ...(rel.location === undefined ? {} : { location: rel.location }),
  };
  const sub = (n: unknown): unknown => substitute(n, m, alias);
  // Checks from above are over this view's columns: rewrite them over the base relation.
  const newChecks: ViewCheck[] = checks.map((c) => ({ view: c.view, expr: substitute(c.expr, m, alias) as Node }));
  const option = view.viewCheckOption;
  if ((option !== undefined || cascade) && m.where !== undefined) newChecks.push({ view: view.name, expr: m.where });
  if (kind === 'InsertStmt') {
    if (stmt.onConflictClause !== undefined)
      throw new NextDbError('0A000', 'INSERT ... ON CONFLICT on a view is not supported yet');
    const given = ((stmt.cols ?? []) as Obj[]).map((c) => (c.ResTarget as Obj).name as string);
    let targetNames = given;
    if (given.length === 0) {
      const sel = ((stmt.selectStmt as Obj | undefined)?.SelectStmt ?? {}) as Obj;
      const vl = sel.valuesLists as Obj[] | undefined;
      const width = vl?.[0] !== undefined ? ((vl[0].List as Obj).items as unknown[]).length : m.order.length;
      targetNames = m.order.slice(0, width);
    }
    out.cols = targetNames.map((nm) => {
      if (!m.exprs.has(nm)) throw new NextDbError('42703', `column "${nm}" of relation "${view.name}" does not exist`);
      const b = m.baseCol.get(nm);
      if (b === undefined) throw columnNotUpdatable('insert', nm, view.name);
      return { ResTarget: { name: b } };
    });
  } else if (kind === 'UpdateStmt') {
    out.targetList = ((stmt.targetList ?? []) as Obj[]).map((t) => {
      const rt = t.ResTarget as Obj;
      const nm = rt.name as string;
      if (!m.exprs.has(nm)) throw new NextDbError('42703', `column "${nm}" of relation "${view.name}" does not exist`);
      const b = m.baseCol.get(nm);
      if (b === undefined) throw columnNotUpdatable('update', nm, view.name);
      return { ResTarget: { ...rt, name: b, val: sub(rt.val) } };
    });
    out.whereClause = and(m.where, sub(stmt.whereClause) as Node | undefined);
  } else {
    out.whereClause = and(m.where, sub(stmt.whereClause) as Node | undefined);
  }
  const ret = stmt.returningClause as Obj | undefined;
  if (ret !== undefined) {
    const exprs: unknown[] = [];
    for (const t of (ret.exprs ?? []) as Obj[]) {
      const rt = t.ResTarget as Obj;
      const f = ((rt.val as Obj).ColumnRef as Obj | undefined)?.fields as Obj[] | undefined;
      const star =
        f !== undefined && 'A_Star' in f[f.length - 1]! && (f.length === 1 || (f.length === 2 && str(f[0]) === alias));
      if (star) {
        for (const nm of m.order) exprs.push({ ResTarget: { name: nm, val: clone(m.exprs.get(nm)) } });
        continue;
      }
      // An output column keeps the view column's name.
      const plain = f !== undefined && f.length <= 2 && 'String' in f[f.length - 1]! ? str(f[f.length - 1]) : undefined;
      const name = (rt.name as string | undefined) ?? (plain !== undefined && m.exprs.has(plain) ? plain : undefined);
      exprs.push({ ResTarget: { ...rt, ...(name === undefined ? {} : { name }), val: sub(rt.val) } });
    }
    out.returningClause = { ...ret, exprs };
  }
  return { stmt: out, base: m.base, checks: newChecks, cascade: cascade || option === 'cascaded' };
}
