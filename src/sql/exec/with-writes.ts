/**
 * Data-modifying CTEs (WITH x AS (INSERT/UPDATE/DELETE ... RETURNING) ...).
 *
 * PostgreSQL runs every data-modifying CTE exactly once, to completion,
 * whether or not the statement reads it, and the whole statement uses one
 * snapshot: the main query sees the CTEs' RETURNING rows but not their
 * changes to the tables. NextDB's transaction reads its own writes, so the
 * with-writes operator gives the two parts two views of one transaction:
 *
 *   CTEs ──▶ RecordingTxn ──▶ txn        remembers, for every key a CTE
 *                                        touches, its value before the
 *                                        statement (read before the first
 *                                        lock or write)
 *   main ──▶ SnapshotOverlayTxn ──▶ txn  get/scan return those remembered
 *                                        values instead of the CTEs' writes
 *
 * The main statement's own writes go through to the transaction, and a key
 * it writes stops being overlaid, so it then sees its own change. Locking
 * reads (getForUpdate) are not overlaid: constraint checks of the main
 * statement see the CTEs' changes, as PostgreSQL's index checks do. The
 * CTEs run in order and each sees the changes of the ones before it
 * (PostgreSQL gives them all the same snapshot; the difference shows only
 * when two parts of one statement change the same row, which PostgreSQL
 * leaves unpredictable too).
 */

import type { KeyValue, Txn, TxnScanOptions } from '../../txn/api.ts';
import type { Plan } from '../plan/plan.ts';
import { build, drain, type ExecEnv, type Operator, type Row } from './executor.ts';

/** Key (latin1) → its bytes and its value before the statement (undefined: absent). */
type PreImages = Map<string, { readonly key: Buffer; readonly value: Buffer | undefined }>;

/** Passes everything to `txn`, recording the pre-statement value of each key before it is first locked or written. */
class RecordingTxn implements Txn {
  constructor(
    private readonly txn: Txn,
    readonly before: PreImages,
  ) {}

  get id(): string {
    return this.txn.id;
  }
  get isolation(): Txn['isolation'] {
    return this.txn.isolation;
  }
  get readOnly(): boolean {
    return this.txn.readOnly;
  }
  get state(): Txn['state'] {
    return this.txn.state;
  }
  beginStatement(): void {
    this.txn.beginStatement();
  }
  get(key: Uint8Array): Promise<Buffer | undefined> {
    return this.txn.get(key);
  }
  scan(options: TxnScanOptions): Promise<KeyValue[]> {
    return this.txn.scan(options);
  }
  private async remember(key: Uint8Array): Promise<void> {
    const k = Buffer.from(key);
    const id = k.toString('latin1');
    if (!this.before.has(id)) this.before.set(id, { key: k, value: await this.txn.get(k) });
  }
  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.remember(key);
    return this.txn.put(key, value);
  }
  async delete(key: Uint8Array): Promise<void> {
    await this.remember(key);
    return this.txn.delete(key);
  }
  async lockForUpdate(key: Uint8Array): Promise<void> {
    await this.remember(key);
    return this.txn.lockForUpdate(key);
  }
  async getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    await this.remember(key);
    return this.txn.getForUpdate(key);
  }
  savepoint(name: string): void {
    this.txn.savepoint(name);
  }
  rollbackToSavepoint(name: string): Promise<void> {
    return this.txn.rollbackToSavepoint(name);
  }
  releaseSavepoint(name: string): void {
    this.txn.releaseSavepoint(name);
  }
  commit(): Promise<void> {
    return this.txn.commit();
  }
  rollback(): Promise<void> {
    return this.txn.rollback();
  }
}

/** Reads `txn` as it was before the CTEs wrote (`before`); writes pass through. */
class SnapshotOverlayTxn extends RecordingTxn {
  constructor(
    private readonly base: Txn,
    private readonly overlay: PreImages,
  ) {
    super(base, new Map());
  }

