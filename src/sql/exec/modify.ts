/**
 * INSERT / UPDATE / DELETE execution: constraint checks (NOT NULL, CHECK,
 * UNIQUE/PRIMARY KEY through TableStore, FOREIGN KEY), ON CONFLICT, and
 * RETURNING.
 *
 * Rows to change are read completely before the first write (the input is
 * drained first), so a statement never sees its own changes (PostgreSQL's
 * "Halloween" protection). Each row is then locked by primary key and, when
 * a concurrent transaction changed it (READ COMMITTED), replaced by its
 * latest version and the WHERE clause re-checked (EvalPlanQual), so
 * concurrent `SET v = v + 1` never loses an update. Foreign keys are checked immediately per row
 * (PostgreSQL checks NO ACTION at statement end; the difference shows only
 * for statements that break and repair a reference within one statement).
 */

import { NextDbError, SqlState } from '../../util/errors.ts';
import type { Txn } from '../../txn/api.ts';
import type { ColumnDef, TableDef } from '../catalog/catalog.ts';
import type { ForeignKeyRef, ModifyPlan } from '../plan/plan.ts';
import type { Value } from '../types/sql-type.ts';
import { formatText, defaultIoSettings } from '../types/text-io.ts';
import { CompileEnv, compileExpr, layoutOf, runHoisted, type CompiledExpr } from './compile-expr.ts';
import { build, drain, storeFor, type ExecEnv, type Row } from './executor.ts';
import { TableStore } from './table-store.ts';
import { PointLookup } from './point-lookup.ts';
import type { EvalContext } from './eval-context.ts';
import type { Plan } from '../plan/plan.ts';
import { triggersFor } from './triggers.ts';

/**
 * The parts of a modify plan compiled once and reused by every execution of
 * a cached plan (prepared statements): the input when it is one VALUES row
 * list or a primary-key point lookup, and the CHECK / SET / re-check
 * expressions. Only expressions with nothing hoisted are kept, because a
 * hoisted subquery's runner belongs to one execution's env; everything else
 * compiles per execution as before.
 */
interface ModifyCache {
  /** Reads the input rows without building an operator tree; undefined = through the executor. */
  readonly input: ((txn: Txn, ctx: EvalContext) => Promise<Row[]>) | undefined;
  /** A point lookup's input read and locked in one step (PointLookup.runLocked); undefined: not a point lookup. */
  readonly lockedInput: ((txn: Txn, ctx: EvalContext) => Promise<Row[] | undefined> | undefined) | undefined;
  checks?: readonly { readonly name: string; readonly fn: CompiledExpr; readonly view?: true }[];
  update?: {
    readonly sets: readonly CompiledExpr[];
    readonly recheck: CompiledExpr | undefined;
    readonly oldPos: readonly number[];
  };
}

const modifyCaches = new WeakMap<ModifyPlan, ModifyCache>();

function noSubplans(): Promise<Row[]> {
  return Promise.reject(new NextDbError(SqlState.featureNotSupported, 'subqueries here are not supported yet'));
}

/** VALUES rows whose expressions wait for nothing (no nextval(), no subquery), compiled once. */
function compiledValues(plan: Plan): ((txn: Txn, ctx: EvalContext) => Promise<Row[]>) | undefined {
  if (plan.kind !== 'values') return undefined;
  const root = CompileEnv.root(layoutOf([]), [], noSubplans);
  const rows = plan.rows.map((r) => r.map((e) => compileExpr(e, root)));
  if (root.hoisted.length > 0) return undefined;
  const none: readonly Value[] = [];
  return (_txn, ctx) => {
    const out: Row[] = new Array<Row>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const fns = rows[i]!;
      const row = new Array<Value>(fns.length);
      for (let j = 0; j < fns.length; j++) row[j] = fns[j]!(none, ctx);
      out[i] = row;
    }
    return Promise.resolve(out);
  };
}

