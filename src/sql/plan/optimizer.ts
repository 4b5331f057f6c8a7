/**
 * The optimizer: rewrites a bound plan into a cheaper equivalent.
 *
 *   1. Inner-join trees (comma joins and INNER JOIN) are flattened into a
 *      set of leaves and a set of conjuncts (from WHERE and ON).
 *   2. Conjuncts that read one leaf are pushed into it (into a table scan's
 *      filter, or a filter above any other leaf).
 *   3. Leaves are joined greedily: start from the smallest estimate, then
 *      repeatedly add the connected leaf with the smallest estimate (never a
 *      cross product while a connected leaf remains). Equality conjuncts
 *      between the joined set and the new leaf become hash-join keys; the
 *      rest become the join's residual condition. This keeps the 64-table
 *      joins of sqllogictest's select5 linear instead of exponential.
 *   4. Index selection: a scan whose filter has `col = value` conjuncts on a
 *      prefix of an index (value: constant, parameter or outer column), or a
 *      range on the next column, reads only that key range. The full filter
 *      stays as a residual check, so bounds only need to be a superset.
 *      An expression index's key matches a conjunct side equal to its
 *      expression (`lower(name) = $1`). A partial index is a candidate only
 *      when the filter implies its predicate: each predicate conjunct is a
 *      filter conjunct, or `col IS NOT NULL` implied by a strict comparison
 *      of col, or a range on col with a constant that the filter's
 *      constant range on col lies inside.
 *   5. Limit pushdown: LIMIT n over a scan (through projections) stops the
 *      scan after n + offset rows.
 *
 * Cardinality estimates are heuristics (no statistics yet): a table is 1000
 * rows, an equality on a unique index gives 1, other equalities 10%, other
 * predicates 30%.
 */

import type { ColumnId, CompareOp, Expr, Plan, AccessPath } from './plan.ts';
import type { IndexDef } from '../catalog/catalog.ts';
import type { Value } from '../types/sql-type.ts';
import { comparatorFor } from '../types/compare.ts';
import { exprKey, mapExpr } from './binder.ts';

const DEFAULT_TABLE_ROWS = 1000;

/** Column ids an expression reads; 'all' when it holds a correlated subquery (which may read anything). */
export function refs(e: Expr, out: Set<ColumnId>): boolean {
  switch (e.kind) {
    case 'col':
      out.add(e.id);
      return true;
    case 'subquery':
      if (e.correlated) return false;
      return e.test === undefined ? true : refs(e.test, out);
    default: {
      let ok = true;
      mapExpr(e, (c) => {
        if (!refs(c, out)) ok = false;
        return c;
      });
      return ok;
    }
  }
}

export function conjuncts(e: Expr | undefined, out: Expr[]): void {
  if (e === undefined) return;
  if (e.kind === 'and') for (const a of e.args) conjuncts(a, out);
  else if (e.kind === 'const' && e.value === true) return;
  else out.push(e);
}

export function andOf(list: readonly Expr[]): Expr | undefined {
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return { kind: 'and', type: list[0]!.type, args: list };
}

export function optimize(p: Plan): Plan {
  return opt(p);
}

function optExpr(e: Expr): Expr {
  if (e.kind === 'subquery')
    return { ...e, plan: opt(e.plan), ...(e.test === undefined ? {} : { test: optExpr(e.test) }) };
  return mapExpr(e, optExpr);
}

