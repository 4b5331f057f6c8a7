/**
 * ClusterTxnManager: the TxnManager contract (src/txn/api.ts) over a
 * ClusterNode, so the SQL engine runs unchanged on a replicated node:
 *
 *   SqlEngine.open({ engine: node.engine, txnManager: new ClusterTxnManager(node) })
 *
 * `TxnManager.begin()` is synchronous, while a cluster transaction must
 * first pass the node's linearizability barrier (ReadIndex/lease) and bind
 * to the current leadership term. So `begin()` returns a DeferredTxn that
 * starts the real transaction (`ClusterNode.begin`) at its first operation —
 * which is also where the MVCC layer takes its snapshot, so the snapshot
 * still follows the barrier. Statement boundaries and savepoints declared
 * before that are replayed on the real transaction.
 *
 * On a node that does not lead, the first operation fails with
 * NotLeaderError (40001, naming the leader); the server forwards such
 * sessions to the leader (src/server/cluster-session.ts).
 *
 * The node owns the MVCC manager of each term; `close()` here only stops
 * handing out transactions.
 */

import type { IsolationLevel, KeyValue, Txn, TxnManager, TxnOptions, TxnScanOptions, TxnState } from '../txn/api.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import type { ClusterNode } from './cluster-node.ts';

export class ClusterTxnManager implements TxnManager {
  private closed = false;
  private seq = 0;

  constructor(readonly node: ClusterNode) {}

  begin(options: TxnOptions = {}): Txn {
    if (this.closed) throw new NextDbError(SqlState.adminShutdown, 'the transaction manager is closed');
    return new DeferredTxn(this.node, options, `pending-${this.node.id}-${this.seq++}`);
  }

  gc(): ReturnType<TxnManager['gc']> {
    return this.node.txnManager().gc();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** A transaction that begins on the cluster node at its first operation. */
class DeferredTxn implements Txn {
  readonly isolation: IsolationLevel;
  readonly readOnly: boolean;
  private inner: Txn | undefined;
  private starting: Promise<Txn> | undefined;
  private localState: TxnState = 'active';
  /** Synchronous calls made before the real transaction exists, replayed on it in order. */
  private readonly replay: ((t: Txn) => void)[] = [];
  private readonly savepoints: string[] = [];

  constructor(
    private readonly node: ClusterNode,
    private readonly options: TxnOptions,
    private readonly pendingId: string,
  ) {
    this.isolation = options.isolation ?? 'serializable';
    this.readOnly = options.readOnly ?? false;
  }

  get id(): string {
    return this.inner?.id ?? this.pendingId;
  }

  get state(): TxnState {
    return this.inner?.state ?? this.localState;
  }

  beginStatement(): void {
    if (this.inner !== undefined) this.inner.beginStatement();
    // Before the first operation there is no snapshot to refresh.
  }

  retryStatement(): boolean {
    return this.inner?.retryStatement?.() ?? false;
  }

  savepoint(name: string): void {
    if (this.inner !== undefined) return this.inner.savepoint(name);
    this.savepoints.push(name);
    this.replay.push((t) => t.savepoint(name));
  }

  releaseSavepoint(name: string): void {
    if (this.inner !== undefined) return this.inner.releaseSavepoint(name);
    const i = this.savepoints.lastIndexOf(name);
    if (i < 0) throw new NextDbError('3B001', `savepoint "${name}" does not exist`);
    this.savepoints.length = i;
    this.replay.push((t) => t.releaseSavepoint(name));
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    if (this.inner === undefined && this.starting === undefined) {
      const i = this.savepoints.lastIndexOf(name);
      if (i < 0) throw new NextDbError('3B001', `savepoint "${name}" does not exist`);
      return; // nothing was written yet: nothing to undo
    }
    return (await this.txn()).rollbackToSavepoint(name);
  }

  async get(key: Uint8Array): Promise<Buffer | undefined> {
    return (await this.txn()).get(key);
  }

  async scan(options: TxnScanOptions): Promise<KeyValue[]> {
    return (await this.txn()).scan(options);
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return (await this.txn()).put(key, value);
  }

  async delete(key: Uint8Array): Promise<void> {
    return (await this.txn()).delete(key);
  }

  async lockForUpdate(key: Uint8Array): Promise<void> {
    return (await this.txn()).lockForUpdate(key);
  }

  async getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    return (await this.txn()).getForUpdate(key);
  }

  async commit(): Promise<void> {
    if (this.inner === undefined && this.starting === undefined) {
      // Nothing read or written: commits trivially, like an empty MVCC transaction.
      this.localState = 'committed';
      return;
    }
    return (await this.txn()).commit();
  }

  async rollback(): Promise<void> {
    if (this.inner === undefined) {
      this.localState = 'aborted';
      if (this.starting === undefined) return;
      let t: Txn;
      try {
        t = await this.starting;
      } catch {
        return; // it never began
      }
      return t.rollback();
    }
    return this.inner.rollback();
  }

  private txn(): Promise<Txn> {
    if (this.inner !== undefined) return Promise.resolve(this.inner);
    if (this.localState !== 'active')
      return Promise.reject(
        new NextDbError(SqlState.invalidTransactionState, `transaction is already ${this.localState}`),
      );
    this.starting ??= this.node.begin(this.options).then(
      (t) => {
        for (const f of this.replay) f(t);
        this.replay.length = 0;
        this.inner = t;
        return t;
      },
      (e: unknown) => {
        this.localState = 'aborted';
        throw e;
      },
    );
    return this.starting;
  }
}