function modifyCache(m: ModifyPlan): ModifyCache {
  let c = modifyCaches.get(m);
  if (c === undefined) {
    const point = PointLookup.compile(m.input);
    c = {
      input: point !== undefined ? (txn, ctx) => point.run(txn, ctx) : compiledValues(m.input),
      lockedInput:
        point !== undefined && (m.op === 'update' || m.op === 'delete')
          ? (txn, ctx) => point.runLocked(txn, ctx)
          : undefined,
    };
    modifyCaches.set(m, c);
  }
  return c;
}

function notNullViolation(t: TableDef, c: ColumnDef): NextDbError {
  return new NextDbError(
    SqlState.notNullViolation,
    `null value in column "${c.name}" of relation "${t.name}" violates not-null constraint`,
    {
      table: t.name,
      column: c.name,
      schema: t.schema,
    },
  );
}

/** WITH CHECK OPTION: the new row is not one the view `view` shows (PostgreSQL's 44000). */
function viewCheckViolation(t: TableDef, view: string, row: readonly Value[], ctx: EvalContext): NextDbError {
  return new NextDbError('44000', `new row violates check option for view "${view}"`, {
    detail: `Failing row contains (${row
      .slice(0, t.columns.length)
      .map((v, i) => (v === null ? 'null' : formatText(t.columns[i]!.type, v, ctx.io)))
      .join(', ')}).`,
  });
}

function fmtKey(t: TableDef, cols: readonly number[], row: readonly Value[]): string {
  return `(${cols.map((c) => t.columns[c]!.name).join(', ')})=(${cols
    .map((c) => {
      const v = row[c] ?? null;
      return v === null ? 'null' : formatText(t.columns[c]!.type, v, defaultIoSettings);
    })
    .join(', ')})`;
}

async function parentExists(txn: Txn, fk: ForeignKeyRef, row: readonly Value[]): Promise<boolean> {
  const store = new TableStore(fk.parent);
  const vals = fk.childColumns.map((c) => row[c] ?? null);
  const ix = fk.parent.indexes.find(
    (i) =>
      i.unique &&
      i.predicate === undefined &&
      i.columns.length === fk.parentColumns.length &&
      i.columns.every((c, k) => c === fk.parentColumns[k]),
  );
  if (ix !== undefined) {
    const parentRow: Value[] = fk.parent.columns.map(() => null);
    fk.parentColumns.forEach((c, k) => (parentRow[c] = vals[k]!));
    return (await store.findConflict(txn, ix, parentRow)) !== undefined;
  }
  for await (const r of store.scanAll(txn)) {
    if (fk.parentColumns.every((c, k) => equalValues(r[c] ?? null, vals[k]!))) return true;
  }
  return false;
}

function equalValues(a: Value, b: Value): boolean {
  if (a === null || b === null) return false;
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(String(a)) === JSON.stringify(String(b));
  return a === b;
}

async function checkParents(env: ExecEnv, m: ModifyPlan, row: readonly Value[]): Promise<void> {
  for (const fk of m.parents) {
    const vals = fk.childColumns.map((c) => row[c] ?? null);
    if (vals.some((v) => v === null)) continue;
    if (!(await parentExists(env.txn, fk, row))) {
      throw new NextDbError(
        SqlState.foreignKeyViolation,
        `insert or update on table "${fk.child.name}" violates foreign key constraint "${fk.name}"`,
        {
          detail: `Key ${fmtKey(fk.child, fk.childColumns, row)} is not present in table "${fk.parent.name}".`,
          table: fk.child.name,
          constraint: fk.name,
        },
      );
    }
  }
}