function opt(p: Plan): Plan {
  switch (p.kind) {
    case 'filter':
    case 'join': {
      const flat = flattenInner(p);
      if (flat !== undefined)
        return planJoins(
          flat.leaves.map(opt),
          flat.conds.map(optExpr),
          p.cols.map((c) => c.id),
        );
      if (p.kind === 'filter') {
        const input = opt(p.input);
        const pred = optExpr(p.pred);
        if (input.kind === 'scan' && p.cols.length === input.cols.length)
          return chooseAccess({
            ...input,
            filter: andOf([...(input.filter === undefined ? [] : [input.filter]), pred])!,
          });
        return { ...p, input, pred };
      }
      const left = opt(p.left);
      const right = opt(p.right);
      const cond = p.cond === undefined ? undefined : optExpr(p.cond);
      return withHashKeys({ ...p, left, right, ...(cond === undefined ? {} : { cond }) });
    }
    case 'limit': {
      const input = opt(p.input);
      const n = p.limit?.kind === 'const' && typeof p.limit.value === 'bigint' ? Number(p.limit.value) : undefined;
      const off =
        p.offset === undefined
          ? 0
          : p.offset.kind === 'const' && typeof p.offset.value === 'bigint'
            ? Number(p.offset.value)
            : undefined;
      if (n !== undefined && off !== undefined) return { ...p, input: pushLimit(input, n + off) };
      return { ...p, input };
    }
    case 'project':
      return { ...p, input: opt(p.input), exprs: p.exprs.map(optExpr) };
    case 'project-set':
      return { ...p, input: opt(p.input), srfs: p.srfs.map((f) => ({ ...f, args: f.args.map(optExpr) })) };
    case 'aggregate':
      return {
        ...p,
        input: opt(p.input),
        groups: p.groups.map(optExpr),
        aggs: p.aggs.map((a) => ({ ...a, args: a.args.map(optExpr) })),
      };
    case 'sort': {
      const input = opt(p.input);
      const keys = p.keys.map((k) => ({ ...k, expr: optExpr(k.expr) }));
      // The scan already yields rows in this order: no sort, and LIMIT can reach the scan.
      if (
        p.cols.length === input.cols.length &&
        p.cols.every((c, i) => c.id === input.cols[i]?.id) &&
        yieldsOrder(input, keys)
      )
        return input;
      return { ...p, input, keys };
    }
    case 'distinct':
    case 'window':
      return { ...p, input: opt(p.input) } as Plan;
    case 'setop':
      return { ...p, left: opt(p.left), right: opt(p.right) };
    case 'values':
      return { ...p, rows: p.rows.map((r) => r.map(optExpr)) };
    case 'scan':
      return p.filter === undefined ? p : chooseAccess({ ...p, filter: optExpr(p.filter) });
    case 'cte-scan': {
      const cte = p.cte;
      if (!optimizedCtes.has(cte)) {
        optimizedCtes.add(cte);
        cte.plan = opt(cte.plan);
        if (cte.recursive !== undefined) cte.recursive = { ...cte.recursive, plan: opt(cte.recursive.plan) };
      }
      return p;
    }
    case 'modify': {
      const m = p.modify;
      return { ...p, modify: { ...m, input: opt(m.input) } };
    }
    case 'with-writes':
      for (const cte of p.ctes) {
        if (optimizedCtes.has(cte)) continue;
        optimizedCtes.add(cte);
        cte.plan = opt(cte.plan);
      }
      return { ...p, input: opt(p.input) };
    case 'one-row':
    case 'function-scan':
      return p;
  }
}

const optimizedCtes = new WeakSet<object>();

/**
 * Types whose key encoding orders exactly as their SQL comparison does (the
 * codec's integer and timestamp encodings). Text is left out on purpose: keys
 * order by UTF-8 bytes, which need not match the sort comparator.
 */
const KEY_ORDERED_TYPES: ReadonlySet<string> = new Set(['int2', 'int4', 'int8', 'date', 'timestamp', 'timestamptz']);

/**
 * Whether `p` (a scan under projections and filters that pass the sort
 * columns through) produces rows ordered by `keys`: each key, after the
 * index's equality-bound leading columns, is the next index column, ascending,
 * NOT NULL (or NULLS FIRST, where the key codec puts NULLs) and of a type
 * whose key order is its SQL order.
 */
