/**
 * The executor: pull-based operators over batches of rows.
 *
 * Every plan node becomes an Operator whose `next()` returns the next batch
 * (an array of rows, each a Value[] laid out as the node's `cols`) or null
 * at the end. Batches amortize the cost of awaiting storage: a table scan
 * reads up to BATCH_ROWS keys per transaction call.
 *
 * Blocking operators hold rows in memory up to work_mem (estimated bytes,
 * see spill.ts) and then spill to disk: the sort writes sorted runs and
 * merges them (external merge sort), the hash aggregate and plain DISTINCT
 * send rows of groups they have no room for to partition files and process
 * those afterwards, the hash join partitions both sides (grace hash join).
 * What still holds everything in memory (window partitions, set operations,
 * materialized CTEs, nested-loop join inner sides, GROUPING SETS) counts
 * rows against `memoryRowsMax` and fails with 53200 beyond it rather than
 * exhausting the process.
 *
 * EXPLAIN ANALYZE wraps operators to count rows and time per node.
 */

import { NextDbError } from '../../util/errors.ts';
import { assert, assertNever } from '../../util/assert.ts';
import { prefixSuccessor } from '../../encoding/key-codec.ts';
import type { Txn } from '../../txn/api.ts';
import type { ColumnId, CteDef, Expr, Plan, SortKey, SrfCall, WindowCall } from '../plan/plan.ts';
import type { ArrayValue, Value } from '../types/sql-type.ts';
import { hashKey } from '../types/compare.ts';
import { CompileEnv, compileExpr, layoutOf, runHoisted, type CompiledExpr, type Layout } from './compile-expr.ts';
import { EvalContext } from './eval-context.ts';
import { AGGS_KEEPING_NULLS, resolveAggregate, type Accumulator } from './aggregates.ts';
import { TableStore } from './table-store.ts';
import { runModify } from './modify.ts';
import { withWritesOp } from './with-writes.ts';
import { estimateRowBytes, READ_CHUNK_BYTES, type SpillFile, type SpillSpace } from './spill.ts';

export type Row = Value[];

export interface Operator {
  next(): Promise<Row[] | null>;
}

export const BATCH_ROWS = 256;

export interface OperatorStats {
  rows: number;
  timeMs: number;
  loops: number;
  /** EXPLAIN ANALYZE lines an operator adds under its node (sort method, batches). */
  details?: string[];
}

export interface ExecEnv {
  readonly txn: Txn;
  readonly ctx: EvalContext;
  readonly outer: readonly Layout[];
  /** Materialized CTE results for this execution (a spill file when over work_mem). */
  readonly ctes: Map<CteDef, Row[] | SpillFile>;
  /** Recursive CTE working tables (set while iterating). */
  readonly working: Map<CteDef, Row[]>;
  readonly memoryRowsMax: number;
  /** Spill files of the session; without it operators never spill (work_mem unlimited). */
  readonly spill?: SpillSpace;
  /** EXPLAIN ANALYZE: per-plan-node statistics. */
  readonly stats?: Map<Plan, OperatorStats>;
  /** Counts rows changed by DML (command tags). */
  changed: number;
  readonly stores: Map<number, TableStore>;
}

/** Lets a cancel request in, then throws 57014 if the statement was cancelled or timed out. */
async function interruptPoint(ctx: EvalContext): Promise<void> {
  const y = ctx.services.yieldPoint();
  if (y !== undefined) await y;
  ctx.services.checkInterrupt();
}

/**
 * TableStores by table definition: a TableStore is immutable and a TableDef
 * belongs to one catalog snapshot, so executions of cached plans share one
 * instead of building its key prefixes each time.
 */
const tableStores = new WeakMap<Extract<Plan, { kind: 'scan' }>['table'], TableStore>();

export function storeFor(env: ExecEnv, t: Extract<Plan, { kind: 'scan' }>['table']): TableStore {
  let s = env.stores.get(t.oid);
  if (s === undefined || s.table !== t) {
    s = tableStores.get(t);
    if (s === undefined) {
      s = new TableStore(t);
      tableStores.set(t, s);
    }
    env.stores.set(t.oid, s);
  }
  return s;
}

function memoryCheck(env: ExecEnv, n: number): void {
  if (n > env.memoryRowsMax) {
    throw new NextDbError('53200', `out of memory: an operator would hold more than ${env.memoryRowsMax} rows`, {
      hint: 'Add a LIMIT or a more selective WHERE clause.',
    });
  }
}

/** Compiles expressions for an operator whose input rows have layout `ids`. */
function compiler(env: ExecEnv, ids: readonly ColumnId[]): { env: CompileEnv; compile: (e: Expr) => CompiledExpr } {
  const cenv = CompileEnv.root(layoutOf(ids), env.outer, (plan, outerLayouts, ctx, limit) =>
    runSubplan(plan, outerLayouts, ctx, limit, env),
  );
  return { env: cenv, compile: (e) => compileExpr(e, cenv) };
}

async function runSubplan(
  plan: Plan,
  outerLayouts: readonly Layout[],
  ctx: EvalContext,
  limit: number,
  parent: ExecEnv,
): Promise<Row[]> {
  const env: ExecEnv = { ...parent, ctx, outer: outerLayouts, changed: 0 };
  const mark = env.spill?.mark() ?? 0;
  try {
    const op = build(plan, env);
    const out: Row[] = [];
    for (;;) {
      const b = await op.next();
      if (b === null) break;
      for (const r of b) {
        out.push(r);
        if (limit > 0 && out.length >= limit) return out;
      }
    }
    return out;
  } finally {
    if (env.spill !== undefined && env.spill.openFiles > 0) await env.spill.releaseFrom(mark);
  }
}

export async function drain(op: Operator, env?: ExecEnv): Promise<Row[]> {
  const out: Row[] = [];
  for (;;) {
    const b = await op.next();
    if (b === null) return out;
    for (const r of b) out.push(r);
    if (env !== undefined) memoryCheck(env, out.length);
  }
}

function ids(p: Plan): ColumnId[] {
  return p.cols.map((c) => c.id);
}

/** Builds the operator tree for `plan`. */
export function build(plan: Plan, env: ExecEnv): Operator {
  const op = buildInner(plan, env);
  if (env.stats === undefined) return op;
  const stats = env.stats.get(plan) ?? { rows: 0, timeMs: 0, loops: 0 };
  env.stats.set(plan, stats);
  stats.loops++;
  return {
    async next() {
      const t0 = performance.now();
      const b = await op.next();
      stats.timeMs += performance.now() - t0;
      if (b !== null) stats.rows += b.length;
      return b;
    },
  };
}

function buildInner(plan: Plan, env: ExecEnv): Operator {
  switch (plan.kind) {
    case 'one-row': {
      let done = false;
      return {
        next: async () => {
          if (done) return null;
          done = true;
          return [[]];
        },
      };
    }
    case 'values':
      return valuesOp(plan, env);
    case 'scan':
      return scanOp(plan, env);
    case 'filter':
      return filterOp(plan, env);
    case 'project':
      return projectOp(plan, env);
    case 'join':
      return joinOp(plan, env);
    case 'aggregate':
      return aggregateOp(plan, env);
    case 'sort':
      return sortOp(plan, env);
    case 'limit':
      return limitOp(plan, env);
    case 'distinct':
      return distinctOp(plan, env);
    case 'setop':
      return setOp(plan, env);
    case 'window':
      return windowOp(plan, env);
    case 'cte-scan':
      return cteScanOp(plan, env);
    case 'function-scan':
      return functionScanOp(plan, env);
    case 'project-set':
      return projectSetOp(plan, env);
    case 'modify':
      return modifyOp(plan, env);
    case 'with-writes':
      return withWritesOp(plan, env);
    default:
      return assertNever(plan, 'plan');
  }
}

/** Every row of a spill file, read back into memory (counted against the row limit) and the file released. */
async function readSpilled(env: ExecEnv, f: SpillFile): Promise<Row[]> {
  const rows: Row[] = [];
  for (;;) {
    const b = await f.read(BATCH_ROWS);
    if (b === null) break;
    for (const row of b) rows.push(row);
    memoryCheck(env, rows.length);
  }
  await f.release();
  return rows;
}

/** The rows of part(0), then part(1), ... part(n - 1); each part is made when the one before is used up. */
function concatParts(n: number, part: (i: number) => Promise<Row[]>): Operator {
  let i = 0;
  let cur: Operator | undefined;
  return {
    next: async () => {
      for (;;) {
        if (cur !== undefined) {
          const b = await cur.next();
          if (b !== null) return b;
        }
        if (i >= n) return null;
        cur = fromRows(await part(i++));
      }
    },
  };
}

function fromRows(rows: Row[]): Operator {
  let i = 0;
  return {
    next: async () => {
      if (i >= rows.length) return null;
      const b = rows.slice(i, i + BATCH_ROWS);
      i += BATCH_ROWS;
      return b;
    },
  };
}