/** Applies ON DELETE / ON UPDATE actions of tables referencing `oldRow`. */
async function enforceChildren(
  env: ExecEnv,
  m: ModifyPlan,
  oldRow: readonly Value[],
  newRow: readonly Value[] | undefined,
  depth = 0,
): Promise<void> {
  if (depth > 32) throw new NextDbError('54001', 'foreign key cascade too deep');
  for (const fk of m.children) {
    const keyVals = fk.parentColumns.map((c) => oldRow[c] ?? null);
    if (keyVals.some((v) => v === null)) continue;
    if (newRow !== undefined && fk.parentColumns.every((c) => equalValues(oldRow[c] ?? null, newRow[c] ?? null)))
      continue;
    const childStore = new TableStore(fk.child);
    const matches: Value[][] = [];
    for await (const r of childStore.scanAll(env.txn)) {
      if (fk.childColumns.every((c, k) => equalValues(r[c] ?? null, keyVals[k]!))) matches.push(r);
    }
    if (matches.length === 0) continue;
    const action = newRow === undefined ? fk.onDelete : fk.onUpdate;
    if (action === 'a' || action === 'r') {
      throw new NextDbError(
        SqlState.foreignKeyViolation,
        `update or delete on table "${fk.parent.name}" violates foreign key constraint "${fk.name}" on table "${fk.child.name}"`,
        {
          detail: `Key ${fmtKey(fk.parent, fk.parentColumns, oldRow)} is still referenced from table "${fk.child.name}".`,
          table: fk.parent.name,
          constraint: fk.name,
        },
      );
    }
    for (const r of matches) {
      if (action === 'c' && newRow === undefined) {
        await childStore.delete(env.txn, r);
        continue;
      }
      const nr = r.slice();
      fk.childColumns.forEach((c, k) => {
        if (action === 'c') nr[c] = newRow![fk.parentColumns[k]!] ?? null;
        else if (action === 'n') nr[c] = null;
        else throw new NextDbError(SqlState.featureNotSupported, 'ON DELETE/UPDATE SET DEFAULT is not supported yet');
      });
      for (const c of fk.childColumns)
        if (nr[c] === null && fk.child.columns[c]!.notNull) throw notNullViolation(fk.child, fk.child.columns[c]!);
      await childStore.update(env.txn, r, nr);
    }
  }
}

/**
 * Locks the target row of one UPDATE/DELETE input row and substitutes its
 * latest version (READ COMMITTED, PostgreSQL's EvalPlanQual): undefined
 * when the row is gone, else the input row to use, the old row to replace
 * and whether it changed since the snapshot (then the caller re-checks its
 * WHERE clause; columns of FROM/USING items keep their values). `preLocked`:
 * the input already locked it and read its latest version (PointLookup.runLocked).
 */
async function lockLatest(
  store: TableStore,
  env: ExecEnv,
  oldPos: readonly number[],
  snapRow: Row,
  preLocked: boolean,
): Promise<{ readonly inRow: Row; readonly oldRow: Row; readonly changed: boolean } | undefined> {
  const snapOld = oldPos.map((p) => snapRow[p] ?? null);
  if (preLocked) return { inRow: snapRow, oldRow: snapOld, changed: false };
  const latest = await store.lockRow(env.txn, snapOld);
  if (latest === undefined) return undefined;
  if (latest === snapOld) return { inRow: snapRow, oldRow: snapOld, changed: false };
  const inRow = snapRow.slice();
  oldPos.forEach((p, i) => (inRow[p] = latest[i] ?? null));
  return { inRow, oldRow: latest.slice(), changed: true };
}

/** 25006 as PostgreSQL words it: `cannot execute UPDATE in a read-only transaction`. */
export function readOnlyTransaction(command: string): NextDbError {
  return new NextDbError(SqlState.readOnlySqlTransaction, `cannot execute ${command} in a read-only transaction`);
}

/** Never called: the expressions compiled with it hold no subquery (those statements compile otherwise). */
function noSubqueries(): Promise<Row[]> {
  return Promise.reject(new NextDbError(SqlState.featureNotSupported, 'subqueries here are not supported yet'));
}