function yieldsOrder(
  p: Plan,
  keys: readonly { readonly expr: Expr; readonly desc: boolean; readonly nullsFirst: boolean }[],
): boolean {
  let ids: (ColumnId | undefined)[] = keys.map((k) => (k.expr.kind === 'col' ? k.expr.id : undefined));
  let node = p;
  for (;;) {
    if (node.kind === 'filter') node = node.input;
    else if (node.kind === 'project') {
      const proj = node;
      ids = ids.map((id) => {
        const i = proj.cols.findIndex((c) => c.id === id);
        const e = i < 0 ? undefined : proj.exprs[i];
        return e?.kind === 'col' ? e.id : undefined;
      });
      node = proj.input;
    } else break;
  }
  if (node.kind !== 'scan' || node.lockForUpdate === true) return false;
  const scan = node;
  const access = scan.access;
  const ix =
    access.kind === 'full' ? scan.table.indexes.find((x) => x.primary) : access.reverse ? undefined : access.index;
  if (ix === undefined) return false;
  const eqCount = access.kind === 'index' ? access.eq.length : 0;
  let next = eqCount;
  for (let k = 0; k < keys.length; k++) {
    const col = scan.cols.find((c) => c.id === ids[k]);
    const def = col === undefined ? undefined : scan.table.columns.find((c) => c.attnum === col.attnum);
    if (col === undefined || def === undefined) return false;
    const pos = ix.columns.indexOf(def.attnum - 1);
    if (pos >= 0 && pos < eqCount) continue; // bound to one value by the scan: any order holds
    const key = keys[k]!;
    if (pos !== next || key.desc || ix.desc[pos] === true) return false;
    if (!(def.notNull || key.nullsFirst) || !KEY_ORDERED_TYPES.has(def.type.id)) return false;
    next++;
  }
  return true;
}

function pushLimit(p: Plan, n: number): Plan {
  if (p.kind === 'scan' && (p.limit === undefined || p.limit > n)) return { ...p, limit: n };
  if (p.kind === 'project') return { ...p, input: pushLimit(p.input, n) };
  return p;
}

interface Flat {
  leaves: Plan[];
  conds: Expr[];
}

/** Flattens filters over inner joins; undefined when the node is not such a tree. */
function flattenInner(p: Plan): Flat | undefined {
  const leaves: Plan[] = [];
  const conds: Expr[] = [];
  let sawJoin = false;
  const walk = (q: Plan): void => {
    if (q.kind === 'join' && q.joinType === 'inner' && !q.lateral) {
      sawJoin = true;
      conjuncts(q.cond, conds);
      walk(q.left);
      walk(q.right);
      return;
    }
    if (q.kind === 'filter' && q.cols.length === q.input.cols.length) {
      conjuncts(q.pred, conds);
      walk(q.input);
      return;
    }
    leaves.push(q);
  };
  walk(p);
  if (!sawJoin && leaves.length === 1 && leaves[0]!.kind !== 'scan') {
    // A plain filter over a non-scan: keep as is.
    return conds.length === 0 ? undefined : { leaves, conds };
  }
  return { leaves, conds };
}

function estimate(p: Plan): number {
  switch (p.kind) {
    case 'scan': {
      let rows = DEFAULT_TABLE_ROWS;
      if (p.access.kind === 'index') {
        const eqAll = p.access.eq.length === p.access.index.columns.length;
        rows = eqAll && p.access.index.unique ? 1 : p.access.eq.length > 0 ? rows / 10 : rows / 3;
      } else if (p.filter !== undefined) rows = rows * 0.3;
      return Math.max(1, rows);
    }
    case 'filter':
      return estimate(p.input) * 0.3;
    case 'one-row':
      return 1;
    case 'values':
      return p.rows.length;
    case 'join':
      return estimate(p.left) * estimate(p.right) * (p.hashKeys !== undefined && p.hashKeys.length > 0 ? 0.01 : 1);
    case 'aggregate':
      return p.groups.length === 0 ? 1 : estimate(p.input) * 0.1;
    case 'limit':
      return Math.min(estimate(p.input), p.limit?.kind === 'const' ? Number(p.limit.value) : Infinity);
    default:
      return DEFAULT_TABLE_ROWS;
  }
}

/** Joins the leaves and restores the original column order (parents address rows by position). */
function planJoins(leaves: Plan[], conds: Expr[], outIds: ColumnId[]): Plan {
  const p = planJoinsUnordered(leaves, conds);
  const ids = p.cols.map((c) => c.id);
  if (ids.length === outIds.length && ids.every((id, i) => id === outIds[i])) return p;
  const byId = new Map(p.cols.map((c) => [c.id, c]));
  const cols = outIds.map((id) => byId.get(id)!);
  return {
    kind: 'project',
    cols,
    input: p,
    exprs: cols.map((c) => ({ kind: 'col', type: c.type, id: c.id, name: c.name }) as Expr),
  };
}

