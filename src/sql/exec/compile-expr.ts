/**
 * Compiles bound expressions into closures `(row, ctx) => Value`.
 *
 * Column references become array reads at positions fixed at compile time;
 * references to enclosing queries read `ctx.outer[depth][pos]`. SQL's
 * three-valued logic is implemented here: AND/OR with NULL, strict
 * functions returning NULL on a NULL argument, comparisons yielding NULL.
 *
 * Expressions are synchronous. Parts that must wait for storage —
 * subqueries and functions like nextval() — are "hoisted": the operator
 * evaluates them for each row first (awaiting as needed), stores the results
 * in `ctx.slots`, and then runs the synchronous closure, which reads the
 * slot. An uncorrelated subquery is evaluated once per execution.
 *
 * Laziness: a hoisted part inside a CASE branch or a later COALESCE
 * argument carries a guard, the condition under which the expression would
 * reach it (this WHEN is the first true one; every earlier COALESCE argument
 * is NULL); when the guard is false for the row, the part is not run and its
 * slot holds NULL, which nothing reads. So a subquery or nextval() in a
 * branch not taken is never evaluated, as in PostgreSQL. The guard reads
 * only conditions compiled before the part, whose own hoisted parts come
 * earlier in the list and are filled first.
 */

import { accumulateArrays, nestArrays } from '../types/array-dims.ts';
import { NextDbError } from '../../util/errors.ts';
import { assert, assertNever } from '../../util/assert.ts';
import type { ColumnId, Expr, OutputColumn, Plan } from '../plan/plan.ts';
import type { ArrayValue, Value } from '../types/sql-type.ts';
import { EvalContext } from './eval-context.ts';

export type CompiledExpr = (row: readonly Value[], ctx: EvalContext) => Value;

export interface Hoisted {
  readonly slot: number;
  readonly run: (row: readonly Value[], ctx: EvalContext) => Promise<Value>;
}

/** Runs a subquery plan to completion with the given outer rows; provided by the executor. */
export type SubplanRunner = (
  plan: Plan,
  outerLayouts: readonly Layout[],
  ctx: EvalContext,
  limit: number,
) => Promise<Value[][]>;

export type Layout = ReadonlyMap<ColumnId, number>;

/** When a hoisted part is needed for a row (see the header); undefined: always. */
type Guard = (row: readonly Value[], ctx: EvalContext) => boolean;

export class CompileEnv {
  readonly hoisted: Hoisted[] = [];
  /** The guard of the expression being compiled (set while compiling CASE branches and COALESCE arguments). */
  guard: Guard | undefined;
  constructor(
    readonly layout: Layout,
    readonly outer: readonly Layout[],
    readonly runSubplan: SubplanRunner,
    private readonly slotCounter: { next: number },
  ) {}

  static root(layout: Layout, outer: readonly Layout[], runSubplan: SubplanRunner): CompileEnv {
    return new CompileEnv(layout, outer, runSubplan, { next: 0 });
  }

  /** A sibling environment for another operator's expressions (own hoisted list, shared slot numbering). */
  forLayout(layout: Layout): CompileEnv {
    return new CompileEnv(layout, this.outer, this.runSubplan, this.slotCounter);
  }

  allocSlot(): number {
    return this.slotCounter.next++;
  }

  /** Adds a hoisted part under the current guard: skipped (slot NULL) for rows that would not reach it. */
  hoist(slot: number, run: Hoisted['run']): void {
    const guard = this.guard;
    this.hoisted.push({
      slot,
      run: guard === undefined ? run : (row, ctx) => (guard(row, ctx) ? run(row, ctx) : Promise.resolve(null)),
    });
  }
}

/** outer ∧ no earlier condition true ∧ (cur true, when given): the guard of a CASE arm. */
function caseGuard(outer: Guard | undefined, earlier: readonly CompiledExpr[], cur: CompiledExpr | undefined): Guard {
  const prev = earlier.slice();
  return (r, ctx) => {
    if (outer !== undefined && !outer(r, ctx)) return false;
    for (const c of prev) if (truthy(c(r, ctx))) return false;
    return cur === undefined || truthy(cur(r, ctx));
  };
}

/** outer ∧ every earlier argument NULL: the guard of a COALESCE argument. */
function coalesceGuard(outer: Guard | undefined, earlier: readonly CompiledExpr[]): Guard {
  const prev = earlier.slice();
  return (r, ctx) => {
    if (outer !== undefined && !outer(r, ctx)) return false;
    for (const a of prev) if (a(r, ctx) !== null) return false;
    return true;
  };
}

