/**
 * ClusterTxn: a transaction handed out by a ClusterNode, bound to the
 * leadership term it began in.
 *
 * It forwards to the MVCC transaction and only changes how errors read: when
 * the term ended under it (the node stepped down and closed its transaction
 * manager), whatever the MVCC layer reports ("transaction manager closed",
 * "current transaction is aborted") becomes the retryable 40001 "leadership
 * changed" error, so a client retries on the new leader. A 40003 (commit
 * outcome unknown) passes through unchanged: retrying that blindly could
 * apply the transaction twice. A commit that was under way when the term
 * ended and then failed for any other reason (the node crashed, the engine
 * closed during the cleanup after the commit point) is reported as 40003
 * too: only errors that prove nothing was committed may say "retry".
 */

import type { IsolationLevel, KeyValue, Txn, TxnScanOptions, TxnState } from '../txn/api.ts';
import { NextDbError, SqlState } from '../util/errors.ts';
import { commitOutcomeUnknown, leadershipChanged, STATEMENT_COMPLETION_UNKNOWN } from './replicated-engine.ts';

/** Errors that already say whether anything committed (40001/40P01: nothing; 40003: unknown). */
function isClassified(e: unknown): boolean {
  return (
    e instanceof NextDbError &&
    (e.code === SqlState.serializationFailure ||
      e.code === SqlState.deadlockDetected ||
      e.code === STATEMENT_COMPLETION_UNKNOWN)
  );
}

/** What a ClusterTxn needs to know about its node. */
export interface TermWitness {
  readonly group: number;
  readonly node: number;
  /** True while the node still leads `term` with the same transaction manager. */
  leads(term: number): boolean;
  leaderHint(): number;
}

export class ClusterTxn implements Txn {
  constructor(
    private readonly inner: Txn,
    readonly term: number,
    private readonly witness: TermWitness,
  ) {}

  get id(): string {
    return this.inner.id;
  }
  get isolation(): IsolationLevel {
    return this.inner.isolation;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get state(): TxnState {
    return this.inner.state;
  }

  beginStatement(): void {
    this.guard(() => this.inner.beginStatement());
  }
  retryStatement(): boolean {
    return this.witness.leads(this.term) && (this.inner.retryStatement?.() ?? false);
  }
  get(key: Uint8Array): Promise<Buffer | undefined> {
    return this.wrap(() => this.inner.get(key));
  }
  scan(options: TxnScanOptions): Promise<KeyValue[]> {
    return this.wrap(() => this.inner.scan(options));
  }
  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.wrap(() => this.inner.put(key, value));
  }
  delete(key: Uint8Array): Promise<void> {
    return this.wrap(() => this.inner.delete(key));
  }
  lockForUpdate(key: Uint8Array): Promise<void> {
    return this.wrap(() => this.inner.lockForUpdate(key));
  }
  getForUpdate(key: Uint8Array): Promise<Buffer | undefined> {
    return this.wrap(() => this.inner.getForUpdate(key));
  }
  savepoint(name: string): void {
    this.guard(() => this.inner.savepoint(name));
  }
  rollbackToSavepoint(name: string): Promise<void> {
    return this.wrap(() => this.inner.rollbackToSavepoint(name));
  }
  releaseSavepoint(name: string): void {
    this.guard(() => this.inner.releaseSavepoint(name));
  }
  async commit(): Promise<void> {
    const liveAtStart = this.witness.leads(this.term);
    try {
      await this.inner.commit();
    } catch (e) {
      // A commit that began while the term was live and failed for a reason
      // that does not prove "nothing committed" (a crash, a closed engine in
      // the cleanup after the commit point) has an unknown outcome.
      if (liveAtStart && !this.witness.leads(this.term) && !isClassified(e))
        throw commitOutcomeUnknown(this.witness.group, this.witness.node, e);
      throw this.translate(e);
    }
  }
  rollback(): Promise<void> {
    // Rolling back after the term ended is always fine: the manager already aborted it.
    if (!this.witness.leads(this.term)) return Promise.resolve();
    return this.inner.rollback();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.translate(e);
    }
  }

  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.translate(e);
    }
  }

  private translate(e: unknown): unknown {
    // Bugs (assertions, corruption) are never dressed up as a retryable error.
    if (!(e instanceof NextDbError) || e.code === SqlState.dataCorrupted) return e;
    if (isClassified(e)) return e;
    if (this.witness.leads(this.term)) return e;
    return leadershipChanged(this.witness.group, this.witness.node, this.witness.leaderHint(), e);
  }
}