function planJoinsUnordered(leaves: Plan[], conds: Expr[]): Plan {
  const leafIds = leaves.map((l) => new Set(l.cols.map((c) => c.id)));
  const owner = new Map<ColumnId, number>();
  leafIds.forEach((s, i) => s.forEach((id) => owner.set(id, i)));
  interface Cond {
    expr: Expr;
    leaves: Set<number>;
    all: boolean;
  }
  const info: Cond[] = conds.map((e) => {
    const s = new Set<ColumnId>();
    const ok = refs(e, s);
    const ls = new Set<number>();
    for (const id of s) {
      const o = owner.get(id);
      if (o !== undefined) ls.add(o);
    }
    return { expr: e, leaves: ls, all: !ok };
  });
  // Push single-leaf conditions.
  const pushed = leaves.map((l, i) => {
    const mine = info.filter((c) => !c.all && c.leaves.size === 1 && c.leaves.has(i)).map((c) => c.expr);
    if (mine.length === 0) return l;
    if (l.kind === 'scan')
      return chooseAccess({ ...l, filter: andOf([...(l.filter === undefined ? [] : [l.filter]), ...mine])! });
    return { kind: 'filter', cols: l.cols, input: l, pred: andOf(mine)! } as Plan;
  });
  let remaining = info.filter((c) => c.all || c.leaves.size !== 1);
  // Conditions reading no leaf at all (constants, outer references) go on the first join or a filter.
  const n = pushed.length;
  const est = pushed.map(estimate);
  const used = new Set<number>();
  let start = 0;
  for (let i = 1; i < n; i++) if (est[i]! < est[start]!) start = i;
  let current: Plan = pushed[start]!;
  used.add(start);
  while (used.size < n) {
    let best = -1;
    let bestConnected = false;
    for (let i = 0; i < n; i++) {
      if (used.has(i)) continue;
      const connected = remaining.some(
        (c) => !c.all && c.leaves.has(i) && [...c.leaves].every((l) => l === i || used.has(l)) && c.leaves.size > 1,
      );
      if (best < 0 || (connected && !bestConnected) || (connected === bestConnected && est[i]! < est[best]!)) {
        best = i;
        bestConnected = connected;
      }
    }
    used.add(best);
    const now = [...used];
    const applicable = remaining.filter(
      (c) => !c.all && c.leaves.size > 0 && [...c.leaves].every((l) => now.includes(l)),
    );
    remaining = remaining.filter((c) => !applicable.includes(c));
    const right = pushed[best]!;
    const join: Plan = {
      kind: 'join',
      cols: [...current.cols, ...right.cols],
      joinType: 'inner',
      left: current,
      right,
      lateral: false,
      ...(applicable.length === 0 ? {} : { cond: andOf(applicable.map((c) => c.expr))! }),
    };
    current = withHashKeys(join as Extract<Plan, { kind: 'join' }>);
  }
  if (remaining.length > 0)
    current = { kind: 'filter', cols: current.cols, input: current, pred: andOf(remaining.map((c) => c.expr))! };
  return current;
}

/** Picks equality conjuncts of an inner/left/semi/anti join condition as hash keys. */
function withHashKeys(j: Extract<Plan, { kind: 'join' }>): Plan {
  if (j.cond === undefined || j.joinType === 'full' || j.joinType === 'right' || j.lateral) return j;
  const left = new Set(j.left.cols.map((c) => c.id));
  const right = new Set(j.right.cols.map((c) => c.id));
  const keys: { left: Expr; right: Expr }[] = [];
  const list: Expr[] = [];
  conjuncts(j.cond, list);
  for (const c of list) {
    if (c.kind !== 'compare' || c.op !== '=') continue;
    const a = new Set<ColumnId>();
    const b = new Set<ColumnId>();
    if (!refs(c.left, a) || !refs(c.right, b) || a.size === 0 || b.size === 0) continue;
    const inL = (s: Set<ColumnId>): boolean => [...s].every((id) => left.has(id));
    const inR = (s: Set<ColumnId>): boolean => [...s].every((id) => right.has(id));
    if (inL(a) && inR(b)) keys.push({ left: c.left, right: c.right });
    else if (inR(a) && inL(b)) keys.push({ left: c.right, right: c.left });
  }
  if (keys.length === 0) return j;
  return { ...j, hashKeys: keys };
}