export function layoutOf(ids: readonly ColumnId[]): Map<ColumnId, number> {
  const m = new Map<ColumnId, number>();
  ids.forEach((id, i) => {
    if (!m.has(id)) m.set(id, i);
  });
  return m;
}

function truthy(v: Value): boolean {
  return v === true;
}

export function compileExpr(e: Expr, env: CompileEnv): CompiledExpr {
  switch (e.kind) {
    case 'const': {
      const v = e.value;
      return () => v;
    }
    case 'param': {
      const i = e.index;
      return (_r, ctx) => ctx.params[i] ?? null;
    }
    case 'col': {
      const pos = env.layout.get(e.id);
      if (pos !== undefined) return (r) => r[pos] ?? null;
      for (let d = 0; d < env.outer.length; d++) {
        const p = env.outer[d]!.get(e.id);
        if (p !== undefined) {
          const depth = d;
          return (_r, ctx) => ctx.outer[depth]?.[p] ?? null;
        }
      }
      assert(false, `column ${e.name} (#${e.id}) not found in any layout`);
      break;
    }
    case 'call': {
      const args = e.args.map((a) => compileExpr(a, env));
      const impl = e.impl;
      const n = args.length;
      if (e.strict) {
        if (n === 1) {
          const a0 = args[0]!;
          return (r, ctx) => {
            const v = a0(r, ctx);
            return v === null ? null : impl([v], ctx);
          };
        }
        if (n === 2) {
          const a0 = args[0]!;
          const a1 = args[1]!;
          return (r, ctx) => {
            const x = a0(r, ctx);
            if (x === null) return null;
            const y = a1(r, ctx);
            if (y === null) return null;
            return impl([x, y], ctx);
          };
        }
        return (r, ctx) => {
          const vals = new Array<Value>(n);
          for (let i = 0; i < n; i++) {
            const v = args[i]!(r, ctx);
            if (v === null) return null;
            vals[i] = v;
          }
          return impl(vals, ctx);
        };
      }
      return (r, ctx) => {
        const vals = new Array<Value>(n);
        for (let i = 0; i < n; i++) vals[i] = args[i]!(r, ctx);
        return impl(vals, ctx);
      };
    }
    case 'async-call': {
      const args = e.args.map((a) => compileExpr(a, env));
      const impl = e.impl;
      const slot = env.allocSlot();
      const strict = e.nonStrict !== true;
      env.hoist(slot, async (r, ctx) => {
        const vals = args.map((a) => a(r, ctx));
        if (strict && vals.some((v) => v === null)) return null;
        return impl(vals, ctx);
      });
      return (_r, ctx) => ctx.slots[slot] ?? null;
    }
    case 'cast': {
      const arg = compileExpr(e.arg, env);
      const fn = e.fn;
      return (r, ctx) => {
        const v = arg(r, ctx);
        return v === null ? null : fn(v, ctx.io);
      };
    }
    case 'and': {
      const args = e.args.map((a) => compileExpr(a, env));
      if (args.length === 2) {
        const [a, b] = args as [CompiledExpr, CompiledExpr];
        return (r, ctx) => {
          const x = a(r, ctx);
          if (x === false) return false;
          const y = b(r, ctx);
          if (y === false) return false;
          return x === null || y === null ? null : true;
        };
      }
      return (r, ctx) => {
        let sawNull = false;
        for (const a of args) {
          const v = a(r, ctx);
          if (v === false) return false;
          if (v === null) sawNull = true;
        }
        return sawNull ? null : true;
      };
    }
    case 'or': {
      const args = e.args.map((a) => compileExpr(a, env));
      return (r, ctx) => {
        let sawNull = false;
        for (const a of args) {
          const v = a(r, ctx);
          if (v === true) return true;
          if (v === null) sawNull = true;
        }
        return sawNull ? null : false;
      };
    }
    case 'not': {
      const a = compileExpr(e.arg, env);
      return (r, ctx) => {
        const v = a(r, ctx);
        return v === null ? null : !v;
      };
    }
    case 'is-null': {
      const a = compileExpr(e.arg, env);
      const neg = e.negate;
      const isRow = e.arg.kind === 'row';
      if (isRow) {
        // Row IS NULL: every field null; IS NOT NULL: every field non-null.
        return (r, ctx) => {
          const v = a(r, ctx) as ArrayValue;
          return neg ? v.elems.every((x) => x !== null) : v.elems.every((x) => x === null);
        };
      }
      return (r, ctx) => (a(r, ctx) === null) !== neg;
    }
    case 'is-bool': {
      const a = compileExpr(e.arg, env);
      const test = e.test;
      const neg = e.negate;
      return (r, ctx) => {
        const v = a(r, ctx);
        const res = test === 'unknown' ? v === null : test === 'true' ? v === true : v === false;
        return res !== neg;
      };
    }
    case 'compare': {
      const l = compileExpr(e.left, env);
      const rr = compileExpr(e.right, env);
      const cmp = e.cmp;
      const op = e.op;
      switch (op) {
        case '=':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) === 0;
          };
        case '<>':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) !== 0;
          };
        case '<':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) < 0;
          };
        case '<=':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) <= 0;
          };
        case '>':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) > 0;
          };
        case '>=':
          return (r, ctx) => {
            const x = l(r, ctx);
            if (x === null) return null;
            const y = rr(r, ctx);
            if (y === null) return null;
            return cmp(x, y) >= 0;
          };
        default:
          return assertNever(op, 'comparison');
      }
    }
    case 'distinct-from': {
      const l = compileExpr(e.left, env);
      const rr = compileExpr(e.right, env);
      const cmp = e.cmp;
      const neg = e.negate;
      return (r, ctx) => {
        const x = l(r, ctx);
        const y = rr(r, ctx);
        let distinct: boolean;
        if (x === null || y === null) distinct = x !== y;
        else distinct = cmp(x, y) !== 0;
        return distinct !== neg;
      };
    }
    case 'case': {
      const outer = env.guard;
      const conds: CompiledExpr[] = [];
      const whens: (readonly [CompiledExpr, CompiledExpr])[] = [];
      let els: CompiledExpr;
      try {
        for (const w of e.whens) {
          env.guard = conds.length === 0 ? outer : caseGuard(outer, conds, undefined);
          const c = compileExpr(w.cond, env);
          env.guard = caseGuard(outer, conds, c);
          whens.push([c, compileExpr(w.result, env)] as const);
          conds.push(c);
        }
        env.guard = caseGuard(outer, conds, undefined);
        els = compileExpr(e.elseExpr, env);
      } finally {
        env.guard = outer;
      }
      return (r, ctx) => {
        for (const [c, res] of whens) if (truthy(c(r, ctx))) return res(r, ctx);
        return els(r, ctx);
      };
    }
    case 'coalesce': {
      const outer = env.guard;
      const args: CompiledExpr[] = [];
      try {
        for (const a of e.args) {
          env.guard = args.length === 0 ? outer : coalesceGuard(outer, args);
          args.push(compileExpr(a, env));
        }
      } finally {
        env.guard = outer;
      }
      return (r, ctx) => {
        for (const a of args) {
          const v = a(r, ctx);
          if (v !== null) return v;
        }
        return null;
      };
    }
    case 'greatest':
    case 'least': {
      const args = e.args.map((a) => compileExpr(a, env));
      const cmp = e.cmp;
      const sign = e.kind === 'greatest' ? 1 : -1;
      return (r, ctx) => {
        let best: Value = null;
        for (const a of args) {
          const v = a(r, ctx);
          if (v === null) continue;
          if (best === null || cmp(v, best) * sign > 0) best = v;
        }
        return best;
      };
    }
    case 'in-list': {
      const arg = compileExpr(e.arg, env);
      const list = e.list.map((a) => compileExpr(a, env));
      const cmp = e.cmp;
      const neg = e.negate;
      return (r, ctx) => {
        const x = arg(r, ctx);
        if (x === null) return null;
        let sawNull = false;
        for (const a of list) {
          const y = a(r, ctx);
          if (y === null) sawNull = true;
          else if (cmp(x, y) === 0) return !neg;
        }
        return sawNull ? null : neg;
      };
    }
    case 'array': {
      const elems = e.elems.map((a) => compileExpr(a, env));
      if (e.nested === true) return (r, ctx) => nestArrays(elems.map((a) => a(r, ctx)));
      return (r, ctx) => ({ kind: 'array', elems: elems.map((a) => a(r, ctx)) }) satisfies ArrayValue;
    }
    case 'row': {
      const args = e.args.map((a) => compileExpr(a, env));
      return (r, ctx) => ({ kind: 'array', elems: args.map((a) => a(r, ctx)) }) satisfies ArrayValue;
    }
    case 'subquery':
      return compileSubquery(e, env);
    default:
      return assertNever(e, 'expression');
  }
}

