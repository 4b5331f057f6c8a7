/**
 * Transaction-layer counters of this process, for /metrics
 * (src/server/server-metrics.ts reads them at scrape time). Plain numbers
 * bumped on the rare paths only (a conflict, a wait), never per operation.
 * Process-wide: every transaction manager of the process adds to them (a
 * server process has one; tests that start several servers see the sum).
 */
export interface TxnCounters {
  /** 40001 first-updater-wins: a write met a newer committed version and could not refresh (REPEATABLE READ, or inside a savepoint taken by the statement). */
  writeTooOld: number;
  /** 40001 a SERIALIZABLE write met a newer committed version and a key read before the statement had changed too. */
  writeRefreshFailed: number;
  /** 40001 read refresh at commit found a newer committed version of something read. */
  commitRefreshFailed: number;
  /** 40P01 deadlock victims. */
  deadlocks: number;
  /** SERIALIZABLE writes that moved their transaction's snapshot forward instead of failing (the statement then runs again, unless in place). */
  writeRefreshes: number;
  /** Of those, the refreshes done in place (MvccTxn.lockForStatement): the statement went on without running again. */
  writeRefreshesInPlace: number;
  /** Waits for another transaction (a lock held, or a commit in flight). */
  lockWaits: number;
  /** Total time spent in those waits, milliseconds. */
  lockWaitMs: number;
}

export const txnCounters: TxnCounters = {
  writeTooOld: 0,
  writeRefreshFailed: 0,
  commitRefreshFailed: 0,
  deadlocks: 0,
  writeRefreshes: 0,
  writeRefreshesInPlace: 0,
  lockWaits: 0,
  lockWaitMs: 0,
};