/** Chooses an index range for a scan from its filter. */
function chooseAccess(s: Extract<Plan, { kind: 'scan' }>): Plan {
  if (s.filter === undefined) return s;
  const list: Expr[] = [];
  conjuncts(s.filter, list);
  const colPos = new Map<ColumnId, number>(s.cols.map((c, i) => [c.id, i]));
  const own = new Set(s.cols.map((c) => c.id));
  const isValue = (e: Expr): boolean => {
    const r = new Set<ColumnId>();
    if (!refs(e, r)) return false;
    for (const id of r) if (own.has(id)) return false;
    return e.kind !== 'subquery' && !hasVolatile(e);
  };
  const preds: Pred[] = [];
  for (const c of list) {
    if (c.kind !== 'compare' || c.op === '<>') continue;
    const flip: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
    // A key side: a column of this scan, or an expression over them (an expression index may match it).
    const keySide = (e: Expr): boolean => (e.kind === 'col' ? colPos.has(e.id) : !isValue(e) && ownOnly(e, own));
    if (keySide(c.left) && isValue(c.right) && c.left.type.oid === c.right.type.oid) {
      preds.push({
        pos: c.left.kind === 'col' ? colPos.get(c.left.id)! : -1,
        key: exprKey(c.left),
        op: c.op,
        value: c.right,
      });
    } else if (keySide(c.right) && isValue(c.left) && c.left.type.oid === c.right.type.oid) {
      preds.push({
        pos: c.right.kind === 'col' ? colPos.get(c.right.id)! : -1,
        key: exprKey(c.right),
        op: flip[c.op]!,
        value: c.left,
      });
    }
  }
  if (preds.length === 0) return s;
  let best: { access: AccessPath; score: number } | undefined;
  for (const ix of s.table.indexes) {
    const bound = s.indexExprs?.get(ix.id);
    if (ix.predicate !== undefined && (bound?.pred === undefined || !implies(list, bound.pred))) continue;
    const a = accessFor(ix, preds, bound?.keys);
    if (a === undefined) continue;
    if (best === undefined || a.score > best.score) best = a;
  }
  if (best === undefined) return s;
  return { ...s, access: best.access };
}

/** A sargable conjunct: `key op value`; `pos` is the key's column position (-1 for an expression, matched by `key`). */
interface Pred {
  readonly pos: number;
  readonly key: string;
  readonly op: string;
  readonly value: Expr;
}

/** Whether `e` reads columns of this scan only (and at least one). */
function ownOnly(e: Expr, own: ReadonlySet<ColumnId>): boolean {
  const r = new Set<ColumnId>();
  if (!refs(e, r) || r.size === 0 || hasVolatile(e)) return false;
  for (const id of r) if (!own.has(id)) return false;
  return true;
}

function accessFor(
  ix: IndexDef,
  preds: readonly Pred[],
  keyExprs: readonly (Expr | undefined)[] | undefined,
): { access: AccessPath; score: number } | undefined {
  // Does `p` constrain key column i of the index?
  const keyKeys = keyExprs?.map((e) => (e === undefined ? undefined : exprKey(e)));
  const onKey = (p: Pred, i: number): boolean => {
    const k = keyKeys?.[i];
    return k === undefined ? p.pos >= 0 && p.pos === ix.columns[i] : p.key === k;
  };
  const eq: Expr[] = [];
  for (let i = 0; i < ix.columns.length; i++) {
    const p = preds.find((x) => onKey(x, i) && x.op === '=');
    if (p === undefined) break;
    eq.push(p.value);
  }
  const nextPos = eq.length;
  let lower: { expr: Expr; inclusive: boolean } | undefined;
  let upper: { expr: Expr; inclusive: boolean } | undefined;
  if (nextPos < ix.columns.length && !(ix.desc[nextPos] ?? false)) {
    const lo = preds.find((x) => onKey(x, nextPos) && (x.op === '>' || x.op === '>='));
    const hi = preds.find((x) => onKey(x, nextPos) && (x.op === '<' || x.op === '<='));
    if (lo !== undefined) lower = { expr: lo.value, inclusive: lo.op === '>=' };
    if (hi !== undefined) upper = { expr: hi.value, inclusive: hi.op === '<=' };
  }
  if (eq.length === 0 && lower === undefined && upper === undefined) return undefined;
  const full = eq.length === ix.columns.length;
  const score =
    eq.length * 10 +
    (full && ix.unique ? 100 : 0) +
    (lower !== undefined ? 3 : 0) +
    (upper !== undefined ? 3 : 0) +
    (ix.primary ? 1 : 0);
  return {
    access: {
      kind: 'index',
      index: ix,
      eq,
      ...(lower === undefined ? {} : { lower }),
      ...(upper === undefined ? {} : { upper }),
      reverse: false,
    },
    score,
  };
}