/** runModify's emit: counts a changed row and adds its RETURNING row to `out`. */
function emitter(
  env: ExecEnv,
  out: Row[],
  retFns: readonly CompiledExpr[] | undefined,
  retEnv: CompileEnv | undefined,
): (newRow: Row, inputRow: Row | undefined) => Promise<void> | undefined {
  const ctx = env.ctx;
  return (newRow, inputRow) => {
    env.changed++;
    if (retFns === undefined) return undefined;
    const r = inputRow === undefined ? newRow : newRow.concat(inputRow);
    if (retEnv!.hoisted.length > 0)
      return runHoisted(retEnv!.hoisted, r, ctx).then(() => void out.push(retFns.map((f) => f(r, ctx))));
    out.push(retFns.map((f) => f(r, ctx)));
    return undefined;
  };
}

/** runModify's validate: NOT NULL, CHECK (and view CHECK OPTION) constraints, then foreign keys to parents. */
function validator(
  env: ExecEnv,
  m: ModifyPlan,
  checks: readonly { readonly name: string; readonly fn: CompiledExpr; readonly view?: true }[],
): (row: Row) => Promise<void> | undefined {
  const t = m.table;
  const ctx = env.ctx;
  return (row) => {
    const cols = t.columns;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      if (c.notNull && (row[i] ?? null) === null) throw notNullViolation(t, c);
    }
    for (const c of checks) {
      if (c.view === true) {
        if (c.fn(row, ctx) !== true) throw viewCheckViolation(t, c.name, row, ctx);
        continue;
      }
      if (c.fn(row, ctx) === false) {
        throw new NextDbError(
          SqlState.checkViolation,
          `new row for relation "${t.name}" violates check constraint "${c.name}"`,
          {
            detail: `Failing row contains (${row
              .slice(0, t.columns.length)
              .map((v, i) => (v === null ? 'null' : formatText(t.columns[i]!.type, v, ctx.io)))
              .join(', ')}).`,
            table: t.name,
            constraint: c.name,
          },
        );
      }
    }
    return m.parents.length > 0 ? checkParents(env, m, row) : undefined;
  };
}