function valuesOp(plan: Extract<Plan, { kind: 'values' }>, env: ExecEnv): Operator {
  const { env: root } = compiler(env, []);
  // Each row gets its own hoisted list: nextval() in row 2 must not run for row 1.
  const rows = plan.rows.map((r) => {
    const cenv = root.forLayout(new Map());
    return { fns: r.map((e) => compileExpr(e, cenv)), hoisted: cenv.hoisted };
  });
  let i = 0;
  return {
    next: async () => {
      if (i >= rows.length) return null;
      const out: Row[] = [];
      const ctx = env.ctx;
      while (i < rows.length && out.length < BATCH_ROWS) {
        const r = rows[i++]!;
        if (r.hoisted.length > 0) await runHoisted(r.hoisted, [], ctx);
        out.push(r.fns.map((f) => f([], ctx)));
      }
      return out;
    },
  };
}

/** Evaluates a constant-ish expression (no input row) for bounds and limits. */
async function evalStandalone(e: Expr, env: ExecEnv): Promise<Value> {
  const { env: cenv, compile } = compiler(env, []);
  const f = compile(e);
  if (cenv.hoisted.length > 0) await runHoisted(cenv.hoisted, [], env.ctx);
  return f([], env.ctx);
}

function scanOp(plan: Extract<Plan, { kind: 'scan' }>, env: ExecEnv): Operator {
  const store = storeFor(env, plan.table);
  const { env: cenv, compile } = compiler(env, ids(plan));
  const filter = plan.filter === undefined ? undefined : compile(plan.filter);
  const hoisted = cenv.hoisted;
  const limit = plan.limit ?? Infinity;
  let produced = 0;
  const access = plan.access;
  let start: Buffer | undefined;
  let end: Buffer | undefined;
  let reverse = false;
  let done = false;
  let viaIndex = false;
  const txn = env.txn;

  const init = async (): Promise<boolean> => {
    if (access.kind === 'full') {
      start = store.primaryPrefix;
      end = store.primaryEnd;
      return true;
    }
    viaIndex = !access.index.primary;
    const eqVals: Value[] = [];
    for (const e of access.eq) {
      const v = await evalStandalone(e, env);
      // col = NULL matches nothing.
      if (v === null) return false;
      eqVals.push(v);
    }
    const base = store.indexKeyPrefix(access.index, eqVals);
    start = base;
    end = prefixSuccessor(base)!;
    if (access.lower !== undefined || access.upper !== undefined) {
      const n = eqVals.length;
      if (access.lower !== undefined) {
        const v = await evalStandalone(access.lower.expr, env);
        if (v === null) return false;
        const k = store.indexKeyPrefix(access.index, [...eqVals, v]);
        start = access.lower.inclusive ? k : prefixSuccessor(k)!;
      } else {
        // Skip NULLs (they sort first) for an upper-bounded range.
        const k = store.indexKeyPrefix(access.index, [...eqVals, null]);
        start = prefixSuccessor(k)!;
      }
      if (access.upper !== undefined) {
        const v = await evalStandalone(access.upper.expr, env);
        if (v === null) return false;
        const k = store.indexKeyPrefix(access.index, [...eqVals, v]);
        end = access.upper.inclusive ? prefixSuccessor(k)! : k;
      }
      void n;
    }
    reverse = access.reverse;
    return true;
  };

  // Point lookup: equality on every primary-key column is one get, not a range scan.
  const pointGet =
    access.kind === 'index' &&
    access.index.primary &&
    access.eq.length === access.index.columns.length &&
    access.lower === undefined &&
    access.upper === undefined;
  return {
    next: async () => {
      if (done) return null;
      if (start === undefined) {
        if (!(await init())) {
          done = true;
          return null;
        }
      }
      const ctx = env.ctx;
      if (pointGet) {
        done = true;
        const v = await txn.get(start!);
        if (v === undefined) return null;
        const row = store.decode(v);
        if (filter !== undefined) {
          if (hoisted.length > 0) await runHoisted(hoisted, row, ctx);
          if (filter(row, ctx) !== true) return null;
        }
        if (plan.lockForUpdate === true) await txn.lockForUpdate(start!);
        return [row];
      }
      for (;;) {
        await interruptPoint(ctx);
        if (Buffer.compare(start!, end!) >= 0) {
          done = true;
          return null;
        }
        const page = await txn.scan({ start: start!, end: end!, limit: BATCH_ROWS, reverse });
        if (page.length < BATCH_ROWS) done = true;
        else if (reverse) end = page[page.length - 1]!.key;
        else start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
        const out: Row[] = [];
        for (const kv of page) {
          let row: Row;
          if (viaIndex) {
            const v = await txn.get(kv.value);
            if (v === undefined) continue;
            row = store.decode(v);
          } else row = store.decode(kv.value);
          if (filter !== undefined) {
            if (hoisted.length > 0) await runHoisted(hoisted, row, ctx);
            if (filter(row, ctx) !== true) continue;
          }
          if (plan.lockForUpdate === true) await txn.lockForUpdate(viaIndex ? kv.value : kv.key);
          out.push(row);
          if (++produced >= limit) {
            done = true;
            break;
          }
        }
        if (out.length > 0) return out;
        if (done) return null;
      }
    },
  };
}

