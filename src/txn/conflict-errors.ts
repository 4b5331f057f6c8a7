/**
 * The errors a transaction can end with, worded for a person: each says
 * what conflicted (the key, the other transaction) and that retrying the
 * whole transaction is the fix. Codes and first sentences follow
 * PostgreSQL's so drivers and ORMs that match on them keep working.
 */

import { NextDbError, SqlState } from '../util/errors.ts';
import { formatTimestamp, type Timestamp } from './hlc.ts';
import { formatKey } from './keys.ts';

const RETRY_HINT = 'The transaction might succeed if retried.';

/** PostgreSQL's invalid_savepoint_specification (class 3B). */
export const INVALID_SAVEPOINT = '3B001';

/** First-updater-wins: the row changed after this transaction's snapshot. */
export function concurrentUpdate(key: Uint8Array, otherTxn: string, otherCommitTs: Timestamp): NextDbError {
  return new NextDbError(
    SqlState.serializationFailure,
    `could not serialize access due to concurrent update: key ${formatKey(key)} was changed by transaction ${otherTxn} ` +
      `(committed at ${formatTimestamp(otherCommitTs)}) after this transaction took its snapshot; retry the transaction`,
    { hint: RETRY_HINT },
  );
}

/**
 * A SERIALIZABLE statement's write met a version committed after the
 * transaction's snapshot, and the transaction moved its snapshot past it
 * (write refresh: nothing it read before the statement had changed). The
 * statement's own writes are undone and the transaction is a failed block
 * until `retryStatement()` makes it active again to run the statement anew
 * at the new snapshot. A caller that does not retry statements sees an
 * ordinary 40001 and rolls back.
 */
export class StatementRetryError extends NextDbError {
  readonly statementRetry = true;
}

export function statementRetry(key: Uint8Array, otherTxn: string, otherCommitTs: Timestamp): StatementRetryError {
  // Control flow rather than a fault: the session catches it and runs the
  // statement again. Without a stack trace: capturing one was 5% of the CPU
  // of an 8-client TPC-B run (embedded), and it would only show the txn layer.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return newStatementRetry(key, otherTxn, otherCommitTs);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function newStatementRetry(key: Uint8Array, otherTxn: string, otherCommitTs: Timestamp): StatementRetryError {
  return new StatementRetryError(
    SqlState.serializationFailure,
    `could not serialize access due to concurrent update: key ${formatKey(key)} was changed by transaction ${otherTxn} ` +
      `(committed at ${formatTimestamp(otherCommitTs)}) after this statement's snapshot; the transaction moved its ` +
      'snapshot forward, retry the statement (or the transaction)',
    { hint: RETRY_HINT },
  );
}

/** True for the error after a successful write refresh: the statement may run again (see `Txn.retryStatement`). */
export function isStatementRetry(e: unknown): e is StatementRetryError {
  return e instanceof StatementRetryError;
}

/** Write refresh failed: a key the transaction read before the statement changed too. */
export function writeRefreshFailed(
  key: Uint8Array,
  otherTxn: string,
  otherCommitTs: Timestamp,
  readKey: Uint8Array,
): NextDbError {
  return new NextDbError(
    SqlState.serializationFailure,
    `could not serialize access due to concurrent update: key ${formatKey(key)} was changed by transaction ${otherTxn} ` +
      `(committed at ${formatTimestamp(otherCommitTs)}) after this transaction took its snapshot, and key ` +
      `${formatKey(readKey)} that it read changed too; retry the transaction`,
    { hint: RETRY_HINT, detail: 'Reason code: write refresh found a newer committed version of a key read earlier.' },
  );
}

/** Read refresh failed: something this transaction read changed before it could commit. */
export function readWriteConflict(
  key: Uint8Array,
  otherTxn: string,
  otherCommitTs: Timestamp,
  what: 'key' | 'range',
): NextDbError {
  const place =
    what === 'key'
      ? `key ${formatKey(key)} that this transaction read`
      : `key ${formatKey(key)} inside a range this transaction scanned`;
  return new NextDbError(
    SqlState.serializationFailure,
    `could not serialize access due to read/write dependencies among transactions: ${place} was written by transaction ` +
      `${otherTxn} (committed at ${formatTimestamp(otherCommitTs)}) after this transaction's snapshot; retry the transaction`,
    {
      hint: RETRY_HINT,
      detail: 'Reason code: canceled on commit attempt, read refresh found a newer committed version.',
    },
  );
}

export function deadlockVictim(cycle: readonly string[], key: Uint8Array): NextDbError {
  return new NextDbError(
    SqlState.deadlockDetected,
    `deadlock detected: transaction ${cycle.join(' waits for ')} (this transaction waited on key ${formatKey(key)}); ` +
      `this transaction was aborted to break the cycle; retry the transaction`,
    { hint: RETRY_HINT },
  );
}

export function txnAborted(): NextDbError {
  return new NextDbError(
    SqlState.inFailedSqlTransaction,
    'current transaction is aborted, commands ignored until end of transaction block',
  );
}

export function txnFinished(state: string): NextDbError {
  return new NextDbError(SqlState.invalidTransactionState, `transaction is already ${state}`);
}

export function readOnlyWrite(): NextDbError {
  return new NextDbError(SqlState.readOnlySqlTransaction, 'cannot execute a write in a read-only transaction');
}

export function noSuchSavepoint(name: string): NextDbError {
  return new NextDbError(INVALID_SAVEPOINT, `savepoint "${name}" does not exist`);
}

export function managerClosed(): NextDbError {
  return new NextDbError(SqlState.adminShutdown, 'the transaction manager is closed');
}
