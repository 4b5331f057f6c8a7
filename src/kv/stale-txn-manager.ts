/**
 * StaleTxnManager: read-only transactions over this replica's applied state,
 * on any node (leader or not), without a round trip to the leader — what
 * `SET nextdb.read_consistency = 'stale'` runs on (src/server/cluster-session.ts).
 *
 * A transaction reads one point-in-time snapshot of the local engine
 * (ClusterNode.staleSnapshot(): the applied state machine at some applied
 * index i, without the leader's pending overlay) through the MVCC layout
 * (src/txn/keys.ts, head.ts, txn-record.ts):
 *
 *   head of a key:  committed version (+ maybe an intent)
 *   intent of txn T: counts iff T's record exists in the snapshot (T committed
 *                    and its intents are not resolved yet); else the
 *                    committed version counts (T is live or aborted)
 *
 * Because a transaction commits by one replicated write of its record, and
 * resolution only rewrites heads to what the record already says (a small
 * transaction commits without a record: one replicated batch resolves all
 * its intents at once), the view is transactionally consistent: exactly the transactions committed up to
 * entry i, each completely. It may lag the leader (how far is the caller's
 * business: the server checks the node heard from the leader recently).
 *
 * Writes (put, delete, locks) fail with 25006 (read-only transaction), so a
 * caller can send the statement to the leader instead; nothing was changed.
 */

import type { Snapshot } from '../storage/engine.ts';
import type { IsolationLevel, KeyValue, Txn, TxnManager, TxnOptions, TxnScanOptions, TxnState } from '../txn/api.ts';
import { readOnlyWrite } from '../txn/conflict-errors.ts';
import { decodeHead, IntentKind } from '../txn/head.ts';
import { headKey, recordKey, userKeyOfHead } from '../txn/keys.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { ClusterNode } from './cluster-node.ts';

export class StaleTxnManager implements TxnManager {
  private seq = 0;
  private closed = false;

  constructor(private readonly node: Pick<ClusterNode, 'staleSnapshot' | 'id'>) {}

  begin(options: TxnOptions = {}): Txn {
    if (this.closed) throw new NextDbError(SqlState.adminShutdown, 'the transaction manager is closed');
    return new StaleTxn(
      this.node.staleSnapshot(),
      `stale-${this.node.id}-${this.seq++}`,
      options.isolation ?? 'serializable',
    );
  }

  gc(): ReturnType<TxnManager['gc']> {
    return Promise.resolve({ horizon: 0, versionsRemoved: 0, headsRemoved: 0 });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

class StaleTxn implements Txn {
  readonly readOnly = true;
  private stateValue: TxnState = 'active';
  private snap: Snapshot | undefined;

  constructor(
    snap: Snapshot,
    readonly id: string,
    readonly isolation: IsolationLevel,
  ) {
    this.snap = snap;
  }

  get state(): TxnState {
    return this.stateValue;
  }

  beginStatement(): void {
    // One snapshot for the whole transaction, whatever the isolation level.
  }

  get(key: Uint8Array): Promise<Buffer | undefined> {
    const snap = this.open();
    const head = snap.get(headKey(key));
    return Promise.resolve(head === undefined ? undefined : this.visible(snap, head));
  }

  scan(options: TxnScanOptions): Promise<KeyValue[]> {
    const snap = this.open();
    const out: KeyValue[] = [];
    const limit = options.limit ?? Infinity;
    const lo = headKey(options.start);
    const hi = headKey(options.end);
    if (limit <= 0 || Buffer.compare(lo, hi) >= 0) return Promise.resolve(out);
    const it = snap.scan({ gte: lo, lt: hi, ...(options.reverse === true ? { reverse: true } : {}) });
    for (const [k, v] of it) {
      const value = this.visible(snap, v);
      if (value === undefined) continue;
      out.push({ key: Buffer.from(userKeyOfHead(k)), value: Buffer.from(value) });
      if (out.length >= limit) break;
    }
    return Promise.resolve(out);
  }

  put(): Promise<void> {
    return Promise.reject(readOnlyWrite());
  }
  delete(): Promise<void> {
    return Promise.reject(readOnlyWrite());
  }
  lockForUpdate(): Promise<void> {
    return Promise.reject(readOnlyWrite());
  }
  getForUpdate(): Promise<Buffer | undefined> {
    return Promise.reject(readOnlyWrite());
  }

  savepoint(): void {
    this.open();
  }
  rollbackToSavepoint(): Promise<void> {
    this.open();
    return Promise.resolve();
  }
  releaseSavepoint(): void {
    this.open();
  }

  commit(): Promise<void> {
    this.end('committed');
    return Promise.resolve();
  }

  rollback(): Promise<void> {
    this.end('aborted');
    return Promise.resolve();
  }

  /** The value a head makes visible in this snapshot (undefined: absent or deleted). */
  private visible(snap: Snapshot, raw: Buffer): Buffer | undefined {
    const h = decodeHead(raw);
    if (h.intentTxn !== 0 && h.intentKind !== IntentKind.lock && snap.get(recordKey(h.intentTxn)) !== undefined) {
      return h.intentKind === IntentKind.put ? h.intentValue : undefined;
    }
    return h.committedValue;
  }

  private open(): Snapshot {
    const s = this.snap;
    if (s === undefined || this.stateValue !== 'active')
      throw new NextDbError(SqlState.invalidTransactionState, `transaction is already ${this.stateValue}`);
    return s;
  }

  private end(state: TxnState): void {
    if (this.stateValue === 'active') this.stateValue = state;
    const s = this.snap;
    this.snap = undefined;
    s?.release();
  }
}