export async function runModify(m: ModifyPlan, env: ExecEnv): Promise<Row[]> {
  // A read-only transaction refuses the statement before it runs, whether or not rows match
  // (PostgreSQL's ExecCheckXactReadOnly); a MERGE whose every action is DO NOTHING only reads.
  if (m.op !== 'merge' || m.merge!.clauses.some((c) => c.action !== 'nothing')) {
    const command = m.op.toUpperCase();
    env.ctx.services.checkWritable?.(command);
    if (env.txn.readOnly) throw readOnlyTransaction(command);
  }
  const store = storeFor(env, m.table);
  const t = m.table;
  const ctx = env.ctx;
  // Statements nested in an outer query (env.outer) compile per execution, as everything did before.
  const cache = env.outer.length === 0 ? modifyCache(m) : undefined;
  let checks = cache?.checks;
  if (checks === undefined) {
    const rowEnv = CompileEnv.root(layoutOf(m.newRowCols), env.outer, noSubqueries);
    checks = m.checks.map((c) => ({
      name: c.name,
      fn: compileExpr(c.expr, rowEnv),
      ...(c.view ? { view: true } : {}),
    }));
    if (cache !== undefined && rowEnv.hoisted.length === 0) cache.checks = checks;
  }
  let retFns: CompiledExpr[] | undefined;
  let retEnv: CompileEnv | undefined;
  if (m.returning !== undefined) {
    retEnv = CompileEnv.root(
      layoutOf(m.returning.rowCols.concat(m.op === 'insert' ? [] : m.input.cols.map((c) => c.id))),
      env.outer,
      (plan, outer, c, limit) => import('./executor.ts').then((x) => x.runPlan(plan, { ...env, ctx: c, outer }, limit)),
    );
    retFns = m.returning.exprs.map((e) => compileExpr(e, retEnv!));
  }
  const out: Row[] = [];
  // emit and validate settle synchronously (no promise) when there is nothing to await:
  // no RETURNING subquery, no foreign key to check. They are made by functions rather than
  // written here: a closure bound to a name costs an Object.defineProperty per statement
  // where the code runs through tsx (esbuild's keepNames), about 8% of a single-row INSERT.
  const emit = emitter(env, out, retFns, retEnv);
  const validate = validator(env, m, checks);

  // Triggers: undefined (one property read) for a table without any.
  if (t.triggers !== undefined && m.op === 'merge' && t.triggers.length > 0)
    throw new NextDbError(SqlState.featureNotSupported, 'MERGE on a table with triggers is not supported yet');
  const trig =
    t.triggers === undefined || m.op === 'merge'
      ? undefined
      : triggersFor(t, m.op, ctx, m.op === 'update' ? m.assignments?.map((a) => a !== undefined) : undefined);
  if (trig !== undefined) await trig.beforeStatement();
  // UPDATE / DELETE by primary key: the row is read and locked in one step when nothing is in the way.
  const lockedInput = cache?.lockedInput?.(env.txn, ctx);
  const lockedRows = lockedInput === undefined ? undefined : await lockedInput;
  const preLocked = lockedRows !== undefined;
  const inputRows =
    lockedRows !== undefined
      ? lockedRows
      : cache?.input !== undefined
        ? await cache.input(env.txn, ctx)
        : await drain(build(m.input, env), env);
  switch (m.op) {
    case 'insert': {
      const oc = m.onConflict;
      let ocSet: CompiledExpr[] | undefined;
      let ocWhere: CompiledExpr | undefined;
      if (oc !== undefined && oc.action === 'update') {
        const ocEnv = CompileEnv.root(layoutOf([...oc.existingCols, ...oc.excludedCols]), env.outer, noSubqueries);
        ocSet = (oc.assignments ?? []).map((e, i) =>
          e === undefined ? (r: readonly Value[]) => r[i] ?? null : compileExpr(e, ocEnv),
        );
        ocWhere = oc.where === undefined ? undefined : compileExpr(oc.where, ocEnv);
      }
      const insertedKeys = new Set<string>();
      const ocTrig = trig !== undefined && oc?.action === 'update' ? triggersFor(t, 'update', ctx) : undefined;
      for (let row of inputRows) {
        const y = ctx.services.yieldPoint();
        if (y !== undefined) await y;
        ctx.services.checkInterrupt();
        if (trig !== undefined) {
          const r = await trig.beforeRow(undefined, row);
          if (r === null) continue;
          row = r;
        }
        if (oc !== undefined) {
          const indexes = oc.index !== undefined ? [oc.index] : t.indexes.filter((i) => i.unique);
          let conflictKey: Buffer | undefined;
          for (const ix of indexes) {
            conflictKey = await store.findConflict(env.txn, ix, row, true);
            if (conflictKey !== undefined) break;
          }
          if (conflictKey !== undefined) {
            if (oc.action === 'nothing') continue;
            if (insertedKeys.has(conflictKey.toString('latin1'))) {
              throw new NextDbError('21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time', {
                hint: 'Ensure that no rows proposed for insertion within the same command have duplicate constrained values.',
              });
            }
            // Lock the conflicting row and read its latest version (READ COMMITTED) before updating it.
            const existing = await store.getForUpdate(env.txn, conflictKey);
            if (existing !== undefined) {
              const both = existing.concat(row);
              if (ocWhere !== undefined && ocWhere(both, ctx) !== true) continue;
              let updated = ocSet!.map((f) => f(both, ctx));
              if (ocTrig !== undefined) {
                const r = await ocTrig.beforeRow(existing, updated);
                if (r === null) continue;
                updated = r;
              }
              await validate(updated);
              await store.update(env.txn, existing, updated);
              ocTrig?.afterRow(existing, updated);
              insertedKeys.add(store.primaryKey(updated).toString('latin1'));
              await emit(updated, undefined);
              continue;
            }
            // The conflicting row was deleted concurrently: insert after all (store.insert re-checks).
          }
        }
        const checking = validate(row);
        if (checking !== undefined) await checking;
        const key = await store.insert(env.txn, row);
        if (oc !== undefined) insertedKeys.add(key.toString('latin1'));
        trig?.afterRow(undefined, row);
        const emitting = emit(row, undefined);
        if (emitting !== undefined) await emitting;
      }
      if (trig !== undefined) await trig.finish();
      if (ocTrig !== undefined) await ocTrig.finish();
      return out;
    }
    case 'update': {
      let compiled = cache?.update;
      let hoisted: CompileEnv['hoisted'] = [];
      if (compiled === undefined) {
        const inEnv = CompileEnv.root(layoutOf(m.input.cols.map((c) => c.id)), env.outer, (plan, outer, c, limit) =>
          import('./executor.ts').then((x) => x.runPlan(plan, { ...env, ctx: c, outer }, limit)),
        );
        hoisted = inEnv.hoisted;
        const oldPos = m.oldRowCols!.map((id) => m.input.cols.findIndex((c) => c.id === id));
        const sets = (m.assignments ?? []).map(
          (e, i) =>
            (e === undefined ? undefined : compileExpr(e, inEnv)) ?? ((r: readonly Value[]) => r[oldPos[i]!] ?? null),
        );
        const recheck = m.recheck === undefined ? undefined : compileExpr(m.recheck, inEnv);
        compiled = { sets, recheck, oldPos };
        if (cache !== undefined && inEnv.hoisted.length === 0) cache.update = compiled;
      }
      const { sets, recheck, oldPos } = compiled;
      for (const snapRow of inputRows) {
        const y = ctx.services.yieldPoint();
        if (y !== undefined) await y;
        ctx.services.checkInterrupt();
        const locked = await lockLatest(store, env, oldPos, snapRow, preLocked);
        if (locked === undefined) continue;
        const inRow = locked.inRow;
        if (hoisted.length > 0) await runHoisted(hoisted, inRow, ctx);
        if (locked.changed && recheck !== undefined && recheck(inRow, ctx) !== true) continue;
        const oldRow = locked.oldRow;
        let newRow = sets.map((f) => f(inRow, ctx));
        if (trig !== undefined) {
          const r = await trig.beforeRow(oldRow, newRow);
          if (r === null) continue;
          newRow = r;
        }
        const checking = validate(newRow);
        if (checking !== undefined) await checking;
        if (m.children.length > 0) await enforceChildren(env, m, oldRow, newRow);
        await store.update(env.txn, oldRow, newRow);
        trig?.afterRow(oldRow, newRow);
        const emitting = emit(newRow, inRow);
        if (emitting !== undefined) await emitting;
      }
      if (trig !== undefined) await trig.finish();
      return out;
    }
    case 'delete': {
      const oldPos = m.oldRowCols!.map((id) => m.input.cols.findIndex((c) => c.id === id));
      const inEnv = CompileEnv.root(layoutOf(m.input.cols.map((c) => c.id)), env.outer, (plan, outer, c, limit) =>
        import('./executor.ts').then((x) => x.runPlan(plan, { ...env, ctx: c, outer }, limit)),
      );
      const recheck = m.recheck === undefined ? undefined : compileExpr(m.recheck, inEnv);
      for (const snapRow of inputRows) {
        const y = ctx.services.yieldPoint();
        if (y !== undefined) await y;
        ctx.services.checkInterrupt();
        const locked = await lockLatest(store, env, oldPos, snapRow, preLocked);
        if (locked === undefined) continue;
        const inRow = locked.inRow;
        if (locked.changed && recheck !== undefined) {
          if (inEnv.hoisted.length > 0) await runHoisted(inEnv.hoisted, inRow, ctx);
          if (recheck(inRow, ctx) !== true) continue;
        }
        const oldRow = locked.oldRow;
        if (trig !== undefined && (await trig.beforeRow(oldRow, undefined)) === null) continue;
        if (m.children.length > 0) await enforceChildren(env, m, oldRow, undefined);
        await store.delete(env.txn, oldRow);
        trig?.afterRow(oldRow, undefined);
        const emitting = emit(oldRow, inRow);
        if (emitting !== undefined) await emitting;
      }
      if (trig !== undefined) await trig.finish();
      return out;
    }
    case 'merge':
      await runMerge(m, env, store, inputRows, validate);
      return out;
  }
}

