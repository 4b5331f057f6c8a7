/**
 * Firing triggers around INSERT / UPDATE / DELETE (runModify).
 *
 * `triggersFor` answers undefined, after one property read, for a table
 * without triggers, so plain DML pays nothing. Otherwise, per statement:
 * BEFORE STATEMENT triggers first; for each row the BEFORE ROW triggers in
 * name order (PostgreSQL's order), each seeing the row the previous one
 * returned; a NULL return skips the row, a changed NEW changes it; AFTER
 * ROW events are queued and fired when the statement's rows are all
 * written, then AFTER STATEMENT triggers. WHEN conditions and the trigger
 * functions run in the session's PL/pgSQL runtime (SessionServices.fireTrigger).
 */

import { NextDbError, notSupported } from '../../util/errors.ts';
import type { TableDef, TriggerDef } from '../catalog/catalog.ts';
import type { Value } from '../types/sql-type.ts';
import type { PlRecord, TriggerInfo } from '../plpgsql/interpreter.ts';
import type { EvalContext } from './eval-context.ts';

type Row = Value[];
type Op = 'insert' | 'update' | 'delete';

export interface TriggerFiring {
  beforeStatement(): Promise<void>;
  /** BEFORE ROW triggers: the row to write (the new row; the old one for DELETE), or null to skip it. */
  beforeRow(oldRow: Row | undefined, newRow: Row | undefined): Promise<Row | null>;
  /** Queues the AFTER ROW triggers of a written row. */
  afterRow(oldRow: Row | undefined, newRow: Row | undefined): void;
  /** AFTER ROW (queued), then AFTER STATEMENT triggers. */
  finish(): Promise<void>;
}

/**
 * The triggers an `op` statement on `t` fires; undefined when there are
 * none. `setCols` (UPDATE): which columns the statement assigns, for
 * UPDATE OF triggers.
 */
export function triggersFor(
  t: TableDef,
  op: Op,
  ctx: EvalContext,
  setCols?: readonly boolean[],
): TriggerFiring | undefined {
  const all = t.triggers;
  if (all === undefined || all.length === 0) return undefined;
  const mine = all
    .filter(
      (g) =>
        g.disabled !== true &&
        g.events.includes(op) &&
        (op !== 'update' || g.columns === undefined || setCols === undefined || g.columns.some((c) => setCols[c])),
    )
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (mine.length === 0) return undefined;
  return new Firing(t, op, ctx, mine);
}

/** The columns a record shows: not dropped, not the hidden rowid. */
function visibleColumns(t: TableDef): number[] {
  const out: number[] = [];
  t.columns.forEach((c, i) => {
    if (c.dropped !== true && c.hidden !== true) out.push(i);
  });
  return out;
}

class Firing implements TriggerFiring {
  private readonly cols: number[];
  private readonly before: TriggerDef[];
  private readonly beforeStmt: TriggerDef[];
  private readonly after: TriggerDef[];
  private readonly afterStmt: TriggerDef[];
  private readonly queued: { oldRow: Row | undefined; newRow: Row | undefined }[] = [];

  constructor(
    private readonly t: TableDef,
    private readonly op: Op,
    private readonly ctx: EvalContext,
    triggers: readonly TriggerDef[],
  ) {
    this.cols = visibleColumns(t);
    this.before = triggers.filter((g) => g.timing === 'before' && g.level === 'row');
    this.beforeStmt = triggers.filter((g) => g.timing === 'before' && g.level === 'statement');
    this.after = triggers.filter((g) => g.timing === 'after' && g.level === 'row');
    this.afterStmt = triggers.filter((g) => g.timing === 'after' && g.level === 'statement');
  }

  private record(row: Row | undefined): PlRecord | null {
    if (row === undefined) return null;
    return {
      names: this.cols.map((i) => this.t.columns[i]!.name),
      types: this.cols.map((i) => this.t.columns[i]!.type),
      values: this.cols.map((i) => row[i] ?? null),
    };
  }

  private info(g: TriggerDef, oldRow: Row | undefined, newRow: Row | undefined): TriggerInfo {
    return {
      new: this.record(newRow),
      old: this.record(oldRow),
      name: g.name,
      when: g.timing === 'before' ? 'BEFORE' : 'AFTER',
      level: g.level === 'row' ? 'ROW' : 'STATEMENT',
      op: this.op === 'insert' ? 'INSERT' : this.op === 'update' ? 'UPDATE' : 'DELETE',
      relid: this.t.oid,
      table: this.t.name,
      schema: this.t.schema,
      args: g.args,
    };
  }

  private fire(g: TriggerDef, info: TriggerInfo): ReturnType<NonNullable<EvalContext['services']['fireTrigger']>> {
    const fire = this.ctx.services.fireTrigger;
    if (fire === undefined) throw notSupported('triggers here');
    return fire(g, info);
  }

  async beforeStatement(): Promise<void> {
    for (const g of this.beforeStmt) await this.fire(g, this.info(g, undefined, undefined));
  }

  async beforeRow(oldRow: Row | undefined, newRow: Row | undefined): Promise<Row | null> {
    let cur = this.op === 'delete' ? oldRow! : newRow!;
    for (const g of this.before) {
      const info = this.info(g, oldRow, this.op === 'delete' ? undefined : cur);
      const r = await this.fire(g, info);
      if (r === undefined) continue; // WHEN was not true
      const rec = r.record ?? null;
      if (rec === null) return null;
      if (this.op === 'delete') continue;
      if (rec.values.length !== this.cols.length)
        throw new NextDbError('42804', 'returned row structure does not match the structure of the triggering table', {
          detail: `Number of returned columns (${rec.values.length}) does not match expected column count (${this.cols.length}).`,
        });
      const next = cur.slice();
      this.cols.forEach((i, k) => (next[i] = rec.values[k] ?? null));
      cur = next;
    }
    return cur;
  }

  afterRow(oldRow: Row | undefined, newRow: Row | undefined): void {
    if (this.after.length > 0) this.queued.push({ oldRow, newRow });
  }

  async finish(): Promise<void> {
    for (const e of this.queued) for (const g of this.after) await this.fire(g, this.info(g, e.oldRow, e.newRow));
    this.queued.length = 0;
    for (const g of this.afterStmt) await this.fire(g, this.info(g, undefined, undefined));
  }
}
