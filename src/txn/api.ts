/**
 * The transaction API the SQL layer (and later the distributed KV layer)
 * codes against. The implementation lives beside this file in src/txn.
 *
 * Contract:
 * - Keys are user keys (bytes, bytewise order); the MVCC layer adds
 *   timestamps and intents underneath and never exposes them.
 * - Every read/write method may wait (a write-write conflict queues behind
 *   the earlier writer; a read may meet another transaction's intent), so
 *   they return Promises. Implementations resolve without delay when there
 *   is nothing to wait for.
 * - Errors are NextDbError: SQLSTATE 40001 (serialization failure) or 40P01
 *   (deadlock victim) with a message saying what conflicted and that a retry
 *   is the fix. After such an error only `rollback()` is accepted (other
 *   calls throw 25P02). Without savepoints the transaction is already
 *   rolled back (`state` 'aborted'). With savepoints it is a failed block,
 *   as in PostgreSQL: it keeps its locks and `state` stays 'active' until
 *   `rollback()`, or until `rollbackToSavepoint()` makes it usable again.
 *   So always call `rollback()` on a transaction whose state is 'active'.
 *   (The 40001 of a SERIALIZABLE write refresh also leaves a failed block,
 *   which `retryStatement()` makes usable again: see there.)
 *   A serialization failure at `commit()` always ends the whole
 *   transaction; `commit()` of a failed block rolls it back and throws 25P02.
 * - The snapshot is taken at the first statement (first `beginStatement()`
 *   or first operation), as in PostgreSQL. READ COMMITTED takes a fresh
 *   snapshot at each `beginStatement()`; REPEATABLE READ and SERIALIZABLE
 *   keep the first snapshot. Call `beginStatement()` before every SQL
 *   statement.
 * - Write-write conflicts: a writer (put/delete/lockForUpdate) that meets a
 *   key another live transaction wrote or locked waits for it to end. Then
 *   REPEATABLE READ fails with 40001 if that transaction committed a change
 *   (first updater wins); READ COMMITTED proceeds; SERIALIZABLE refreshes:
 *   if nothing it read before the statement changed, it moves its snapshot
 *   past that commit and asks for the statement to run again
 *   (`retryStatement`), else 40001.
 * - UPDATE/DELETE under READ COMMITTED (PostgreSQL's EvalPlanQual): find
 *   candidate rows with the statement snapshot, then for each call
 *   `getForUpdate(key)`: it waits for a concurrent writer, locks the key and
 *   returns the LATEST committed version (or undefined if it was deleted);
 *   re-check the WHERE clause on it and compute the new row from it. Under
 *   REPEATABLE READ / SERIALIZABLE the same call returns the snapshot
 *   version (40001 if it changed). Reads of keys a READ COMMITTED
 *   transaction has locked always show the latest committed version.
 * - INSERT with a unique key: `getForUpdate(key)` first, then `put`. A plain
 *   `get` does not see a concurrent inserter's uncommitted row, and a later
 *   `put` would wait and then (READ COMMITTED) overwrite it; `getForUpdate`
 *   waits for that inserter and returns its row if it committed, so the SQL
 *   layer can raise 23505 as PostgreSQL does. (REPEATABLE READ /
 *   SERIALIZABLE: a row committed after the snapshot fails the lock with
 *   40001; PostgreSQL reports 23505 under REPEATABLE READ there.)
 * - Buffers returned by reads must not be mutated.
 */

export type IsolationLevel = 'serializable' | 'repeatable read' | 'read committed';

export interface TxnOptions {
  /** Default: 'serializable'. */
  readonly isolation?: IsolationLevel;
  readonly readOnly?: boolean;
}

export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
}

export interface TxnScanOptions {
  /** Inclusive start. */
  readonly start: Uint8Array;
  /** Exclusive end. */
  readonly end: Uint8Array;
  readonly reverse?: boolean;
  /** At most this many pairs are returned; callers page by calling again. */
  readonly limit?: number;
}

export type TxnState = 'active' | 'committed' | 'aborted';

export interface Txn {
  readonly id: string;
  readonly isolation: IsolationLevel;
  readonly readOnly: boolean;
  readonly state: TxnState;

  /** Marks a statement boundary (fresh snapshot under READ COMMITTED). */
  beginStatement(): void;
  /**
   * After an error for which `isStatementRetry` (conflict-errors.ts) is
   * true: a SERIALIZABLE write met a newer committed version and the
   * transaction moved its snapshot past it (write refresh), undoing the
   * statement. Returns true and makes the transaction active again, so the
   * caller runs the same statement once more (it sees the new snapshot);
   * false otherwise (then treat the error as any 40001). Optional: callers
   * without statement retry just see a 40001 and roll back.
   */
  retryStatement?(): boolean;

  get(key: Uint8Array): Promise<Buffer | undefined>;
  /** Returns up to `limit` pairs in order within [start, end). */
  scan(options: TxnScanOptions): Promise<KeyValue[]>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  delete(key: Uint8Array): Promise<void>;
  /**
   * Takes a lock on the key as a write would (SELECT ... FOR UPDATE), so a
   * later writer waits, without changing the value.
   */
  lockForUpdate(key: Uint8Array): Promise<void>;
  /** lockForUpdate, then get: the version an UPDATE must start from (see the header). */
  getForUpdate(key: Uint8Array): Promise<Buffer | undefined>;

  savepoint(name: string): void;
  rollbackToSavepoint(name: string): Promise<void>;
  releaseSavepoint(name: string): void;

  /** Durable when it resolves; 40001 if serializability would break. */
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** Where transactions come from: one per node (later: per cluster view). */
export interface TxnManager {
  begin(options?: TxnOptions): Txn;
  /**
   * Removes versions no live transaction can read any more (below the
   * oldest snapshot in use, minus the configured retention).
   */
  gc(): Promise<{ readonly horizon: number; readonly versionsRemoved: number; readonly headsRemoved: number }>;
  /** Aborts live transactions and refuses new ones; does not close the engine. */
  close(): Promise<void>;
}