/**
 * MERGE: for each row of source LEFT JOIN target, the first WHEN clause of
 * its kind (matched or not) whose condition holds acts. A matched target
 * row is locked first; when a concurrent transaction changed it (READ
 * COMMITTED) the ON and WHEN conditions are re-checked on its latest
 * version, and a row deleted meanwhile is skipped. One target row changed
 * twice by one MERGE is 21000, as PostgreSQL.
 */
async function runMerge(
  m: ModifyPlan,
  env: ExecEnv,
  store: TableStore,
  inputRows: readonly Row[],
  validate: (row: Row) => Promise<void> | undefined,
): Promise<void> {
  const mp = m.merge!;
  const ctx = env.ctx;
  const inEnv = CompileEnv.root(layoutOf(m.input.cols.map((c) => c.id)), env.outer, (plan, outer, c, limit) =>
    import('./executor.ts').then((x) => x.runPlan(plan, { ...env, ctx: c, outer }, limit)),
  );
  const oldPos = m.oldRowCols!.map((id) => m.input.cols.findIndex((c) => c.id === id));
  const on = compileExpr(mp.on, inEnv);
  const clauses = mp.clauses.map((c) => ({
    c,
    cond: c.cond === undefined ? undefined : compileExpr(c.cond, inEnv),
    sets: (c.assignments ?? []).map(
      (e, i) =>
        (e === undefined ? undefined : compileExpr(e, inEnv)) ?? ((r: readonly Value[]) => r[oldPos[i]!] ?? null),
    ),
    values: c.values?.map((e) => compileExpr(e, inEnv)),
  }));
  const touched = new Set<string>();
  const matchedActs = mp.clauses.some((c) => c.matched && c.action !== 'nothing');
  for (const snapRow of inputRows) {
    const y = ctx.services.yieldPoint();
    if (y !== undefined) await y;
    ctx.services.checkInterrupt();
    let inRow: Row = snapRow;
    let oldRow: Row | undefined;
    const matched = (snapRow[mp.matchedPos] ?? null) !== null;
    if (matched && !matchedActs) continue; // every WHEN MATCHED is DO NOTHING: no lock (PostgreSQL takes none either)
    if (matched) {
      const locked = await lockLatest(store, env, oldPos, snapRow, false);
      if (locked === undefined) continue;
      inRow = locked.inRow;
      oldRow = locked.oldRow;
      if (inEnv.hoisted.length > 0) await runHoisted(inEnv.hoisted, inRow, ctx);
      if (locked.changed && on(inRow, ctx) !== true) continue;
    } else if (inEnv.hoisted.length > 0) await runHoisted(inEnv.hoisted, inRow, ctx);
    const act = clauses.find((x) => x.c.matched === matched && (x.cond === undefined || x.cond(inRow, ctx) === true));
    if (act === undefined || act.c.action === 'nothing') continue;
    if (oldRow !== undefined) {
      const k = store.primaryKey(oldRow).toString('latin1');
      if (touched.has(k)) {
        throw new NextDbError('21000', 'MERGE command cannot affect row a second time', {
          hint: 'Ensure that not more than one source row matches any one target row.',
        });
      }
      touched.add(k);
    }
    switch (act.c.action) {
      case 'update': {
        const newRow = act.sets.map((f) => f(inRow, ctx));
        await validate(newRow);
        if (m.children.length > 0) await enforceChildren(env, m, oldRow!, newRow);
        await store.update(env.txn, oldRow!, newRow);
        touched.add(store.primaryKey(newRow).toString('latin1'));
        break;
      }
      case 'delete':
        if (m.children.length > 0) await enforceChildren(env, m, oldRow!, undefined);
        await store.delete(env.txn, oldRow!);
        break;
      case 'insert': {
        const row = act.values!.map((f) => f(inRow, ctx));
        await validate(row);
        await store.insert(env.txn, row);
        break;
      }
    }
    env.changed++;
  }
}