function filterOp(plan: Extract<Plan, { kind: 'filter' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { env: cenv, compile } = compiler(env, ids(plan.input));
  const pred = compile(plan.pred);
  const hoisted = cenv.hoisted;
  return {
    next: async () => {
      for (;;) {
        const b = await input.next();
        if (b === null) return null;
        const ctx = env.ctx;
        const out: Row[] = [];
        if (hoisted.length === 0) {
          for (const r of b) if (pred(r, ctx) === true) out.push(r);
        } else {
          for (const r of b) {
            await runHoisted(hoisted, r, ctx);
            if (pred(r, ctx) === true) out.push(r);
          }
        }
        if (out.length > 0) return out;
      }
    },
  };
}

function projectOp(plan: Extract<Plan, { kind: 'project' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { env: cenv, compile } = compiler(env, ids(plan.input));
  const exprs = plan.exprs.map(compile);
  const n = exprs.length;
  const hoisted = cenv.hoisted;
  return {
    next: async () => {
      const b = await input.next();
      if (b === null) return null;
      const ctx = env.ctx;
      const out = new Array<Row>(b.length);
      for (let i = 0; i < b.length; i++) {
        const r = b[i]!;
        if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
        const o = new Array<Value>(n);
        for (let j = 0; j < n; j++) o[j] = exprs[j]!(r, ctx);
        out[i] = o;
      }
      return out;
    },
  };
}

/** LATERAL: the right side is re-run for each left row, with the left row as its outer row. */
function lateralJoinOp(plan: Extract<Plan, { kind: 'join' }>, env: ExecEnv): Operator {
  const leftIds = ids(plan.left);
  const rightIds = ids(plan.right);
  const { env: cenv, compile } = compiler(env, [...leftIds, ...rightIds]);
  const cond = plan.cond === undefined ? undefined : compile(plan.cond);
  const nullsR = new Array<Value>(rightIds.length).fill(null);
  const left = build(plan.left, env);
  const leftLayout = layoutOf(leftIds);
  return {
    next: async () => {
      for (;;) {
        const b = await left.next();
        if (b === null) return null;
        const ctx = env.ctx;
        const out: Row[] = [];
        for (const l of b) {
          await interruptPoint(ctx);
          const sub: ExecEnv = { ...env, ctx: ctx.withOuter(l), outer: [leftLayout, ...env.outer] };
          const rights = await drain(build(plan.right, sub), env);
          let matched = false;
          for (const r of rights) {
            const joined = l.concat(r);
            if (cond !== undefined) {
              if (cenv.hoisted.length > 0) await runHoisted(cenv.hoisted, joined, ctx);
              if (cond(joined, ctx) !== true) continue;
            }
            matched = true;
            out.push(joined);
          }
          if (!matched && plan.joinType === 'left') out.push(l.concat(nullsR));
        }
        if (out.length > 0) return out;
      }
    },
  };
}

function joinOp(plan: Extract<Plan, { kind: 'join' }>, env: ExecEnv): Operator {
  if (plan.lateral) return lateralJoinOp(plan, env);
  const leftIds = ids(plan.left);
  const rightIds = ids(plan.right);
  const nl = leftIds.length;
  const nr = rightIds.length;
  const jt = plan.joinType;
  const { env: cenv, compile } = compiler(env, [...leftIds, ...rightIds]);
  const cond = plan.cond === undefined ? undefined : compile(plan.cond);
  const hoisted = cenv.hoisted;
  const nullsL = new Array<Value>(nl).fill(null);
  const nullsR = new Array<Value>(nr).fill(null);
  const hashKeys = plan.hashKeys;
  let leftKey: CompiledExpr[] | undefined;
  let rightKey: CompiledExpr[] | undefined;
  if (hashKeys !== undefined && hashKeys.length > 0) {
    leftKey = hashKeys.map((k) => compiler(env, leftIds).compile(k.left));
    rightKey = hashKeys.map((k) => compiler(env, rightIds).compile(k.right));
  }
  const left = build(plan.left, env);
  let rightRows: Row[] | undefined;
  let table: Map<string, Row[]> | undefined;
  let rightMatched: Uint8Array | undefined;
  let rightIndex: Map<Row, number> | undefined;
  let leftDone = false;
  let emittedUnmatchedRight = false;
  /**
   * Grace hash join: when the build (right) side is over work_mem, both
   * sides are split by the hash of the join key into partition files and
   * joined one partition pair (batch) at a time. Undefined: one batch, the
   * right side in memory and the left side streamed.
   */
  let batches: { right: SpillFile; left: SpillFile }[] | undefined;
  let nextLeft: () => Promise<Row[] | null> = () => left.next();
  /** Nested loop whose inner (right) side is over work_mem: the right rows in a file, read once per left batch. */
  let inner: { file: SpillFile; count: number; unmatchedEmitted: boolean } | undefined;
  let batchCount = 1;
  let peakBytes = 0;

  const keyOf = (fns: CompiledExpr[], r: Row, ctx: EvalContext): string | undefined => {
    if (fns.length === 1) {
      const v = fns[0]!(r, ctx);
      return v === null ? undefined : hashKey(v);
    }
    let k = '';
    for (const f of fns) {
      const v = f(r, ctx);
      if (v === null) return undefined;
      k += `${hashKey(v)}\u0001`;
    }
    return k;
  };

  /** The right rows of the current batch: the hash table and the matched flags. */
  const setRight = (rows: Row[]): void => {
    rightRows = rows;
    rightMatched = undefined;
    rightIndex = undefined;
    if (jt === 'full' || jt === 'right') {
      rightMatched = new Uint8Array(rows.length);
      rightIndex = new Map(rows.map((r, i) => [r, i]));
    }
    if (rightKey !== undefined) {
      table = new Map();
      const ctx = env.ctx;
      for (const r of rows) {
        const k = keyOf(rightKey, r, ctx);
        if (k === undefined) continue;
        const list = table.get(k);
        if (list === undefined) table.set(k, [r]);
        else list.push(r);
      }
    }
    leftDone = false;
    emittedUnmatchedRight = false;
  };

  /** Splits rows into `files` by join key; rows with a NULL key (they match nothing) go to the first. */
  const partition = async (rows: Row[], fns: CompiledExpr[], files: SpillFile[]): Promise<void> => {
    const ctx = env.ctx;
    for (const r of rows) {
      const k = keyOf(fns, r, ctx);
      files[k === undefined ? 0 : partitionOf(k, 0, files.length)]!.add(r);
    }
    for (const f of files) await f.flushIfFull();
  };

  const prepare = async (): Promise<void> => {
    const budget = workMemOf(env);
    const right = await readWithinWorkMem(build(plan.right, env), env, 0, 64);
    const bytes = right.bytes;
    if (right.file === undefined) {
      peakBytes = bytes;
      setRight(right.rows);
      return;
    }
    const overflow = right.file;
    if (rightKey === undefined) {
      inner = { file: overflow, count: overflow.rows, unmatchedEmitted: false };
      if (jt === 'full' || jt === 'right') rightMatched = new Uint8Array(overflow.rows);
      rightRows = [];
      return;
    }
    // Enough batches for each to fit in work_mem (with room for uneven keys).
    let n = 2;
    while (n < 1024 && (bytes * 1.5) / n > budget) n *= 2;
    batchCount = n;
    const rightParts: SpillFile[] = [];
    const leftParts: SpillFile[] = [];
    for (let i = 0; i < n; i++) rightParts.push(await env.spill!.create());
    for (let i = 0; i < n; i++) leftParts.push(await env.spill!.create());
    for (;;) {
      const b = await overflow.read(BATCH_ROWS);
      if (b === null) break;
      await partition(b, rightKey!, rightParts);
      await interruptPoint(env.ctx);
    }
    await overflow.release();
    for (;;) {
      const b = await left.next();
      if (b === null) break;
      await partition(b, leftKey!, leftParts);
      await interruptPoint(env.ctx);
    }
    batches = [];
    for (let i = 0; i < n; i++) {
      await rightParts[i]!.finish();
      await leftParts[i]!.finish();
      batches.push({ right: rightParts[i]!, left: leftParts[i]! });
    }
    await nextBatch();
  };

  /** Loads the next batch (grace mode); false when none is left. */
  const nextBatch = async (): Promise<boolean> => {
    const bt = batches!.shift();
    if (bt === undefined) return false;
    const rows: Row[] = [];
    let bytes = 0;
    for (;;) {
      const b = await bt.right.read(BATCH_ROWS);
      if (b === null) break;
      for (const r of b) {
        rows.push(r);
        bytes += estimateRowBytes(r) + 64;
      }
      memoryCheck(env, rows.length);
    }
    await bt.right.release();
    peakBytes = Math.max(peakBytes, bytes);
    setRight(rows);
    nextLeft = async () => {
      const b = await bt.left.read(BATCH_ROWS);
      if (b === null) await bt.left.release();
      return b;
    };
    return true;
  };

  const matches = async (joined: Row, ctx: EvalContext): Promise<boolean> => {
    if (cond === undefined) return true;
    if (hoisted.length > 0) await runHoisted(hoisted, joined, ctx);
    return cond(joined, ctx) === true;
  };

  const joinBatch = async (): Promise<Row[] | null> => {
    const ctx = env.ctx;
    while (!leftDone) {
      const b = await nextLeft();
      if (b === null) {
        leftDone = true;
        break;
      }
      await interruptPoint(ctx);
      const out: Row[] = [];
      for (const l of b) {
        let candidates: Row[];
        if (table !== undefined) {
          const k = keyOf(leftKey!, l, ctx);
          candidates = k === undefined ? [] : (table.get(k) ?? []);
        } else candidates = rightRows!;
        let matched = false;
        for (const r of candidates) {
          const joined = l.concat(r);
          if (!(await matches(joined, ctx))) continue;
          matched = true;
          if (jt === 'semi' || jt === 'anti') break;
          if (rightMatched !== undefined) rightMatched[rightIndex!.get(r)!] = 1;
          out.push(joined);
        }
        if (jt === 'semi' && matched) out.push(l.concat(nullsR));
        else if (jt === 'anti' && !matched) out.push(l.concat(nullsR));
        else if ((jt === 'left' || jt === 'full') && !matched) out.push(l.concat(nullsR));
      }
      memoryCheck(env, out.length);
      if (out.length > 0) return out;
    }
    if ((jt === 'right' || jt === 'full') && !emittedUnmatchedRight) {
      emittedUnmatchedRight = true;
      const out: Row[] = [];
      rightRows!.forEach((r, i) => {
        if (rightMatched![i] === 0) out.push(nullsL.concat(r));
      });
      if (out.length > 0) return out;
    }
    return null;
  };

  /** One left batch against every right row read back from the file (block nested loop), or the unmatched right rows at the end. */
  const innerBatch = async (nl: NonNullable<typeof inner>): Promise<Row[] | null> => {
    const ctx = env.ctx;
    while (!leftDone) {
      const b = await left.next();
      if (b === null) {
        leftDone = true;
        break;
      }
      const matchedL = new Uint8Array(b.length);
      const out: Row[] = [];
      nl.file.rewind();
      let ord = 0;
      for (;;) {
        const rb = await nl.file.read(BATCH_ROWS * 4);
        if (rb === null) break;
        await interruptPoint(ctx);
        for (let li = 0; li < b.length; li++) {
          if ((jt === 'semi' || jt === 'anti') && matchedL[li] === 1) continue;
          const l = b[li]!;
          for (let ri = 0; ri < rb.length; ri++) {
            const joined = l.concat(rb[ri]!);
            if (!(await matches(joined, ctx))) continue;
            matchedL[li] = 1;
            if (jt === 'semi' || jt === 'anti') break;
            if (rightMatched !== undefined) rightMatched[ord + ri] = 1;
            out.push(joined);
          }
        }
        ord += rb.length;
        memoryCheck(env, out.length);
      }
      for (let li = 0; li < b.length; li++) {
        const matched = matchedL[li] === 1;
        if (jt === 'semi' ? matched : jt === 'anti' || jt === 'left' || jt === 'full' ? !matched : false)
          out.push(b[li]!.concat(nullsR));
      }
      if (out.length > 0) return out;
    }
    if ((jt === 'right' || jt === 'full') && !nl.unmatchedEmitted) {
      nl.unmatchedEmitted = true;
      nl.file.rewind();
      const out: Row[] = [];
      let ord = 0;
      for (;;) {
        const rb = await nl.file.read(BATCH_ROWS * 4);
        if (rb === null) break;
        for (const r of rb) if (rightMatched![ord++] === 0) out.push(nullsL.concat(r));
        memoryCheck(env, out.length);
      }
      if (out.length > 0) return out;
    }
    await nl.file.release();
    return null;
  };

  return {
    next: async () => {
      if (rightRows === undefined) await prepare();
      if (inner !== undefined) return innerBatch(inner);
      for (;;) {
        const b = await joinBatch();
        if (b !== null) return b;
        if (batches === undefined || !(await nextBatch())) {
          if (rightKey !== undefined)
            detail(env, plan, `Batches: ${batchCount}  Memory Usage: ${Math.ceil(peakBytes / 1024)}kB`);
          return null;
        }
      }
    },
  };
}

interface AggPlanState {
  readonly accs: Accumulator[];
  readonly distinctSeen: (Set<string> | undefined)[];
  readonly ordered: (Row[] | undefined)[];
}

function aggregateOp(plan: Extract<Plan, { kind: 'aggregate' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { env: cenv, compile } = compiler(env, ids(plan.input));
  const groups = plan.groups.map(compile);
  const aggs = plan.aggs;
  const aggArgs = aggs.map((a) => a.args.map(compile));
  const aggFilters = aggs.map((a) => (a.filter === undefined ? undefined : compile(a.filter)));
  // Strict aggregates skip rows with a NULL argument; array_agg / json_agg / jsonb_agg collect them.
  const aggSkipsNulls = aggs.map((a) => !a.star && !AGGS_KEEPING_NULLS.has(a.name));
  const aggOrder = aggs.map((a) => (a.orderBy === undefined ? undefined : a.orderBy.map((k) => compile(k.expr))));
  const hoisted = cenv.hoisted;
  const factories = aggs.map((a) => {
    const r = resolveAggregate(a.name, a.argTypes, a.star);
    assert(r !== undefined, `aggregate ${a.name} resolved at bind time`);
    return r.make;
  });
  const newState = (): AggPlanState => ({
    accs: factories.map((f) => f()),
    distinctSeen: aggs.map((a) => (a.distinct ? new Set<string>() : undefined)),
    ordered: aggs.map((a) => (a.orderBy !== undefined ? [] : undefined)),
  });
  let result: Row[] | undefined;
  let emitted = false;
  // Aggregates whose state grows with every row (they keep their input): their rows count against work_mem.
  const collects = aggs.some((a) => a.distinct || a.orderBy !== undefined || COLLECTING_AGGS.has(a.name));
  // Hash aggregation state: passes still to run, the finished groups of the last one, EXPLAIN ANALYZE figures.
  let passes: { next: () => Promise<Row[] | null>; depth: number; release?: () => Promise<void> }[] | undefined;
  let ready: Row[] = [];
  let readyAt = 0;
  let batches = 0;
  let peakBytes = 0;
  let diskBytes = 0;
  // GROUPING(a, b, ...): bit i (from the right) is 1 when argument i is not grouped in this set.
  const groupingBits = (set: readonly number[]): Value[] =>
    (plan.groupingCalls ?? []).map((g) => g.args.reduce((acc, gi) => (acc << 1) | (set.includes(gi) ? 0 : 1), 0));

  const feed = (st: AggPlanState, r: Row, ctx: EvalContext): void => {
    for (let i = 0; i < aggs.length; i++) {
      const f = aggFilters[i];
      if (f !== undefined && f(r, ctx) !== true) continue;
      const argFns = aggArgs[i]!;
      const vals = argFns.map((fn) => fn(r, ctx));
      if (aggSkipsNulls[i] === true && vals.some((v) => v === null)) continue;
      const seen = st.distinctSeen[i];
      if (seen !== undefined) {
        const k = vals.map(hashKey).join('\u0001');
        if (seen.has(k)) continue;
        seen.add(k);
      }
      const ord = st.ordered[i];
      if (ord !== undefined) {
        ord.push([...vals, ...aggOrder[i]!.map((fn) => fn(r, ctx))]);
        continue;
      }
      st.accs[i]!.add(vals, ctx);
    }
  };

  const finish = (st: AggPlanState, ctx: EvalContext): Value[] =>
    aggs.map((a, i) => {
      const ord = st.ordered[i];
      if (ord !== undefined) {
        const n = a.args.length;
        const keys = a.orderBy!;
        ord.sort((x, y) => compareRows(x, y, keys, n));
        for (const item of ord) st.accs[i]!.add(item.slice(0, n), ctx);
      }
      return st.accs[i]!.result(ctx);
    });

  return {
    next: async () => {
      if (result === undefined && plan.groupingSets !== undefined) {
        // GROUPING SETS: aggregate the (materialized) input once per set; absent group columns are NULL.
        // Over work_mem the input waits in a spill file, read once per set (the groups stay in memory).
        const ctx = env.ctx;
        const input0 = await materializeRows(input, env);
        result = [];
        for (const set of plan.groupingSets) {
          const byKey = new Map<string, { key: Value[]; st: AggPlanState }>();
          const cursor = Array.isArray(input0) ? undefined : input0.cursor();
          for (let b = cursor === undefined ? input0 : await cursor.read(BATCH_ROWS); b !== null;) {
            for (const r of b as Row[]) {
              if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
              const key = groups.map((g, i) => (set.includes(i) ? g(r, ctx) : null));
              const k = key.map(hashKey).join('\u0001');
              let g = byKey.get(k);
              if (g === undefined) {
                g = { key, st: newState() };
                byKey.set(k, g);
                memoryCheck(env, byKey.size);
              }
              feed(g.st, r, ctx);
            }
            b = cursor === undefined ? null : await cursor.read(BATCH_ROWS);
            await interruptPoint(ctx);
          }
          const bits = groupingBits(set);
          if (set.length === 0 && byKey.size === 0)
            result.push([...groups.map(() => null), ...finish(newState(), ctx), ...bits]);
          for (const g of byKey.values()) result.push([...g.key, ...finish(g.st, ctx), ...bits]);
        }
        if (!Array.isArray(input0)) await input0.release();
      }
      if (result === undefined && groups.length === 0) {
        // An aggregate without GROUP BY yields one row even over no input.
        const ctx = env.ctx;
        const single = newState();
        for (;;) {
          const b = await input.next();
          if (b === null) break;
          await interruptPoint(ctx);
          for (const r of b) {
            if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
            feed(single, r, ctx);
          }
        }
        result = [[...finish(single, ctx), ...groupingBits([])]];
      }
      if (result !== undefined) {
        if (emitted) return null;
        emitted = true;
        return result.length === 0 ? null : result;
      }
      // Hash aggregation in passes: the first over the input, one per spilled partition after it.
      for (;;) {
        if (readyAt < ready.length) {
          const b = readyAt === 0 && ready.length <= BATCH_ROWS ? ready : ready.slice(readyAt, readyAt + BATCH_ROWS);
          readyAt += BATCH_ROWS;
          return b;
        }
        passes ??= [{ next: () => input.next(), depth: 0 }];
        const p = passes.shift();
        if (p === undefined) {
          detail(
            env,
            plan,
            `Batches: ${batches}  Memory Usage: ${Math.ceil(peakBytes / 1024)}kB${diskBytes > 0 ? `  Disk Usage: ${Math.ceil(diskBytes / 1024)}kB` : ''}`,
          );
          return null;
        }
        ready = await hashPass(p.next, p.depth);
        readyAt = 0;
        await p.release?.();
      }
    },
  };

  /**
   * One hash aggregation pass over `next`'s rows. Groups are made while the
   * table is within work_mem; after that, rows of groups not in the table go
   * to partition files (by hash of the group key), which become later passes
   * (a group's rows all land in one place, so every group is aggregated in
   * one pass). Returns the finished groups of this pass.
   */
  async function hashPass(next: () => Promise<Row[] | null>, depth: number): Promise<Row[]> {
    const ctx = env.ctx;
    const byKey = new Map<string, { key: Value[]; st: AggPlanState }>();
    const budget = depth < SPILL_DEPTH_MAX ? workMemOf(env) : Infinity;
    let memBytes = 0;
    let parts: SpillFile[] | undefined;
    batches++;
    for (;;) {
      const b = await next();
      if (b === null) break;
      await interruptPoint(ctx);
      for (const r of b) {
        if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
        const key = groups.map((g) => g(r, ctx));
        const k = key.length === 1 ? hashKey(key[0]!) : key.map(hashKey).join('\u0001');
        let g = byKey.get(k);
        if (g === undefined) {
          if (parts !== undefined) {
            parts[partitionOf(k, depth, parts.length)]!.add(r);
            continue;
          }
          g = { key, st: newState() };
          byKey.set(k, g);
          memBytes += estimateRowBytes(key) + 64 + 48 * aggs.length;
          if (memBytes > budget) {
            parts = [];
            for (let i = 0; i < SPILL_PARTITIONS; i++) parts.push(await env.spill!.create());
          } else memoryCheck(env, byKey.size);
        }
        feed(g.st, r, ctx);
        if (collects && parts === undefined) {
          // The group's state grew by about this row's arguments: count it, so fewer new groups are made.
          memBytes += 16 + 16 * r.length;
          if (memBytes > budget) {
            parts = [];
            for (let i = 0; i < SPILL_PARTITIONS; i++) parts.push(await env.spill!.create());
          }
        }
      }
      if (parts !== undefined) for (const f of parts) await f.flushIfFull();
    }
    peakBytes = Math.max(peakBytes, memBytes);
    if (parts !== undefined) {
      for (const f of parts) {
        await f.finish();
        diskBytes += f.bytes;
        if (f.rows === 0) await f.release();
        else passes!.push({ next: () => f.read(BATCH_ROWS), depth: depth + 1, release: () => f.release() });
      }
    }
    const out: Row[] = [];
    const bits = groupingBits(groups.map((_g, i) => i));
    for (const g of byKey.values()) out.push([...g.key, ...finish(g.st, ctx), ...bits]);
    return out;
  }
}

/** Aggregates that keep (a function of) every input row in their state. */
const COLLECTING_AGGS: ReadonlySet<string> = new Set([
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
]);

/** Partition files a spilling hash operator splits its overflow into, and how deep partitions may split again. */
const SPILL_PARTITIONS = 16;
const SPILL_DEPTH_MAX = 6;

/** The partition of a hash key at a recursion depth (FNV-1a, seeded by the depth so each level splits anew). */
function partitionOf(k: string, depth: number, n: number): number {
  let h = (0x811c9dc5 ^ Math.imul(depth + 1, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < k.length; i++) {
    h ^= k.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}

function compareRows(x: Row, y: Row, keys: readonly SortKey[], offset: number): number {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const a = x[offset + i] ?? null;
    const b = y[offset + i] ?? null;
    if (a === null || b === null) {
      if (a === b) continue;
      return (a === null) === k.nullsFirst ? -1 : 1;
    }
    const c = k.cmp(a, b);
    if (c !== 0) return k.desc ? -c : c;
  }
  return 0;
}

function sortOp(plan: Extract<Plan, { kind: 'sort' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { env: cenv, compile } = compiler(env, ids(plan.input));
  const keyFns = plan.keys.map((k) => compile(k.expr));
  const hoisted = cenv.hoisted;
  const n = keyFns.length;
  const keys = plan.keys;
  // Decorated rows: [key values..., input position, row]. Stable: ties keep input order (the position).
  const cmp = (x: Row, y: Row): number => compareRows(x, y, keys, 0) || (x[n] as number) - (y[n] as number);
  let out: Operator | undefined;

  const sortInput = async (): Promise<Operator> => {
    const budget = workMemOf(env);
    const ctx = env.ctx;
    let mem: Row[] = [];
    let memBytes = 0;
    let peakBytes = 0;
    const runs: SpillFile[] = [];
    let diskBytes = 0;
    let seq = 0;
    for (;;) {
      const b = await input.next();
      if (b === null) break;
      for (const r of b) {
        if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
        const d = new Array<Value>(n + 2);
        for (let j = 0; j < n; j++) d[j] = keyFns[j]!(r, ctx);
        d[n] = seq++;
        d[n + 1] = r as unknown as Value;
        mem.push(d);
        memBytes += estimateRowBytes(r) + 16 * n + 64;
      }
      if (memBytes > budget) {
        // Over work_mem: this much becomes one sorted run on disk.
        peakBytes = Math.max(peakBytes, memBytes);
        mem.sort(cmp);
        const f = await env.spill!.create();
        for (let i = 0; i < mem.length; i++) {
          const d = mem[i]!;
          f.add(d, d[n + 1] as unknown as Value[], n + 1);
          const w = f.flushIfFull();
          if (w !== undefined) await w;
        }
        await f.finish();
        diskBytes += f.bytes;
        runs.push(f);
        mem = [];
        memBytes = 0;
      } else memoryCheck(env, mem.length);
      await interruptPoint(ctx);
    }
    mem.sort(cmp);
    if (runs.length === 0) {
      detail(env, plan, `Sort Method: quicksort  Memory: ${Math.ceil(memBytes / 1024)}kB`);
      const rows = new Array<Row>(mem.length);
      for (let i = 0; i < mem.length; i++) rows[i] = mem[i]![n + 1] as unknown as Row;
      return fromRows(rows);
    }
    detail(env, plan, `Sort Method: external merge  Disk: ${Math.ceil(diskBytes / 1024)}kB`);
    const undecorate = (flat: Row): Row => {
      const row = flat.slice(n + 1);
      flat.length = n + 1;
      flat.push(row as unknown as Value);
      return flat;
    };
    // Merge at most `fanIn` runs at a time (one read buffer each within work_mem); the rest in earlier passes.
    const fanIn = Math.max(6, Math.floor(budget / READ_CHUNK_BYTES));
    let sources: RunSource[] = runs.map((f) => fileSource(f, undecorate));
    while (sources.length + 1 > fanIn) {
      const group = sources.splice(0, fanIn);
      const merged = mergeRuns(group, cmp);
      const f = await env.spill!.create();
      for (;;) {
        const b = await merged();
        if (b === null) break;
        for (const d of b) f.add(d, d[n + 1] as unknown as Value[], n + 1);
        const w = f.flushIfFull();
        if (w !== undefined) await w;
        await interruptPoint(env.ctx);
      }
      await f.finish();
      for (const g of group) await g.release();
      sources.push(fileSource(f, undecorate));
    }
    sources = [...sources, memorySource(mem)];
    const merged = mergeRuns(sources, cmp);
    return {
      next: async () => {
        const b = await merged();
        if (b === null) {
          for (const src of sources) await src.release();
          return null;
        }
        await interruptPoint(env.ctx);
        for (let i = 0; i < b.length; i++) b[i] = b[i]![n + 1] as unknown as Row;
        return b;
      },
    };
  };

  return {
    next: async () => {
      out ??= await sortInput();
      return out.next();
    },
  };
}

/** work_mem in bytes for one operator (unlimited without a spill space). */
function workMemOf(env: ExecEnv): number {
  return env.spill === undefined ? Infinity : env.spill.settings().workMemBytes;
}

/** EXPLAIN ANALYZE: a line under the operator's node (the last run's, for an operator run in loops). */
function detail(env: ExecEnv, plan: Plan, line: string): void {
  const st = env.stats?.get(plan);
  if (st === undefined) return;
  st.details ??= [];
  const key = line.slice(0, line.indexOf(':') + 1);
  const i = st.details.findIndex((l) => l.startsWith(key));
  if (i >= 0) st.details[i] = line;
  else st.details.push(line);
}

/** A sorted run being merged: its rows in order, a batch at a time. */
interface RunSource {
  next(): Promise<Row[] | null>;
  release(): Promise<void>;
}

function fileSource(f: SpillFile, convert: (flat: Row) => Row): RunSource {
  return {
    next: async () => {
      const b = await f.read(Infinity);
      if (b === null) return null;
      for (let i = 0; i < b.length; i++) b[i] = convert(b[i]!);
      return b;
    },
    release: () => f.release(),
  };
}

function memorySource(rows: Row[]): RunSource {
  let done = false;
  return {
    next: async () => {
      if (done) return null;
      done = true;
      return rows.length === 0 ? null : rows;
    },
    release: async () => undefined,
  };
}

/**
 * K-way merge of sorted runs with a binary heap of cursors: returns a
 * function giving the merged rows a batch (BATCH_ROWS) at a time, null at
 * the end. Equal rows come from the earlier source first.
 */
function mergeRuns(sources: readonly RunSource[], cmp: (a: Row, b: Row) => number): () => Promise<Row[] | null> {
  interface Cursor {
    buf: Row[];
    i: number;
    src: number;
  }
  const heap: Cursor[] = [];
  let started = false;
  const less = (a: Cursor, b: Cursor): boolean => {
    const c = cmp(a.buf[a.i]!, b.buf[b.i]!);
    return c < 0 || (c === 0 && a.src < b.src);
  };
  const down = (at: number): void => {
    const len = heap.length;
    for (;;) {
      const l = 2 * at + 1;
      if (l >= len) return;
      const r = l + 1;
      const m = r < len && less(heap[r]!, heap[l]!) ? r : l;
      if (!less(heap[m]!, heap[at]!)) return;
      const t = heap[m]!;
      heap[m] = heap[at]!;
      heap[at] = t;
      at = m;
    }
  };
  return async () => {
    if (!started) {
      started = true;
      for (let s = 0; s < sources.length; s++) {
        const b = await sources[s]!.next();
        if (b !== null && b.length > 0) heap.push({ buf: b, i: 0, src: s });
      }
      for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    }
    if (heap.length === 0) return null;
    const out: Row[] = [];
    while (out.length < BATCH_ROWS && heap.length > 0) {
      const c = heap[0]!;
      out.push(c.buf[c.i++]!);
      if (c.i >= c.buf.length) {
        const b = await sources[c.src]!.next();
        if (b !== null && b.length > 0) {
          c.buf = b;
          c.i = 0;
        } else {
          const last = heap.pop()!;
          if (heap.length === 0) break;
          heap[0] = last;
        }
      }
      down(0);
    }
    return out;
  };
}

function limitOp(plan: Extract<Plan, { kind: 'limit' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  let remaining: number | undefined;
  let skip = 0;
  return {
    next: async () => {
      if (remaining === undefined) {
        const lim = plan.limit === undefined ? null : await evalStandalone(plan.limit, env);
        const off = plan.offset === undefined ? null : await evalStandalone(plan.offset, env);
        if (lim !== null && (lim as bigint) < 0n) throw new NextDbError('2201W', 'LIMIT must not be negative');
        if (off !== null && (off as bigint) < 0n) throw new NextDbError('2201X', 'OFFSET must not be negative');
        remaining = lim === null ? Infinity : Number(lim as bigint);
        skip = off === null ? 0 : Number(off as bigint);
      }
      while (remaining > 0) {
        const b = await input.next();
        if (b === null) return null;
        let rows = b;
        if (skip > 0) {
          if (skip >= rows.length) {
            skip -= rows.length;
            continue;
          }
          rows = rows.slice(skip);
          skip = 0;
        }
        if (rows.length > remaining) rows = rows.slice(0, remaining);
        remaining -= rows.length;
        return rows;
      }
      return null;
    },
  };
}

function distinctOp(plan: Extract<Plan, { kind: 'distinct' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { compile } = compiler(env, ids(plan.input));
  const on = plan.on?.map(compile);
  // DISTINCT ON over its sort must keep the sorted order: it never spills (partitions would reorder it).
  const canSpill = plan.on === undefined || plan.input.kind !== 'sort';
  interface Pass {
    next: () => Promise<Row[] | null>;
    depth: number;
    release?: () => Promise<void>;
  }
  const passes: Pass[] = [{ next: () => input.next(), depth: 0 }];
  // The pass being read: keys seen, their estimated bytes, and partition files once over work_mem.
  let cur: { p: Pass; seen: Set<string>; bytes: number; budget: number; parts?: SpillFile[] } | undefined;
  let batches = 0;
  let diskBytes = 0;
  return {
    next: async () => {
      for (;;) {
        if (cur === undefined) {
          const p = passes.shift();
          if (p === undefined) {
            if (batches > 1) detail(env, plan, `Batches: ${batches}  Disk Usage: ${Math.ceil(diskBytes / 1024)}kB`);
            return null;
          }
          batches++;
          const budget = canSpill && p.depth < SPILL_DEPTH_MAX ? workMemOf(env) : Infinity;
          cur = { p, seen: new Set(), bytes: 0, budget };
        }
        const c = cur;
        const b = await c.p.next();
        if (b === null) {
          if (c.parts !== undefined) {
            for (const f of c.parts) {
              await f.finish();
              diskBytes += f.bytes;
              if (f.rows === 0) await f.release();
              else passes.push({ next: () => f.read(BATCH_ROWS), depth: c.p.depth + 1, release: () => f.release() });
            }
          }
          await c.p.release?.();
          cur = undefined;
          continue;
        }
        const ctx = env.ctx;
        const out: Row[] = [];
        for (const r of b) {
          const k = on === undefined ? r.map(hashKey).join('\u0001') : on.map((f) => hashKey(f(r, ctx))).join('\u0001');
          if (c.seen.has(k)) continue;
          if (c.parts !== undefined) {
            // No room for another key: its rows wait in a partition (all of them: the key is in no table yet).
            c.parts[partitionOf(k, c.p.depth, c.parts.length)]!.add(r);
            continue;
          }
          c.seen.add(k);
          c.bytes += 2 * k.length + 64;
          if (c.bytes > c.budget) {
            c.parts = [];
            for (let i = 0; i < SPILL_PARTITIONS; i++) c.parts.push(await env.spill!.create());
          }
          out.push(r);
        }
        if (c.parts !== undefined) for (const f of c.parts) await f.flushIfFull();
        else memoryCheck(env, c.seen.size);
        if (out.length > 0) return out;
      }
    },
  };
}

function setOp(plan: Extract<Plan, { kind: 'setop' }>, env: ExecEnv): Operator {
  if (plan.op === 'union' && plan.all) {
    // UNION ALL holds nothing: the left rows, then the right rows.
    const left = build(plan.left, env);
    let right: Operator | undefined;
    return {
      next: async () => {
        if (right === undefined) {
          const b = await left.next();
          if (b !== null) return b;
          right = build(plan.right, env);
        }
        return right.next();
      },
    };
  }
  let out: Operator | undefined;
  const rowKey = (r: Row): string => r.map(hashKey).join('\u0001');
  /** The set operation over rows that fit in memory (all of them, or one partition pair). */
  const combine = (left: Row[], right: Row[]): Row[] => {
    let rows: Row[];
    if (plan.op === 'union') {
      const seen = new Set<string>();
      rows = [];
      for (const part of [left, right]) {
        for (const r of part) {
          const k = rowKey(r);
          if (!seen.has(k)) {
            seen.add(k);
            rows.push(r);
          }
        }
      }
      return rows;
    }
    const counts = new Map<string, number>();
    for (const r of right) counts.set(rowKey(r), (counts.get(rowKey(r)) ?? 0) + 1);
    rows = [];
    const emitted = new Set<string>();
    for (const r of left) {
      const k = rowKey(r);
      const c = counts.get(k) ?? 0;
      if (plan.op === 'intersect') {
        if (plan.all) {
          if (c > 0) {
            rows.push(r);
            counts.set(k, c - 1);
          }
        } else if (c > 0 && !emitted.has(k)) {
          emitted.add(k);
          rows.push(r);
        }
      } else if (plan.all) {
        if (c > 0) counts.set(k, c - 1);
        else rows.push(r);
      } else if (c === 0 && !emitted.has(k)) {
        emitted.add(k);
        rows.push(r);
      }
    }
    return rows;
  };

  /** Reads one side: in memory while under work_mem (counting `bytesBefore`), else all of it in an overflow file. */
  const readSide = (p: Plan, bytesBefore: number): Promise<Materialized> =>
    readWithinWorkMem(build(p, env), env, bytesBefore, 48);

  /** Over work_mem: both sides split by the hash of the whole row, each partition pair combined in memory. */
  const partitioned = async (l: Materialized, r: Materialized): Promise<Operator> => {
    const budget = workMemOf(env);
    let n = 2;
    while (n < 1024 && ((l.bytes + r.bytes) * 1.5) / n > budget) n *= 2;
    const split = async (side: { rows: Row[]; file?: SpillFile }): Promise<SpillFile[]> => {
      const parts: SpillFile[] = [];
      for (let i = 0; i < n; i++) parts.push(await env.spill!.create());
      const put = async (rows: Row[]): Promise<void> => {
        for (const row of rows) parts[partitionOf(rowKey(row), 0, n)]!.add(row);
        for (const f of parts) await f.flushIfFull();
      };
      await put(side.rows);
      if (side.file !== undefined) {
        for (;;) {
          const b = await side.file.read(BATCH_ROWS);
          if (b === null) break;
          await put(b);
          await interruptPoint(env.ctx);
        }
        await side.file.release();
      }
      for (const f of parts) await f.finish();
      return parts;
    };
    const lp = await split(l);
    const rp = await split(r);
    detail(env, plan, `Batches: ${n}`);
    return concatParts(n, async (i) => combine(await readSpilled(env, lp[i]!), await readSpilled(env, rp[i]!)));
  };

  return {
    next: async () => {
      if (out === undefined) {
        const left = await readSide(plan.left, 0);
        const right = await readSide(plan.right, left.bytes);
        out =
          left.file === undefined && right.file === undefined
            ? fromRows(combine(left.rows, right.rows))
            : await partitioned(left, right);
      }
      return out.next();
    },
  };
}

/** Rows held in memory, or (past work_mem) all of them in a finished spill file; `bytes` estimates every row. */
interface Materialized {
  rows: Row[];
  file?: SpillFile;
  bytes: number;
}

/**
 * All rows of `op`: in memory while the estimate (`bytesBefore` plus each row's size and `rowOverhead`) is under
 * work_mem, else all of them in a spill file (finished, ready to read).
 */
async function readWithinWorkMem(op: Operator, env: ExecEnv, bytesBefore = 0, rowOverhead = 32): Promise<Materialized> {
  const budget = workMemOf(env);
  const rows: Row[] = [];
  let bytes = 0;
  let file: SpillFile | undefined;
  for (;;) {
    const b = await op.next();
    if (b === null) break;
    for (const r of b) {
      bytes += estimateRowBytes(r) + rowOverhead;
      if (file !== undefined) file.add(r);
      else rows.push(r);
    }
    if (file === undefined && bytesBefore + bytes > budget) {
      file = await env.spill!.create();
      for (const r of rows) file.add(r);
      rows.length = 0;
    }
    if (file !== undefined) await file.flushIfFull();
    else memoryCheck(env, rows.length);
    await interruptPoint(env.ctx);
  }
  if (file === undefined) return { rows, bytes };
  await file.finish();
  return { rows, file, bytes };
}

/** All rows of `op`: in memory while under work_mem, else in a spill file (finished, ready to read). */
async function materializeRows(op: Operator, env: ExecEnv): Promise<Row[] | SpillFile> {
  const m = await readWithinWorkMem(op, env);
  return m.file ?? m.rows;
}

function cteScanOp(plan: Extract<Plan, { kind: 'cte-scan' }>, env: ExecEnv): Operator {
  let out: Operator | undefined;
  return {
    next: async () => {
      if (out === undefined) {
        const working = env.working.get(plan.cte);
        if (working !== undefined) out = fromRows(working);
        else {
          const m = await materializeCte(plan.cte, env);
          if (Array.isArray(m)) out = fromRows(m);
          else {
            const c = m.cursor();
            out = { next: () => c.read(BATCH_ROWS) };
          }
        }
      }
      return out.next();
    },
  };
}

/**
 * A CTE's rows, computed once per statement: in memory, or (non-recursive,
 * over work_mem) in a spill file each scan reads with its own cursor.
 */
async function materializeCte(cte: CteDef, env: ExecEnv): Promise<Row[] | SpillFile> {
  const cached = env.ctes.get(cte);
  // A file made inside a subquery run is gone when that run ended: compute again.
  if (cached !== undefined && (Array.isArray(cached) || !cached.released)) return cached;
  if (cte.recursive === undefined) {
    const m = await materializeRows(build(cte.plan, env), env);
    env.ctes.set(cte, m);
    return m;
  }
  const base = await drain(build(cte.plan, env), env);
  const all = cte.recursive.all;
  const seen = new Set<string>();
  const rowKey = (r: Row): string => r.map(hashKey).join('\u0001');
  const result: Row[] = [];
  let working: Row[] = [];
  for (const r of base) {
    if (!all) {
      const k = rowKey(r);
      if (seen.has(k)) continue;
      seen.add(k);
    }
    result.push(r);
    working.push(r);
  }
  while (working.length > 0) {
    await interruptPoint(env.ctx);
    env.working.set(cte, working);
    const next = await drain(build(cte.recursive.plan, env), env);
    env.working.delete(cte);
    working = [];
    for (const r of next) {
      if (!all) {
        const k = rowKey(r);
        if (seen.has(k)) continue;
        seen.add(k);
      }
      result.push(r);
      working.push(r);
    }
    memoryCheck(env, result.length);
  }
  env.ctes.set(cte, result);
  return result;
}

function functionScanOp(plan: Extract<Plan, { kind: 'function-scan' }>, env: ExecEnv): Operator {
  let it: Iterator<Value[]> | undefined;
  let ordinal = 0;
  let done = false;
  return {
    next: async () => {
      if (done) return null;
      if (it === undefined) {
        const args: Value[] = [];
        for (const a of plan.args) args.push(await evalStandalone(a, env));
        it = await openSrf(plan, args, env);
      }
      const out: Row[] = [];
      while (out.length < BATCH_ROWS) {
        const n = it.next();
        if (n.done === true) {
          done = true;
          break;
        }
        out.push(plan.ordinality ? [...n.value, BigInt(++ordinal)] : n.value);
      }
      await interruptPoint(env.ctx);
      return out.length === 0 ? null : out;
    },
  };
}

const NO_ROWS: readonly Value[][] = [];

/**
 * The rows of one call of a set-returning function (a FROM-clause function
 * scan or a ProjectSet's function) with argument values `args`: none when a
 * strict function gets a NULL argument (the built-in ones are all strict).
 * A SQL function's body runs with the arguments as its parameters and sees
 * no caller rows.
 */
async function openSrf(call: SrfCall, args: Value[], env: ExecEnv): Promise<Iterator<Value[]>> {
  const strict = (call.body === undefined && call.asyncImpl === undefined) || call.strict === true;
  if (strict && args.some((a) => a === null)) return NO_ROWS[Symbol.iterator]();
  if (call.body !== undefined) {
    const ctx = new EvalContext(env.ctx.io, args, env.ctx.services);
    return (await drain(build(call.body, { ...env, ctx, outer: [] }), env))[Symbol.iterator]();
  }
  if (call.asyncImpl !== undefined) return (await call.asyncImpl(args, env.ctx))[Symbol.iterator]();
  return call.impl(args, env.ctx)[Symbol.iterator]();
}

/**
 * ProjectSet: per input row, opens every set-returning function on that row
 * and emits the row followed by their next values, in lockstep, until all
 * have run out (one that ran out early gives NULL). Streams: a function
 * yielding millions of rows for one input row never holds them all.
 */
function projectSetOp(plan: Extract<Plan, { kind: 'project-set' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const { env: cenv, compile } = compiler(env, ids(plan.input));
  const srfs = plan.srfs;
  const n = srfs.length;
  const argFns = srfs.map((s) => s.args.map(compile));
  const hoisted = cenv.hoisted;
  const running = new Array<Iterator<Value[]> | undefined>(n).fill(undefined);
  let batch: Row[] = [];
  let at = 0;
  let row: Row | undefined;
  let ended = false;
  return {
    next: async () => {
      if (ended) return null;
      const ctx = env.ctx;
      const out: Row[] = [];
      while (out.length < BATCH_ROWS) {
        if (row === undefined) {
          if (at >= batch.length) {
            const b = await input.next();
            if (b === null) {
              ended = true;
              break;
            }
            batch = b;
            at = 0;
            continue;
          }
          const r = batch[at++]!;
          if (hoisted.length > 0) await runHoisted(hoisted, r, ctx);
          for (let i = 0; i < n; i++) {
            const fns = argFns[i]!;
            const args = new Array<Value>(fns.length);
            for (let j = 0; j < fns.length; j++) args[j] = fns[j]!(r, ctx);
            running[i] = await openSrf(srfs[i]!, args, env);
          }
          row = r;
        }
        const w = row.length;
        const o = new Array<Value>(w + n);
        for (let j = 0; j < w; j++) o[j] = row[j]!;
        let any = false;
        for (let i = 0; i < n; i++) {
          const it = running[i];
          let v: Value = null;
          if (it !== undefined) {
            const x = it.next();
            if (x.done === true) running[i] = undefined;
            else {
              any = true;
              v = srfs[i]!.record ? ({ kind: 'array', elems: x.value } satisfies ArrayValue) : (x.value[0] ?? null);
            }
          }
          o[w + i] = v;
        }
        if (any) out.push(o);
        else row = undefined;
      }
      if (out.length === 0) return null;
      await interruptPoint(ctx);
      return out;
    },
  };
}

function modifyOp(plan: Extract<Plan, { kind: 'modify' }>, env: ExecEnv): Operator {
  let out: Operator | undefined;
  return {
    next: async () => {
      if (out === undefined) out = fromRows(await runModify(plan.modify, env));
      return out.next();
    },
  };
}

// ---- window functions ----

function windowOp(plan: Extract<Plan, { kind: 'window' }>, env: ExecEnv): Operator {
  const input = build(plan.input, env);
  const inIds = ids(plan.input);
  const { compile } = compiler(env, inIds);
  // Over work_mem the rows are split by PARTITION BY into files, each holding whole partitions;
  // possible when every call partitions alike (and by something).
  const first = plan.calls[0];
  const partitionBy =
    first !== undefined &&
    first.partitionBy.length > 0 &&
    plan.calls.every((c) => sameTree(c.partitionBy, first.partitionBy))
      ? first.partitionBy.map(compile)
      : undefined;
  let out: Operator | undefined;
  const compute = (rows: Row[]): Row[] => {
    const ctx = env.ctx;
    const results: Value[][] = rows.map(() => []);
    for (const call of plan.calls) {
      const vals = computeWindow(call, rows, compile, ctx);
      for (let i = 0; i < rows.length; i++) results[i]!.push(vals[i]!);
    }
    return rows.map((r, i) => r.concat(results[i]!));
  };
  const partitioned = async (rows: Row[], overflow: SpillFile, bytes: number): Promise<Operator> => {
    const ctx = env.ctx;
    const budget = workMemOf(env);
    let n = 2;
    while (n < 1024 && (bytes * 1.5) / n > budget) n *= 2;
    const parts: SpillFile[] = [];
    for (let i = 0; i < n; i++) parts.push(await env.spill!.create());
    for (let b: Row[] | null = rows; b !== null; b = await overflow.read(BATCH_ROWS)) {
      for (const r of b) {
        const k = partitionBy!.map((f) => hashKey(f(r, ctx))).join('\u0001');
        parts[partitionOf(k, 0, n)]!.add(r);
      }
      for (const f of parts) await f.flushIfFull();
      await interruptPoint(ctx);
    }
    await overflow.release();
    for (const f of parts) await f.finish();
    detail(env, plan, `Batches: ${n}`);
    return concatParts(n, async (i) => compute(await readSpilled(env, parts[i]!)));
  };
  return {
    next: async () => {
      if (out === undefined) {
        const budget = partitionBy === undefined ? Infinity : workMemOf(env);
        const rows: Row[] = [];
        let bytes = 0;
        let overflow: SpillFile | undefined;
        for (;;) {
          const b = await input.next();
          if (b === null) break;
          for (const r of b) {
            bytes += estimateRowBytes(r) + 32 * plan.calls.length + 64;
            if (overflow !== undefined) overflow.add(r);
            else rows.push(r);
          }
          if (overflow === undefined && bytes > budget) overflow = await env.spill!.create();
          if (overflow !== undefined) await overflow.flushIfFull();
          else memoryCheck(env, rows.length);
        }
        if (overflow === undefined) out = fromRows(compute(rows));
        else {
          await overflow.finish();
          out = await partitioned(rows, overflow, bytes);
        }
      }
      return out.next();
    },
  };
}

/** Structural equality of plan expressions (same PARTITION BY in two window calls). */
function sameTree(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!sameTree((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function computeWindow(call: WindowCall, rows: Row[], compile: (e: Expr) => CompiledExpr, ctx: EvalContext): Value[] {
  const part = call.partitionBy.map(compile);
  const ord = call.orderBy.map((k) => compile(k.expr));
  const args = call.args.map(compile);
  const filter = call.filter === undefined ? undefined : compile(call.filter);
  const out = new Array<Value>(rows.length).fill(null);
  // Partition.
  const parts = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = part.map((f) => hashKey(f(r, ctx))).join('\u0001');
    const l = parts.get(k);
    if (l === undefined) parts.set(k, [i]);
    else l.push(i);
  });
  for (const idxs of parts.values()) {
    const keys = idxs.map((i) => ord.map((f) => f(rows[i]!, ctx)));
    const order = idxs.map((_, j) => j);
    order.sort((a, b) => compareRows(keys[a]!, keys[b]!, call.orderBy, 0) || a - b);
    const sorted = order.map((j) => idxs[j]!);
    const sortedKeys = order.map((j) => keys[j]!);
    const n = sorted.length;
    // Peer groups: rows equal on ORDER BY.
    const peerStart = new Array<number>(n);
    const peerEnd = new Array<number>(n);
    for (let i = 0; i < n;) {
      let j = i + 1;
      while (j < n && compareRows(sortedKeys[i]!, sortedKeys[j]!, call.orderBy, 0) === 0) j++;
      for (let k = i; k < j; k++) {
        peerStart[k] = i;
        peerEnd[k] = j - 1;
      }
      i = j;
    }
    const argAt = (pos: number, a: number): Value => args[a]!(rows[sorted[pos]!]!, ctx);
    switch (call.name) {
      case 'row_number':
        sorted.forEach((ri, pos) => (out[ri] = BigInt(pos + 1)));
        continue;
      case 'rank':
        sorted.forEach((ri, pos) => (out[ri] = BigInt(peerStart[pos]! + 1)));
        continue;
      case 'dense_rank': {
        let rank = 0;
        sorted.forEach((ri, pos) => {
          if (peerStart[pos] === pos) rank++;
          out[ri] = BigInt(rank);
        });
        continue;
      }
      case 'percent_rank':
        sorted.forEach((ri, pos) => (out[ri] = n <= 1 ? 0 : peerStart[pos]! / (n - 1)));
        continue;
      case 'cume_dist':
        sorted.forEach((ri, pos) => (out[ri] = (peerEnd[pos]! + 1) / n));
        continue;
      case 'ntile': {
        sorted.forEach((ri, pos) => {
          const buckets = argAt(pos, 0) as number;
          if (buckets <= 0) throw new NextDbError('22014', 'argument of ntile must be greater than zero');
          const per = Math.floor(n / buckets);
          const extra = n % buckets;
          const big = extra * (per + 1);
          out[ri] =
            pos < big ? Math.floor(pos / (per + 1)) + 1 : Math.floor((pos - big) / Math.max(per, 1)) + extra + 1;
        });
        continue;
      }
      case 'lag':
      case 'lead': {
        sorted.forEach((ri, pos) => {
          const off = args.length > 1 ? (argAt(pos, 1) as number | null) : 1;
          if (off === null) {
            out[ri] = null;
            return;
          }
          const target = call.name === 'lag' ? pos - off : pos + off;
          if (target < 0 || target >= n) out[ri] = args.length > 2 ? argAt(pos, 2) : null;
          else out[ri] = argAt(target, 0);
        });
        continue;
      }
      default:
        break;
    }
    // Frame-based functions.
    for (let pos = 0; pos < n; pos++) {
      const [fs, fe] = frameBounds(call, pos, n, peerStart, peerEnd, (p) =>
        argFrameOffset(call, p, rows, sorted, compile, ctx),
      );
      const ri = sorted[pos]!;
      switch (call.name) {
        case 'first_value':
          out[ri] = fs <= fe ? argAt(fs, 0) : null;
          break;
        case 'last_value':
          out[ri] = fs <= fe ? argAt(fe, 0) : null;
          break;
        case 'nth_value': {
          const k = argAt(pos, 1) as number;
          if (k <= 0) throw new NextDbError('22016', 'argument of nth_value must be greater than zero');
          out[ri] = fs + k - 1 <= fe ? argAt(fs + k - 1, 0) : null;
          break;
        }
        default: {
          const r = resolveAggregate(
            call.name,
            call.args.map((a) => a.type),
            call.args.length === 0,
          );
          assert(r !== undefined, 'window aggregate resolved');
          const acc = r.make();
          const seen = call.distinct ? new Set<string>() : undefined;
          for (let p = fs; p <= fe; p++) {
            const row = rows[sorted[p]!]!;
            if (filter !== undefined && filter(row, ctx) !== true) continue;
            const vals = args.map((f) => f(row, ctx));
            if (call.args.length > 0 && !AGGS_KEEPING_NULLS.has(call.name) && vals.some((v) => v === null)) continue;
            if (seen !== undefined) {
              const k = vals.map(hashKey).join('\u0001');
              if (seen.has(k)) continue;
              seen.add(k);
            }
            acc.add(vals, ctx);
          }
          out[ri] = acc.result(ctx);
        }
      }
    }
  }
  return out;
}

function argFrameOffset(
  call: WindowCall,
  which: 0 | 1,
  rows: Row[],
  sorted: number[],
  compile: (e: Expr) => CompiledExpr,
  ctx: EvalContext,
): number {
  const b = which === 0 ? call.frame.start : call.frame.end;
  if (b.kind !== 'preceding' && b.kind !== 'following') return 0;
  const v = compile(b.offset)(rows[sorted[0] ?? 0] ?? [], ctx);
  if (v === null) throw new NextDbError('22013', 'frame starting offset must not be null');
  const n = Number(v as bigint);
  if (n < 0) throw new NextDbError('22013', 'frame starting offset must not be negative');
  return n;
}

function frameBounds(
  call: WindowCall,
  pos: number,
  n: number,
  peerStart: number[],
  peerEnd: number[],
  offset: (which: 0 | 1) => number,
): [number, number] {
  const f = call.frame;
  const bound = (which: 0 | 1): number => {
    const b = which === 0 ? f.start : f.end;
    switch (b.kind) {
      case 'unbounded-preceding':
        return 0;
      case 'unbounded-following':
        return n - 1;
      case 'current-row':
        if (f.mode === 'rows') return pos;
        return which === 0 ? peerStart[pos]! : peerEnd[pos]!;
      case 'preceding':
      case 'following': {
        const off = offset(which) * (b.kind === 'preceding' ? -1 : 1);
        if (f.mode === 'rows') return pos + off;
        // GROUPS: move by peer groups.
        let p = which === 0 ? peerStart[pos]! : peerEnd[pos]!;
        let steps = Math.abs(off);
        while (steps > 0) {
          if (off < 0) {
            if (p <= 0) return which === 0 ? 0 : -1;
            p = peerStart[p - 1]!;
          } else {
            if (peerEnd[p]! >= n - 1) return which === 0 ? n : n - 1;
            p = peerEnd[p]! + 1;
          }
          steps--;
        }
        return which === 0 ? peerStart[p]! : peerEnd[p]!;
      }
    }
  };
  return [Math.max(0, bound(0)), Math.min(n - 1, bound(1))];
}

/** Runs a plan to completion and returns all rows. */
export async function runPlan(plan: Plan, env: ExecEnv, limit = 0): Promise<Row[]> {
  const mark = env.spill?.mark() ?? 0;
  try {
    if (plan.kind === 'modify') {
      // INSERT/UPDATE/DELETE at the root: its rows as they are, without an operator and batches around them.
      const rows = await runModify(plan.modify, env);
      return limit > 0 && rows.length > limit ? rows.slice(0, limit) : rows;
    }
    const op = build(plan, env);
    const out: Row[] = [];
    for (;;) {
      const b = await op.next();
      if (b === null) return out;
      for (const r of b) {
        out.push(r);
        if (limit > 0 && out.length >= limit) return out;
      }
    }
  } finally {
    // Spill files of this plan's operators go, however it ended (done, LIMIT, error, cancel).
    if (env.spill !== undefined && env.spill.openFiles > 0) await env.spill.releaseFrom(mark);
  }
}