/**
 * Whether the conjuncts `have` imply `pred` (a partial index's predicate):
 * every conjunct of `pred` is among `have`, or follows from one of them —
 * `x IS NOT NULL` from a strict comparison of x with a non-NULL value, and
 * `x op c` from `x op' c'` with constants where the range of `x op' c'`
 * lies inside that of `x op c`. Sound but incomplete (PostgreSQL's
 * predicate_implied_by proves more); an unproven predicate only means the
 * index is not used.
 */
function implies(have: readonly Expr[], pred: Expr): boolean {
  const want: Expr[] = [];
  conjuncts(pred, want);
  const haveKeys = new Set(have.map(exprKey));
  return want.every((w) => haveKeys.has(exprKey(w)) || have.some((h) => impliesOne(h, w)));
}

const FLIP: Readonly<Record<string, CompareOp>> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=', '<>': '<>' };

/** `side op const` with the constant on the right, or undefined. */
function normalCompare(e: Expr): { side: string; op: CompareOp; value: Value; type: Expr['type'] } | undefined {
  if (e.kind !== 'compare') return undefined;
  if (e.right.kind === 'const' && e.left.kind !== 'const')
    return { side: exprKey(e.left), op: e.op, value: e.right.value, type: e.right.type };
  if (e.left.kind === 'const' && e.right.kind !== 'const')
    return { side: exprKey(e.right), op: FLIP[e.op]!, value: e.left.value, type: e.left.type };
  return undefined;
}

function impliesOne(h: Expr, w: Expr): boolean {
  if (w.kind === 'is-null' && w.negate) {
    // A comparison is false or NULL when its operand is NULL: x op y being true implies x IS NOT NULL.
    if (h.kind !== 'compare') return false;
    const k = exprKey(w.arg);
    return exprKey(h.left) === k || exprKey(h.right) === k;
  }
  const a = normalCompare(h);
  const b = normalCompare(w);
  if (
    a === undefined ||
    b === undefined ||
    a.side !== b.side ||
    a.value === null ||
    b.value === null ||
    a.type.oid !== b.type.oid
  )
    return false;
  const cmp = comparatorFor(a.type)(a.value, b.value); // sign of (have's constant - want's constant)
  switch (b.op) {
    case '>':
      return (a.op === '>' && cmp >= 0) || ((a.op === '>=' || a.op === '=') && cmp > 0);
    case '>=':
      return (a.op === '>' || a.op === '>=' || a.op === '=') && cmp >= 0;
    case '<':
      return (a.op === '<' && cmp <= 0) || ((a.op === '<=' || a.op === '=') && cmp < 0);
    case '<=':
      return (a.op === '<' || a.op === '<=' || a.op === '=') && cmp <= 0;
    case '=':
      return a.op === '=' && cmp === 0;
    case '<>':
      return (
        (a.op === '=' && cmp !== 0) ||
        (a.op === '>' && cmp >= 0) ||
        (a.op === '>=' && cmp > 0) ||
        (a.op === '<' && cmp <= 0) ||
        (a.op === '<=' && cmp < 0)
      );
    default:
      return false;
  }
}

export function hasVolatile(e: Expr): boolean {
  if ((e.kind === 'call' && e.volatile) || e.kind === 'async-call') return true;
  let v = false;
  mapExpr(e, (c) => {
    if (hasVolatile(c)) v = true;
    return c;
  });
  return v;
}