function compileSubquery(e: Extract<Expr, { kind: 'subquery' }>, env: CompileEnv): CompiledExpr {
  const slot = env.allocSlot();
  const outerLayouts = [env.layout, ...env.outer];
  const test = e.test === undefined ? undefined : compileExpr(e.test, env);
  const cmp = e.cmp;
  const op = e.op;
  const mode = e.mode;
  const plan = e.plan;
  // ARRAY(SELECT arr): the rows' arrays become one multidimensional array.
  const ofArrays = mode === 'array' && (plan as { cols?: readonly OutputColumn[] }).cols?.[0]?.type.id === 'array';
  let cached: { value: Value } | undefined;
  // ANY/ALL compare each outer row's test value: cache the subquery's rows, not the answer.
  let cachedRows: Value[][] | undefined;
  const correlated = e.correlated;
  // A SQL function body: runs with the argument values as its parameters and no caller rows.
  const fnArgs = e.args?.map((a) => compileExpr(a, env));
  const fnStrict = e.strict === true;
  const fnOuter: readonly Layout[] = [];
  const evaluate = async (row: readonly Value[], ctx: EvalContext): Promise<Value> => {
    const limit = mode === 'exists' ? 1 : mode === 'scalar' ? 2 : 0;
    if (fnArgs !== undefined) {
      const vals = fnArgs.map((a) => a(row, ctx));
      if (fnStrict && vals.some((v) => v === null)) return null;
      const rows = await env.runSubplan(plan, fnOuter, new EvalContext(ctx.io, vals, ctx.services), 1);
      return rows[0]?.[0] ?? null;
    }
    const sub = ctx.withOuter(row);
    if (mode === 'any' || mode === 'all') {
      assert(test !== undefined && cmp !== undefined && op !== undefined, 'ANY/ALL needs a test');
      let rows: Value[][];
      if (correlated) rows = await env.runSubplan(plan, outerLayouts, sub, 0);
      else rows = cachedRows ??= await env.runSubplan(plan, outerLayouts, sub, 0);
      const x = test(row, ctx);
      // x op ANY(set): true if any comparison is true; null if none true and some null.
      let sawNull = false;
      const any = mode === 'any';
      for (const rr of rows) {
        const y = rr[0] ?? null;
        if (x === null || y === null) {
          sawNull = true;
          continue;
        }
        const c = cmp(x, y);
        const res =
          op === '='
            ? c === 0
            : op === '<>'
              ? c !== 0
              : op === '<'
                ? c < 0
                : op === '<='
                  ? c <= 0
                  : op === '>'
                    ? c > 0
                    : c >= 0;
        if (any && res) return true;
        if (!any && !res) return false;
      }
      if (sawNull) return null;
      return !any;
    }
    const rows = await env.runSubplan(plan, outerLayouts, sub, limit);
    switch (mode) {
      case 'exists':
        return rows.length > 0;
      case 'scalar':
        if (rows.length > 1)
          throw new NextDbError('21000', 'more than one row returned by a subquery used as an expression');
        return rows[0]?.[0] ?? null;
      case 'array':
        if (ofArrays) return accumulateArrays(rows.map((rr) => rr[0] ?? null));
        return { kind: 'array', elems: rows.map((rr) => rr[0] ?? null) } satisfies ArrayValue;
      default:
        return assertNever(mode as never, 'subquery mode');
    }
  };
  env.hoist(slot, async (row, ctx) => {
    if (!correlated && mode !== 'any' && mode !== 'all') {
      if (cached === undefined) cached = { value: await evaluate(row, ctx) };
      return cached.value;
    }
    return evaluate(row, ctx);
  });
  return (_r, ctx) => ctx.slots[slot] ?? null;
}

/** Evaluates the hoisted parts of an operator's expressions for one row. */
export async function runHoisted(hoisted: readonly Hoisted[], row: readonly Value[], ctx: EvalContext): Promise<void> {
  for (const h of hoisted) ctx.slots[h.slot] = await h.run(row, ctx);
}