  override get(key: Uint8Array): Promise<Buffer | undefined> {
    const pre = this.overlay.get(Buffer.from(key).toString('latin1'));
    return pre === undefined ? this.base.get(key) : Promise.resolve(pre.value);
  }

  override async scan(options: TxnScanOptions): Promise<KeyValue[]> {
    const limit = options.limit ?? Infinity;
    const reverse = options.reverse === true;
    const start = Buffer.from(options.start);
    const end = Buffer.from(options.end);
    // Overlaid keys in range, in scan order.
    const inRange = [...this.overlay.values()]
      .filter((p) => Buffer.compare(p.key, start) >= 0 && Buffer.compare(p.key, end) < 0)
      .sort((a, b) => (reverse ? Buffer.compare(b.key, a.key) : Buffer.compare(a.key, b.key)));
    if (inRange.length === 0) return this.base.scan(options);
    // Read the transaction's current state until `limit` rows survive the overlay, then merge in
    // the overlaid keys up to the last key read (beyond it the next call takes over).
    const current: KeyValue[] = [];
    const pageRows = limit === Infinity ? 512 : limit;
    let lo: Buffer = start;
    let hi: Buffer = end;
    let lastRead: Buffer | undefined;
    for (;;) {
      const page = await this.base.scan({ start: lo, end: hi, limit: pageRows, reverse });
      for (const kv of page) if (!this.overlay.has(kv.key.toString('latin1'))) current.push(kv);
      if (page.length < pageRows) {
        lastRead = undefined; // the range is exhausted: every overlaid key belongs to this answer
        break;
      }
      lastRead = page[page.length - 1]!.key;
      if (reverse) hi = lastRead;
      else lo = Buffer.concat([lastRead, Buffer.from([0])]);
      if (current.length >= limit) break;
    }
    const bound = lastRead;
    const before = (a: Buffer, b: Buffer): boolean => (reverse ? Buffer.compare(a, b) > 0 : Buffer.compare(a, b) < 0);
    const merged: KeyValue[] = [];
    let i = 0;
    for (const p of inRange) {
      if (bound !== undefined && before(bound, p.key)) break;
      while (i < current.length && before(current[i]!.key, p.key)) merged.push(current[i++]!);
      if (p.value !== undefined) merged.push({ key: p.key, value: p.value });
    }
    while (i < current.length) merged.push(current[i++]!);
    return merged.length > limit ? merged.slice(0, limit) : merged;
  }

  override async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.overlay.delete(Buffer.from(key).toString('latin1'));
    return this.base.put(key, value);
  }

  override async delete(key: Uint8Array): Promise<void> {
    this.overlay.delete(Buffer.from(key).toString('latin1'));
    return this.base.delete(key);
  }

  override lockForUpdate(key: Uint8Array): Promise<void> {
    return this.base.lockForUpdate(key);
  }

  override getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    return this.base.getForUpdate(key);
  }
}

/** Runs the statement's data-modifying CTEs, then its main part over the pre-statement view. */
export function withWritesOp(plan: Extract<Plan, { kind: 'with-writes' }>, env: ExecEnv): Operator {
  let input: Operator | undefined;
  let inner: ExecEnv | undefined;
  return {
    next: async () => {
      if (input === undefined) {
        const before: PreImages = new Map();
        const rec = new RecordingTxn(env.txn, before);
        for (const cte of plan.ctes) {
          // The CTE's own row count is not the statement's (its tag counts the main part only).
          const cteEnv: ExecEnv = { ...env, txn: rec, changed: 0 };
          const rows: Row[] = await drain(build(cte.plan, cteEnv), cteEnv);
          env.ctes.set(cte, rows);
        }
        inner = { ...env, txn: new SnapshotOverlayTxn(env.txn, before), changed: 0 };
        input = build(plan.input, inner);
      }
      const b = await input.next();
      // The main part's changed-row count is the statement's (command tag).
      env.changed += inner!.changed;
      inner!.changed = 0;
      return b;
    },
  };
}
